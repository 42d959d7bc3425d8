/* Unit tests for virtio-rng (src/devices/virtio_rng.h): the bytes a driver
 * gets equal the seeded stream (seed, label), equal seeds agree and
 * different seeds differ, buffers split over descriptors are filled in
 * order, the per-request cap, reseed, and snapshots that continue the
 * stream exactly, with corrupt-input rejection. */
#include <errno.h>

#include "../tap.h"
#include "devices/virtio_rng.h"
#include "virtio_fake.h"

#define MEM (256u << 10)
#define RING 0x1000u
#define BUF 0x10000u

static struct cc_virtio_rng *mk(struct fake_guest *g, uint64_t seed)
{
    fg_mem(g, MEM);
    struct cc_virtio_rng *r;
    struct cc_err err = {0};
    if (virtio_rng_create(seed, "virtio-rng0", &g->mem, &g->size, fg_sink(g), 5, &r, &err) < 0)
        tap_bail("rng create: %s", err.msg);
    g->t = &r->mmio;
    fg_negotiate(g);
    fg_queue(g, 0, 16, RING);
    fg_driver_ok(g);
    return r;
}

static void done(struct fake_guest *g, struct cc_virtio_rng *r)
{
    virtio_rng_destroy(r);
    fg_free(g);
}

/* Ask for n bytes in one buffer; returns the used length. */
static uint32_t fetch(struct fake_guest *g, uint64_t at, uint32_t n)
{
    struct fake_seg s = {at, n, true};
    fg_add(g, 0, &s, 1);
    fg_kick(g, 0);
    uint32_t id, len = 0;
    if (!fg_used(g, 0, &id, &len))
        return 0;
    return len;
}

static void test_stream(void)
{
    struct fake_guest g;
    struct cc_virtio_rng *r = mk(&g, 99);
    is_int(fetch(&g, BUF, 32), 32, "32 bytes served");
    struct cc_rng ref;
    rng_init(&ref, 99, "virtio-rng0");
    uint8_t want[64];
    rng_bytes(&ref, want, 32);
    ok(!memcmp(g.mem + BUF, want, 32), "bytes equal the (seed, label) stream");

    /* Split buffer: 3 + 5 + 24 bytes, plus a readable descriptor first that
     * must be ignored. */
    struct fake_seg s[4] = {{BUF + 0x200, 8, false}, {BUF + 0x100, 3, true},
                            {BUF + 0x140, 5, true}, {BUF + 0x180, 24, true}};
    memset(g.mem + BUF + 0x200, 0xee, 8);
    fg_add(&g, 0, s, 4);
    fg_kick(&g, 0);
    uint32_t id, len;
    ok(fg_used(&g, 0, &id, &len) && len == 32, "split buffer: 32 bytes");
    rng_bytes(&ref, want, 32);
    ok(!memcmp(g.mem + BUF + 0x100, want, 3) && !memcmp(g.mem + BUF + 0x140, want + 3, 5) &&
       !memcmp(g.mem + BUF + 0x180, want + 8, 24), "split buffer filled in order");
    ok(g.mem[BUF + 0x200] == 0xee, "readable descriptor untouched");
    is_u64(cc_virtio_rng_bytes_served(r), 64, "64 bytes served in all");

    /* The cap: one request of 128 KiB gets 64 KiB. */
    is_int(fetch(&g, BUF, 128u << 10), CC_VIRTIO_RNG_MAX_REQ, "a request is capped at 64 KiB");
    done(&g, r);
}

static void test_seeds(void)
{
    struct fake_guest a, b, c;
    struct cc_virtio_rng *ra = mk(&a, 5), *rb = mk(&b, 5), *rc = mk(&c, 6);
    fetch(&a, BUF, 256);
    fetch(&b, BUF, 256);
    fetch(&c, BUF, 256);
    ok(!memcmp(a.mem + BUF, b.mem + BUF, 256), "equal seeds: equal bytes");
    ok(memcmp(a.mem + BUF, c.mem + BUF, 256) != 0, "different seeds: different bytes");

    /* Reseed: a "fork" of a reseeded with 6 now matches c's stream start. */
    cc_virtio_rng_reseed(ra, 6);
    fetch(&a, BUF + 0x1000, 256);
    ok(!memcmp(a.mem + BUF + 0x1000, c.mem + BUF, 256), "reseed(6) restarts the seed-6 stream");
    cc_virtio_rng_reseed(rb, 7);
    fetch(&b, BUF + 0x1000, 256);
    ok(memcmp(a.mem + BUF + 0x1000, b.mem + BUF + 0x1000, 256) != 0,
       "forks reseeded differently diverge");
    done(&a, ra);
    done(&b, rb);
    done(&c, rc);
}

static void test_save_load(void)
{
    struct fake_guest a, b;
    struct cc_virtio_rng *ra = mk(&a, 11), *rb = mk(&b, 12);
    fetch(&a, BUF, 100);
    struct cc_buf s;
    buf_init(&s);
    virtio_rng_save(ra, &s);
    /* b becomes a copy of a: RAM (rings) and device state. */
    memcpy(b.mem, a.mem, MEM);
    b.q[0] = a.q[0];
    struct cc_rd rd;
    struct cc_err err = {0};
    rd_init(&rd, s.data, s.len);
    ok(virtio_rng_load(rb, &rd, &err) == 0, "state loads (%s)", err.msg);
    fetch(&a, BUF + 0x1000, 200);
    fetch(&b, BUF + 0x1000, 200);
    ok(!memcmp(a.mem + BUF + 0x1000, b.mem + BUF + 0x1000, 200),
       "restored device continues the stream exactly");
    is_u64(cc_virtio_rng_bytes_served(rb), 300, "served count restored");

    int refused = 0;
    for (size_t n = 0; n < s.len; n++) {
        rd_init(&rd, s.data, n);
        refused += virtio_rng_load(rb, &rd, &err) < 0;
    }
    is_int(refused, (int)s.len, "every truncation refused");
    s.data[0] = 2;
    rd_init(&rd, s.data, s.len);
    ok(virtio_rng_load(rb, &rd, &err) < 0 && strstr(err.msg, "version"),
       "newer version refused: %s", err.msg);
    buf_free(&s);
    done(&a, ra);
    done(&b, rb);
}

int main(void)
{
    test_stream();
    test_seeds();
    test_save_load();
    return tap_exit();
}
