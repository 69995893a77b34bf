/* lcnet-infer: check a model from the command line.
 *
 *   lcnet-infer --model M --tensor in.f32        raw NCHW float32 -> JSON outputs and top-k
 *   lcnet-infer --model M --image photo.jpg      decode, resize like PaddleClas, top-k
 *   lcnet-infer --model M --bench N --threads T --batch B [--precision P] [--backend K]
 *   lcnet-infer --model M --bench N --steps      also each plan step's median time
 *   lcnet-infer --model M --plan                 the compiled primitives, one per line
 *   lcnet-infer --model M --calibrate DIR        int8 ranges from DIR's images -> <model>.calib
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "engine/engine.h"
#include "media/scale.h"

typedef struct {
    const char *model, *labels, *tensor, *image, *precision, *resize, *order, *calibrate, *calib,
        *backend;
    int threads, batch, bench, top, plan, warmup, steps;
} opts;

static void usage(FILE *f)
{
    fprintf(f,
        "usage: lcnet-infer --model PATH [--labels FILE] [--precision fp32|bf16|fp16|int8|auto]\n"
        "                   [--backend auto|onednn|xnnpack] [--threads T] [--top K]\n"
        "                   [--calibration FILE]\n"
        "         ( --tensor FILE.f32 | --image FILE [--resize short-crop|stretch]\n"
        "         | --bench N [--batch B] [--steps] | --plan [--batch B] | --calibrate DIR )\n"
        "  --tensor  raw little-endian float32 NCHW, batch taken from the file size\n"
        "  --image   any picture FFmpeg decodes; short-crop = PaddleClas (short side to\n"
        "            256/224 of the input, centre crop), stretch = straight to input size\n"
        "  --bench   N timed runs after warm-up; prints median/p99 ms and images/s as JSON\n"
        "  --steps   with --bench: then one JSON line per plan step (--plan's order) with\n"
        "            its median time; each step is waited for, so the runs are a little slower\n"
        "  --order   rgb|bgr: channel order the model expects (default: the model's, else rgb)\n"
        "  --calibrate DIR  run the float model over every image in DIR (a few hundred\n"
        "            frames like the streams it will see) and write the int8 ranges to\n"
        "            --calibration FILE, default <model>.calib (inference.calib in a Paddle\n"
        "            folder), where precision int8 looks for them\n"
        "  --calibration FILE  int8 ranges to use or write\n"
        "  --backend  which library computes: auto = XNNPACK on arm64, oneDNN elsewhere\n");
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void json_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static void print_result(eng_model *m, eng_labels *labels, const float *raw, int n, int k)
{
    const eng_info *in = eng_get_info(m);
    int c = in->classes;
    float *probs = malloc(sizeof(float) * (size_t)n * (size_t)c);
    eng_top *top = malloc(sizeof(eng_top) * (size_t)(k > 0 ? k : 1));
    if (!probs || !top) {
        fprintf(stderr, "lcnet-infer: out of memory\n");
        free(probs);
        free(top);
        return;
    }
    eng_probs(m, raw, n, probs);
    printf("{\"outputs\":[");
    for (int i = 0; i < n; i++) {
        printf("%s[", i ? "," : "");
        for (int j = 0; j < c; j++)
            printf("%s%.9g", j ? "," : "", raw[(size_t)i * (size_t)c + (size_t)j]);
        printf("]");
    }
    printf("],\"top\":[");
    for (int i = 0; i < n; i++) {
        int got = eng_topk(probs + (size_t)i * (size_t)c, c, k, top);
        printf("%s[", i ? "," : "");
        for (int j = 0; j < got; j++) {
            const char *l = eng_label(labels, top[j].cls);
            printf("%s{\"class\":%d,\"label\":", j ? "," : "", top[j].cls);
            if (l)
                json_str(l);
            else
                printf("null");
            printf(",\"score\":%.6g}", top[j].score);
        }
        printf("]");
    }
    printf("]}\n");
    free(probs);
    free(top);
}

static int run_tensor(eng_model *m, eng_labels *labels, const opts *o)
{
    eng_tensor_info ti;
    FILE *f = fopen(o->tensor, "rb");
    float *in = NULL, *out = NULL;
    char err[512];
    int ret = EX_DATAERR;
    long size;

    if (!f) {
        fprintf(stderr, "lcnet-infer: %s: %s\n", o->tensor, strerror(errno));
        return EX_NOINPUT;
    }
    eng_input_info(m, 0, &ti);
    size_t per = sizeof(float);
    for (int i = 1; i < ti.ndim; i++)
        per *= (size_t)ti.dims[i];
    if (fseek(f, 0, SEEK_END) < 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) < 0) {
        fprintf(stderr, "lcnet-infer: %s: cannot size the file\n", o->tensor);
        goto end;
    }
    if (size == 0 || (size_t)size % per) {
        fprintf(stderr, "lcnet-infer: %s: %ld bytes is not a whole number of %zu-byte inputs\n",
                o->tensor, size, per);
        goto end;
    }
    int n = (int)((size_t)size / per);
    if (ti.dims[0] > 0 && n != ti.dims[0]) {
        fprintf(stderr, "lcnet-infer: %s: %d inputs, the model takes exactly %lld\n", o->tensor, n,
                (long long)ti.dims[0]);
        goto end;
    }
    const eng_info *info = eng_get_info(m);
    in = malloc((size_t)size);
    out = malloc(sizeof(float) * (size_t)n * (size_t)info->classes);
    if (!in || !out || fread(in, 1, (size_t)size, f) != (size_t)size) {
        fprintf(stderr, "lcnet-infer: %s: read failed\n", o->tensor);
        goto end;
    }
    /* in batches no larger than the engine's largest plan */
    for (int done = 0; done < n;) {
        int b = n - done > ENG_MAX_BATCH ? ENG_MAX_BATCH : n - done;
        const float *ip = in + (size_t)done * per / sizeof(float);
        float *op = out + (size_t)done * (size_t)info->classes;
        if (eng_run_tensors(m, b, &ip, &op, err, sizeof err) < 0) {
            fprintf(stderr, "lcnet-infer: %s\n", err);
            ret = EX_SOFTWARE;
            goto end;
        }
        done += b;
    }
    print_result(m, labels, out, n, o->top);
    ret = 0;
end:
    free(in);
    free(out);
    fclose(f);
    return ret;
}

static int run_image(eng_model *m, eng_labels *labels, const opts *o)
{
    const eng_info *in = eng_get_info(m);
    char err[512];
    int stride = in->width * 3;
    uint8_t *pix = malloc((size_t)stride * (size_t)in->height);
    float *out = malloc(sizeof(float) * (size_t)in->classes);
    int ret = EX_DATAERR;

    if (!pix || !out) {
        fprintf(stderr, "lcnet-infer: out of memory\n");
        goto end;
    }
    if (scl_load_image(o->image, in->width, in->height, in->resize, in->order, pix, stride, err,
                       sizeof err) < 0) {
        fprintf(stderr, "lcnet-infer: %s\n", err);
        goto end;
    }
    const uint8_t *frames[1] = { pix };
    if (eng_run_pixels(m, frames, &stride, 1, out, err, sizeof err) < 0) {
        fprintf(stderr, "lcnet-infer: %s\n", err);
        ret = EX_SOFTWARE;
        goto end;
    }
    print_result(m, labels, out, 1, o->top);
    ret = 0;
end:
    free(pix);
    free(out);
    return ret;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file in dir, sorted, so that a calibration is repeatable. */
static int list_dir(const char *dir, char ***out, int *n)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **v = NULL;
    int cap = 0;
    *n = 0;
    if (!d)
        return -1;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            char **nv = realloc(v, sizeof(char *) * (size_t)cap);
            if (!nv)
                break;
            v = nv;
        }
        if (asprintf(&v[*n], "%s/%s", dir, e->d_name) < 0)
            break;
        (*n)++;
    }
    closedir(d);
    if (*n)
        qsort(v, (size_t)*n, sizeof(char *), cmp_name);
    *out = v;
    return 0;
}

static int run_calibrate(const opts *o, const eng_options *eo)
{
    eng_calib *c = NULL;
    char err[1024], def[4096], **files = NULL;
    int nf = 0, used = 0, ret = EX_DATAERR;
    uint8_t *pix = NULL;

    if (eng_calib_new(&c, eo, o->model, err, sizeof err) < 0) {
        fprintf(stderr, "lcnet-infer: %s\n", err);
        return EX_DATAERR;
    }
    const eng_info *in = eng_calib_info(c);
    int stride = in->width * 3;
    if (list_dir(o->calibrate, &files, &nf) < 0) {
        fprintf(stderr, "lcnet-infer: %s: %s\n", o->calibrate, strerror(errno));
        ret = EX_NOINPUT;
        goto end;
    }
    if (!(pix = malloc((size_t)stride * (size_t)in->height))) {
        fprintf(stderr, "lcnet-infer: out of memory\n");
        goto end;
    }
    for (int i = 0; i < nf; i++) {
        if (scl_load_image(files[i], in->width, in->height, in->resize, in->order, pix, stride,
                           err, sizeof err) < 0) {
            fprintf(stderr, "lcnet-infer: skipped %s\n", err);
            continue;
        }
        if (eng_calib_add(c, pix, stride, err, sizeof err) < 0) {
            fprintf(stderr, "lcnet-infer: %s: %s\n", files[i], err);
            goto end;
        }
        used++;
    }
    if (!used) {
        fprintf(stderr, "lcnet-infer: %s: no image could be read\n", o->calibrate);
        ret = EX_NOINPUT;
        goto end;
    }
    eng_calib_default_path(o->model, def, sizeof def);
    const char *path = o->calib ? o->calib : def;
    if (eng_calib_save(c, path, o->model, err, sizeof err) < 0) {
        fprintf(stderr, "lcnet-infer: %s\n", err);
        ret = EX_CANTCREAT;
        goto end;
    }
    printf("{\"calibration\":");
    json_str(path);
    printf(",\"frames\":%d,\"skipped\":%d}\n", used, nf - used);
    ret = 0;
end:
    for (int i = 0; i < nf; i++)
        free(files[i]);
    free(files);
    free(pix);
    eng_calib_free(c);
    return ret;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int run_bench(eng_model *m, const opts *o)
{
    const eng_info *in = eng_get_info(m);
    int b = o->batch, stride = in->width * 3;
    size_t per = (size_t)stride * (size_t)in->height;
    uint8_t *pix = malloc(per * (size_t)b);
    const uint8_t **frames = malloc(sizeof(*frames) * (size_t)b);
    int *strides = malloc(sizeof(int) * (size_t)b);
    float *out = malloc(sizeof(float) * (size_t)b * (size_t)in->classes);
    double *t = malloc(sizeof(double) * (size_t)o->bench), *st = NULL;
    const double *step_ms = NULL;
    char err[512];
    int ret = EX_SOFTWARE, nsteps = 0;

    if (!pix || !frames || !strides || !out || !t) {
        fprintf(stderr, "lcnet-infer: out of memory\n");
        goto end;
    }
    if (o->steps) {
        nsteps = eng_plan_time_steps(m, b, &step_ms, err, sizeof err);
        if (nsteps < 0) {
            fprintf(stderr, "lcnet-infer: %s\n", err);
            goto end;
        }
        /* [step][run]: each step's times, sorted for its median */
        if (!(st = malloc(sizeof(double) * (size_t)(nsteps ? nsteps : 1) * (size_t)o->bench))) {
            fprintf(stderr, "lcnet-infer: out of memory\n");
            goto end;
        }
    }
    /* a fixed pseudo-random picture: timings do not depend on content */
    uint32_t r = 12345;
    for (size_t i = 0; i < per * (size_t)b; i++) {
        r = r * 1664525u + 1013904223u;
        pix[i] = (uint8_t)(r >> 24);
    }
    for (int i = 0; i < b; i++) {
        frames[i] = pix + per * (size_t)i;
        strides[i] = stride;
    }
    for (int i = 0; i < o->warmup + o->bench; i++) {
        double t0 = now_ms();
        if (eng_run_pixels(m, frames, strides, b, out, err, sizeof err) < 0) {
            fprintf(stderr, "lcnet-infer: %s\n", err);
            goto end;
        }
        if (i >= o->warmup) {
            t[i - o->warmup] = now_ms() - t0;
            for (int k = 0; k < nsteps; k++)
                st[(size_t)k * (size_t)o->bench + (size_t)(i - o->warmup)] = step_ms[k];
        }
    }
    qsort(t, (size_t)o->bench, sizeof(double), cmp_double);
    double med = t[o->bench / 2], p99 = t[(int)((o->bench - 1) * 0.99)];
    printf("{\"model\":\"%s\",\"precision\":\"%s\",\"threads\":%d,\"batch\":%d,\"runs\":%d,"
           "\"median_ms\":%.4f,\"p99_ms\":%.4f,\"min_ms\":%.4f,\"images_per_s\":%.1f}\n",
           o->model, eng_precision_name(in->precision), o->threads, b, o->bench, med, p99, t[0],
           1000.0 * b / med);
    for (int k = 0; k < nsteps; k++) {
        double *v = st + (size_t)k * (size_t)o->bench;
        qsort(v, (size_t)o->bench, sizeof(double), cmp_double);
        printf("{\"step\":%d,\"median_ms\":%.4f,\"min_ms\":%.4f}\n", k, v[o->bench / 2], v[0]);
    }
    ret = 0;
end:
    free(pix);
    free(frames);
    free(strides);
    free(out);
    free(t);
    free(st);
    return ret;
}

static void print_line(void *arg, const char *line)
{
    (void)arg;
    puts(line);
}

static int parse_backend(const char *s, eng_backend *b)
{
    if (!s || !strcmp(s, "auto")) *b = ENG_BACKEND_AUTO;
    else if (!strcmp(s, "onednn")) *b = ENG_BACKEND_ONEDNN;
    else if (!strcmp(s, "xnnpack")) *b = ENG_BACKEND_XNNPACK;
    else return -1;
    return 0;
}

static int parse_precision(const char *s, eng_precision *p)
{
    if (!s || !strcmp(s, "fp32")) *p = ENG_PREC_FP32;
    else if (!strcmp(s, "bf16")) *p = ENG_PREC_BF16;
    else if (!strcmp(s, "int8")) *p = ENG_PREC_INT8;
    else if (!strcmp(s, "fp16")) *p = ENG_PREC_FP16;
    else if (!strcmp(s, "auto")) *p = ENG_PREC_AUTO;
    else return -1;
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {
        { "model", 1, 0, 'm' }, { "labels", 1, 0, 'l' }, { "tensor", 1, 0, 't' },
        { "image", 1, 0, 'i' }, { "precision", 1, 0, 'p' }, { "calibrate", 1, 0, 'C' },
        { "calibration", 1, 0, 'c' }, { "threads", 1, 0, 'T' },
        { "batch", 1, 0, 'b' }, { "bench", 1, 0, 'B' }, { "top", 1, 0, 'k' },
        { "resize", 1, 0, 'r' }, { "plan", 0, 0, 'P' }, { "warmup", 1, 0, 'w' },
        { "order", 1, 0, 'o' }, { "backend", 1, 0, 'K' }, { "steps", 0, 0, 'S' },
        { "help", 0, 0, 'h' }, { 0, 0, 0, 0 },
    };
    opts o = { .threads = 1, .batch = 1, .top = 5, .warmup = 20 };
    eng_options eo;
    eng_model *m = NULL;
    eng_labels *labels = NULL;
    char err[1024];
    int c, ret = EX_USAGE;

    while ((c = getopt_long(argc, argv, "m:l:t:i:p:T:b:B:k:r:Pw:o:C:c:K:Sh", lo, NULL)) != -1) {
        switch (c) {
        case 'm': o.model = optarg; break;
        case 'l': o.labels = optarg; break;
        case 't': o.tensor = optarg; break;
        case 'i': o.image = optarg; break;
        case 'p': o.precision = optarg; break;
        case 'T': o.threads = atoi(optarg); break;
        case 'b': o.batch = atoi(optarg); break;
        case 'B': o.bench = atoi(optarg); break;
        case 'k': o.top = atoi(optarg); break;
        case 'r': o.resize = optarg; break;
        case 'P': o.plan = 1; break;
        case 'w': o.warmup = atoi(optarg); break;
        case 'o': o.order = optarg; break;
        case 'C': o.calibrate = optarg; break;
        case 'c': o.calib = optarg; break;
        case 'K': o.backend = optarg; break;
        case 'S': o.steps = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return EX_USAGE;
        }
    }
    eng_options_init(&eo);
    if (!o.model || (!o.tensor && !o.image && !o.bench && !o.plan && !o.calibrate) || o.threads < 1 ||
        o.batch < 1 || o.batch > ENG_MAX_BATCH || o.top < 1 || o.bench < 0 || o.warmup < 0 ||
        (o.steps && !o.bench) ||
        parse_precision(o.precision, &eo.precision) < 0 || parse_backend(o.backend, &eo.backend) < 0 ||
        (o.resize && strcmp(o.resize, "stretch") && strcmp(o.resize, "short-crop")) ||
        (o.order && strcmp(o.order, "rgb") && strcmp(o.order, "bgr"))) {
        usage(stderr);
        return EX_USAGE;
    }
    eo.threads = o.threads;
    if (o.order)
        eo.order = strcmp(o.order, "bgr") == 0 ? ENG_ORDER_BGR : ENG_ORDER_RGB;
    if (o.resize)
        eo.resize = strcmp(o.resize, "stretch") == 0 ? ENG_RESIZE_STRETCH : ENG_RESIZE_SHORT_CROP;
    eo.calib_path = o.calib;
    if (o.calibrate)
        return run_calibrate(&o, &eo);
    if (eng_load(&m, &eo, o.model, err, sizeof err) < 0) {
        fprintf(stderr, "lcnet-infer: %s\n", err);
        return EX_DATAERR;
    }
    if (o.labels && eng_labels_load(&labels, o.labels, err, sizeof err) < 0) {
        fprintf(stderr, "lcnet-infer: %s\n", err);
        ret = EX_DATAERR;
        goto end;
    }
    eng_labels *use = labels ? labels : eng_model_labels(m);
    if (o.plan) {
        const eng_info *in = eng_get_info(m);
        /* oneDNN's header is the one make check-outputs' digests were kept
         * with; another backend says which it is */
        printf("# %s on %s: %s", eng_precision_name(in->precision), in->isa, in->precision_reason);
        if (strcmp(in->backend, "onednn"))
            printf("; backend %s (%s)", in->backend, in->backend_reason);
        printf("\n");
        eng_plan_dump(m, o.batch, print_line, NULL);
        ret = 0;
    } else if (o.tensor) {
        ret = run_tensor(m, use, &o);
    } else if (o.image) {
        ret = run_image(m, use, &o);
    } else {
        ret = run_bench(m, &o);
    }
end:
    eng_labels_free(labels);
    eng_free(m);
    return ret;
}
