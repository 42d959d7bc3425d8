/* virtio-net (network card, id 1): one RX and one TX queue, no offloads,
 * features MAC and STATUS only, so every frame is a plain Ethernet frame
 * behind the 12-byte virtio 1.x header (all zero but num_buffers = 1).
 *
 * TX: each chain is header + frame, device-readable only; the frame goes to
 * the host endpoint callback during the guest's notification exit. Empty or
 * oversized frames (> CC_NET_MAX_FRAME) are dropped and counted; a chain
 * shorter than the header, or with device-writable buffers, is a protocol
 * error that fails the device.
 * RX: the host injects frames; they wait in a bounded FIFO in the device
 * (default 256 frames, drop + count when full) until the guest has posted
 * RX buffers, and are delivered in order when it has (on injection, on an
 * RX notification and on DRIVER_OK). A buffer too small for header + frame
 * is returned empty (used length 0) and the frame dropped (counted).
 * The pending frames are part of the saved state. */
#ifndef CC_DEVICES_VIRTIO_NET_H
#define CC_DEVICES_VIRTIO_NET_H

#include "chaoscontrol/virtio.h"
#include "devices/virtio_mmio.h"

#define VIRTIO_NET_F_MAC    5
#define VIRTIO_NET_F_STATUS 16
#define VIRTIO_NET_S_LINK_UP 1
#define CC_NET_HDR_LEN 12
#define CC_NET_RXQ 0
#define CC_NET_TXQ 1
#define CC_NET_RX_LIMIT_MAX 65536u

struct cc_net_frame {
    uint16_t len;
    uint8_t data[];
};

struct cc_virtio_net {
    struct cc_virtio_mmio mmio;     /* first: the VM treats devices alike */
    uint8_t mac[6];
    bool link_up;
    void (*tx)(void *opaque, const uint8_t *frame, size_t len);     /* not saved */
    void *tx_opaque;                                                /* not saved */
    struct cc_net_frame **rxq;      /* FIFO ring of rx_cap slots */
    unsigned rx_head, rx_count, rx_limit, rx_cap;
    struct cc_net_stats stats;
    uint8_t txbuf[CC_NET_HDR_LEN + CC_NET_MAX_FRAME];
    struct cc_vq_chain tx_chain, rx_chain;
};

int virtio_net_create(const uint8_t mac[6], uint8_t *const *mem_base,
                         const uint64_t *mem_size, struct cc_irq_sink irq, unsigned irq_line,
                         struct cc_virtio_net **out, struct cc_err *err);
void virtio_net_destroy(struct cc_virtio_net *n);

void virtio_net_save(const struct cc_virtio_net *n, struct cc_buf *out);
int virtio_net_load(struct cc_virtio_net *n, struct cc_rd *in, struct cc_err *err);

#endif
