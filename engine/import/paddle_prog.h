/* paddle_prog.h: a Paddle program as the two front ends read it.
 *
 * Two program formats meet in one description, pd_prog: Paddle 3's PIR
 * program (inference.json, paddle_pir.c) and Paddle 2.x's ProgramDesc
 * (inference.pdmodel, paddle_pdmodel.c).  Both front ends give ops the 2.x
 * operator names and input slots (conv2d: Input, Filter; batch_norm: X,
 * Scale, Bias, Mean, Variance; ...), so that one mapper (paddle_ops.c)
 * turns either into graph nodes.  The front ends fill it through the
 * builders here (paddle_prog.c) and see nothing else of the loader. */
#ifndef LCNETD_PADDLE_PROG_H
#define LCNETD_PADDLE_PROG_H

#include <stddef.h>
#include <stdint.h>

#include "engine/graph/graph.h"

/* Caps on what a program file may ask for. */
#define PD_MAX_PROGRAM ((size_t)16 << 20)   /* bytes of JSON or protobuf */
#define PD_MAX_YML ((size_t)16 << 20)
#define PD_MAX_ATTRS 256                    /* per op */
#define PD_MAX_LIST 4096                    /* ints / floats in one attribute */
#define PD_MAX_ARGS 64                      /* variables in one op slot */

typedef enum { PA_NONE = 0, PA_INT, PA_FLOAT, PA_BOOL, PA_STR, PA_INTS, PA_FLOATS, PA_OTHER } pd_attrkind;

typedef struct {
    char *name;
    pd_attrkind kind;
    int64_t i;              /* INT, BOOL; FLOAT when integral */
    double f;               /* FLOAT; INT as well */
    char *s;
    int64_t *ints;          /* INTS */
    double *floats;         /* FLOATS; INTS as well */
    int n;
} pd_attr;

typedef struct {
    char *name;
    int *v;                 /* variable indices; -1 for an absent optional input */
    int n;
} pd_slot;

typedef struct {
    char *type;             /* Paddle 2.x operator name: conv2d, elementwise_add, ... */
    char *orig;             /* as the file names it, for messages: pd_op.add */
    int idx;                /* position in the program's op list */
    pd_slot *in, *out;
    int nin, nout;
    int out0;               /* the result the graph uses: variable index, -1 if none */
    pd_attr *attrs;
    int nattrs;
} pd_op;

typedef struct {
    char *name;             /* graph tensor name */
    char *full;             /* parameters: the name as the program writes it */
    int dtype;              /* G_*, 0 unknown */
    int ndim;               /* declared shape, -1 unknown; dims -1 = dynamic */
    int64_t dims[G_MAX_DIMS];
    int param;              /* persistable: its value is in the weights file */
} pd_var;

typedef struct {
    const char *file;       /* the program file, for messages */
    const char *format;     /* "paddle-pir" or "paddle-pdmodel" */
    pd_var *v;
    int nv, capv;
    pd_op *op;
    int nop, capop;
    int *feeds, nfeeds;     /* graph inputs, in feed column order */
    int *fetches, nfetches; /* graph outputs */
    int *hash;              /* name -> variable index */
    int hcap;
} pd_prog;

/* --- program description (paddle_prog.c) */
void pd_prog_free(pd_prog *p);
/* Variable by name; created (unknown shape) when create != 0.  -1 when
 * absent, on running out of memory or past G_MAX_TENSORS. */
int pd_var_get(pd_prog *p, const char *name, int create);
/* A new op at the end; NULL when out of memory or past G_MAX_NODES. */
pd_op *pd_op_add(pd_prog *p, const char *type, const char *orig, int idx);
pd_slot *pd_slot_add(pd_op *o, int out, const char *name, int n);
pd_attr *pd_attr_add(pd_op *o, const char *name, pd_attrkind kind);
int pd_list_add(int **v, int *n, int x);

/* --- front ends: bytes to pd_prog.  Errors name the op ("op #57
 * (pd_op.foo)") or the place in the file; the caller prefixes the file. */
int pd_pir_parse(pd_prog *p, const uint8_t *buf, size_t len, char *err, size_t errlen);
int pd_pdmodel_parse(pd_prog *p, const uint8_t *buf, size_t len, char *err, size_t errlen);

#endif
