/* Shared driver for the virtio fuzz targets (libFuzzer).
 *
 * The guest is the attacker, so the fuzz input controls everything a guest
 * controls: the sequence of register accesses and all of guest memory.
 *
 *   byte 0        number of operations N
 *   byte 1        guest RAM size in 4 KiB pages, (b % 16) + 1 (4..64 KiB)
 *   6 * N bytes   operations: opcode, arg, value (u32 little-endian)
 *   the rest      initial guest RAM contents from address 0 (zero-padded)
 *
 * RAM is allocated at exactly its size, so ASan sees any access past it.
 * Generic operations (opcode % 16 below FUZZ_OP_DEVICE) drive the
 * transport; the "setup" operation does the whole handshake and places
 * queue q's rings at q * 0x1000 (descriptors), + 0x800 (available ring)
 * and + 0xc00 (used ring), zeroing their indexes as a fresh driver would,
 * so inputs reach the device code quickly; the
 * corpus generator (gen_corpus.c) lays out memory the same way. Higher
 * opcodes are the target's own (fault injection, frame injection, ...).
 * After every operation the transport's invariants are checked (the
 * interrupt line follows InterruptStatus, a failed device has a reason),
 * and save/load round trips must reproduce the state exactly. */
#ifndef CC_FUZZ_COMMON_H
#define CC_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/virtio_mmio.h"

#define FUZZ_OP_WRITE     0
#define FUZZ_OP_READ      1
#define FUZZ_OP_NOTIFY    2
#define FUZZ_OP_SETUP     3
#define FUZZ_OP_DRIVER_OK 4
#define FUZZ_OP_POKE      5
#define FUZZ_OP_ACK       6
#define FUZZ_OP_SAVELOAD  7
#define FUZZ_OP_LOADBAD   8
#define FUZZ_OP_PUBLISH   9
#define FUZZ_OP_DEVICE    10      /* 10..15: target-specific */

struct fuzz_op {
    uint8_t op, arg;
    uint32_t val;
};

struct fuzz_irq {
    int level;
};

static inline void fuzz_irq_set(void *opaque, unsigned line, int level)
{
    (void)line;
    struct fuzz_irq *s = opaque;
    if (s->level == level)
        abort();            /* the transport only reports changes */
    s->level = level;
}

struct fuzz_ctx {
    uint8_t *mem;
    uint64_t size;
    struct fuzz_irq irq;
    const struct fuzz_op *ops;
    size_t nops;
};

/* Parse the input; returns 0 when it is too short to use. */
static inline int fuzz_parse(struct fuzz_ctx *c, const uint8_t *data, size_t len,
                             struct fuzz_op *ops_buf)
{
    if (len < 2)
        return 0;
    size_t n = data[0];
    c->size = 4096ull * ((data[1] % 16) + 1);
    data += 2;
    len -= 2;
    if (n * 6 > len)
        n = len / 6;
    for (size_t i = 0; i < n; i++) {
        ops_buf[i].op = data[6 * i];
        ops_buf[i].arg = data[6 * i + 1];
        ops_buf[i].val = le32(data + 6 * i + 2);
    }
    c->ops = ops_buf;
    c->nops = n;
    data += 6 * n;
    len -= 6 * n;
    c->mem = calloc(1, c->size);
    if (!c->mem)
        return 0;
    memcpy(c->mem, data, len < c->size ? len : c->size);
    c->irq.level = 0;
    return 1;
}

static inline void fuzz_w(struct cc_virtio_mmio *t, uint32_t off, uint32_t v)
{
    uint8_t b[4];
    put_le32(b, v);
    virtio_mmio_write(t, off, b, 4);
}

static inline uint32_t fuzz_r(struct cc_virtio_mmio *t, uint32_t off)
{
    uint8_t b[4];
    virtio_mmio_read(t, off, b, 4);
    return le32(b);
}

/* Full handshake (accept everything offered), then queue q with size from
 * val at the standard place; DRIVER_OK not set. */
static inline void fuzz_setup(struct cc_virtio_mmio *t, unsigned q, uint32_t val)
{
    if (!(t->status & VIRTIO_STATUS_FEATURES_OK)) {
        fuzz_w(t, VIRTIO_MMIO_STATUS, 0);
        fuzz_w(t, VIRTIO_MMIO_STATUS, 3);
        fuzz_w(t, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
        uint32_t lo = fuzz_r(t, VIRTIO_MMIO_DEVICE_FEATURES);
        fuzz_w(t, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
        fuzz_w(t, VIRTIO_MMIO_DRIVER_FEATURES, lo & ~(val >> 16));
        fuzz_w(t, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
        fuzz_w(t, VIRTIO_MMIO_DRIVER_FEATURES, 1);
        fuzz_w(t, VIRTIO_MMIO_STATUS, 11);
    }
    fuzz_w(t, VIRTIO_MMIO_QUEUE_SEL, q);
    if (!t->vq[q % CC_VIRTIO_MAX_QUEUES].ready) {
        /* A fresh driver starts its ring indexes at 0. */
        struct cc_gmem m = virtio_mmio_mem(t);
        uint8_t *ai = gmem_ptr(m, q * 0x1000 + 0x802, 2);
        uint8_t *ui = gmem_ptr(m, q * 0x1000 + 0xc02, 2);
        if (ai)
            memset(ai, 0, 2);
        if (ui)
            memset(ui, 0, 2);
    }
    fuzz_w(t, VIRTIO_MMIO_QUEUE_NUM, 1u << (val % 9));
    fuzz_w(t, VIRTIO_MMIO_QUEUE_DESC_LOW, q * 0x1000);
    fuzz_w(t, VIRTIO_MMIO_QUEUE_DESC_HIGH, 0);
    fuzz_w(t, VIRTIO_MMIO_QUEUE_AVAIL_LOW, q * 0x1000 + 0x800);
    fuzz_w(t, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, 0);
    fuzz_w(t, VIRTIO_MMIO_QUEUE_USED_LOW, q * 0x1000 + 0xc00);
    fuzz_w(t, VIRTIO_MMIO_QUEUE_USED_HIGH, 0);
    fuzz_w(t, VIRTIO_MMIO_QUEUE_READY, 1);
}

static inline void fuzz_check(const struct fuzz_ctx *c, const struct cc_virtio_mmio *t)
{
    if (c->irq.level != (t->isr != 0))
        abort();
    if (t->failed != (virtio_mmio_failure(t) != NULL) ||
        (t->failed && !(t->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET)))
        abort();
}

/* One generic operation. save/load: the device's own functions, with the
 * state round-tripped through a buffer (state must be reproduced exactly)
 * or loaded after corrupting one byte (must fail cleanly or succeed). */
typedef void (*fuzz_save_fn)(void *dev, struct cc_buf *out);
typedef int (*fuzz_load_fn)(void *dev, struct cc_rd *in, struct cc_err *err);

static inline void fuzz_generic(struct fuzz_ctx *c, struct cc_virtio_mmio *t,
                                const struct fuzz_op *o, void *dev, fuzz_save_fn save,
                                fuzz_load_fn load)
{
    switch (o->op % 16) {
    case FUZZ_OP_WRITE:
        fuzz_w(t, (uint32_t)o->arg * 4, o->val);
        break;
    case FUZZ_OP_READ: {
        uint8_t b[8];
        static const unsigned sizes[4] = {1, 2, 4, 8};
        virtio_mmio_read(t, (uint32_t)o->arg * 4 + ((o->val >> 8) & 3), b,
                            sizes[o->val & 3]);
        break;
    }
    case FUZZ_OP_NOTIFY:
        fuzz_w(t, VIRTIO_MMIO_QUEUE_NOTIFY, o->val % 5);
        break;
    case FUZZ_OP_SETUP:
        fuzz_setup(t, o->arg % 4, o->val);
        break;
    case FUZZ_OP_DRIVER_OK:
        fuzz_w(t, VIRTIO_MMIO_STATUS, t->status | VIRTIO_STATUS_DRIVER_OK);
        break;
    case FUZZ_OP_POKE: {
        uint64_t a = (o->val & 0xffff) % c->size;
        c->mem[a] = o->arg;
        if (a + 1 < c->size)
            c->mem[a + 1] = (uint8_t)(o->val >> 24);
        break;
    }
    case FUZZ_OP_ACK:
        fuzz_w(t, VIRTIO_MMIO_INTERRUPT_ACK, o->val);
        break;
    case FUZZ_OP_SAVELOAD:
    case FUZZ_OP_LOADBAD: {
        struct cc_buf a, b;
        buf_init(&a);
        buf_init(&b);
        save(dev, &a);
        if (!buf_ok(&a))
            abort();
        if (o->op % 16 == FUZZ_OP_LOADBAD && a.len)
            a.data[o->val % a.len] ^= (uint8_t)(o->arg | 1);
        struct cc_rd rd;
        struct cc_err err = {0};
        rd_init(&rd, a.data, a.len);
        int rc = load(dev, &rd, &err);
        if (o->op % 16 == FUZZ_OP_SAVELOAD) {
            if (rc < 0) {
                fprintf(stderr, "fuzz: a saved state does not load: %s\n", err.msg);
                abort();    /* our own state must load */
            }
            save(dev, &b);
            if (a.len != b.len || memcmp(a.data, b.data, a.len))
                abort();    /* and reproduce exactly */
        } else if (rc < 0 && !err.msg[0]) {
            abort();        /* refusals say why */
        }
        buf_free(&a);
        buf_free(&b);
        /* A load may change the line's saved level without telling the
         * sink (the PIC is restored separately): resync our fake. */
        c->irq.level = t->irq_level;
        break;
    }
    case FUZZ_OP_PUBLISH: {
        /* Append head `arg` to queue val%4's available ring and notify. */
        unsigned q = o->val % 4;
        struct cc_vq *vq = &t->vq[q];
        uint64_t av = q * 0x1000 + 0x800;
        if (vq->num && av + 4 + 2ull * vq->num <= c->size) {
            uint16_t idx = le16(c->mem + av + 2);
            put_le16(c->mem + av + 4 + 2 * (idx % vq->num), (uint16_t)(o->arg % vq->num));
            put_le16(c->mem + av + 2, (uint16_t)(idx + 1));
        }
        fuzz_w(t, VIRTIO_MMIO_QUEUE_NOTIFY, q);
        break;
    }
    default:
        break;
    }
}

#endif
