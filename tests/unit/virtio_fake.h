/* A fake virtio driver for unit tests of the virtio devices: guest RAM is a
 * host buffer fenced by PROT_NONE guard pages on both sides (any access
 * outside it crashes the test, on top of what ASan sees), the "driver"
 * does the status/feature handshake through the MMIO register functions,
 * lays out split rings in that RAM and adds descriptor chains, and a fake
 * interrupt sink records the line. Header-only; include once per test. */
#ifndef CC_TESTS_VIRTIO_FAKE_H
#define CC_TESTS_VIRTIO_FAKE_H

#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "devices/virtio_mmio.h"

struct fake_irq {
    int level, raises, lowers;
    unsigned line;
};

static void fake_irq_set(void *opaque, unsigned line, int level)
{
    struct fake_irq *s = opaque;
    if (level && !s->level)
        s->raises++;
    if (!level && s->level)
        s->lowers++;
    s->level = level;
    s->line = line;
}

struct fake_seg {
    uint64_t addr;
    uint32_t len;
    bool write;
};

struct fake_q {
    uint64_t desc, avail, used;
    uint16_t num, avail_idx, used_seen, next_desc;
};

struct fake_guest {
    uint8_t *mem;
    uint64_t size;
    uint8_t *map;
    size_t map_len;
    struct cc_virtio_mmio *t;
    struct fake_irq irq;
    struct fake_q q[CC_VIRTIO_MAX_QUEUES];
};

/* RAM of `size` bytes (multiple of 4096) between two guard pages. */
static inline void fg_mem(struct fake_guest *g, uint64_t size)
{
    memset(g, 0, sizeof(*g));
    g->map_len = size + 2 * 4096;
    g->map = mmap(NULL, g->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (g->map == MAP_FAILED)
        abort();
    mprotect(g->map, 4096, PROT_NONE);
    mprotect(g->map + 4096 + size, 4096, PROT_NONE);
    g->mem = g->map + 4096;
    g->size = size;
}

static inline void fg_free(struct fake_guest *g)
{
    munmap(g->map, g->map_len);
}

static inline struct cc_irq_sink fg_sink(struct fake_guest *g)
{
    return (struct cc_irq_sink){fake_irq_set, &g->irq};
}

static inline uint32_t fg_rd(struct fake_guest *g, uint64_t off)
{
    uint8_t b[4];
    virtio_mmio_read(g->t, off, b, 4);
    return le32(b);
}

static inline void fg_wr(struct fake_guest *g, uint64_t off, uint32_t v)
{
    uint8_t b[4];
    put_le32(b, v);
    virtio_mmio_write(g->t, off, b, 4);
}

/* Reset, ACK, DRIVER, features (lo, hi words), FEATURES_OK. Returns the
 * status read back. */
static inline uint32_t fg_features(struct fake_guest *g, uint32_t lo, uint32_t hi)
{
    fg_wr(g, VIRTIO_MMIO_STATUS, 0);
    fg_wr(g, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
    fg_wr(g, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    fg_wr(g, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
    fg_wr(g, VIRTIO_MMIO_DRIVER_FEATURES, lo);
    fg_wr(g, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
    fg_wr(g, VIRTIO_MMIO_DRIVER_FEATURES, hi);
    fg_wr(g, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                                 VIRTIO_STATUS_FEATURES_OK);
    return fg_rd(g, VIRTIO_MMIO_STATUS);
}

/* Everything the device offers in the low word, plus VERSION_1. */
static inline uint32_t fg_negotiate(struct fake_guest *g)
{
    fg_wr(g, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
    uint32_t lo = fg_rd(g, VIRTIO_MMIO_DEVICE_FEATURES);
    return fg_features(g, lo, 1);
}

/* Configure queue qi (without checking the outcome). */
static inline void fg_queue_raw(struct fake_guest *g, unsigned qi, uint32_t num, uint64_t desc,
                                uint64_t avail, uint64_t used)
{
    fg_wr(g, VIRTIO_MMIO_QUEUE_SEL, qi);
    fg_wr(g, VIRTIO_MMIO_QUEUE_NUM, num);
    fg_wr(g, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)desc);
    fg_wr(g, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(desc >> 32));
    fg_wr(g, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)avail);
    fg_wr(g, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, (uint32_t)(avail >> 32));
    fg_wr(g, VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)used);
    fg_wr(g, VIRTIO_MMIO_QUEUE_USED_HIGH, (uint32_t)(used >> 32));
    fg_wr(g, VIRTIO_MMIO_QUEUE_READY, 1);
    struct fake_q *q = &g->q[qi];
    memset(q, 0, sizeof(*q));
    q->desc = desc;
    q->avail = avail;
    q->used = used;
    q->num = (uint16_t)num;
}

/* Queue qi with its rings at `at` (desc, then avail, then used, aligned). */
static inline void fg_queue(struct fake_guest *g, unsigned qi, uint16_t num, uint64_t at)
{
    uint64_t desc = at, avail = desc + 16ull * num, used = (avail + 6 + 2ull * num + 3) & ~3ull;
    fg_queue_raw(g, qi, num, desc, avail, used);
}

static inline void fg_driver_ok(struct fake_guest *g)
{
    fg_wr(g, VIRTIO_MMIO_STATUS, fg_rd(g, VIRTIO_MMIO_STATUS) | VIRTIO_STATUS_DRIVER_OK);
}

static inline void fg_put_desc(struct fake_guest *g, unsigned qi, uint16_t i, uint64_t addr,
                               uint32_t len, uint16_t flags, uint16_t next)
{
    uint8_t *d = g->mem + g->q[qi].desc + 16ull * i;
    put_le64(d, addr);
    put_le32(d + 8, len);
    put_le16(d + 12, flags);
    put_le16(d + 14, next);
}

/* Publish descriptor `head` in the available ring (no notification). */
static inline void fg_publish(struct fake_guest *g, unsigned qi, uint16_t head)
{
    struct fake_q *q = &g->q[qi];
    put_le16(g->mem + q->avail + 4 + 2ull * (q->avail_idx % q->num), head);
    q->avail_idx++;
    put_le16(g->mem + q->avail + 2, q->avail_idx);
}

/* Write a chain into free descriptors (round robin) and publish it.
 * Returns the head. */
static inline uint16_t fg_add(struct fake_guest *g, unsigned qi, const struct fake_seg *s,
                              unsigned n)
{
    struct fake_q *q = &g->q[qi];
    uint16_t head = q->next_desc;
    for (unsigned i = 0; i < n; i++) {
        uint16_t idx = (uint16_t)((head + i) % q->num);
        uint16_t next = (uint16_t)((head + i + 1) % q->num);
        fg_put_desc(g, qi, idx, s[i].addr, s[i].len,
                    (uint16_t)((s[i].write ? CC_VRING_DESC_F_WRITE : 0) |
                               (i + 1 < n ? CC_VRING_DESC_F_NEXT : 0)), next);
    }
    q->next_desc = (uint16_t)((head + n) % q->num);
    fg_publish(g, qi, head);
    return head;
}

static inline void fg_kick(struct fake_guest *g, unsigned qi)
{
    fg_wr(g, VIRTIO_MMIO_QUEUE_NOTIFY, qi);
}

/* Next used element: 1 with id/len, 0 when none new. */
static inline int fg_used(struct fake_guest *g, unsigned qi, uint32_t *id, uint32_t *len)
{
    struct fake_q *q = &g->q[qi];
    if (le16(g->mem + q->used + 2) == q->used_seen)
        return 0;
    const uint8_t *e = g->mem + q->used + 4 + 8ull * (q->used_seen % q->num);
    *id = le32(e);
    *len = le32(e + 4);
    q->used_seen++;
    return 1;
}

#endif
