/* Seeded ChaCha20 streams (see rng.h). */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "rng.h"

void rng_init(struct cc_rng *r, uint64_t seed, const char *label)
{
    /* key = SHA-256("chaoscontrol-rng\0" || seed (LE) || label) */
    crypto_hash_sha256_state st;
    uint8_t s[8];
    for (int i = 0; i < 8; i++)
        s[i] = (uint8_t)(seed >> (8 * i));
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const uint8_t *)"chaoscontrol-rng", 17);
    crypto_hash_sha256_update(&st, s, sizeof(s));
    crypto_hash_sha256_update(&st, (const uint8_t *)label, strlen(label));
    crypto_hash_sha256_final(&st, r->key);
    r->block = 0;
    r->used = 64;
    memset(r->buf, 0, sizeof(r->buf));
}

static void refill(struct cc_rng *r)
{
    static const uint8_t zero[64];
    static const uint8_t nonce[crypto_stream_chacha20_NONCEBYTES];
    crypto_stream_chacha20_xor_ic(r->buf, zero, sizeof(zero), nonce, r->block, r->key);
    r->block++;
    r->used = 0;
}

void rng_bytes(struct cc_rng *r, void *out, size_t n)
{
    uint8_t *o = out;
    while (n) {
        if (r->used == 64)
            refill(r);
        size_t k = 64u - r->used;
        if (k > n)
            k = n;
        memcpy(o, r->buf + r->used, k);
        r->used = (uint8_t)(r->used + k);
        o += k;
        n -= k;
    }
}

uint64_t rng_u64(struct cc_rng *r)
{
    uint8_t b[8];
    rng_bytes(r, b, 8);
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)b[i] << (8 * i);
    return v;
}

uint64_t rng_below(struct cc_rng *r, uint64_t n)
{
    if (n == 0)
        return 0;
    /* Reject the top sliver that would bias the modulo. */
    uint64_t limit = UINT64_MAX - (UINT64_MAX % n);
    for (;;) {
        uint64_t v = rng_u64(r);
        if (v < limit)
            return v % n;
    }
}

uint64_t rng_position(const struct cc_rng *r)
{
    if (r->block == 0)
        return 0;
    return (r->block - 1) * 64 + r->used;
}

#define RNG_VERSION 1

void rng_save(const struct cc_rng *r, struct cc_buf *out)
{
    buf_put_u8(out, RNG_VERSION);
    buf_put(out, r->key, sizeof(r->key));
    buf_put_u64(out, r->block);
    buf_put_u8(out, r->used);
}

int rng_load(struct cc_rng *r, struct cc_rd *in, struct cc_err *err)
{
    struct cc_rng t;
    int ver = rd_version(in, RNG_VERSION, "rng", err);
    if (ver < 0)
        return ver;
    rd_get(in, t.key, sizeof(t.key));
    t.block = rd_u64(in);
    t.used = rd_u8(in);
    if (!rd_ok(in))
        return cc_err_set(err, EINVAL, "rng: state truncated");
    if (t.used > 64 || (t.block == 0 && t.used != 64))
        return cc_err_set(err, EINVAL, "rng: bad stream position");
    /* Regenerate the current block from its counter. */
    if (t.block > 0) {
        uint8_t used = t.used;
        t.block--;
        refill(&t);
        t.used = used;
    } else {
        memset(t.buf, 0, sizeof(t.buf));
    }
    *r = t;
    return 0;
}
