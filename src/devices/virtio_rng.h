/* virtio-rng (entropy device, id 4): one request queue whose device-writable
 * buffers are filled from a seeded ChaCha20 stream (util/rng.h), so equal
 * seeds give the guest equal bytes. Readable descriptors in a request are
 * ignored; at most CC_VIRTIO_RNG_MAX_REQ bytes are written per request (the
 * used length tells the driver how many). The stream position is part of
 * the saved state; cc_virtio_rng_reseed restarts it from a new seed. */
#ifndef CC_DEVICES_VIRTIO_RNG_H
#define CC_DEVICES_VIRTIO_RNG_H

#include "chaoscontrol/virtio.h"
#include "devices/virtio_mmio.h"
#include "util/rng.h"

#define CC_VIRTIO_RNG_MAX_REQ 65536u

struct cc_virtio_rng {
    struct cc_virtio_mmio mmio;     /* first: the VM treats devices alike */
    char label[32];                 /* stream label, e.g. "virtio-rng0" */
    struct cc_rng rng;
    uint64_t served;
};

/* Allocate a device. mem_base/mem_size/irq as for virtio_mmio_init. */
int virtio_rng_create(uint64_t seed, const char *label, uint8_t *const *mem_base,
                         const uint64_t *mem_size, struct cc_irq_sink irq, unsigned irq_line,
                         struct cc_virtio_rng **out, struct cc_err *err);
void virtio_rng_destroy(struct cc_virtio_rng *r);

void virtio_rng_save(const struct cc_virtio_rng *r, struct cc_buf *out);
int virtio_rng_load(struct cc_virtio_rng *r, struct cc_rd *in, struct cc_err *err);

#endif
