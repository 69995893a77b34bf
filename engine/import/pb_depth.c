/* pb_depth.c: protobuf nesting depth on the wire.  See pb_depth.h.
 *
 * The walk follows only the fields the schema names, so its own recursion
 * is bounded by max, and each byte is looked at once per level at most. */
#include "engine/import/pb_depth.h"

static int varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t x = 0;
    for (int shift = 0; shift < 64 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

static int child_of(const pb_msg *m, uint32_t field)
{
    for (int i = 0; i < m->nedges; i++)
        if (m->edges[i].field == field)
            return m->edges[i].child;
    return -1;
}

/* 0 when done or when the bytes stop parsing, -1 past max */
static int walk(const uint8_t *p, const uint8_t *end, const pb_msg *schema, int kind, int level,
                int max)
{
    while (p < end) {
        uint64_t tag, v;
        if (varint(&p, end, &tag) < 0)
            return 0;
        switch (tag & 7) {
        case 0:
            if (varint(&p, end, &v) < 0)
                return 0;
            break;
        case 1:
            if (end - p < 8)
                return 0;
            p += 8;
            break;
        case 5:
            if (end - p < 4)
                return 0;
            p += 4;
            break;
        case 2: {
            if (varint(&p, end, &v) < 0 || v > (uint64_t)(end - p))
                return 0;
            int child = tag >> 3 <= UINT32_MAX ? child_of(&schema[kind], (uint32_t)(tag >> 3)) : -1;
            if (child >= 0) {
                if (level + 1 > max)
                    return -1;
                if (walk(p, p + v, schema, child, level + 1, max) < 0)
                    return -1;
            }
            p += v;
            break;
        }
        default:        /* groups and invalid wire types: the parser refuses them */
            return 0;
        }
    }
    return 0;
}

int pb_depth_check(const uint8_t *buf, size_t len, const pb_msg *schema, int root, int max,
                   int *depth)
{
    if (walk(buf, buf + len, schema, root, 1, max) < 0) {
        *depth = max + 1;
        return -1;
    }
    return 0;
}
