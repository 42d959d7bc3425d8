/* virtio-blk (block device, id 2) over a copy-on-write overlay
 * (blk_overlay.h), with the fault injection described in
 * include/chaoscontrol/virtio.h.
 *
 * Features offered: SIZE_MAX (128 KiB segments), SEG_MAX (254 segments, so a
 * request fits the 256-entry queue without indirect descriptors), BLK_SIZE
 * (512), FLUSH, and RO for read-only disks. Requests: IN, OUT, FLUSH (OK:
 * the overlay lives in memory, nothing to flush), GET_ID; anything else gets
 * UNSUPP. A request's data must be a multiple of 512 bytes, lie inside the
 * disk and be at most CC_VIRTIO_BLK_MAX_REQ bytes, or it gets IOERR. A chain
 * without a 16-byte readable header or a writable status byte is a protocol
 * error that fails the device (as QEMU does). Data moves through a 64 KiB
 * bounce buffer, so a hostile request cannot make the VMM allocate. */
#ifndef CC_DEVICES_VIRTIO_BLK_H
#define CC_DEVICES_VIRTIO_BLK_H

#include "chaoscontrol/virtio.h"
#include "devices/blk_overlay.h"
#include "devices/virtio_mmio.h"
#include "util/rng.h"

#define CC_VIRTIO_BLK_MAX_REQ (32u << 20)
#define CC_VIRTIO_BLK_BOUNCE (64u << 10)
#define CC_VIRTIO_BLK_MAX_FLIPS 1024u

#define VIRTIO_BLK_T_IN     0
#define VIRTIO_BLK_T_OUT    1
#define VIRTIO_BLK_T_FLUSH  4
#define VIRTIO_BLK_T_GET_ID 8
#define VIRTIO_BLK_S_OK     0
#define VIRTIO_BLK_S_IOERR  1
#define VIRTIO_BLK_S_UNSUPP 2

#define VIRTIO_BLK_F_SIZE_MAX 1
#define VIRTIO_BLK_F_SEG_MAX  2
#define VIRTIO_BLK_F_RO       5
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH    9

struct cc_blk_fault_slot {
    int id;
    struct cc_blk_fault f;
    uint64_t hits;
};

struct cc_virtio_blk {
    struct cc_virtio_mmio mmio;     /* first: the VM treats devices alike */
    struct cc_virtio_ops ops;       /* per device: features depend on read_only */
    struct cc_blk_base *base;
    struct cc_blk_overlay *ov;
    uint64_t size;
    bool read_only;
    char id[21];
    struct cc_rng rng;              /* torn lengths and flip positions */
    struct cc_blk_fault_slot faults[CC_BLK_MAX_FAULTS];
    unsigned nfaults;
    int next_fault_id;
    struct cc_blk_stats stats;
    uint8_t *bounce;                /* CC_VIRTIO_BLK_BOUNCE bytes */
    uint64_t flips[CC_VIRTIO_BLK_MAX_FLIPS];    /* scratch: bit positions */
    struct cc_vq_chain chain;       /* scratch: the request being handled */
};

/* Allocate a device (opens the image). seed and label name the fault
 * stream. mem_base/mem_size/irq as for virtio_mmio_init. */
int virtio_blk_create(const struct cc_blk_config *cfg, uint64_t seed, const char *label,
                         uint8_t *const *mem_base, const uint64_t *mem_size,
                         struct cc_irq_sink irq, unsigned irq_line,
                         struct cc_virtio_blk **out, struct cc_err *err);
void virtio_blk_destroy(struct cc_virtio_blk *b);

/* Saved: transport, fault stream, faults, statistics and every written
 * page. Loading requires the same size and base image. */
void virtio_blk_save(const struct cc_virtio_blk *b, struct cc_buf *out);
int virtio_blk_load(struct cc_virtio_blk *b, struct cc_rd *in, struct cc_err *err);

/* For in-memory snapshots and forks: the same state without the disk
 * pages, which travel as an O(1) overlay clone (cc_virtio_blk_snapshot)
 * instead. load_meta restores the state and makes the disk a clone of
 * `disk` (same size and base required). */
void virtio_blk_save_meta(const struct cc_virtio_blk *b, struct cc_buf *out);
int virtio_blk_load_meta(struct cc_virtio_blk *b, struct cc_rd *in,
                            const struct cc_blk_overlay *disk, struct cc_err *err);

#endif
