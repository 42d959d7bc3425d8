/* Fuzz target: virtio-rng behind the transport (see fuzz_common.h for the
 * input format). Device op 10 reseeds; saves/loads use the device's own
 * snapshot functions. */
#include <stdio.h>

#include "devices/virtio_rng.h"
#include "fuzz_common.h"

static void save(void *dev, struct cc_buf *out) { virtio_rng_save(dev, out); }
static int load(void *dev, struct cc_rd *in, struct cc_err *err)
{
    return virtio_rng_load(dev, in, err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    static struct fuzz_op ops[256];
    struct fuzz_ctx c;
    if (!fuzz_parse(&c, data, len, ops))
        return 0;
    struct cc_virtio_rng *r;
    struct cc_err err = {0};
    if (virtio_rng_create(1, "virtio-rng0", &c.mem, &c.size,
                             (struct cc_irq_sink){fuzz_irq_set, &c.irq}, 5, &r, &err) < 0)
        abort();
    for (size_t i = 0; i < c.nops; i++) {
        const struct fuzz_op *o = &c.ops[i];
        if (o->op % 16 == FUZZ_OP_DEVICE)
            cc_virtio_rng_reseed(r, o->val);
        else
            fuzz_generic(&c, &r->mmio, o, r, save, load);
        fuzz_check(&c, &r->mmio);
    }
#ifdef FUZZ_VERBOSE
    fprintf(stderr, "ops %zu, status 0x%x, failure: %s\n", c.nops, r->mmio.status,
            virtio_mmio_failure(&r->mmio) ? virtio_mmio_failure(&r->mmio) : "none");
    fprintf(stderr, "served %llu\n", (unsigned long long)r->served);
#endif
    virtio_rng_destroy(r);
    free(c.mem);
    return 0;
}
