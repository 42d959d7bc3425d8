/* A direct wire between two virtio-net devices (see wire.h). */
#include <errno.h>
#include <stdlib.h>

#include "sim/wire.h"

struct wire_end {
    struct cc_wire *w;
    int dir;                /* 0: A transmits, 1: B transmits */
};

struct cc_wire {
    struct cc_virtio_net *dev[2];
    struct wire_end end[2];
    struct wire_stats stats;
};

static void carry(void *opaque, const uint8_t *frame, size_t len)
{
    struct wire_end *e = opaque;
    struct cc_wire *w = e->w;
    w->stats.frames[e->dir]++;
    if (cc_virtio_net_inject(w->dev[!e->dir], frame, len) < 0)
        w->stats.dropped[e->dir]++;
}

int wire_connect(struct cc_virtio_net *a, struct cc_virtio_net *b, struct cc_wire **out,
                    struct cc_err *err)
{
    if (!a || !b || a == b)
        return cc_err_set(err, EINVAL, "wire: needs two different virtio-net devices");
    struct cc_wire *w = calloc(1, sizeof(*w));
    if (!w)
        return cc_err_set(err, ENOMEM, "wire: out of memory");
    w->dev[0] = a;
    w->dev[1] = b;
    for (int i = 0; i < 2; i++) {
        w->end[i] = (struct wire_end){w, i};
        cc_virtio_net_set_endpoint(w->dev[i], carry, &w->end[i]);
    }
    *out = w;
    return 0;
}

void wire_stats(const struct cc_wire *w, struct wire_stats *s)
{
    *s = w->stats;
}

void wire_free(struct cc_wire *w)
{
    if (!w)
        return;
    for (int i = 0; i < 2; i++)
        cc_virtio_net_set_endpoint(w->dev[i], NULL, NULL);
    free(w);
}
