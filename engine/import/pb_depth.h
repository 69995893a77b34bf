/* pb_depth.h: how deep a protobuf message nests, measured on the wire.
 *
 * protobuf-c's unpack recurses once per nested message with no limit, so a
 * small file nesting a message in itself thousands of times overflows the
 * stack.  A loader describes which fields of its recursive message types
 * hold which sub-message, and refuses a file past a depth before protobuf-c
 * sees it. */
#ifndef LCNETD_PB_DEPTH_H
#define LCNETD_PB_DEPTH_H

#include <stddef.h>
#include <stdint.h>

/* Deepest nesting any loader accepts; real models nest a few levels
 * (a graph in an If or Loop node's attribute is three). */
#define PB_MAX_DEPTH 64

/* Field `field` (length-delimited) of a message holds message type `child`,
 * an index into the schema array. */
typedef struct {
    uint32_t field;
    int child;
} pb_edge;

/* One message type: its sub-message fields; the others are skipped. */
typedef struct {
    const pb_edge *edges;
    int nedges;
} pb_msg;

/* 0 if buf, read as message type schema[root], nests at most max levels
 * (the root is level 1); -1 if deeper, with *depth = max + 1.  Bytes that are
 * not valid protobuf end the walk of their message without an error: the
 * parser after this check refuses them. */
int pb_depth_check(const uint8_t *buf, size_t len, const pb_msg *schema, int root, int max,
                   int *depth);

#endif
