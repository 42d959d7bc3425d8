/* Seeded deterministic random streams (ChaCha20 keystream via libsodium).
 *
 * Every source of randomness a guest can see comes from one of these: the
 * kernel's boot RNG seed, virtio-rng, the SDK's random calls. A stream is
 * named by (seed, label), so two VMs with the same seed get the same bytes
 * and independent subsystems do not disturb each other's sequences. The
 * position in the stream is part of the state and is saved in snapshots.
 *
 *   struct cc_rng r;
 *   rng_init(&r, seed, "virtio-rng");
 *   uint64_t x = rng_u64(&r);
 */
#ifndef CC_UTIL_RNG_H
#define CC_UTIL_RNG_H

#include <stddef.h>
#include <stdint.h>

#include "chaoscontrol/err.h"
#include "util/buf.h"

struct cc_rng {
    uint8_t key[32];
    uint64_t block;         /* next keystream block to generate */
    uint8_t buf[64];        /* current block */
    uint8_t used;           /* bytes of buf consumed (64 = empty) */
};

void rng_init(struct cc_rng *r, uint64_t seed, const char *label);
void rng_bytes(struct cc_rng *r, void *out, size_t n);
uint64_t rng_u64(struct cc_rng *r);
/* Uniform in [0, n) without modulo bias; n == 0 returns 0. */
uint64_t rng_below(struct cc_rng *r, uint64_t n);
/* Bytes consumed so far (the stream position). */
uint64_t rng_position(const struct cc_rng *r);

void rng_save(const struct cc_rng *r, struct cc_buf *out);
int rng_load(struct cc_rng *r, struct cc_rd *in, struct cc_err *err);

#endif
