/* inflight.c: packets inside the decoder.  See inflight.h. */
#include "daemon/inflight.h"

#include <string.h>

void ifl_reset(ifl_queue *q)
{
    memset(q, 0, sizeof *q);
    q->last_dts = IFL_NONE;
}

static void remove_at(ifl_queue *q, int i)
{
    memmove(&q->e[i], &q->e[i + 1], sizeof q->e[0] * (size_t)(q->n - i - 1));
    q->n--;
}

int ifl_sent(ifl_queue *q, int64_t pts, int64_t dts)
{
    int dropped = 0;
    /* decode order steps back only where one stream was joined to another
     * (concatenated recordings, an encoder restart) */
    if (dts != IFL_NONE && q->last_dts != IFL_NONE && dts < q->last_dts)
        q->run++;
    if (dts != IFL_NONE)
        q->last_dts = dts;
    if (q->n == IFL_MAX) {
        remove_at(q, 0);
        dropped = 1;
    }
    q->e[q->n].pts = pts;
    q->e[q->n].run = q->run;
    q->n++;
    return dropped;
}

int ifl_frame(ifl_queue *q, int64_t pts)
{
    int i, match = -1, dropped = 0;
    if (q->n == 0)
        return 0;
    if (pts != IFL_NONE)
        for (i = 0; i < q->n && match < 0; i++)
            if (q->e[i].pts == pts)
                match = i;
    if (match < 0) {
        /* a frame whose pts is no packet's (none, or rewritten by the
         * decoder): it answers for the oldest, and proves nothing else */
        remove_at(q, 0);
        return 0;
    }
    unsigned run = q->e[match].run;
    remove_at(q, match);
    for (i = 0; i < q->n;) {
        if (q->e[i].run < run ||
            (q->e[i].run == run && q->e[i].pts != IFL_NONE && q->e[i].pts < pts)) {
            remove_at(q, i);
            dropped++;
        } else {
            i++;
        }
    }
    return dropped;
}

void ifl_error(ifl_queue *q)
{
    if (q->n)
        remove_at(q, 0);
}

int ifl_drain(ifl_queue *q)
{
    int n = q->n;
    q->n = 0;
    return n;
}

int ifl_waiting(const ifl_queue *q)
{
    return q->n;
}
