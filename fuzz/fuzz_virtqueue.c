/* Fuzz target: the virtio-mmio transport and split virtqueues, under a
 * minimal device that pops every chain it is given, reads and writes its
 * buffers at input-chosen offsets and returns it. See fuzz_common.h for the
 * input format. Device-specific ops: 10 config change, 11 a host-side pop
 * and push outside a notification (as a device that completes later), 12
 * the transport's fail(). */
#include <stdio.h>

#include "fuzz_common.h"

struct echo_dev {
    struct cc_virtio_mmio mmio;
    uint32_t off;               /* where the next access starts in a chain */
    struct cc_vq_chain chain;
    uint8_t buf[8192];
};

static void echo_config(void *dev, uint8_t *out)
{
    struct echo_dev *d = dev;
    for (int i = 0; i < 24; i++)
        out[i] = (uint8_t)(i ^ d->mmio.config_gen);
}

static void serve(struct echo_dev *d, unsigned q)
{
    struct cc_gmem m = virtio_mmio_mem(&d->mmio);
    struct cc_vq_chain *c = &d->chain;
    size_t n = vq_read(m, c, d->off % (c->out_len + 1), d->buf, sizeof(d->buf));
    if (n > c->out_len)
        abort();
    uint64_t woff = d->off % (c->in_len + 1);
    size_t w = vq_write(m, c, woff, d->buf, sizeof(d->buf));
    if (w > c->in_len - woff)
        abort();
    virtio_mmio_push(&d->mmio, q, c, (uint32_t)(woff + w));
}

static void echo_notify(void *dev, unsigned q)
{
    struct echo_dev *d = dev;
    for (unsigned i = 0; i < d->mmio.vq[q].num; i++) {
        if (virtio_mmio_pop(&d->mmio, q, &d->chain) <= 0)
            break;
        /* Chain invariants the device relies on. */
        if (d->chain.n == 0 || d->chain.n > d->mmio.vq[q].num || d->chain.n_out > d->chain.n)
            abort();
        serve(d, q);
    }
}

static const struct cc_virtio_ops echo_ops = {
    .name = "fuzz-echo",
    .device_id = 0x1f,
    .features = 0x5,
    .num_queues = 3,
    .queue_max = 256,
    .config_size = 24,
    .config = echo_config,
    .notify = echo_notify,
};

static void save(void *dev, struct cc_buf *out)
{
    virtio_mmio_save(&((struct echo_dev *)dev)->mmio, out);
}

static int load(void *dev, struct cc_rd *in, struct cc_err *err)
{
    return virtio_mmio_load(&((struct echo_dev *)dev)->mmio, in, err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    static struct fuzz_op ops[256];
    struct fuzz_ctx c;
    if (!fuzz_parse(&c, data, len, ops))
        return 0;
    struct echo_dev *d = calloc(1, sizeof(*d));
    virtio_mmio_init(&d->mmio, &echo_ops, d, &c.mem, &c.size,
                        (struct cc_irq_sink){fuzz_irq_set, &c.irq}, 5);
    for (size_t i = 0; i < c.nops; i++) {
        const struct fuzz_op *o = &c.ops[i];
        d->off = o->val >> 8;
        switch (o->op % 16) {
        case FUZZ_OP_DEVICE:
            virtio_mmio_config_changed(&d->mmio);
            break;
        case FUZZ_OP_DEVICE + 1: {
            unsigned q = o->arg % 3;
            if (virtio_mmio_pop(&d->mmio, q, &d->chain) > 0)
                serve(d, q);
            break;
        }
        case FUZZ_OP_DEVICE + 2:
            virtio_mmio_fail(&d->mmio, "fuzz %u", o->val);
            break;
        default:
            fuzz_generic(&c, &d->mmio, o, d, save, load);
            break;
        }
        fuzz_check(&c, &d->mmio);
    }
#ifdef FUZZ_VERBOSE
    fprintf(stderr, "ops %zu, status 0x%x, failure: %s\n", c.nops, d->mmio.status,
            virtio_mmio_failure(&d->mmio) ? virtio_mmio_failure(&d->mmio) : "none");
#endif
    free(d);
    free(c.mem);
    return 0;
}
