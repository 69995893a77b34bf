/* testutil.c: the helpers every suite may use.  See testutil.h. */
#include "tests/testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fnmatch.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon/publish.h"

const char *fixdir(void)
{
    const char *d = getenv("LCNETD_FIXTURES");
    return d ? d : "build/fixtures";
}

const char *shared_models(void)
{
    const char *d = getenv("LCNETD_SHARED");
    return d ? d : "../shared/models";
}

size_t tests_filtered(struct CMUnitTest *t, size_t n)
{
    const char *f = getenv("LCNETD_TEST_FILTER");
    size_t kept = 0;
    if (!f || !*f)
        return n;
    for (size_t i = 0; i < n; i++) {
        char pat[256];
        int match = 0;
        for (const char *p = f; *p && !match;) {
            size_t len = strcspn(p, ",");
            snprintf(pat, sizeof pat, "%.*s", (int)len, p);
            match = len && fnmatch(pat, t[i].name, 0) == 0;
            p += len + (p[len] == ',');
        }
        if (match)
            t[kept++] = t[i];
    }
    return kept;
}

void *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (len)
            *len = 0;
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *b = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (b)
        ((char *)b)[n] = 0;
    if (len)
        *len = b ? (size_t)n : 0;
    return b;
}

void spit(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        fail_msg("%s: %s", path, strerror(errno));
    assert_int_equal(fwrite(b, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

void *fixture_file(size_t *len, const char *fmt, ...)
{
    char rel[512], p[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rel, sizeof rel, fmt, ap);
    va_end(ap);
    snprintf(p, sizeof p, "%s/%s", fixdir(), rel);
    void *b = slurp(p, len);
    if (!b)
        fail_msg("missing fixture %s: run `make fixtures`", p);
    return b;
}

int shared_model(char *p, size_t len, const char *file)
{
    snprintf(p, len, "%s/%s", shared_models(), file);
    if (access(p, R_OK) == 0)
        return 1;
    print_message("skipped: %s absent (the shared test models are not beside the project)\n", p);
    return 0;
}

void tmpdir_make(char *dir, size_t len, const char *tag)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, len, "%s/lcnetd-%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", tag);
    if (!mkdtemp(dir))
        fail_msg("mkdtemp %s: %s", dir, strerror(errno));
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path) < 0 ? -1 : 0;
}

int tmpdir_remove(const char *dir)
{
    /* depth first, so a folder is empty when its turn comes; FTW_PHYS: a
     * link to a fixture goes, the fixture stays */
    return nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void sock_dir_open(sock_dir *s, const char *tag)
{
    char err[256];
    tmpdir_make(s->dir, sizeof s->dir, tag);
    snprintf(s->path, sizeof s->path, "%s/events.sock", s->dir);
    s->lfd = -1;
    if (pub_listen(s->path, 0660, &s->lfd, err, sizeof err) != PUB_OK) {
        rmdir(s->dir);
        fail_msg("pub_listen %s: %s", s->path, err);
    }
}

void sock_dir_close(sock_dir *s)
{
    if (s->lfd >= 0)
        close(s->lfd);
    s->lfd = -1;
    if (tmpdir_remove(s->dir) < 0)
        fprintf(stderr, "could not remove %s: %s\n", s->dir, strerror(errno));
}

int unix_connect(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        int e = errno;               /* close() may clobber it */
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

int read_manifest(const char *rel, manifest_row row, void *arg, int max)
{
    char p[512], line[256];
    int n = 0;
    snprintf(p, sizeof p, "%s/%s", fixdir(), rel);
    FILE *f = fopen(p, "r");
    if (!f)
        return -1;
    while (n < max && fgets(line, sizeof line, f))
        if (line[0] != '#' && row(arg, n, line))
            n++;
    fclose(f);
    return n;
}

/* LCNETD_TEST_BACKEND=onednn|xnnpack runs a suite on that backend (arm64's
 * oneDNN, say), else the engine chooses. */
static eng_backend test_backend(void)
{
    const char *b = getenv("LCNETD_TEST_BACKEND");
    return !b ? ENG_BACKEND_AUTO : !strcmp(b, "onednn") ? ENG_BACKEND_ONEDNN :
           !strcmp(b, "xnnpack") ? ENG_BACKEND_XNNPACK : ENG_BACKEND_AUTO;
}

eng_model *load_model_on(const char *path, eng_backend be, eng_precision prec, const char *calib)
{
    eng_options o;
    eng_model *m = NULL;
    char err[1024];
    eng_options_init(&o);
    o.threads = 1;
    o.precision = prec;
    o.calib_path = calib;
    o.backend = be;
    if (eng_load(&m, &o, path, err, sizeof err) < 0)
        fail_msg("load %s: %s", path, err);
    return m;
}

eng_model *load_model(const char *path, eng_precision prec, const char *calib)
{
    return load_model_on(path, test_backend(), prec, calib);
}

void calibrate_model(const char *model, const char *file, int h, int w, const char *out)
{
    eng_calib *c = NULL;
    eng_options o;
    char err[1024];
    size_t len = 0;
    eng_options_init(&o);
    o.threads = 1;
    if (eng_calib_new(&c, &o, model, err, sizeof err) < 0)
        fail_msg("calibrate %s: %s", model, err);
    uint8_t *pix = fixture_file(&len, "%s", file);
    for (size_t i = 0; i < len / ((size_t)h * w * 3); i++)
        assert_int_equal(eng_calib_add(c, pix + i * h * w * 3, w * 3, err, sizeof err), 0);
    if (eng_calib_save(c, out, model, err, sizeof err) < 0)
        fail_msg("%s", err);
    free(pix);
    eng_calib_free(c);
}

double compare_outputs(const char *what, const float *got, const float *want, int n, int classes,
                       int probs)
{
    double worst = 0;
    for (int i = 0; i < n; i++) {
        const float *g = got + (size_t)i * (size_t)classes, *w = want + (size_t)i * (size_t)classes;
        double mx = 0, d = 0;
        int at = 0;
        for (int c = 0; c < classes; c++) {
            double dc = isnan(g[c]) ? INFINITY : fabs((double)g[c] - w[c]);
            if (fabs(w[c]) > mx)
                mx = fabs(w[c]);
            if (dc > d) {
                d = dc;
                at = c;
            }
        }
        double e = probs ? d : d / (mx > 0 ? mx : 1);
        if (e > worst)
            worst = e;
        if (!(e <= (probs ? 1e-4 : 1e-3)))
            fail_msg("%s item %d class %d: got %.6f, want %.6f: %s error %.3g over tolerance", what, i, at,
                     g[at], w[at], probs ? "absolute" : "relative", e);
    }
    return worst;
}

void parity_three(eng_model *m, const parity_case *pc, parity_err *e)
{
    char err[512];
    size_t len = 0, wlen = 0, per = (size_t)pc->c * (size_t)pc->h * (size_t)pc->w;
    float *x = fixture_file(&len, "%s.in.f32", pc->stem);
    float *want = fixture_file(&wlen, "%s.out.f32", pc->stem);
    int n = (int)(len / (sizeof(float) * per));
    assert_int_equal(n, pc->batch);
    size_t nout = (size_t)n * (size_t)pc->classes;
    assert_int_equal(wlen, sizeof(float) * nout);
    float *got = calloc(nout, sizeof(float));
    assert_non_null(got);

    const float *ins[1] = { x };
    float *outs[1] = { got };
    assert_int_equal(eng_run_tensors(m, n, ins, outs, err, sizeof err), 0);
    e->batch = compare_outputs(pc->stem, got, want, n, pc->classes, pc->probs);

    /* cleared first, so that no score of the batch run can pass for one of these */
    memset(got, 0, sizeof(float) * nout);
    for (int i = 0; i < n; i++) {
        ins[0] = x + per * (size_t)i;
        outs[0] = got + (size_t)i * (size_t)pc->classes;
        assert_int_equal(eng_run_tensors(m, 1, ins, outs, err, sizeof err), 0);
    }
    e->single = compare_outputs(pc->stem, got, want, n, pc->classes, pc->probs);

    size_t frame = (size_t)pc->h * (size_t)pc->w * 3;
    uint8_t *pix = fixture_file(&len, "%s.pix.u8", pc->stem);
    float *pwant = fixture_file(&wlen, "%s.pix.out.f32", pc->stem);
    int np = (int)(len / frame);
    assert_int_equal(wlen, sizeof(float) * (size_t)np * (size_t)pc->classes);
    const uint8_t **frames = calloc((size_t)np + 1, sizeof *frames);
    int *strides = calloc((size_t)np + 1, sizeof *strides);
    float *pgot = calloc((size_t)np * (size_t)pc->classes + 1, sizeof(float));
    assert_true(np > 0 && frames && strides && pgot);
    for (int i = 0; i < np; i++) {
        frames[i] = pix + frame * (size_t)i;
        strides[i] = pc->w * 3;
    }
    assert_int_equal(eng_run_pixels(m, frames, strides, np, pgot, err, sizeof err), 0);
    e->pixels = compare_outputs(pc->stem, pgot, pwant, np, pc->classes, pc->probs);
    free(frames);
    free(strides);
    free(pgot);
    free(pix);
    free(pwant);
    free(got);
    free(want);
    free(x);
}

float *leaky_inputs(const char *ref_file, float **ref)
{
    size_t nx, nref;
    float *x = fixture_file(&nx, "ops/leakyrelu.in.f32");
    *ref = fixture_file(&nref, "ops/%s", ref_file);
    assert_int_equal(nx, sizeof(float) * LEAKY_N * 3 * LEAKY_HW * LEAKY_HW);
    assert_int_equal(nref, sizeof(float) * LEAKY_N * LEAKY_K);
    return x;
}

double leaky_batch(eng_model *m, const float *x, const float *ref, float *got, const char *what,
                   int probs)
{
    char err[512];
    const float *ins[1] = { x };
    float *outs[1] = { got };
    assert_int_equal(eng_get_info(m)->classes, LEAKY_K);
    if (eng_run_tensors(m, LEAKY_N, ins, outs, err, sizeof err) != 0)
        fail_msg("%s: %s", what, err);
    return compare_outputs(what, got, ref, LEAKY_N, LEAKY_K, probs);
}

void prov_synthetic(float *x, int h, int w)
{
    static const float mean[3] = { 0.485f, 0.456f, 0.406f }, std[3] = { 0.229f, 0.224f, 0.225f };
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < h; y++)
            for (int i = 0; i < w; i++) {
                float v = (float)((i * 7 + y * 3 + c * 50) % 256) / 255.0f;
                x[((size_t)c * h + y) * w + i] = (v - mean[c]) / std[c];
            }
}

typedef struct {
    const char *file;
    int h, w, probs;
    float want[4];              /* synthetic, then zeros */
} prov_doc;

static const prov_doc prov_docs[] = {
    { PROV_TEXTLINE, 80, 160, 1, { 0.470053f, 0.529947f, 0.494097f, 0.505903f } },
    { PROV_LCNET050, 224, 224, 0, { -0.911447f, 1.310103f, 0.973031f, 3.602327f } },
};

double prov_documented(eng_model *m, const char *file, float got[4])
{
    const prov_doc *d = NULL;
    for (size_t i = 0; i < sizeof prov_docs / sizeof prov_docs[0]; i++)
        if (strcmp(prov_docs[i].file, file) == 0)
            d = &prov_docs[i];
    if (!d)
        fail_msg("%s: PROVENANCE.md documents no outputs for it", file);
    char err[512];
    size_t n = (size_t)3 * d->h * d->w;
    float *x = calloc(2 * n, sizeof(float));
    assert_non_null(x);
    prov_synthetic(x, d->h, d->w);
    const float *ins[1] = { x };
    float *outs[1] = { got };
    assert_int_equal(eng_run_tensors(m, 2, ins, outs, err, sizeof err), 0);
    free(x);
    return compare_outputs(file, got, d->want, 2, 2, d->probs);
}

/* A calibration file as lcnetd wrote it before per-channel scales: the
 * fourth field of every line dropped. */
void calib_strip_channels(const char *path)
{
    size_t len = 0;
    char *s = (char *)slurp(path, &len), *o = s;
    assert_non_null(s);
    for (size_t i = 0, field = 0; i < len; i++) {
        field = s[i] == '\n' ? 0 : field + (s[i] == '\t');
        if (field < 3)
            *o++ = s[i];
    }
    FILE *f = fopen(path, "w");
    fwrite(s, 1, (size_t)(o - s), f);
    fclose(f);
    free(s);
}
