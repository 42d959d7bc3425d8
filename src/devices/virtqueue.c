/* Split virtqueues over untrusted guest memory (see virtqueue.h). Every
 * guest address goes through gmem_ptr(); every failure names what the
 * guest did wrong. */
#include <errno.h>

#include "devices/virtqueue.h"

void vq_reset(struct cc_vq *q, uint16_t num_max)
{
    memset(q, 0, sizeof(*q));
    q->num_max = num_max;
    q->num = num_max;
}

static uint64_t desc_bytes(uint16_t num) { return 16ull * num; }
static uint64_t avail_bytes(uint16_t num) { return 4 + 2ull * num; }
static uint64_t used_bytes(uint16_t num) { return 4 + 8ull * num; }

int vq_check(const struct cc_vq *q, struct cc_gmem m, struct cc_err *err)
{
    if (q->num == 0 || q->num > q->num_max || (q->num & (q->num - 1))) {
        cc_err_set(err, EPROTO, "queue size %u is not a power of 2 between 1 and %u",
                   q->num, q->num_max);
        return -1;
    }
    if ((q->desc & 15) || (q->avail & 1) || (q->used & 3)) {
        cc_err_set(err, EPROTO, "misaligned rings: descriptors 0x%llx (needs 16), available "
                   "0x%llx (needs 2), used 0x%llx (needs 4)", (unsigned long long)q->desc,
                   (unsigned long long)q->avail, (unsigned long long)q->used);
        return -1;
    }
    static const char *names[3] = {"descriptor table", "available ring", "used ring"};
    uint64_t addr[3] = {q->desc, q->avail, q->used};
    uint64_t len[3] = {desc_bytes(q->num), avail_bytes(q->num), used_bytes(q->num)};
    for (int i = 0; i < 3; i++) {
        if (!gmem_ptr(m, addr[i], len[i])) {
            cc_err_set(err, EPROTO, "%s at 0x%llx (%llu bytes for %u entries) is outside "
                       "guest RAM (0x%llx bytes)", names[i], (unsigned long long)addr[i],
                       (unsigned long long)len[i], q->num, (unsigned long long)m.size);
            return -1;
        }
    }
    return 0;
}

/* Read a little-endian u16 of ring memory; false when outside RAM. */
static bool ring16(struct cc_gmem m, uint64_t gpa, uint16_t *v)
{
    const uint8_t *p = gmem_ptr(m, gpa, 2);
    if (!p)
        return false;
    *v = le16(p);
    return true;
}

static int ring_gone(struct cc_err *err, const char *what, uint64_t gpa)
{
    cc_err_set(err, EPROTO, "%s at 0x%llx is outside guest RAM", what, (unsigned long long)gpa);
    return -1;
}

int vq_pop(struct cc_vq *q, struct cc_gmem m, struct cc_vq_chain *c, struct cc_err *err)
{
    if (!q->ready || q->num == 0)
        return 0;
    uint16_t avail_idx;
    if (!ring16(m, q->avail + 2, &avail_idx))
        return ring_gone(err, "available ring index", q->avail + 2);
    uint16_t pending = (uint16_t)(avail_idx - q->last_avail);
    if (pending == 0)
        return 0;
    if (pending > q->num) {
        cc_err_set(err, EPROTO, "available index jumped to %u while the device is at %u "
                   "(more than the queue size %u ahead)", avail_idx, q->last_avail, q->num);
        return -1;
    }
    uint64_t slot = q->avail + 4 + 2ull * (q->last_avail & (q->num - 1));
    uint16_t head;
    if (!ring16(m, slot, &head))
        return ring_gone(err, "available ring entry", slot);
    if (head >= q->num) {
        cc_err_set(err, EPROTO, "available ring entry %u names descriptor %u (queue size %u)",
                   q->last_avail, head, q->num);
        return -1;
    }

    c->head = head;
    c->n = c->n_out = 0;
    c->out_len = c->in_len = 0;
    uint16_t i = head;
    bool seen_write = false;
    for (;;) {
        if (c->n >= q->num) {
            cc_err_set(err, EPROTO, "descriptor chain from head %u is longer than the queue "
                       "size %u (a loop?)", head, q->num);
            return -1;
        }
        uint64_t dgpa = q->desc + 16ull * i;
        const uint8_t *d = gmem_ptr(m, dgpa, 16);
        if (!d)
            return ring_gone(err, "descriptor", dgpa);
        uint64_t addr = le64(d);
        uint32_t len = le32(d + 8);
        uint16_t flags = le16(d + 12);
        uint16_t next = le16(d + 14);
        if (flags & CC_VRING_DESC_F_INDIRECT) {
            cc_err_set(err, EPROTO, "descriptor %u is indirect, but VIRTIO_RING_F_INDIRECT_DESC "
                       "was not offered", i);
            return -1;
        }
        bool w = flags & CC_VRING_DESC_F_WRITE;
        if (!w && seen_write) {
            cc_err_set(err, EPROTO, "descriptor %u is device-readable but follows a "
                       "device-writable one in the chain from head %u", i, head);
            return -1;
        }
        if (!gmem_ptr(m, addr, len)) {
            cc_err_set(err, EPROTO, "descriptor %u: buffer 0x%llx+0x%x is outside guest RAM "
                       "(0x%llx bytes)", i, (unsigned long long)addr, len,
                       (unsigned long long)m.size);
            return -1;
        }
        seen_write |= w;
        c->seg[c->n++] = (struct cc_vq_seg){addr, len, w};
        if (w)
            c->in_len += len;
        else {
            c->out_len += len;
            c->n_out++;
        }
        if (!(flags & CC_VRING_DESC_F_NEXT))
            break;
        if (next >= q->num) {
            cc_err_set(err, EPROTO, "descriptor %u: next %u is beyond the queue size %u",
                       i, next, q->num);
            return -1;
        }
        i = next;
    }
    q->last_avail++;
    return 1;
}

int vq_push(struct cc_vq *q, struct cc_gmem m, uint16_t head, uint32_t written,
               struct cc_err *err)
{
    uint64_t slot = q->used + 4 + 8ull * (q->used_idx & (q->num - 1));
    if (!gmem_ptr(m, slot, 8))
        return ring_gone(err, "used ring entry", slot);
    if (!gmem_ptr(m, q->used + 2, 2))
        return ring_gone(err, "used ring index", q->used + 2);
    uint8_t *e = gmem_ptr_w(m, slot, 8);
    uint8_t *idx = gmem_ptr_w(m, q->used + 2, 2);
    put_le32(e, head);
    put_le32(e + 4, written);
    q->used_idx++;
    __atomic_thread_fence(__ATOMIC_RELEASE);
    put_le16(idx, q->used_idx);
    return 0;
}

bool vq_want_interrupt(const struct cc_vq *q, struct cc_gmem m)
{
    uint16_t flags;
    if (!ring16(m, q->avail, &flags))
        return true;
    return !(flags & CC_VRING_AVAIL_F_NO_INTERRUPT);
}

/* Walk the segments of one direction, calling fn on each contiguous piece
 * of [off, off+len). Returns the bytes covered. */
static size_t walk(struct cc_gmem m, const struct cc_vq_chain *c, bool write, uint64_t off,
                   size_t len, void (*fn)(void *ctx, uint8_t *g, size_t n), void *ctx)
{
    size_t done = 0;
    unsigned first = write ? c->n_out : 0, end = write ? c->n : c->n_out;
    for (unsigned s = first; s < end && done < len; s++) {
        const struct cc_vq_seg *sg = &c->seg[s];
        if (off >= sg->len) {
            off -= sg->len;
            continue;
        }
        size_t n = sg->len - off;
        if (n > len - done)
            n = len - done;
        uint8_t *g = write ? gmem_ptr_w(m, sg->addr + off, n)
                           : gmem_ptr(m, sg->addr + off, n);
        if (!g)
            break;          /* cannot happen for a popped chain; stay safe */
        fn(ctx, g, n);
        done += n;
        off = 0;
    }
    return done;
}

struct copy_ctx {
    uint8_t *p;
};

static void copy_out(void *ctx, uint8_t *g, size_t n)
{
    struct copy_ctx *c = ctx;
    memcpy(c->p, g, n);
    c->p += n;
}

static void copy_in(void *ctx, uint8_t *g, size_t n)
{
    struct copy_ctx *c = ctx;
    memcpy(g, c->p, n);
    c->p += n;
}

size_t vq_read(struct cc_gmem m, const struct cc_vq_chain *c, uint64_t off,
                  void *buf, size_t len)
{
    struct copy_ctx ctx = {buf};
    return walk(m, c, false, off, len, copy_out, &ctx);
}

size_t vq_write(struct cc_gmem m, const struct cc_vq_chain *c, uint64_t off,
                   const void *buf, size_t len)
{
    struct copy_ctx ctx = {(uint8_t *)buf};
    return walk(m, c, true, off, len, copy_in, &ctx);
}

struct gen_ctx {
    void (*gen)(void *opaque, uint8_t *dst, size_t n);
    void *opaque;
};

static void gen_piece(void *ctx, uint8_t *g, size_t n)
{
    struct gen_ctx *c = ctx;
    c->gen(c->opaque, g, n);
}

size_t vq_fill(struct cc_gmem m, const struct cc_vq_chain *c, uint64_t off, size_t len,
                  void (*gen)(void *opaque, uint8_t *dst, size_t n), void *opaque)
{
    struct gen_ctx ctx = {gen, opaque};
    return walk(m, c, true, off, len, gen_piece, &ctx);
}
