/* Unit tests for virtio-net and the wire (src/devices/virtio_net.h,
 * src/sim/wire.h): config (MAC, link status), TX to the endpoint with the
 * header stripped and bad frames dropped, RX delivery with header, frames
 * queued before the guest has buffers, the bounded queue with drops, small
 * buffers, link down, malformed TX chains, a wire between two devices, and
 * snapshots that keep pending frames. */
#include <errno.h>

#include "../tap.h"
#include "devices/virtio_net.h"
#include "sim/wire.h"
#include "virtio_fake.h"

#define MEM (1u << 20)
#define RXRING 0x1000u
#define TXRING 0x3000u
#define RXB 0x10000u
#define TXB 0x80000u

struct txlog {
    uint8_t frames[16][CC_NET_MAX_FRAME];
    size_t len[16];
    unsigned n;
};

static void tx_cb(void *opaque, const uint8_t *frame, size_t len)
{
    struct txlog *l = opaque;
    if (l->n < 16) {
        memcpy(l->frames[l->n], frame, len);
        l->len[l->n] = len;
    }
    l->n++;
}

static const uint8_t mac0[6] = {0x02, 0xcc, 0, 0, 0, 1};

static struct cc_virtio_net *mk(struct fake_guest *g, bool up)
{
    fg_mem(g, MEM);
    struct cc_virtio_net *n;
    struct cc_err err = {0};
    if (virtio_net_create(mac0, &g->mem, &g->size, fg_sink(g), 7, &n, &err) < 0)
        tap_bail("net create: %s", err.msg);
    g->t = &n->mmio;
    if (up) {
        fg_negotiate(g);
        fg_queue(g, CC_NET_RXQ, 16, RXRING);
        fg_queue(g, CC_NET_TXQ, 16, TXRING);
        fg_driver_ok(g);
    }
    return n;
}

static void done(struct fake_guest *g, struct cc_virtio_net *n)
{
    virtio_net_destroy(n);
    fg_free(g);
}

static void post_rx(struct fake_guest *g, unsigned count, uint32_t size)
{
    for (unsigned i = 0; i < count; i++) {
        struct fake_seg s = {RXB + (g->q[0].avail_idx % 16) * 2048u, size, true};
        fg_add(g, CC_NET_RXQ, &s, 1);
    }
    fg_kick(g, CC_NET_RXQ);
}

static void send(struct fake_guest *g, const void *frame, uint32_t len)
{
    uint64_t at = TXB + (g->q[1].avail_idx % 16) * 2048u;
    memset(g->mem + at, 0, CC_NET_HDR_LEN);
    memcpy(g->mem + at + 64, frame, len);
    struct fake_seg s[2] = {{at, CC_NET_HDR_LEN, false}, {at + 64, len, false}};
    fg_add(g, CC_NET_TXQ, s, 2);
    fg_kick(g, CC_NET_TXQ);
}

static void test_config_tx(void)
{
    struct fake_guest g;
    struct cc_virtio_net *n = mk(&g, true);
    uint8_t cfg[8];
    virtio_mmio_read(g.t, VIRTIO_MMIO_CONFIG, cfg, 8);
    ok(!memcmp(cfg, mac0, 6), "config: MAC");
    is_int(le16(cfg + 6), VIRTIO_NET_S_LINK_UP, "config: link up");
    ok(virtio_mmio_has_feature(g.t, VIRTIO_NET_F_MAC) &&
       virtio_mmio_has_feature(g.t, VIRTIO_NET_F_STATUS), "MAC and STATUS negotiated");

    struct txlog log = {0};
    cc_virtio_net_set_endpoint(n, tx_cb, &log);
    uint8_t frame[60];
    for (int i = 0; i < 60; i++)
        frame[i] = (uint8_t)i;
    send(&g, frame, 60);
    ok(log.n == 1 && log.len[0] == 60 && !memcmp(log.frames[0], frame, 60),
       "TX: the endpoint gets the frame without the header");
    uint32_t id, len;
    ok(fg_used(&g, CC_NET_TXQ, &id, &len) && len == 0, "TX: buffer returned, used length 0");
    static uint8_t big[2000];
    send(&g, big, CC_NET_MAX_FRAME + 1);
    send(&g, big, 0);
    struct cc_net_stats st;
    cc_virtio_net_stats(n, &st);
    ok(log.n == 1 && st.tx_dropped == 2 && st.tx_frames == 1 && st.tx_bytes == 60,
       "TX: oversized and empty frames dropped and counted");
    send(&g, big, CC_NET_MAX_FRAME);
    ok(log.n == 2 && log.len[1] == CC_NET_MAX_FRAME, "TX: a maximal frame passes");

    uint32_t gen = fg_rd(&g, VIRTIO_MMIO_CONFIG_GENERATION);
    fg_wr(&g, VIRTIO_MMIO_INTERRUPT_ACK, 3);
    cc_virtio_net_set_link(n, false);
    virtio_mmio_read(g.t, VIRTIO_MMIO_CONFIG + 6, cfg, 2);
    ok(le16(cfg) == 0 && fg_rd(&g, VIRTIO_MMIO_CONFIG_GENERATION) == gen + 1 &&
       (fg_rd(&g, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_INT_CONFIG),
       "link down: status 0, generation bumped, config interrupt");
    send(&g, frame, 60);
    is_int(log.n, 2, "link down: TX dropped");
    is_int(cc_virtio_net_inject(n, frame, 60), -ENETDOWN, "link down: RX dropped");
    cc_virtio_net_set_link(n, true);
    done(&g, n);
}

static void test_rx(void)
{
    struct fake_guest g;
    struct cc_virtio_net *n = mk(&g, false);
    uint8_t frame[100];
    for (int i = 0; i < 100; i++)
        frame[i] = (uint8_t)(i ^ 0x5a);
    is_int(cc_virtio_net_inject(n, frame, 100), 0, "inject before the driver runs: queued");
    frame[0] = 1;
    cc_virtio_net_inject(n, frame, 50);
    struct cc_net_stats st;
    cc_virtio_net_stats(n, &st);
    is_int(st.rx_queued, 2, "two frames pending");

    fg_negotiate(&g);
    fg_queue(&g, CC_NET_RXQ, 16, RXRING);
    fg_queue(&g, CC_NET_TXQ, 16, TXRING);
    fg_driver_ok(&g);
    post_rx(&g, 1, 1536);
    uint32_t id, len;
    ok(fg_used(&g, CC_NET_RXQ, &id, &len) && len == CC_NET_HDR_LEN + 100,
       "first pending frame delivered when a buffer is posted");
    const uint8_t *p = g.mem + RXB;
    ok(le16(p + 10) == 1 && p[0] == 0 && p[1] == 0, "header: no flags, num_buffers 1");
    ok(p[CC_NET_HDR_LEN] == (0 ^ 0x5a) && p[CC_NET_HDR_LEN + 99] == (99 ^ 0x5a),
       "frame bytes follow the header");
    ok(g.irq.level == 1, "RX interrupt raised");
    ok(!fg_used(&g, CC_NET_RXQ, &id, &len), "second frame waits for another buffer");
    post_rx(&g, 2, 1536);
    ok(fg_used(&g, CC_NET_RXQ, &id, &len) && len == CC_NET_HDR_LEN + 50, "second frame, in order");
    ok(!fg_used(&g, CC_NET_RXQ, &id, &len), "one buffer left posted");
    is_int(cc_virtio_net_inject(n, frame, 64), 0, "inject with a buffer posted");
    ok(fg_used(&g, CC_NET_RXQ, &id, &len) && len == CC_NET_HDR_LEN + 64, "delivered at once");

    /* A buffer too small for the frame: returned empty, frame dropped. */
    post_rx(&g, 1, 40);
    cc_virtio_net_inject(n, frame, 100);
    ok(fg_used(&g, CC_NET_RXQ, &id, &len) && len == 0, "too-small buffer returned empty");
    cc_virtio_net_stats(n, &st);
    ok(st.rx_too_small == 1 && st.rx_queued == 0, "frame dropped and counted");

    /* A buffer split over descriptors: header in one, frame in others. */
    struct fake_seg s[3] = {{RXB, CC_NET_HDR_LEN, true}, {RXB + 0x100, 30, true},
                            {RXB + 0x200, 1500, true}};
    fg_add(&g, CC_NET_RXQ, s, 3);
    fg_kick(&g, CC_NET_RXQ);
    cc_virtio_net_inject(n, frame, 100);
    ok(fg_used(&g, CC_NET_RXQ, &id, &len) && len == 112 && g.mem[RXB + 0x100] == frame[0] &&
       g.mem[RXB + 0x200] == frame[30], "split RX buffer filled in order");

    is_int(cc_virtio_net_inject(n, frame, 0), -EMSGSIZE, "empty frame refused");
    is_int(cc_virtio_net_inject(n, frame, CC_NET_MAX_FRAME + 1), -EMSGSIZE, "oversized refused");
    done(&g, n);
}

static void test_queue_limit(void)
{
    struct fake_guest g;
    struct cc_virtio_net *n = mk(&g, true);
    cc_virtio_net_set_rx_limit(n, 4);
    uint8_t f[64] = {0};
    int okc = 0, dropped = 0;
    for (int i = 0; i < 10; i++) {
        f[0] = (uint8_t)i;
        int r = cc_virtio_net_inject(n, f, 64);
        okc += r == 0;
        dropped += r == -ENOBUFS;
    }
    ok(okc == 4 && dropped == 6, "limit 4: 4 queued, 6 dropped");
    struct cc_net_stats st;
    cc_virtio_net_stats(n, &st);
    ok(st.rx_dropped == 6 && st.rx_queued == 4, "drops counted");
    cc_virtio_net_set_rx_limit(n, 2);
    cc_virtio_net_stats(n, &st);
    ok(st.rx_queued == 2 && st.rx_dropped == 8, "lowering the limit drops the newest");
    post_rx(&g, 4, 1536);
    uint32_t id, len;
    unsigned got = 0;
    uint8_t first[2];
    while (fg_used(&g, CC_NET_RXQ, &id, &len)) {
        if (got < 2)
            first[got] = g.mem[RXB + 2048u * got + CC_NET_HDR_LEN];
        got++;
    }
    ok(got == 2 && first[0] == 0 && first[1] == 1, "the oldest two frames arrive in order");
    done(&g, n);
}

static void test_bad_tx(void)
{
    struct fake_guest g;
    struct cc_virtio_net *n = mk(&g, true);
    struct fake_seg s[1] = {{TXB, 8, false}};
    fg_add(&g, CC_NET_TXQ, s, 1);
    fg_kick(&g, CC_NET_TXQ);
    ok(cc_virtio_net_failure(n) && strstr(cc_virtio_net_failure(n), "header"),
       "TX chain shorter than the header fails the device");
    fg_negotiate(&g);
    fg_queue(&g, CC_NET_RXQ, 16, RXRING);
    fg_queue(&g, CC_NET_TXQ, 16, TXRING);
    fg_driver_ok(&g);
    struct fake_seg w[2] = {{TXB, 12, false}, {TXB + 64, 60, true}};
    fg_add(&g, CC_NET_TXQ, w, 2);
    fg_kick(&g, CC_NET_TXQ);
    ok(cc_virtio_net_failure(n) != NULL, "TX chain with a writable buffer fails the device");
    uint8_t f[60] = {0};
    is_int(cc_virtio_net_inject(n, f, 60), 0, "a failed device still queues host frames");
    done(&g, n);
}

static void test_wire(void)
{
    struct fake_guest a, b;
    struct cc_virtio_net *na = mk(&a, true), *nb = mk(&b, true);
    struct cc_wire *w;
    struct cc_err err = {0};
    ok(wire_connect(na, nb, &w, &err) == 0, "wire connects");
    ok(wire_connect(na, na, &w, &err) < 0, "a wire needs two devices");
    post_rx(&b, 2, 1536);
    uint8_t f[80];
    memset(f, 0xab, sizeof(f));
    send(&a, f, 80);
    uint32_t id, len;
    ok(fg_used(&b, CC_NET_RXQ, &id, &len) && len == CC_NET_HDR_LEN + 80 &&
       b.mem[RXB + CC_NET_HDR_LEN] == 0xab, "A's frame arrives in B's RX buffer");
    ok(b.irq.level == 1, "B's interrupt raised");
    memset(f, 0xcd, sizeof(f));
    send(&b, f, 70);
    send(&b, f, 71);
    post_rx(&a, 2, 1536);
    unsigned got = 0;
    while (fg_used(&a, CC_NET_RXQ, &id, &len))
        got++;
    is_int(got, 2, "B's frames wait in A's device until A posts buffers");
    struct wire_stats ws;
    wire_stats(w, &ws);
    ok(ws.frames[0] == 1 && ws.frames[1] == 2 && !ws.dropped[0] && !ws.dropped[1],
       "wire statistics");
    wire_free(w);
    send(&a, f, 60);
    struct cc_net_stats st;
    cc_virtio_net_stats(na, &st);
    is_int(st.tx_dropped, 1, "unplugged: TX dropped");
    done(&a, na);
    done(&b, nb);
}

static void test_save_load(void)
{
    struct fake_guest g;
    struct cc_virtio_net *n = mk(&g, true);
    uint8_t f[300];
    for (int i = 0; i < 3; i++) {
        memset(f, i + 1, sizeof(f));
        cc_virtio_net_inject(n, f, 100u * (i + 1));
    }
    struct cc_buf s;
    buf_init(&s);
    virtio_net_save(n, &s);
    struct fake_guest g2;
    struct cc_virtio_net *n2 = mk(&g2, false);
    memcpy(g2.mem, g.mem, MEM);
    g2.q[0] = g.q[0];
    g2.q[1] = g.q[1];
    struct cc_rd rd;
    struct cc_err err = {0};
    rd_init(&rd, s.data, s.len);
    ok(virtio_net_load(n2, &rd, &err) == 0, "net state loads (%s)", err.msg);
    struct cc_net_stats st;
    cc_virtio_net_stats(n2, &st);
    is_int(st.rx_queued, 3, "pending frames restored");
    post_rx(&g2, 3, 1536);
    uint32_t id, len, lens[3] = {0};
    for (int i = 0; i < 3 && fg_used(&g2, CC_NET_RXQ, &id, &len); i++)
        lens[i] = len;
    ok(lens[0] == 112 && lens[1] == 212 && lens[2] == 312 && g2.mem[RXB + 2048 + 20] == 2,
       "and delivered in order after restore");

    int tried = 0, refused = 0;
    for (size_t k = 0; k < s.len; k += k < 200 ? 1 : 37) {
        tried++;
        rd_init(&rd, s.data, k);
        refused += virtio_net_load(n2, &rd, &err) < 0;
    }
    is_int(refused, tried, "%d truncations refused", tried);
    uint8_t *c = malloc(s.len);
    memcpy(c, s.data, s.len);
    size_t first_len = s.len - (3 * 2 + 600);
    put_le16(c + first_len, CC_NET_MAX_FRAME + 1);
    rd_init(&rd, c, s.len);
    ok(virtio_net_load(n2, &rd, &err) < 0, "oversized saved frame refused: %s", err.msg);
    free(c);
    buf_free(&s);
    done(&g, n);
    done(&g2, n2);
}

int main(void)
{
    test_config_tx();
    test_rx();
    test_queue_limit();
    test_bad_tx();
    test_wire();
    test_save_load();
    return tap_exit();
}
