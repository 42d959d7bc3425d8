/* Unit tests for virtio-balloon (src/devices/virtio_balloon.h): device id,
 * no optional features, the configuration space (target and actual), a
 * target change raises a configuration interrupt and bumps the generation,
 * inflate and deflate PFN arrays are counted (bad PFNs ignored), malformed
 * chains fail the device, a driver reset empties the balloon, and
 * snapshots round-trip with corrupt-input rejection. */
#include <errno.h>

#include "../tap.h"
#include "devices/virtio_balloon.h"
#include "virtio_fake.h"

#define MEM (256u << 10)        /* 64 pages */
#define RING0 0x1000u
#define RING1 0x3000u
#define BUF 0x10000u

static struct cc_virtio_balloon *mk(struct fake_guest *g)
{
    fg_mem(g, MEM);
    struct cc_virtio_balloon *b;
    struct cc_err err = {0};
    if (virtio_balloon_create(&g->mem, &g->size, fg_sink(g), 9, &b, &err) < 0)
        tap_bail("balloon create: %s", err.msg);
    g->t = &b->mmio;
    return b;
}

static void start(struct fake_guest *g)
{
    fg_negotiate(g);
    fg_queue(g, CC_BALLOON_INFLATEQ, 16, RING0);
    fg_queue(g, CC_BALLOON_DEFLATEQ, 16, RING1);
    fg_driver_ok(g);
}

static void done(struct fake_guest *g, struct cc_virtio_balloon *b)
{
    virtio_balloon_destroy(b);
    fg_free(g);
}

static uint32_t cfg32(struct fake_guest *g, unsigned off)
{
    uint8_t v[4];
    virtio_mmio_read(g->t, VIRTIO_MMIO_CONFIG + off, v, 4);
    return le32(v);
}

/* Send n PFNs (first, first+1, ...) on queue q; returns 1 when the chain
 * came back used. */
static int send_pfns(struct fake_guest *g, unsigned q, uint32_t first, unsigned n, uint64_t at)
{
    for (unsigned i = 0; i < n; i++)
        put_le32(g->mem + at + 4 * i, first + i);
    struct fake_seg s = {at, 4 * n, false};
    fg_add(g, q, &s, 1);
    fg_kick(g, q);
    uint32_t id, len;
    return fg_used(g, q, &id, &len) && len == 0;
}

static void test_identity(void)
{
    struct fake_guest g;
    struct cc_virtio_balloon *b = mk(&g);
    is_int(fg_rd(&g, VIRTIO_MMIO_DEVICE_ID), 5, "device id 5 (balloon)");
    fg_wr(&g, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
    is_int(fg_rd(&g, VIRTIO_MMIO_DEVICE_FEATURES), 0, "no optional features in the low word");
    fg_wr(&g, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
    is_int(fg_rd(&g, VIRTIO_MMIO_DEVICE_FEATURES), 1, "VERSION_1 in the high word");
    start(&g);
    ok(fg_rd(&g, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DRIVER_OK, "driver is up");
    is_int(cfg32(&g, 0), 0, "target starts at 0");
    is_int(cfg32(&g, 4), 0, "actual starts at 0");
    /* The statistics queue (2) does not exist. */
    fg_wr(&g, VIRTIO_MMIO_QUEUE_SEL, 2);
    is_int(fg_rd(&g, VIRTIO_MMIO_QUEUE_NUM_MAX), 0, "only two queues");
    done(&g, b);
}

static void test_inflate_deflate(void)
{
    struct fake_guest g;
    struct cc_virtio_balloon *b = mk(&g);
    start(&g);
    uint32_t gen = fg_rd(&g, VIRTIO_MMIO_CONFIG_GENERATION);
    int raises = g.irq.raises;
    cc_virtio_balloon_set_target(b, 20);
    is_int(cfg32(&g, 0), 20, "target shows in num_pages");
    ok(fg_rd(&g, VIRTIO_MMIO_CONFIG_GENERATION) == gen + 1, "config generation bumped");
    ok((fg_rd(&g, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_INT_CONFIG) && g.irq.raises == raises + 1 &&
       g.irq.line == 9, "configuration interrupt on line 9");
    fg_wr(&g, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_INT_CONFIG);
    cc_virtio_balloon_set_target(b, 20);
    ok(fg_rd(&g, VIRTIO_MMIO_CONFIG_GENERATION) == gen + 1, "same target: no change");

    ok(send_pfns(&g, CC_BALLOON_INFLATEQ, 10, 16, BUF), "inflate chain of 16 PFNs used");
    ok(send_pfns(&g, CC_BALLOON_INFLATEQ, 30, 4, BUF + 0x100), "inflate chain of 4 PFNs used");
    is_int(cfg32(&g, 4), 20, "actual counts 20 pages");
    ok(send_pfns(&g, CC_BALLOON_DEFLATEQ, 10, 5, BUF + 0x200), "deflate chain used");
    is_int(cfg32(&g, 4), 15, "actual back to 15");
    /* PFN 64 and beyond are outside 256 KiB of RAM. */
    ok(send_pfns(&g, CC_BALLOON_INFLATEQ, 62, 4, BUF + 0x300), "chain with bad PFNs used");
    struct cc_balloon_stats st;
    cc_virtio_balloon_stats(b, &st);
    is_u64(st.bad_pfns, 2, "2 PFNs outside RAM counted as bad");
    is_u64(st.actual_pages, 17, "the 2 good ones counted");
    is_u64(st.inflated, 22, "22 PFNs inflated in all");
    is_u64(st.deflated, 5, "5 deflated");
    is_u64(st.inflate_reqs, 3, "3 inflate requests");
    is_u64(st.target_pages, 20, "stats show the target");

    /* Deflating more than is held saturates at 0. */
    ok(send_pfns(&g, CC_BALLOON_DEFLATEQ, 0, 40, BUF + 0x400), "large deflate used");
    is_int(cfg32(&g, 4), 0, "actual never goes below 0");

    /* A driver reset empties the balloon; the target stays. */
    send_pfns(&g, CC_BALLOON_INFLATEQ, 0, 8, BUF);
    fg_wr(&g, VIRTIO_MMIO_STATUS, 0);
    is_int(cfg32(&g, 4), 0, "reset empties the balloon");
    is_int(cfg32(&g, 0), 20, "reset keeps the target");
    ok(cc_virtio_balloon_failure(b) == NULL, "device healthy");
    done(&g, b);
}

static void test_malformed(void)
{
    struct fake_guest g;
    struct cc_virtio_balloon *b = mk(&g);
    start(&g);
    struct fake_seg s = {BUF, 6, false};
    fg_add(&g, CC_BALLOON_INFLATEQ, &s, 1);
    fg_kick(&g, CC_BALLOON_INFLATEQ);
    ok(cc_virtio_balloon_failure(b) && strstr(cc_virtio_balloon_failure(b), "32-bit"),
       "a 6-byte PFN array fails the device: %s", cc_virtio_balloon_failure(b));
    ok(fg_rd(&g, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET, "needs reset");
    start(&g);
    ok(cc_virtio_balloon_failure(b) == NULL, "a reset clears the failure");
    struct fake_seg w[2] = {{BUF, 8, false}, {BUF + 0x100, 8, true}};
    fg_add(&g, CC_BALLOON_DEFLATEQ, w, 2);
    fg_kick(&g, CC_BALLOON_DEFLATEQ);
    ok(cc_virtio_balloon_failure(b) != NULL, "a writable buffer fails the device");
    done(&g, b);
}

static void test_save_load(void)
{
    struct fake_guest a, c;
    struct cc_virtio_balloon *ba = mk(&a), *bc = mk(&c);
    start(&a);
    start(&c);
    cc_virtio_balloon_set_target(ba, 12);
    send_pfns(&a, CC_BALLOON_INFLATEQ, 1, 7, BUF);
    struct cc_buf s;
    buf_init(&s);
    virtio_balloon_save(ba, &s);
    memcpy(c.mem, a.mem, MEM);
    c.q[0] = a.q[0];
    c.q[1] = a.q[1];
    struct cc_rd rd;
    struct cc_err err = {0};
    rd_init(&rd, s.data, s.len);
    ok(virtio_balloon_load(bc, &rd, &err) == 0 && rd_left(&rd) == 0, "state loads (%s)",
       err.msg);
    is_int(cfg32(&c, 0), 12, "target restored");
    is_int(cfg32(&c, 4), 7, "actual restored");
    send_pfns(&a, CC_BALLOON_INFLATEQ, 20, 3, BUF + 0x100);
    send_pfns(&c, CC_BALLOON_INFLATEQ, 20, 3, BUF + 0x100);
    struct cc_balloon_stats sa, sc;
    cc_virtio_balloon_stats(ba, &sa);
    cc_virtio_balloon_stats(bc, &sc);
    ok(!memcmp(&sa, &sc, sizeof(sa)), "restored device continues exactly (10 pages, 2 requests)");

    int refused = 0;
    for (size_t n = 0; n < s.len; n++) {
        rd_init(&rd, s.data, n);
        refused += virtio_balloon_load(bc, &rd, &err) < 0;
    }
    is_int(refused, (int)s.len, "every truncation refused");
    s.data[0] = 2;
    rd_init(&rd, s.data, s.len);
    ok(virtio_balloon_load(bc, &rd, &err) < 0 && strstr(err.msg, "version"),
       "newer version refused: %s", err.msg);
    buf_free(&s);
    done(&a, ba);
    done(&c, bc);
}

int main(void)
{
    test_identity();
    test_inflate_deflate();
    test_malformed();
    test_save_load();
    return tap_exit();
}
