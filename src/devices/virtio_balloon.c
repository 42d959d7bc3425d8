/* virtio-balloon: the host sets a target, the guest hands pages over (see
 * virtio_balloon.h). */
#include <errno.h>
#include <stdlib.h>

#include "devices/virtio_balloon.h"

#define BALLOON_QUEUE_SIZE 128
#define BALLOON_CONFIG_SIZE 8
#define BALLOON_SAVE_VERSION 1

static void balloon_config(void *dev, uint8_t *out)
{
    struct cc_virtio_balloon *b = dev;
    put_le32(out, b->target);
    put_le32(out + 4, b->actual);
}

/* Take every chain of queue q and count its PFNs. */
static void balloon_notify(void *dev, unsigned q)
{
    struct cc_virtio_balloon *b = dev;
    struct cc_virtio_mmio *t = &b->mmio;
    struct cc_vq_chain *c = &b->chain;
    struct cc_gmem m = virtio_mmio_mem(t);
    uint64_t ram_pages = m.size / CC_BALLOON_PAGE;
    for (unsigned i = 0; i < t->vq[q].num; i++) {
        if (virtio_mmio_pop(t, q, c) <= 0)
            return;
        if (c->in_len || (c->out_len & 3)) {
            virtio_mmio_fail(t, "virtio-balloon: chain from head %u has %llu readable and "
                                "%llu writable bytes; it needs a whole number of 32-bit PFNs "
                                "and no writable buffers", c->head,
                                (unsigned long long)c->out_len, (unsigned long long)c->in_len);
            return;
        }
        uint64_t n = c->out_len / 4;
        for (uint64_t k = 0; k < n; k++) {
            uint8_t pfn[4];
            if (vq_read(m, c, k * 4, pfn, 4) != 4)
                break;
            if (le32(pfn) >= ram_pages) {
                b->stats.bad_pfns++;
                continue;
            }
            if (q == CC_BALLOON_INFLATEQ) {
                b->stats.inflated++;
                if (b->actual < UINT32_MAX)
                    b->actual++;
            } else {
                b->stats.deflated++;
                if (b->actual)
                    b->actual--;
            }
        }
        if (q == CC_BALLOON_INFLATEQ)
            b->stats.inflate_reqs++;
        else
            b->stats.deflate_reqs++;
        virtio_mmio_push(t, q, c, 0);
    }
}

static void balloon_reset(void *dev)
{
    struct cc_virtio_balloon *b = dev;
    b->actual = 0;
}

static void bl_save(const void *d, struct cc_buf *out) { virtio_balloon_save(d, out); }
static int bl_load(void *d, struct cc_rd *in, struct cc_err *err)
{
    return virtio_balloon_load(d, in, err);
}
static void bl_destroy(void *d) { virtio_balloon_destroy(d); }

static const struct cc_virtio_ops balloon_ops = {
    .name = "virtio-balloon",
    .device_id = CC_VIRTIO_BALLOON,
    .features = 0,
    .num_queues = 2,
    .queue_max = BALLOON_QUEUE_SIZE,
    .config_size = BALLOON_CONFIG_SIZE,
    .config = balloon_config,
    .notify = balloon_notify,
    .reset = balloon_reset,
    .save = bl_save,
    .load = bl_load,
    .destroy = bl_destroy,
};

int virtio_balloon_create(uint8_t *const *mem_base, const uint64_t *mem_size,
                             struct cc_irq_sink irq, unsigned irq_line,
                             struct cc_virtio_balloon **out, struct cc_err *err)
{
    struct cc_virtio_balloon *b = calloc(1, sizeof(*b));
    if (!b)
        return cc_err_set(err, ENOMEM, "virtio-balloon: out of memory");
    virtio_mmio_init(&b->mmio, &balloon_ops, b, mem_base, mem_size, irq, irq_line);
    *out = b;
    return 0;
}

void virtio_balloon_destroy(struct cc_virtio_balloon *b)
{
    free(b);
}

void cc_virtio_balloon_set_target(struct cc_virtio_balloon *b, uint64_t pages)
{
    uint32_t t = pages > UINT32_MAX ? UINT32_MAX : (uint32_t)pages;
    if (t == b->target)
        return;
    b->target = t;
    b->stats.target_changes++;
    virtio_mmio_config_changed(&b->mmio);
}

void cc_virtio_balloon_stats(const struct cc_virtio_balloon *b, struct cc_balloon_stats *s)
{
    *s = b->stats;
    s->target_pages = b->target;
    s->actual_pages = b->actual;
}

const char *cc_virtio_balloon_failure(const struct cc_virtio_balloon *b)
{
    return virtio_mmio_failure(&b->mmio);
}

void virtio_balloon_save(const struct cc_virtio_balloon *b, struct cc_buf *out)
{
    buf_put_u8(out, BALLOON_SAVE_VERSION);
    virtio_mmio_save(&b->mmio, out);
    buf_put_u32(out, b->target);
    buf_put_u32(out, b->actual);
    const struct cc_balloon_stats *st = &b->stats;
    uint64_t sv[] = {st->inflated, st->deflated, st->inflate_reqs, st->deflate_reqs,
                     st->bad_pfns, st->target_changes};
    for (size_t i = 0; i < sizeof(sv) / sizeof(sv[0]); i++)
        buf_put_u64(out, sv[i]);
}

int virtio_balloon_load(struct cc_virtio_balloon *b, struct cc_rd *in, struct cc_err *err)
{
    int ver = rd_version(in, BALLOON_SAVE_VERSION, "virtio-balloon", err);
    if (ver < 0)
        return ver;
    struct cc_virtio_mmio t = b->mmio;
    int rc = virtio_mmio_load(&t, in, err);
    if (rc < 0)
        return rc;
    uint32_t target = rd_u32(in), actual = rd_u32(in);
    struct cc_balloon_stats st = {0};
    st.inflated = rd_u64(in);
    st.deflated = rd_u64(in);
    st.inflate_reqs = rd_u64(in);
    st.deflate_reqs = rd_u64(in);
    st.bad_pfns = rd_u64(in);
    st.target_changes = rd_u64(in);
    if (!rd_ok(in))
        return cc_err_set(err, EINVAL, "virtio-balloon: snapshot state truncated");
    b->mmio = t;
    b->target = target;
    b->actual = actual;
    b->stats = st;
    return 0;
}
