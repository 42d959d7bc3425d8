/* Unit tests for the virtio-mmio transport and split virtqueues
 * (src/devices/virtio_mmio.h, virtqueue.h), driven through the register
 * functions with a fake driver whose RAM is fenced by guard pages: the
 * handshake and feature refusal, every malformed queue layout and chain
 * (each must fail the device with a reason, touch nothing outside RAM and
 * leave the device usable after a reset), interrupt edges and suppression,
 * deferred notifications, config generation, register access widths,
 * snapshots with corrupt-input rejection, and a seeded random run. The
 * device under the transport is virtio-rng (one queue, fills writable
 * buffers), which keeps the tests about the transport. */
#include <errno.h>

#include "../tap.h"
#include "devices/virtio_rng.h"
#include "util/rng.h"
#include "virtio_fake.h"

#define MEM (64u << 10)
#define RING 0x1000u
#define BUF 0x8000u

static struct cc_virtio_rng *mk(struct fake_guest *g)
{
    fg_mem(g, MEM);
    struct cc_virtio_rng *r;
    struct cc_err err = {0};
    if (virtio_rng_create(7, "virtio-rng0", &g->mem, &g->size, fg_sink(g), 5, &r, &err) < 0)
        tap_bail("rng create: %s", err.msg);
    g->t = &r->mmio;
    return r;
}

/* Handshake, queue 0 (8 entries at RING), DRIVER_OK. */
static struct cc_virtio_rng *mk_live(struct fake_guest *g)
{
    struct cc_virtio_rng *r = mk(g);
    fg_negotiate(g);
    fg_queue(g, 0, 8, RING);
    fg_driver_ok(g);
    return r;
}

static void done(struct fake_guest *g, struct cc_virtio_rng *r)
{
    virtio_rng_destroy(r);
    fg_free(g);
}

static bool failed_with(struct fake_guest *g, const char *needle)
{
    const char *why = virtio_mmio_failure(g->t);
    bool ok = why && strstr(why, needle) &&
              (fg_rd(g, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
    if (!ok)
        tap_diag("failure reason: %s", why ? why : "(none)");
    return ok;
}

static void test_identity(void)
{
    struct fake_guest g;
    struct cc_virtio_rng *r = mk(&g);
    is_u64(fg_rd(&g, VIRTIO_MMIO_MAGIC_VALUE), 0x74726976, "magic is \"virt\"");
    is_int(fg_rd(&g, VIRTIO_MMIO_VERSION), 2, "version 2 (modern)");
    is_int(fg_rd(&g, VIRTIO_MMIO_DEVICE_ID), 4, "device id 4 (entropy)");
    fg_wr(&g, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
    is_int(fg_rd(&g, VIRTIO_MMIO_DEVICE_FEATURES), 1, "VERSION_1 offered (bit 32)");
    fg_wr(&g, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 7);
    is_int(fg_rd(&g, VIRTIO_MMIO_DEVICE_FEATURES), 0, "feature word 7 reads 0");
    fg_wr(&g, VIRTIO_MMIO_QUEUE_SEL, 0);
    is_int(fg_rd(&g, VIRTIO_MMIO_QUEUE_NUM_MAX), 64, "queue 0 max 64");
    fg_wr(&g, VIRTIO_MMIO_QUEUE_SEL, 1);
    is_int(fg_rd(&g, VIRTIO_MMIO_QUEUE_NUM_MAX), 0, "queue 1 does not exist");
    fg_wr(&g, VIRTIO_MMIO_QUEUE_SEL, 0xffffffff);
    fg_wr(&g, VIRTIO_MMIO_QUEUE_READY, 1);
    is_int(fg_rd(&g, VIRTIO_MMIO_QUEUE_READY), 0, "enabling a missing queue does nothing");
    is_u64(fg_rd(&g, VIRTIO_MMIO_SHM_LEN_LOW), 0xffffffff, "no shared memory regions");
    uint8_t b[4] = {1, 2, 3, 4};
    virtio_mmio_read(g.t, VIRTIO_MMIO_MAGIC_VALUE, b, 2);
    ok(b[0] == 0 && b[1] == 0 && b[2] == 3, "2-byte register read returns 0, touches 2 bytes");
    virtio_mmio_read(g.t, 0x1001, b, 4);
    ok(!b[0] && !b[1] && !b[2] && !b[3], "read past the window returns 0");
    virtio_mmio_read(g.t, VIRTIO_MMIO_CONFIG, b, 1);
    is_int(b[0], 0, "rng has an empty config space");
    virtio_mmio_write(g.t, VIRTIO_MMIO_STATUS, b, 2);   /* ignored */
    is_int(fg_rd(&g, VIRTIO_MMIO_STATUS), 0, "2-byte register write ignored");
    done(&g, r);
}

static void test_features(void)
{
    struct fake_guest g;
    struct cc_virtio_rng *r = mk(&g);
    uint32_t st = fg_features(&g, 0, 0);
    ok(!(st & VIRTIO_STATUS_FEATURES_OK), "a driver without VERSION_1 is refused");
    fg_driver_ok(&g);
    ok(failed_with(&g, "DRIVER_OK"), "DRIVER_OK without FEATURES_OK fails the device");
    st = fg_features(&g, 1u << 28, 1);
    ok(!(st & VIRTIO_STATUS_FEATURES_OK), "a driver accepting an unoffered bit is refused");
    ok(!virtio_mmio_failure(g.t), "reset (status 0) clears the failure");
    st = fg_features(&g, 0, 1);
    ok(st & VIRTIO_STATUS_FEATURES_OK, "VERSION_1 only: accepted");
    ok(virtio_mmio_has_feature(g.t, VIRTIO_F_VERSION_1), "VERSION_1 negotiated");
    fg_wr(&g, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
    fg_wr(&g, VIRTIO_MMIO_DRIVER_FEATURES, 0xffffffff);
    ok(!virtio_mmio_has_feature(g.t, 0), "features are fixed after FEATURES_OK");
    fg_wr(&g, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
    ok(fg_rd(&g, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK,
       "FEATURES_OK cannot be cleared without a reset");
    done(&g, r);
}

/* One bad layout: configure, enable, expect failure with `needle`. */
static void bad_layout(const char *what, uint32_t num, uint64_t desc, uint64_t avail,
                       uint64_t used, const char *needle)
{
    struct fake_guest g;
    struct cc_virtio_rng *r = mk(&g);
    fg_negotiate(&g);
    fg_queue_raw(&g, 0, num, desc, avail, used);
    ok(failed_with(&g, needle) && fg_rd(&g, VIRTIO_MMIO_QUEUE_READY) == 0,
       "layout: %s fails the device, queue not enabled", what);
    /* Recover with a reset and a good layout. */
    fg_negotiate(&g);
    fg_queue(&g, 0, 8, RING);
    fg_driver_ok(&g);
    ok(!virtio_mmio_failure(g.t) && fg_rd(&g, VIRTIO_MMIO_QUEUE_READY) == 1,
       "layout: %s: a reset recovers", what);
    done(&g, r);
}

static void test_layouts(void)
{
    bad_layout("size 3 (not a power of 2)", 3, RING, RING + 0x100, RING + 0x200, "power of 2");
    bad_layout("size 0", 0, RING, RING + 0x100, RING + 0x200, "power of 2");
    bad_layout("size 128 > max 64", 128, RING, RING + 0x800, RING + 0xa00, "power of 2");
    bad_layout("size 0x10008 (truncation)", 0x10008, RING, RING + 0x100, RING + 0x200,
               "power of 2");
    bad_layout("descriptor table misaligned", 8, RING + 8, RING + 0x100, RING + 0x200,
               "misaligned");
    bad_layout("available ring misaligned", 8, RING, RING + 0x101, RING + 0x200, "misaligned");
    bad_layout("used ring misaligned", 8, RING, RING + 0x100, RING + 0x202, "misaligned");
    bad_layout("descriptor table past RAM", 8, MEM - 0x40, RING + 0x100, RING + 0x200,
               "descriptor table");
    bad_layout("available ring past RAM", 8, RING, MEM - 4, RING + 0x200, "available ring");
    bad_layout("used ring straddles the end of RAM", 8, RING, RING + 0x100, MEM - 0x20,
               "used ring");
    bad_layout("addresses near 2^64", 8, 0xfffffffffffffff0ull, RING + 0x100, RING + 0x200,
               "outside guest RAM");
    bad_layout("used ring at 2^63", 8, RING, RING + 0x100, 1ull << 63, "outside guest RAM");
}

/* A queue that is live; fill in descriptors by hand, then kick. */
static void bad_chain(const char *what, void (*setup)(struct fake_guest *), const char *needle)
{
    struct fake_guest g;
    struct cc_virtio_rng *r = mk_live(&g);
    uint64_t served = r->served;
    setup(&g);
    fg_kick(&g, 0);
    ok(failed_with(&g, needle), "chain: %s fails the device", what);
    is_u64(r->served, served, "chain: %s: nothing was written", what);
    is_int(le16(g.mem + g.q[0].used + 2), 0, "chain: %s: nothing was returned", what);
    /* Further notifications are ignored while failed. */
    fg_kick(&g, 0);
    is_u64(r->served, served, "chain: %s: ignored until reset", what);
    done(&g, r);
}

static void ch_outside(struct fake_guest *g)
{
    fg_put_desc(g, 0, 0, MEM - 16, 32, CC_VRING_DESC_F_WRITE, 0);
    fg_publish(g, 0, 0);
}
static void ch_wrap(struct fake_guest *g)
{
    fg_put_desc(g, 0, 0, 0xfffffffffffffff0ull, 0x20, CC_VRING_DESC_F_WRITE, 0);
    fg_publish(g, 0, 0);
}
static void ch_head(struct fake_guest *g)
{
    fg_publish(g, 0, 8);
}
static void ch_next(struct fake_guest *g)
{
    fg_put_desc(g, 0, 0, BUF, 16, CC_VRING_DESC_F_WRITE | CC_VRING_DESC_F_NEXT, 9);
    fg_publish(g, 0, 0);
}
static void ch_loop(struct fake_guest *g)
{
    fg_put_desc(g, 0, 0, BUF, 16, CC_VRING_DESC_F_WRITE | CC_VRING_DESC_F_NEXT, 1);
    fg_put_desc(g, 0, 1, BUF, 16, CC_VRING_DESC_F_WRITE | CC_VRING_DESC_F_NEXT, 0);
    fg_publish(g, 0, 0);
}
static void ch_self(struct fake_guest *g)
{
    fg_put_desc(g, 0, 3, BUF, 16, CC_VRING_DESC_F_WRITE | CC_VRING_DESC_F_NEXT, 3);
    fg_publish(g, 0, 3);
}
static void ch_indirect(struct fake_guest *g)
{
    fg_put_desc(g, 0, 0, BUF, 64, CC_VRING_DESC_F_INDIRECT, 0);
    fg_publish(g, 0, 0);
}
static void ch_order(struct fake_guest *g)
{
    fg_put_desc(g, 0, 0, BUF, 16, CC_VRING_DESC_F_WRITE | CC_VRING_DESC_F_NEXT, 1);
    fg_put_desc(g, 0, 1, BUF + 16, 16, 0, 0);
    fg_publish(g, 0, 0);
}
static void ch_jump(struct fake_guest *g)
{
    fg_put_desc(g, 0, 0, BUF, 16, CC_VRING_DESC_F_WRITE, 0);
    put_le16(g->mem + g->q[0].avail + 2, 9);      /* 9 > queue size 8 */
}
static void ch_ring_gone(struct fake_guest *g)
{
    /* A good chain, but the guest shrinks "RAM" under the queue (as a
     * snapshot of a smaller VM could): every access is re-checked. */
    fg_put_desc(g, 0, 0, BUF, 16, CC_VRING_DESC_F_WRITE, 0);
    fg_publish(g, 0, 0);
    g->size = RING;
}

static void test_chains(void)
{
    bad_chain("buffer past the end of RAM", ch_outside, "outside guest RAM");
    bad_chain("buffer address wraps around 2^64", ch_wrap, "outside guest RAM");
    bad_chain("head index >= queue size", ch_head, "names descriptor 8");
    bad_chain("next index >= queue size", ch_next, "next 9");
    bad_chain("two-descriptor loop", ch_loop, "longer than the queue");
    bad_chain("descriptor pointing at itself", ch_self, "longer than the queue");
    bad_chain("indirect descriptor", ch_indirect, "indirect");
    bad_chain("readable after writable", ch_order, "device-readable but follows");
    bad_chain("available index jumps past the queue size", ch_jump, "jumped");
    bad_chain("rings outside RAM at use time", ch_ring_gone, "outside guest RAM");
}

static void test_full_length_chain(void)
{
    /* A chain using all 8 descriptors is legal; 8 chained into a loop is not. */
    struct fake_guest g;
    struct cc_virtio_rng *r = mk_live(&g);
    struct fake_seg s[8];
    for (int i = 0; i < 8; i++)
        s[i] = (struct fake_seg){BUF + 4u * i, 4, true};
    uint16_t head = fg_add(&g, 0, s, 8);
    fg_kick(&g, 0);
    uint32_t id, len;
    ok(fg_used(&g, 0, &id, &len) && id == head && len == 32,
       "a chain of queue-size descriptors is served (32 bytes)");
    ok(!virtio_mmio_failure(g.t), "no failure");
    done(&g, r);
}

static void test_zero_length(void)
{
    /* Zero-length buffers, even at the very end of RAM, are legal. */
    struct fake_guest g;
    struct cc_virtio_rng *r = mk_live(&g);
    struct fake_seg s[2] = {{MEM, 0, true}, {BUF, 4, true}};
    fg_add(&g, 0, s, 2);
    fg_kick(&g, 0);
    uint32_t id, len;
    ok(fg_used(&g, 0, &id, &len) && len == 4 && !virtio_mmio_failure(g.t),
       "zero-length buffer at the end of RAM accepted");
    done(&g, r);
}

static void test_interrupts(void)
{
    struct fake_guest g;
    struct cc_virtio_rng *r = mk_live(&g);
    struct fake_seg s = {BUF, 16, true};
    fg_add(&g, 0, &s, 1);
    fg_add(&g, 0, &s, 1);
    fg_kick(&g, 0);
    is_int(g.irq.raises, 1, "irq: one edge for a batch of two");
    is_int(g.irq.line, 5, "irq: on the configured line");
    is_int(fg_rd(&g, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_INT_USED, "irq: status = used");
    fg_add(&g, 0, &s, 1);
    fg_kick(&g, 0);
    is_int(g.irq.raises, 1, "irq: no new edge before ACK");
    fg_wr(&g, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_INT_USED);
    ok(g.irq.level == 0 && g.irq.lowers == 1, "irq: ACK to 0 lowers the line");
    fg_add(&g, 0, &s, 1);
    fg_kick(&g, 0);
    is_int(g.irq.raises, 2, "irq: next completion gives a new edge");
    fg_wr(&g, VIRTIO_MMIO_INTERRUPT_ACK, 0xffffffff);
    /* Suppression. */
    put_le16(g.mem + g.q[0].avail, CC_VRING_AVAIL_F_NO_INTERRUPT);
    fg_add(&g, 0, &s, 1);
    fg_kick(&g, 0);
    uint32_t id, len;
    while (fg_used(&g, 0, &id, &len))
        ;
    ok(g.irq.raises == 2 && fg_rd(&g, VIRTIO_MMIO_INTERRUPT_STATUS) == 0,
       "irq: VRING_AVAIL_F_NO_INTERRUPT suppresses it");
    put_le16(g.mem + g.q[0].avail, 0);
    /* Config change and failure interrupts. */
    uint32_t gen = fg_rd(&g, VIRTIO_MMIO_CONFIG_GENERATION);
    virtio_mmio_config_changed(g.t);
    ok(fg_rd(&g, VIRTIO_MMIO_CONFIG_GENERATION) == gen + 1 &&
       fg_rd(&g, VIRTIO_MMIO_INTERRUPT_STATUS) == VIRTIO_INT_CONFIG,
       "config change: generation bumped, config interrupt");
    fg_wr(&g, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_INT_CONFIG);
    virtio_mmio_fail(g.t, "test failure %d", 42);
    ok(fg_rd(&g, VIRTIO_MMIO_INTERRUPT_STATUS) == VIRTIO_INT_CONFIG && g.irq.level == 1,
       "failure sends a config-change interrupt to a running driver");
    is_str(cc_virtio_rng_failure(r), "test failure 42", "failure reason kept");
    virtio_mmio_fail(g.t, "second");
    is_str(cc_virtio_rng_failure(r), "test failure 42", "the first reason wins");
    fg_wr(&g, VIRTIO_MMIO_STATUS, 0);
    ok(g.irq.level == 0 && fg_rd(&g, VIRTIO_MMIO_INTERRUPT_STATUS) == 0,
       "reset lowers the line");
    done(&g, r);
}

struct marks {
    uint64_t lo[64], hi[64];
    unsigned n;
};

static void mark(void *opaque, uint64_t gpa, uint64_t len)
{
    struct marks *m = opaque;
    if (m->n < 64) {
        m->lo[m->n] = gpa;
        m->hi[m->n] = gpa + len;
    }
    m->n++;
}

static bool marked(const struct marks *m, uint64_t a, uint64_t b)
{
    for (uint64_t x = a; x < b; x++) {
        bool hit = false;
        for (unsigned i = 0; i < m->n && i < 64 && !hit; i++)
            hit = x >= m->lo[i] && x < m->hi[i];
        if (!hit)
            return false;
    }
    return true;
}

static void test_dirty_hook(void)
{
    struct fake_guest g;
    struct cc_virtio_rng *r = mk_live(&g);
    struct marks mk = {0};
    virtio_mmio_set_dirty_hook(g.t, mark, &mk);
    struct fake_seg s[3] = {{BUF + 0x800, 16, false}, {BUF, 10, true}, {BUF + 0x400, 6, true}};
    fg_add(&g, 0, s, 3);
    fg_kick(&g, 0);
    uint64_t used = g.q[0].used;
    ok(marked(&mk, BUF, BUF + 10) && marked(&mk, BUF + 0x400, BUF + 0x406),
       "dirty hook: every written buffer byte reported");
    ok(marked(&mk, used + 2, used + 4) && marked(&mk, used + 4, used + 12),
       "dirty hook: used index and element reported");
    ok(!marked(&mk, BUF + 0x800, BUF + 0x801) && !marked(&mk, g.q[0].avail, g.q[0].avail + 1),
       "dirty hook: nothing only read is reported");
    is_int(mk.n, 4, "dirty hook: 4 ranges (2 buffers, used element, used index)");
    done(&g, r);
}

static void test_deferred_notify(void)
{
    struct fake_guest g;
    struct cc_virtio_rng *r = mk(&g);
    fg_negotiate(&g);
    fg_queue(&g, 0, 8, RING);
    struct fake_seg s = {BUF, 16, true};
    fg_add(&g, 0, &s, 1);
    fg_kick(&g, 0);
    uint32_t id, len;
    ok(!fg_used(&g, 0, &id, &len), "no work before DRIVER_OK");
    fg_driver_ok(&g);
    ok(fg_used(&g, 0, &id, &len) && len == 16, "the early notification runs at DRIVER_OK");
    done(&g, r);
}

static void test_ready_toggle(void)
{
    struct fake_guest g;
    struct cc_virtio_rng *r = mk_live(&g);
    fg_wr(&g, VIRTIO_MMIO_QUEUE_SEL, 0);
    fg_wr(&g, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x40);
    is_u64(g.t->vq[0].desc, RING, "a live queue's address cannot change");
    fg_wr(&g, VIRTIO_MMIO_QUEUE_READY, 0);
    is_int(fg_rd(&g, VIRTIO_MMIO_QUEUE_READY), 0, "QueueReady 0 disables the queue");
    struct fake_seg s = {BUF, 16, true};
    fg_add(&g, 0, &s, 1);
    fg_kick(&g, 0);
    uint32_t id, len;
    ok(!fg_used(&g, 0, &id, &len), "a disabled queue is not served");
    done(&g, r);
}

/* ---- snapshots ---- */

static void test_save_load(void)
{
    struct fake_guest g;
    struct cc_virtio_rng *r = mk_live(&g);
    struct fake_seg s = {BUF, 16, true};
    fg_add(&g, 0, &s, 1);
    fg_kick(&g, 0);
    struct cc_buf b;
    buf_init(&b);
    virtio_mmio_save(g.t, &b);

    struct fake_guest g2;
    struct cc_virtio_rng *r2 = mk(&g2);
    struct cc_rd rd;
    struct cc_err err = {0};
    rd_init(&rd, b.data, b.len);
    ok(virtio_mmio_load(g2.t, &rd, &err) == 0, "transport state loads");
    struct cc_buf b2;
    buf_init(&b2);
    virtio_mmio_save(g2.t, &b2);
    ok(b.len == b2.len && !memcmp(b.data, b2.data, b.len), "save(load(x)) == x");

    /* Every truncation is refused and changes nothing. */
    int refused = 0;
    for (size_t n = 0; n < b.len; n++) {
        rd_init(&rd, b.data, n);
        if (virtio_mmio_load(g2.t, &rd, &err) < 0)
            refused++;
    }
    is_int(refused, (int)b.len, "all %zu truncations refused", b.len);
    buf_free(&b2);
    buf_init(&b2);
    virtio_mmio_save(g2.t, &b2);
    ok(b.len == b2.len && !memcmp(b.data, b2.data, b.len), "refused loads left the state");

    /* Corrupt fields. */
    struct { size_t off; uint8_t val; const char *what; } bad[] = {
        {0, 9, "version"},
        {1, 3, "device id"},
        {5, 0x20, "unknown status bit"},
        {29, 7, "interrupt status"},
        {45, 2, "irq level flag"},
        {46, 1, "failed without a reason"},
        {49, 2, "queue count"},
        {50, 0x81, "live queue above max"},
        {50, 0x03, "live queue size not a power of 2"},
        {53, 0x01, "live queue with a misaligned descriptor table"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint8_t *c = malloc(b.len);
        memcpy(c, b.data, b.len);
        c[bad[i].off] = bad[i].val;
        rd_init(&rd, c, b.len);
        err.msg[0] = 0;
        ok(virtio_mmio_load(g2.t, &rd, &err) < 0 && err.msg[0],
           "corrupt %s refused (%s)", bad[i].what, err.msg);
        free(c);
    }
    buf_free(&b);
    buf_free(&b2);

    /* States a driver can reach must load: a queue being set up holds any
     * size; a failed device keeps its reason. */
    fg_wr(&g, VIRTIO_MMIO_QUEUE_READY, 0);
    fg_wr(&g, VIRTIO_MMIO_QUEUE_NUM, 300);
    virtio_mmio_fail(g.t, "a reason");
    buf_init(&b);
    virtio_mmio_save(g.t, &b);
    rd_init(&rd, b.data, b.len);
    ok(virtio_mmio_load(g2.t, &rd, &err) == 0 && g2.t->vq[0].num == 300 &&
       !strcmp(virtio_mmio_failure(g2.t), "a reason"),
       "an unready queue of size 300 and a failure round-trip (%s)", err.msg);
    size_t at = 49;                 /* first byte of the reason */
    b.data[at] = 0;
    rd_init(&rd, b.data, b.len);
    ok(virtio_mmio_load(g2.t, &rd, &err) < 0, "NUL inside the reason refused: %s", err.msg);
    b.data[at] = 0x1b;
    rd_init(&rd, b.data, b.len);
    ok(virtio_mmio_load(g2.t, &rd, &err) < 0, "control character in the reason refused");
    buf_free(&b);
    done(&g, r);
    done(&g2, r2);
}

/* ---- random robustness ---- */

static void test_random(void)
{
    struct fake_guest g;
    struct cc_virtio_rng *r = mk(&g);
    struct cc_rng prng;
    rng_init(&prng, 1234, "vq-random");
    static const uint16_t regs[] = {
        VIRTIO_MMIO_DEVICE_FEATURES_SEL, VIRTIO_MMIO_DRIVER_FEATURES,
        VIRTIO_MMIO_DRIVER_FEATURES_SEL, VIRTIO_MMIO_QUEUE_SEL, VIRTIO_MMIO_QUEUE_NUM,
        VIRTIO_MMIO_QUEUE_READY, VIRTIO_MMIO_QUEUE_NOTIFY, VIRTIO_MMIO_INTERRUPT_ACK,
        VIRTIO_MMIO_STATUS, VIRTIO_MMIO_QUEUE_DESC_LOW, VIRTIO_MMIO_QUEUE_DESC_HIGH,
        VIRTIO_MMIO_QUEUE_AVAIL_LOW, VIRTIO_MMIO_QUEUE_USED_LOW,
    };
    unsigned failures = 0, served = 0;
    for (int i = 0; i < 200000; i++) {
        uint64_t x = rng_u64(&prng);
        switch (x & 7) {
        case 0: /* scribble on RAM, mostly on the rings */
            g.mem[(x >> 8) % (x & 8 ? 0x1000 : MEM)] = (uint8_t)(x >> 40);
            break;
        case 1: { /* a plausible descriptor */
            uint8_t *d = g.mem + ((x >> 8) & 0x3f) * 16;
            static const uint16_t fl[] = {CC_VRING_DESC_F_WRITE, CC_VRING_DESC_F_WRITE,
                                          CC_VRING_DESC_F_WRITE | CC_VRING_DESC_F_NEXT, 0,
                                          CC_VRING_DESC_F_NEXT, CC_VRING_DESC_F_INDIRECT,
                                          CC_VRING_DESC_F_WRITE, CC_VRING_DESC_F_WRITE};
            put_le64(d, 0x2000 + ((x >> 16) & 0xdfff));
            put_le32(d + 8, (uint32_t)(x >> 32) & 0x3ff);
            put_le16(d + 12, fl[(x >> 42) & 7]);
            put_le16(d + 14, (uint16_t)((x >> 45) & 0xf));
            break;
        }
        case 2: /* bring it up sensibly */
            memset(g.mem + 0x400, 0, 0xc00);    /* a fresh driver starts its rings at 0 */
            fg_negotiate(&g);
            fg_queue_raw(&g, 0, 1u << ((x >> 8) % 7), 0, 0x400, 0x800);
            fg_driver_ok(&g);
            break;
        case 3: { /* publish a head and notify */
            uint16_t idx = le16(g.mem + 0x402);
            put_le16(g.mem + 0x404 + 2 * (idx % 64), (uint16_t)((x >> 8) & 0x3f));
            put_le16(g.mem + 0x402, (uint16_t)(idx + ((x & 0xf0000) == 0 ? (x >> 20) : 1)));
            fg_kick(&g, 0);
            break;
        }
        default: {
            uint32_t v = (uint32_t)(x >> 32);
            if (x & 0x100)
                v &= 0xff;
            fg_wr(&g, regs[(x >> 12) % (sizeof(regs) / sizeof(regs[0]))], v);
            break;
        }
        }
        if (virtio_mmio_failure(g.t))
            failures++;
        served = (unsigned)r->served;
        if (g.irq.level != (fg_rd(&g, VIRTIO_MMIO_INTERRUPT_STATUS) != 0))
            break;
    }
    ok(1, "200k random register writes and RAM scribbles: no crash, no access outside RAM");
    ok(g.irq.level == (fg_rd(&g, VIRTIO_MMIO_INTERRUPT_STATUS) != 0),
       "the line always follows InterruptStatus");
    tap_diag("random run: %u steps in the failed state, %u bytes served", failures, served);
    done(&g, r);
}

int main(void)
{
    test_identity();
    test_features();
    test_layouts();
    test_chains();
    test_full_length_chain();
    test_zero_length();
    test_interrupts();
    test_dirty_hook();
    test_deferred_notify();
    test_ready_toggle();
    test_save_load();
    test_random();
    return tap_exit();
}
