/* pdiparams.c: Paddle's combined weights file (inference.pdiparams).
 *
 * The file is the persistable tensors back to back, in lexicographic order
 * of their names, with no names in it: what ties a record to a parameter is
 * its position.  A record is
 *     uint32 version (0)
 *     uint64 LoD levels, then per level uint64 bytes + that many bytes
 *     uint32 tensor version (0)
 *     int32 TensorDesc size, then the TensorDesc protobuf
 *         (field 1: data type, 5 = fp32; field 2: repeated int64 dims)
 *     product(dims) x element size bytes of little-endian data.
 * Every count is checked against the bytes left before it is used, and a
 * record's shape against the shape the program declares, so that a file
 * from another model or in another order fails here, naming the parameter. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "engine/import/paddle.h"

/* Paddle's VarType.Type numbers for the data types. */
static const char *pd_dtype_name(uint64_t t)
{
    static const char *const names[] = {
        "bool", "int16", "int32", "int64", "float16", "float32", "float64",
    };
    if (t < sizeof names / sizeof names[0])
        return names[t];
    switch (t) {
    case 19: return "size_t";
    case 20: return "uint8";
    case 21: return "int8";
    case 22: return "bfloat16";
    case 23: return "complex64";
    case 24: return "complex128";
    default: return "unknown";
    }
}

#define PD_FP32 5

typedef struct {
    const uint8_t *p;
    size_t left;
} cursor;

static int take(cursor *c, void *dst, size_t n)
{
    if (c->left < n)
        return -1;
    memcpy(dst, c->p, n);
    c->p += n;
    c->left -= n;
    return 0;
}

static int varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    *v = 0;
    for (int sh = 0; sh < 64; sh += 7) {
        if (*p >= end)
            return -1;
        uint8_t b = *(*p)++;
        *v |= (uint64_t)(b & 0x7f) << sh;
        if (!(b & 0x80))
            return 0;
    }
    return -1;
}

/* The TensorDesc message: data type and dims, packed or not; other fields skipped. */
static int tensor_desc(const uint8_t *p, size_t len, uint64_t *dtype, int *ndim, int64_t *dims)
{
    const uint8_t *end = p + len;
    uint64_t key, v;
    *dtype = (uint64_t)-1;
    *ndim = 0;
    while (p < end) {
        if (varint(&p, end, &key) < 0)
            return -1;
        int wt = (int)(key & 7);
        uint64_t field = key >> 3;
        if (field == 1 && wt == 0) {
            if (varint(&p, end, dtype) < 0)
                return -1;
        } else if (field == 2 && wt == 0) {
            if (varint(&p, end, &v) < 0 || *ndim >= G_MAX_DIMS)
                return -1;
            dims[(*ndim)++] = (int64_t)v;
        } else if (field == 2 && wt == 2) {
            if (varint(&p, end, &v) < 0 || v > (uint64_t)(end - p))
                return -1;
            const uint8_t *e = p + v;
            while (p < e) {
                uint64_t d;
                if (varint(&p, e, &d) < 0 || *ndim >= G_MAX_DIMS)
                    return -1;
                dims[(*ndim)++] = (int64_t)d;
            }
        } else if (wt == 0) {
            if (varint(&p, end, &v) < 0)
                return -1;
        } else if (wt == 1 || wt == 5) {
            size_t n = wt == 1 ? 8 : 4;
            if ((size_t)(end - p) < n)
                return -1;
            p += n;
        } else if (wt == 2) {
            if (varint(&p, end, &v) < 0 || v > (uint64_t)(end - p))
                return -1;
            p += v;
        } else {
            return -1;
        }
    }
    return *dtype == (uint64_t)-1 ? -1 : 0;
}

static int same_shape(int na, const int64_t *a, int nb, const int64_t *b)
{
    if (na == nb) {
        for (int i = 0; i < na; i++)
            if (a[i] != b[i])
                return 0;
        return 1;
    }
    /* a scalar may be written [] on one side and [1] on the other */
    return (na == 0 || nb == 0) && gr_numel(na, a) == 1 && gr_numel(nb, b) == 1;
}

/* Read the records in the order given; on success data[] holds every parameter. */
static int read_in_order(const uint8_t *buf, size_t len, const char *file, const pd_param *par,
                         const int *order, int n, float **data, int *ndim,
                         int64_t (*dims)[G_MAX_DIMS], int use_alt, char *err, size_t errlen)
{
    cursor c = { buf, len };
    char s[96], s2[96];
    for (int k = 0; k < n; k++) {
        const pd_param *pp = &par[order[k]];
        const char *nm = use_alt && pp->alt ? pp->alt : pp->name;
        uint32_t ver, tver;
        uint64_t lod;
        int32_t dsz;
        if (c.left == 0) {
            snprintf(err, errlen, "%s: the file ends after %d of the %d parameters the program "
                     "declares; missing: '%s'%s", file, k, n, nm, n - k > 1 ? " and those after it" : "");
            return ENG_EMODEL;
        }
        size_t at = len - c.left;
        if (take(&c, &ver, 4) < 0 || take(&c, &lod, 8) < 0) {
            snprintf(err, errlen, "%s: parameter '%s': the file ends inside its record header "
                     "(at byte %zu)", file, nm, at);
            return ENG_EMODEL;
        }
        if (ver != 0) {
            /* the value is four bytes of a file that may be anything: not echoed */
            snprintf(err, errlen, "%s: parameter '%s': unsupported record version at byte %zu, "
                     "expected 0 (not a Paddle weights file, or records out of step)", file, nm, at);
            return ENG_EMODEL;
        }
        if (lod > c.left / 8) {
            snprintf(err, errlen, "%s: parameter '%s': more LoD levels than the file holds",
                     file, nm);
            return ENG_EMODEL;
        }
        for (uint64_t l = 0; l < lod; l++) {
            uint64_t sz;
            if (take(&c, &sz, 8) < 0 || sz > c.left) {
                snprintf(err, errlen, "%s: parameter '%s': LoD level %llu runs past the end of "
                         "the file", file, nm, (unsigned long long)l);
                return ENG_EMODEL;
            }
            c.p += sz;
            c.left -= sz;
        }
        if (take(&c, &tver, 4) < 0 || take(&c, &dsz, 4) < 0) {
            snprintf(err, errlen, "%s: parameter '%s': the file ends inside its record header",
                     file, nm);
            return ENG_EMODEL;
        }
        if (tver != 0) {
            snprintf(err, errlen, "%s: parameter '%s': unsupported tensor version, expected 0",
                     file, nm);
            return ENG_EMODEL;
        }
        if (dsz < 0 || (size_t)dsz > c.left) {
            snprintf(err, errlen, "%s: parameter '%s': its TensorDesc runs past the end of the "
                     "file (%zu bytes left)", file, nm, c.left);
            return ENG_EMODEL;
        }
        uint64_t dt;
        int nd;
        int64_t d[G_MAX_DIMS];
        if (tensor_desc(c.p, (size_t)dsz, &dt, &nd, d) < 0) {
            snprintf(err, errlen, "%s: parameter '%s': its TensorDesc does not parse (corrupt, "
                     "or more than %d dims)", file, nm, G_MAX_DIMS);
            return ENG_EMODEL;
        }
        c.p += dsz;
        c.left -= (size_t)dsz;
        gr_dims_str(s, sizeof s, nd, d);
        if (dt != PD_FP32) {
            snprintf(err, errlen, "%s: parameter '%s' %s: data type %s; only float32 "
                     "weights are supported", file, nm, s, pd_dtype_name(dt));
            return ENG_EUNSUP;
        }
        int64_t numel = gr_numel(nd, d);
        if (numel < 0) {
            snprintf(err, errlen, "%s: parameter '%s': TensorDesc says %s: negative or too large",
                     file, nm, s);
            return ENG_EMODEL;
        }
        if ((uint64_t)numel > c.left / 4) {
            snprintf(err, errlen, "%s: parameter '%s': TensorDesc says %s (%lld floats), %zu "
                     "bytes left in the file", file, nm, s, (long long)numel, c.left);
            return ENG_EMODEL;
        }
        if (pp->ndim >= 0 && !same_shape(pp->ndim, pp->dims, nd, d)) {
            gr_dims_str(s2, sizeof s2, pp->ndim, pp->dims);
            snprintf(err, errlen, "%s: parameter '%s' (record %d of %d): the file holds %s, the "
                     "program declares %s", file, nm, k + 1, n, s, s2);
            return ENG_EMODEL;
        }
        float *f = malloc((size_t)(numel ? numel : 1) * sizeof(float));
        if (!f) {
            snprintf(err, errlen, "%s: parameter '%s': out of memory", file, nm);
            return ENG_ENOMEM;
        }
        memcpy(f, c.p, (size_t)numel * 4);   /* little-endian, as the machine */
        c.p += (size_t)numel * 4;
        c.left -= (size_t)numel * 4;
        int i = order[k];
        data[i] = f;
        if (pp->ndim >= 0) {
            ndim[i] = pp->ndim;
            memcpy(dims[i], pp->dims, sizeof(int64_t) * (size_t)pp->ndim);
        } else {
            ndim[i] = nd;
            memcpy(dims[i], d, sizeof(int64_t) * (size_t)nd);
        }
    }
    if (c.left) {
        snprintf(err, errlen, "%s: %zu bytes after the last of the %d parameters the program "
                 "declares: the file holds more (weights of another model?)", file, c.left, n);
        return ENG_EMODEL;
    }
    return 0;
}

typedef struct {
    const char *key;
    int idx;
} keyed;

static int by_key(const void *a, const void *b)
{
    return strcmp(((const keyed *)a)->key, ((const keyed *)b)->key);
}

static void free_data(float **data, int n)
{
    for (int i = 0; i < n; i++) {
        free(data[i]);
        data[i] = NULL;
    }
}

/* Indices sorted by name (alt = 0) or by the program's spelling (alt = 1).
 * Returns the first name that occurs twice, else NULL. */
static const char *sort_order(const pd_param *par, int n, int alt, keyed *k, int *order)
{
    for (int i = 0; i < n; i++) {
        k[i].key = alt && par[i].alt ? par[i].alt : par[i].name;
        k[i].idx = i;
    }
    qsort(k, (size_t)n, sizeof *k, by_key);
    for (int i = 0; i < n; i++)
        order[i] = k[i].idx;
    for (int i = 1; i < n; i++)
        if (strcmp(k[i - 1].key, k[i].key) == 0)
            return k[i].key;
    return NULL;
}

int pd_params_read(const uint8_t *buf, size_t len, const char *file, const pd_param *par, int n,
                   float **data, int *ndim, int64_t (*dims)[G_MAX_DIMS], char *err, size_t errlen)
{
    size_t cnt = (size_t)(n ? n : 1);
    int *a = malloc(sizeof(int) * cnt), *b = malloc(sizeof(int) * cnt);
    keyed *k = malloc(sizeof(keyed) * cnt);
    int ret = ENG_ENOMEM;
    char first[512];
    for (int i = 0; i < n; i++)
        data[i] = NULL;
    if (!a || !b || !k) {
        snprintf(err, errlen, "%s: out of memory", file);
        goto end;
    }
    /* The names as the file sorts them, else as the program spells them
     * (Paddle 3 programs add a _deepcopy_K suffix the saver may or may not
     * have sorted by): the shapes decide, record by record. */
    const char *dup_a = sort_order(par, n, 0, k, a), *dup_b = sort_order(par, n, 1, k, b);
    int differ = memcmp(a, b, sizeof(int) * (size_t)n) != 0;
    if (dup_a && dup_b) {
        snprintf(err, errlen, "%s: two parameters are named '%s'", file, dup_b);
        ret = ENG_EMODEL;
        goto end;
    }
    if (dup_a) {
        ret = read_in_order(buf, len, file, par, b, n, data, ndim, dims, 1, err, errlen);
        goto end;
    }
    ret = read_in_order(buf, len, file, par, a, n, data, ndim, dims, 0, err, errlen);
    if (ret == 0 || ret == ENG_ENOMEM || !differ || dup_b)
        goto end;
    free_data(data, n);
    snprintf(first, sizeof first, "%s", err);
    int ret1 = ret;
    ret = read_in_order(buf, len, file, par, b, n, data, ndim, dims, 1, err, errlen);
    if (ret < 0 && ret != ENG_ENOMEM) {
        snprintf(err, errlen, "%s", first);   /* the usual order's complaint is the clearer */
        ret = ret1;
    }
end:
    if (ret < 0)
        free_data(data, n);
    free(a);
    free(b);
    free(k);
    return ret;
}
