/* virtio-rng: guest entropy from the VM's seeded stream (see virtio_rng.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "devices/virtio_rng.h"

static void gen(void *opaque, uint8_t *dst, size_t n)
{
    rng_bytes(opaque, dst, n);
}

static void rng_notify(void *dev, unsigned q)
{
    struct cc_virtio_rng *r = dev;
    struct cc_virtio_mmio *t = &r->mmio;
    struct cc_vq_chain c;
    struct cc_gmem m = virtio_mmio_mem(t);
    for (unsigned i = 0; i < t->vq[q].num; i++) {
        if (virtio_mmio_pop(t, q, &c) <= 0)
            return;
        uint64_t want = c.in_len < CC_VIRTIO_RNG_MAX_REQ ? c.in_len : CC_VIRTIO_RNG_MAX_REQ;
        size_t n = vq_fill(m, &c, 0, (size_t)want, gen, &r->rng);
        r->served += n;
        virtio_mmio_push(t, q, &c, (uint32_t)n);
    }
}

static void vrng_save(const void *d, struct cc_buf *out) { virtio_rng_save(d, out); }
static int vrng_load(void *d, struct cc_rd *in, struct cc_err *err)
{
    return virtio_rng_load(d, in, err);
}
static void vrng_destroy(void *d) { virtio_rng_destroy(d); }
static void vrng_reseed(void *d, uint64_t seed) { cc_virtio_rng_reseed(d, seed); }

static const struct cc_virtio_ops rng_ops = {
    .name = "virtio-rng",
    .device_id = CC_VIRTIO_RNG,
    .features = 0,
    .num_queues = 1,
    .queue_max = 64,
    .config_size = 0,
    .notify = rng_notify,
    .save = vrng_save,
    .load = vrng_load,
    .destroy = vrng_destroy,
    .reseed = vrng_reseed,
};

int virtio_rng_create(uint64_t seed, const char *label, uint8_t *const *mem_base,
                         const uint64_t *mem_size, struct cc_irq_sink irq, unsigned irq_line,
                         struct cc_virtio_rng **out, struct cc_err *err)
{
    struct cc_virtio_rng *r = calloc(1, sizeof(*r));
    if (!r)
        return cc_err_set(err, ENOMEM, "virtio-rng: out of memory");
    snprintf(r->label, sizeof(r->label), "%s", label ? label : "virtio-rng");
    rng_init(&r->rng, seed, r->label);
    virtio_mmio_init(&r->mmio, &rng_ops, r, mem_base, mem_size, irq, irq_line);
    *out = r;
    return 0;
}

void virtio_rng_destroy(struct cc_virtio_rng *r)
{
    free(r);
}

void cc_virtio_rng_reseed(struct cc_virtio_rng *r, uint64_t seed)
{
    rng_init(&r->rng, seed, r->label);
}

uint64_t cc_virtio_rng_bytes_served(const struct cc_virtio_rng *r)
{
    return r->served;
}

const char *cc_virtio_rng_failure(const struct cc_virtio_rng *r)
{
    return virtio_mmio_failure(&r->mmio);
}

#define RNG_SAVE_VERSION 1

void virtio_rng_save(const struct cc_virtio_rng *r, struct cc_buf *out)
{
    buf_put_u8(out, RNG_SAVE_VERSION);
    virtio_mmio_save(&r->mmio, out);
    rng_save(&r->rng, out);
    buf_put_u64(out, r->served);
}

int virtio_rng_load(struct cc_virtio_rng *r, struct cc_rd *in, struct cc_err *err)
{
    int ver = rd_version(in, RNG_SAVE_VERSION, "virtio-rng", err);
    if (ver < 0)
        return ver;
    struct cc_virtio_mmio t = r->mmio;
    int rc = virtio_mmio_load(&t, in, err);
    if (rc < 0)
        return rc;
    struct cc_rng rng;
    rc = rng_load(&rng, in, err);
    if (rc < 0)
        return cc_err_prefix(err, "virtio-rng");
    uint64_t served = rd_u64(in);
    if (!rd_ok(in))
        return cc_err_set(err, EINVAL, "virtio-rng: snapshot state truncated");
    r->mmio = t;
    r->rng = rng;
    r->served = served;
    return 0;
}
