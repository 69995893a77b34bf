/* paddle_map.h: the vocabulary of the Paddle operator mappers (paddle_ops.c,
 * helpers in paddle_map.c): reading one pd_op, writing graph nodes.
 * Private to those two files. */
#ifndef LCNETD_PADDLE_MAP_H
#define LCNETD_PADDLE_MAP_H

#include <stddef.h>
#include <stdint.h>

#include "engine/graph/graph.h"
#include "engine/import/paddle.h"

/* "op #IDX (NAME): " and the message into err; returns code. */
int pm_fail(const pd_op *o, int code, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
#define FAIL(code, ...) return pm_fail(o, code, err, errlen, __VA_ARGS__)

/* Attributes by their 2.x name a or other name b (may be NULL). */
const pd_attr *pm_attr(const pd_op *o, const char *a, const char *b);
int64_t pm_int(const pd_op *o, const char *a, const char *b, int64_t def);
double pm_float(const pd_op *o, const char *a, const char *b, double def);
const char *pm_str(const pd_op *o, const char *a, const char *b, const char *def);
/* Copies at most max ints; the count present, -1 when absent or not ints. */
int pm_ints(const pd_op *o, const char *a, const char *b, int64_t *v, int max);

/* Variable k of an input slot; -1 when absent. */
int pm_in_var(const pd_op *o, const char *slot, int k);
/* The graph tensor holding an input; -1 (with err set) when the slot is
 * empty and required, or names a variable nothing defined. */
int pm_in(pd_map *m, const pd_op *o, const char *slot, int required, char *err, size_t errlen);
#define IN(var, slot) do { if ((var = pm_in(m, o, slot, 1, err, errlen)) < 0) return ENG_EMODEL; } while (0)
/* Declared rank and dims of an operand: the constant's, else the program's. */
int pm_rank(pd_map *m, const pd_op *o, const char *slot);
const int64_t *pm_dims(pd_map *m, const pd_op *o, const char *slot);

int pm_nomem(const pd_op *o, char *err, size_t errlen);
/* The op's result as a new graph tensor named for its variable. */
int pm_out(pd_map *m, const pd_op *o, char *err, size_t errlen);
/* An intermediate tensor between the nodes one op becomes. */
int pm_mid(pd_map *m, const pd_op *o, const char *what, char *err, size_t errlen);
/* A node reading ins[] and writing tensor out; its index, or < 0. */
int pm_node(pd_map *m, const pd_op *o, gr_opkind op, const char *suffix, int nin,
            const int *ins, int out, char *err, size_t errlen);
/* Attributes of graph node n; -1 when out of memory. */
int pm_set_ints(gr_graph *g, int n, const char *name, const int64_t *v, int k);
int pm_set_int(gr_graph *g, int n, const char *name, int64_t v);
int pm_set_float(gr_graph *g, int n, const char *name, float v);
int pm_set_str(gr_graph *g, int n, const char *name, const char *v);
/* A new constant: a float scalar, or int64 values; -1 when out of memory. */
int pm_const_scalar(gr_graph *g, float v);
int pm_const_i64(gr_graph *g, const int64_t *v, int k);
/* Charge n elements of constants made by ops to the map's budget. */
int pm_charge(pd_map *m, const pd_op *o, int64_t n, char *err, size_t errlen);
/* A copy of constant t with other dims (same element count) or transposed. */
int pm_const_copy(gr_graph *g, int t, int nd, const int64_t *dims, int transpose);

#endif
