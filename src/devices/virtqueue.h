/* Split virtqueues (virtio 1.x, section 2.7) over untrusted guest memory.
 *
 * Guest memory is one (base, size) range, and every access to it goes
 * through gmem_ptr() (gmem_ptr_w() for writes, which also marks the
 * pages dirty), which returns NULL unless [gpa, gpa+len) lies entirely
 * inside it. Everything the guest controls is checked before use:
 *
 *  - queue layout when the driver enables a queue (vq_check): size a
 *    power of 2 between 1 and the maximum, rings aligned (descriptor table
 *    16, available ring 2, used ring 4 bytes) and entirely inside RAM;
 *  - on every pop: the available index may run ahead of the device by at
 *    most the queue size, the head and every "next" are below the queue
 *    size, a chain has at most queue-size descriptors (so a loop ends), no
 *    indirect descriptors (VIRTIO_RING_F_INDIRECT_DESC is never offered),
 *    device-writable descriptors come after all device-readable ones, and
 *    every buffer lies inside RAM;
 *  - on every push: the used ring slot and index are inside RAM.
 *
 * A violation returns -1 with a reason in err; the transport then puts the
 * device into the failed state (virtio_mmio.h). The device never walks more
 * than one queue size of descriptors per chain, so the work per chain is
 * bounded; devices also pop at most one queue size of chains per
 * notification (the guest could otherwise keep moving the available index
 * by pointing device-written buffers at it).
 *
 * VIRTIO_RING_F_EVENT_IDX is not offered either: the device honours the
 * driver's VRING_AVAIL_F_NO_INTERRUPT flag and always wants notifications
 * (the used ring's flags stay 0).
 *
 * The vCPU is stopped while the device works (work happens during an MMIO
 * exit or between runs), so guest memory cannot change under us except by
 * the device's own writes, which may overlap the rings if the guest points
 * buffers at them. A chain is copied into a struct cc_vq_chain before any
 * data moves, and every later read of ring memory is checked again. */
#ifndef CC_DEVICES_VIRTQUEUE_H
#define CC_DEVICES_VIRTQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "chaoscontrol/err.h"

/* Largest queue size any of our devices offers. */
#define CC_VQ_MAX_SIZE 256

#define CC_VRING_DESC_F_NEXT      1
#define CC_VRING_DESC_F_WRITE     2
#define CC_VRING_DESC_F_INDIRECT  4
#define CC_VRING_AVAIL_F_NO_INTERRUPT 1

/* Guest RAM: physical addresses [0, size) map to base[0..size). mark, when
 * set, is told about every range the device writes (the VM's dirty-page
 * tracking for snapshot resets: KVM does not see writes made by the VMM). */
struct cc_gmem {
    uint8_t *base;
    uint64_t size;
    void (*mark)(void *opaque, uint64_t gpa, uint64_t len);
    void *mark_opaque;
};

/* The single checked accessor for guest memory: NULL unless [gpa, gpa+len)
 * is inside RAM. */
static inline void *gmem_ptr(struct cc_gmem m, uint64_t gpa, uint64_t len)
{
    if (!m.base || gpa > m.size || len > m.size - gpa)
        return NULL;
    return m.base + gpa;
}

/* The same, for a range the caller is about to write: marks it dirty. */
static inline void *gmem_ptr_w(struct cc_gmem m, uint64_t gpa, uint64_t len)
{
    void *p = gmem_ptr(m, gpa, len);
    if (p && len && m.mark)
        m.mark(m.mark_opaque, gpa, len);
    return p;
}

struct cc_vq {
    uint16_t num;           /* QueueNum as written by the driver */
    uint16_t num_max;       /* QueueNumMax (not saved: from the device) */
    bool ready;
    uint64_t desc, avail, used;     /* guest-physical ring addresses */
    uint16_t last_avail;    /* next available-ring entry to consume */
    uint16_t used_idx;      /* our copy of used->idx */
};

/* One buffer of a chain. Readable (device reads) segments come first. */
struct cc_vq_seg {
    uint64_t addr;
    uint32_t len;
    bool write;
};

struct cc_vq_chain {
    uint16_t head;          /* descriptor index to return in the used ring */
    uint16_t n;             /* segments */
    uint16_t n_out;         /* readable segments (seg[0..n_out)) */
    uint64_t out_len;       /* bytes readable by the device */
    uint64_t in_len;        /* bytes writable by the device */
    struct cc_vq_seg seg[CC_VQ_MAX_SIZE];
};

/* Reset to the power-on state (not ready, num = num_max). */
void vq_reset(struct cc_vq *q, uint16_t num_max);

/* Validate the layout before the queue is enabled. 0, or -1 with a reason. */
int vq_check(const struct cc_vq *q, struct cc_gmem m, struct cc_err *err);

/* Take the next available chain. Returns 1 with *c filled, 0 when nothing
 * is available (or the queue is not ready), -1 (reason in err) when the
 * guest's rings are malformed. */
int vq_pop(struct cc_vq *q, struct cc_gmem m, struct cc_vq_chain *c, struct cc_err *err);

/* Return a chain to the driver with `written` bytes written. 0 or -1. */
int vq_push(struct cc_vq *q, struct cc_gmem m, uint16_t head, uint32_t written,
               struct cc_err *err);

/* Does the driver want an interrupt for used buffers (no
 * VRING_AVAIL_F_NO_INTERRUPT)? An unreadable ring counts as yes. */
bool vq_want_interrupt(const struct cc_vq *q, struct cc_gmem m);

/* Copy out of the readable part of a chain, starting `off` bytes into it.
 * Returns bytes copied (short at the end of the readable part). */
size_t vq_read(struct cc_gmem m, const struct cc_vq_chain *c, uint64_t off,
                  void *buf, size_t len);

/* Copy into the writable part of a chain, `off` bytes into it. Returns bytes
 * copied (short at the end of the writable part). */
size_t vq_write(struct cc_gmem m, const struct cc_vq_chain *c, uint64_t off,
                   const void *buf, size_t len);

/* Fill `len` writable bytes at `off` from a generator called per contiguous
 * piece (used by virtio-rng to stream bytes without a bounce buffer). */
size_t vq_fill(struct cc_gmem m, const struct cc_vq_chain *c, uint64_t off, size_t len,
                  void (*gen)(void *opaque, uint8_t *dst, size_t n), void *opaque);

/* Little-endian helpers for byte buffers. */
static inline uint16_t le16(const void *p)
{
    const uint8_t *b = p;
    return (uint16_t)(b[0] | b[1] << 8);
}
static inline uint32_t le32(const void *p)
{
    const uint8_t *b = p;
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}
static inline uint64_t le64(const void *p)
{
    return le32(p) | (uint64_t)le32((const uint8_t *)p + 4) << 32;
}
static inline void put_le16(void *p, uint16_t v)
{
    uint8_t *b = p;
    b[0] = (uint8_t)v;
    b[1] = (uint8_t)(v >> 8);
}
static inline void put_le32(void *p, uint32_t v)
{
    uint8_t *b = p;
    for (int i = 0; i < 4; i++)
        b[i] = (uint8_t)(v >> (8 * i));
}
static inline void put_le64(void *p, uint64_t v)
{
    put_le32(p, (uint32_t)v);
    put_le32((uint8_t *)p + 4, (uint32_t)(v >> 32));
}

#endif
