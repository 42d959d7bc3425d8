/* virtio-balloon (memory balloon, id 5): the host asks the guest to give up
 * memory, which is how the fault engine makes memory scarce inside a guest
 * (a "memory_pressure" fault, chaoscontrol/schedule.h).
 *
 * The device offers no optional features (no statistics queue, no
 * DEFLATE_ON_OOM, no free-page hinting), so the driver has two queues:
 * inflate (0) and deflate (1), whose device-readable buffers carry arrays
 * of little-endian 32-bit page frame numbers (4 KiB pages). Configuration
 * space (8 bytes, read-only to the driver):
 *   0  le32 num_pages   the target the host sets (cc_virtio_balloon_set_target)
 *   4  le32 actual      pages the guest has handed over so far (counted by
 *                       the device from the queues; a driver's write is
 *                       ignored, the transport's configuration space is
 *                       read-only)
 * Changing the target bumps ConfigGeneration and sends a configuration
 * interrupt; Linux's driver then allocates pages, sends their PFNs on the
 * inflate queue and takes them out of its managed memory (MemTotal and
 * MemFree in /proc/meminfo drop), or gives them back on the deflate queue.
 *
 * Pages handed over are only counted: the VMM does not discard them (the
 * point is pressure inside the guest, not savings on the host), so guest
 * RAM, snapshots and determinism are unaffected. PFNs outside guest RAM are
 * counted as bad and ignored; a chain with device-writable buffers or a
 * length that is not a multiple of 4 fails the device (virtio_mmio.h). A
 * driver reset empties the balloon (the guest got its pages back by
 * rebooting); the target stays. */
#ifndef CC_DEVICES_VIRTIO_BALLOON_H
#define CC_DEVICES_VIRTIO_BALLOON_H

#include "chaoscontrol/virtio.h"
#include "devices/virtio_mmio.h"

#define CC_BALLOON_INFLATEQ 0
#define CC_BALLOON_DEFLATEQ 1
#define CC_BALLOON_PAGE 4096u

struct cc_virtio_balloon {
    struct cc_virtio_mmio mmio;     /* first: the VM treats devices alike */
    uint32_t target;                /* pages the host wants (num_pages) */
    uint32_t actual;                /* pages inflated and not yet deflated */
    struct cc_balloon_stats stats;  /* counters (saved) */
    struct cc_vq_chain chain;
};

int virtio_balloon_create(uint8_t *const *mem_base, const uint64_t *mem_size,
                             struct cc_irq_sink irq, unsigned irq_line,
                             struct cc_virtio_balloon **out, struct cc_err *err);
void virtio_balloon_destroy(struct cc_virtio_balloon *b);

void virtio_balloon_save(const struct cc_virtio_balloon *b, struct cc_buf *out);
int virtio_balloon_load(struct cc_virtio_balloon *b, struct cc_rd *in, struct cc_err *err);

#endif
