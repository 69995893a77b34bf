/* plan.h: what a compiled plan is made of, whatever its precision: values
 * and steps, the liveness that lays the values out in one arena, the
 * binding of values to oneDNN memories, one scratchpad for every
 * primitive, and the run.  fp32.c (fp32/bf16) and int8.c build their plans
 * on it and keep their own facts in the step's extension block and, for
 * int8, a table of their own beside the values.  Private to engine/dnn/.
 *
 * A value is a buffer: the output of one step (def), read by later steps
 * (last), or a view of another value's bytes through another layout
 * (alias), or a constant the plan does not place (a weight borrowed from
 * the ctx, or a memory the plan owns).  A step is a oneDNN primitive with
 * its arguments, or a loop the backend runs itself (prim NULL). */
#ifndef LCNETD_DNN_PLAN_H
#define LCNETD_DNN_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "engine/dnn/onednn.h"
#include "engine/graph/graph.h"

#define PL_MAX_ARGS 10
#define PL_UNDEF (-2)        /* def of a value no step has written */

typedef struct {
    dnnl_memory_desc_t md;   /* how the steps binding it see its bytes; ndims 0: bound by none */
    size_t bytes;            /* storage in the arena: set before pl_allocate */
    int alias;               /* value whose storage this one shares, or -1 */
    int def, last;           /* defining step (-1: a graph input, PL_UNDEF: none), last reader */
    size_t off;              /* place in the arena, when it has its own */
    dnnl_memory_t mem;       /* after pl_bind; a constant's is given when it is made */
    int is_const;            /* not in the arena */
    int owns_mem;            /* a constant whose memory goes with the plan */
} pl_value;

typedef struct {
    dnnl_primitive_t prim;   /* NULL: a loop of the backend's (pl_plan.loop) */
    int n;
    int key[PL_MAX_ARGS], val[PL_MAX_ARGS];
    dnnl_memory_desc_t scratch_md;
    dnnl_memory_t scratch;
    dnnl_exec_arg_t args[PL_MAX_ARGS + 1];
    int node;                /* graph node, -1 when inserted (a reorder, an output's copy) */
    int dst;                 /* value written, or -1 */
    int inplace_src;         /* a value dst may share storage with when it dies here, or -1 */
    char kind[24];
    char impl[40];
} pl_step;

typedef struct pl_plan pl_plan;
/* Runs loop step i (prim NULL) of plan p. */
typedef void pl_loop_fn(pl_plan *p, int i);

struct pl_plan {
    dnn_ctx *c;
    const gr_graph *g;
    int batch;
    int64_t (*dims)[G_MAX_DIMS];   /* each tensor's shape at this batch */
    pl_value *v;
    int nv, capv;
    pl_step *s;
    int ns, caps;
    unsigned char *ext;            /* ext_size bytes per step, zeroed, the backend's */
    size_t ext_size;
    pl_loop_fn *loop;
    void *arena, *scratch;
    size_t arena_size, scratch_size;
    int ninplace;                  /* steps writing over their input */
    double *step_ms;               /* NULL, or each step's time in the last run (pl_time_steps) */
};

/* A plan for g at batch, empty; every step gets ext_size bytes of the
 * backend's.  ENG_ENOMEM, or 0.  pl_free undoes it (also after a failure). */
int pl_init(pl_plan *p, dnn_ctx *c, const gr_graph *g, int batch, size_t ext_size, pl_loop_fn *loop);
void pl_free(pl_plan *p);

/* Values; each returns the new value's index, or -1 when out of memory. */
int pl_value_new(pl_plan *p, const dnnl_memory_desc_t *md, int def);
/* n values no step has written yet, indices nv .. nv + n - 1 (0, or -1). */
int pl_values_reserve(pl_plan *p, int n);
/* A value sharing v's storage, its bytes seen through md. */
int pl_view(pl_plan *p, int v, const dnnl_memory_desc_t *md);
/* A constant already in memory mem (laid out as md); owned: the plan
 * destroys mem with itself. */
int pl_const(pl_plan *p, const dnnl_memory_desc_t *md, dnnl_memory_t mem, int owned);
/* The value holding v's storage, and where that is once allocated. */
int pl_root(const pl_plan *p, int v);
void *pl_ptr(const pl_plan *p, int v);
/* Step i reads v: v lives until at least i. */
void pl_read(pl_plan *p, int v, int i);

/* A new step at the end (NULL when out of memory); earlier step pointers
 * may move. */
pl_step *pl_step_new(pl_plan *p, int node, const char *kind);
/* Its backend block. */
void *pl_ext(const pl_plan *p, int i);
/* Argument key of step s is value v; every key but DNNL_ARG_DST reads it. */
void pl_step_arg(pl_plan *p, pl_step *s, int key, int v);
/* Step s runs the primitive of pd: created, its implementation named, its
 * scratchpad counted in the plan's one. */
int pl_step_prim(pl_plan *p, pl_step *s, const_dnnl_primitive_desc_t pd, const char *where,
                 char *err, size_t errlen);
/* The scratchpad pd asks for becomes step s's; the plan's grows to fit it. */
void pl_step_scratch(pl_plan *p, pl_step *s, const_dnnl_primitive_desc_t pd);

/* Lay the values out in the arena by liveness (a dst joins an inplace_src
 * that dies at its step), allocate it and the scratchpad. */
int pl_allocate(pl_plan *p, char *err, size_t errlen);
/* Memories for every value with a layout, and each primitive's arguments. */
int pl_bind(pl_plan *p, char *err, size_t errlen);
int pl_run(pl_plan *p, char *err, size_t errlen);
/* From the next run on, time each step (waiting for its primitive to
 * finish, which a run otherwise need not do); *ms then holds the last
 * run's times in milliseconds, one per step.  The step count, or
 * ENG_ENOMEM. */
int pl_time_steps(pl_plan *p, const double **ms);

#endif
