/* Loader tests for hostile files: protobuf nesting deep enough to overflow
 * protobuf-c's recursion, paths that are FIFOs or directories (which must
 * be refused, not waited on), and weights files whose bytes must not come
 * back in an error message.
 *
 * Every case that could hang on a regression runs under alarm(): a hang
 * becomes a failure of this suite, not of the whole run. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine/engine.h"
#include "engine/import/import.h"
#include "tests/testutil.h"

/* ---------------------------------------------------- protobuf bytes */

typedef struct {
    uint8_t *b;
    size_t n, cap;
} buf;

static void put(buf *o, const void *p, size_t n)
{
    if (!n)
        return;         /* nothing to copy, maybe from no buffer yet */
    if (o->n + n > o->cap) {
        o->cap = (o->n + n) * 2 + 64;
        o->b = realloc(o->b, o->cap);
        assert_non_null(o->b);
    }
    memcpy(o->b + o->n, p, n);
    o->n += n;
}

static void put_varint(buf *o, uint64_t v)
{
    uint8_t t[10];
    size_t n = 0;
    do {
        t[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v)
            t[n] |= 0x80;
        n++;
    } while (v);
    put(o, t, n);
}

/* field `f` (length-delimited) around the whole of *in; *in becomes it */
static void wrap(buf *in, uint32_t f)
{
    buf o = { 0 };
    put_varint(&o, (uint64_t)f << 3 | 2);
    put_varint(&o, in->n);
    put(&o, in->b, in->n);
    free(in->b);
    *in = o;
}

/* A ModelProto whose graph holds a node whose attribute holds a graph ...
 * `levels` graphs deep (three messages per level). */
static buf nested_graphs(int levels)
{
    buf g = { 0 };
    for (int i = 0; i < levels; i++) {
        wrap(&g, 6);    /* AttributeProto.g */
        wrap(&g, 5);    /* NodeProto.attribute */
        wrap(&g, 1);    /* GraphProto.node */
    }
    wrap(&g, 7);        /* ModelProto.graph */
    return g;
}

/* A graph input whose type is a sequence of sequences of ... `levels` deep. */
static buf nested_types(int levels)
{
    buf t = { 0 };
    for (int i = 0; i < levels; i++) {
        wrap(&t, 1);    /* TypeProto.Sequence.elem_type */
        wrap(&t, 4);    /* TypeProto.sequence_type */
    }
    wrap(&t, 2);        /* ValueInfoProto.type */
    wrap(&t, 11);       /* GraphProto.input */
    wrap(&t, 7);        /* ModelProto.graph */
    return t;
}

typedef struct {
    char dir[256];
} tmpdir;

static void tmp_make(tmpdir *t)
{
    tmpdir_make(t->dir, sizeof t->dir, "loader");
}

static void tmp_remove(tmpdir *t)
{
    assert_int_equal(tmpdir_remove(t->dir), 0);
}

/* dir/name: a link to the fixture fixdir()/rel, by its absolute path */
static void link_fixture(const char *dir, const char *name, const char *rel)
{
    char src[512], abs[PATH_MAX], p[512];
    snprintf(src, sizeof src, "%s/%s", fixdir(), rel);
    if (!realpath(src, abs))
        fail_msg("missing fixture %s: run `make fixtures`", src);
    snprintf(p, sizeof p, "%s/%s", dir, name);
    assert_int_equal(symlink(abs, p), 0);
}

static int load_err(const char *path, char *err, size_t errlen)
{
    eng_model *m = NULL;
    eng_options o;
    eng_options_init(&o);
    o.threads = 1;
    int r = eng_load(&m, &o, path, err, errlen);
    print_message("%s -> %d: %s\n", path, r, err);
    eng_free(m);
    return r;
}

/* ---------------------------------------------------------- nesting */

static void test_nested_graphs_refused(void **state)
{
    tmpdir t;
    char p[128], err[1024] = "";
    (void)state;
    tmp_make(&t);
    buf b = nested_graphs(3000);
    snprintf(p, sizeof p, "%s/nested.onnx", t.dir);
    spit(p, b.b, b.n);
    alarm(60);
    assert_int_equal(load_err(p, err, sizeof err), ENG_EMODEL);
    alarm(0);
    assert_non_null(strstr(err, p));
    assert_non_null(strstr(err, "nested 65 levels"));
    assert_non_null(strstr(err, "at most 64"));
    free(b.b);
    tmp_remove(&t);
}

static void test_nested_types_refused(void **state)
{
    char err[1024] = "";
    gr_graph *g = NULL;
    (void)state;
    buf b = nested_types(5000);
    assert_int_equal(onnx_load_buffer(&g, b.b, b.n, "types.onnx", err, sizeof err), ENG_EMODEL);
    print_message("%s\n", err);
    assert_null(g);
    assert_non_null(strstr(err, "types.onnx: messages nested"));
    free(b.b);
}

/* Nesting within the limit goes on to the parser and the loader, which
 * refuse this file for what it lacks, not for its depth. */
static void test_shallow_nesting_passes(void **state)
{
    char err[1024] = "";
    gr_graph *g = NULL;
    (void)state;
    buf b = nested_graphs(20);          /* 1 + 60 + 1 messages deep */
    assert_true(onnx_load_buffer(&g, b.b, b.n, "shallow.onnx", err, sizeof err) < 0);
    print_message("%s\n", err);
    assert_null(strstr(err, "nested"));
    free(b.b);
    b = nested_graphs(21);              /* 65 */
    assert_int_equal(onnx_load_buffer(&g, b.b, b.n, "deep.onnx", err, sizeof err), ENG_EMODEL);
    assert_non_null(strstr(err, "nested"));
    free(b.b);
}

/* ---------------------------------------------------- what a path is */

static void test_fifo_refused(void **state)
{
    tmpdir t;
    char p[128], err[1024] = "";
    eng_labels *l = NULL;
    (void)state;
    tmp_make(&t);
    snprintf(p, sizeof p, "%s/model.onnx", t.dir);
    assert_int_equal(mkfifo(p, 0600), 0);
    alarm(20);          /* a blocking open would wait here for a writer forever */
    assert_int_equal(load_err(p, err, sizeof err), ENG_EIO);
    assert_non_null(strstr(err, p));
    assert_non_null(strstr(err, "FIFO"));
    assert_int_equal(eng_labels_load(&l, p, err, sizeof err), ENG_EIO);
    assert_null(l);
    assert_non_null(strstr(err, "FIFO"));
    alarm(0);
    tmp_remove(&t);
}

/* A Paddle folder whose weights file is a FIFO */
static void test_paddle_fifo_refused(void **state)
{
    tmpdir t;
    char p[128], err[1024] = "";
    (void)state;
    tmp_make(&t);
    link_fixture(t.dir, "inference.pdmodel", "paddle/pd2_x025/inference.pdmodel");
    snprintf(p, sizeof p, "%s/inference.pdiparams", t.dir);
    assert_int_equal(mkfifo(p, 0600), 0);
    alarm(20);
    assert_int_equal(load_err(t.dir, err, sizeof err), ENG_EIO);
    alarm(0);
    assert_non_null(strstr(err, "inference.pdiparams: a FIFO"));
    tmp_remove(&t);
}

static void test_directory_refused(void **state)
{
    tmpdir t;
    char err[1024] = "";
    eng_labels *l = NULL;
    uint8_t *b = NULL;
    size_t n;
    (void)state;
    tmp_make(&t);
    assert_int_equal(eng_labels_load(&l, t.dir, err, sizeof err), ENG_EIO);
    print_message("%s\n", err);
    assert_non_null(strstr(err, "a directory"));
    assert_int_equal(read_file(t.dir, 100, &b, &n, err, sizeof err), ENG_EIO);
    assert_null(b);
    assert_non_null(strstr(err, "a directory"));
    assert_int_equal(read_file("/dev/zero", 100, &b, &n, err, sizeof err), ENG_EIO);
    assert_non_null(strstr(err, "a character device"));
    tmp_remove(&t);
}

/* Symlinks stay allowed: what counts is the file they lead to. */
static void test_symlink_loads(void **state)
{
    tmpdir t;
    char p[128], src[512], err[1024] = "";
    eng_labels *l = NULL;
    eng_model *m = NULL;
    (void)state;
    tmp_make(&t);
    link_fixture(t.dir, "model.onnx", "bad/bad_ok.onnx");
    snprintf(p, sizeof p, "%s/model.onnx", t.dir);
    if (eng_load(&m, NULL, p, err, sizeof err) < 0)
        fail_msg("%s: %s", p, err);
    eng_free(m);
    snprintf(p, sizeof p, "%s/real.labels", t.dir);
    spit(p, "cat\ndog\n", 8);
    snprintf(src, sizeof src, "%s/link.labels", t.dir);
    assert_int_equal(symlink(p, src), 0);
    if (eng_labels_load(&l, src, err, sizeof err) < 0)
        fail_msg("%s: %s", src, err);
    eng_labels_free(l);
    tmp_remove(&t);
}

/* -------------------------------------------- no file bytes in errors */

static void test_weights_bytes_not_echoed(void **state)
{
    static const char secret[] = "SECRET-TOKEN=hunter2-0123456789abcdef\n";
    tmpdir t;
    char p[128], err[1024] = "";
    uint32_t v;
    char num[32];
    (void)state;
    tmp_make(&t);
    link_fixture(t.dir, "inference.pdmodel", "paddle/pd2_x025/inference.pdmodel");
    snprintf(p, sizeof p, "%s/inference.pdiparams", t.dir);
    spit(p, secret, sizeof secret - 1);
    assert_true(load_err(t.dir, err, sizeof err) < 0);
    assert_non_null(strstr(err, "inference.pdiparams"));
    assert_null(strstr(err, "SECR"));
    assert_null(strstr(err, "hunter2"));
    memcpy(&v, secret, 4);              /* "SECR" read as the record version */
    snprintf(num, sizeof num, "%u", v);
    assert_null(strstr(err, num));
    snprintf(num, sizeof num, "%x", v);
    assert_null(strstr(err, num));
    tmp_remove(&t);
}

/* test_loader [PATTERN]: only the cases whose names match */
int main(int argc, char **argv)
{
    const struct CMUnitTest t[] = {
        cmocka_unit_test(test_nested_graphs_refused),
        cmocka_unit_test(test_nested_types_refused),
        cmocka_unit_test(test_shallow_nesting_passes),
        cmocka_unit_test(test_fifo_refused),
        cmocka_unit_test(test_paddle_fifo_refused),
        cmocka_unit_test(test_directory_refused),
        cmocka_unit_test(test_symlink_loads),
        cmocka_unit_test(test_weights_bytes_not_echoed),
    };
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(t, NULL, NULL);
}
