/* A direct Ethernet wire between two virtio-net devices in one process:
 * every frame A's guest transmits is injected into B's RX path and vice
 * versa, synchronously, during the transmitting guest's notification exit
 * (so B's RX queue and interrupt change while A runs). That is
 * deterministic when both VMs are driven from one thread in a deterministic
 * order, which is the only supported use. The full network simulator
 * (latency, loss, partitions) replaces this with a fabric (issue 7).
 *
 *   struct cc_wire *w;
 *   wire_connect(net_a, net_b, &w, &err);
 *   ... run the VMs ...
 *   wire_free(w);       // unplugs both ends
 */
#ifndef CC_SIM_WIRE_H
#define CC_SIM_WIRE_H

#include <stdint.h>

#include "chaoscontrol/err.h"
#include "chaoscontrol/virtio.h"

struct wire_stats {
    uint64_t frames[2];     /* [0] A to B, [1] B to A, offered to the receiver */
    uint64_t dropped[2];    /* refused by the receiving device (queue full, link down) */
};

struct cc_wire;

/* Replaces both devices' endpoints. a and b must differ. */
int wire_connect(struct cc_virtio_net *a, struct cc_virtio_net *b, struct cc_wire **out,
                    struct cc_err *err);
void wire_stats(const struct cc_wire *w, struct wire_stats *s);
/* Unplug both ends (their endpoints become NULL) and free the wire. Free it
 * before destroying either VM. */
void wire_free(struct cc_wire *w);

#endif
