/* The simulated network of a simulation (sim.h): an Ethernet switch between
 * N ports (one per VM), with one directed link per ordered pair of ports.
 *
 * A frame a port sends at global time t is switched by destination MAC
 * (broadcast and multicast go to every other port that has a MAC; a
 * unicast MAC nobody has is counted as unroutable and dropped), then each
 * copy goes through its link:
 *   1. partition: ports in different groups cannot talk (dropped_partition);
 *   2. loss: dropped with probability loss_ppm (dropped_loss);
 *   3. bandwidth: serialized after the frames before it (8 bits per byte at
 *      bandwidth_bps); dropped when it would wait more than queue_ns;
 *   4. corruption: one bit flipped past the Ethernet header;
 *   5. delay: arrival = departure + latency + uniform [0, jitter]; frames
 *      keep FIFO order on a link (an arrival is never earlier than the
 *      previous frame's) unless reordered: with probability reorder_ppm a
 *      frame is held back reorder_ns more and later frames may pass it;
 *   6. duplication: with probability duplicate_ppm a second copy arrives
 *      at the same time (right after the first).
 * Random draws come from the link's own stream (seed, "net-link-i-j"),
 * drawn only for settings that are non-zero, in the order above.
 *
 * Frames in flight wait in a queue ordered by (arrival, sender, sender's
 * sequence number); fabric_deliver hands over those due, checking the
 * partition again (a cut link also loses what is in flight) and whether the
 * receiver is up. All of it (settings, counters, streams, partition, the
 * frames) is saved and loaded for snapshots. */
#ifndef CC_SIM_NET_H
#define CC_SIM_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "chaoscontrol/sim.h"
#include "util/buf.h"

struct cc_fabric;

int fabric_new(unsigned n_ports, uint64_t seed, const struct cc_link_params *p,
                  struct cc_fabric **out, struct cc_err *err);
void fabric_free(struct cc_fabric *f);
unsigned fabric_ports(const struct cc_fabric *f);

/* The port's NIC address (a port without one never receives). */
void fabric_set_mac(struct cc_fabric *f, unsigned port, const uint8_t mac[6]);
/* A port that is down (its VM killed or exited) receives nothing. */
void fabric_set_port_up(struct cc_fabric *f, unsigned port, bool up);

/* Port src transmitted a frame at global time now. */
void fabric_send(struct cc_fabric *f, unsigned src, uint64_t now, const uint8_t *frame,
                    size_t len);

/* Earliest arrival among frames in flight, UINT64_MAX when none. */
uint64_t fabric_next_arrival(const struct cc_fabric *f);

/* Deliver every frame due at now (arrival <= now) in order: fn returns 0 when
 * the receiver took it, < 0 when it refused it (counted as dropped_rx). */
typedef int (*cc_fabric_deliver_fn)(void *opaque, unsigned dst, const uint8_t *frame, size_t len);
void fabric_deliver(struct cc_fabric *f, uint64_t now, cc_fabric_deliver_fn fn, void *opaque);

/* Partition: group[i] for every port; ports talk only within a group,
 * except ports in group CC_FABRIC_BRIDGE, which talk to every group. */
#define CC_FABRIC_BRIDGE 255
void fabric_partition(struct cc_fabric *f, const uint8_t *group);
void fabric_heal(struct cc_fabric *f);
bool fabric_connected(const struct cc_fabric *f, unsigned from, unsigned to);
uint8_t fabric_group(const struct cc_fabric *f, unsigned port);

/* Link settings (changeable at any time; they apply to frames sent from
 * then on) and counters. */
struct cc_link_params *fabric_link(struct cc_fabric *f, unsigned from, unsigned to);
const struct cc_link_params *fabric_link_c(const struct cc_fabric *f, unsigned from,
                                              unsigned to);
const struct cc_link_stats *fabric_stats(const struct cc_fabric *f, unsigned from, unsigned to);
uint64_t fabric_unroutable(const struct cc_fabric *f, unsigned port);

/* Restart every link's stream from a new seed. */
void fabric_reseed(struct cc_fabric *f, uint64_t seed);

void fabric_save(const struct cc_fabric *f, struct cc_buf *out);
/* Into a fabric with the same number of ports; all or nothing. */
int fabric_load(struct cc_fabric *f, struct cc_rd *in, struct cc_err *err);

#endif
