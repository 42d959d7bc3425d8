/* Unit tests for the simulated network (src/sim/net.h), no VMs: switching
 * by MAC (unicast, broadcast, unroutable), latency, jitter with FIFO order,
 * bandwidth serialization and queue drops, a 20% loss rate measured over
 * many frames, corruption, reordering, duplication, partitions (also of
 * frames in flight) and heal, receivers that are down or refuse frames,
 * per-link random streams that other links' traffic does not disturb,
 * determinism per seed, and save/load that continues exactly. */
#include <errno.h>

#include "../tap.h"
#include "sim/net.h"

struct got {
    unsigned dst;
    uint64_t when;
    size_t len;
    uint8_t data[1600];
};

struct sink {
    struct got *g;
    size_t n, cap;
    uint64_t now;
    int refuse;                 /* refuse frames to this port + 1 */
};

static int take(void *opaque, unsigned dst, const uint8_t *frame, size_t len)
{
    struct sink *s = opaque;
    if (s->refuse && dst == (unsigned)s->refuse - 1)
        return -ENOBUFS;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 256;
        s->g = realloc(s->g, s->cap * sizeof(*s->g));
    }
    struct got *g = &s->g[s->n++];
    g->dst = dst;
    g->when = s->now;
    g->len = len;
    memcpy(g->data, frame, len < sizeof(g->data) ? len : sizeof(g->data));
    return 0;
}

static void mac_of(unsigned port, uint8_t mac[6])
{
    uint8_t m[6] = {0x52, 0x54, 0, 0, 0, (uint8_t)(port + 1)};
    memcpy(mac, m, 6);
}

static struct cc_fabric *mk(unsigned n, uint64_t seed, const struct cc_link_params *p)
{
    struct cc_fabric *f;
    struct cc_err err = {0};
    if (fabric_new(n, seed, p, &f, &err) < 0)
        tap_bail("fabric: %s", err.msg);
    for (unsigned i = 0; i < n; i++) {
        uint8_t mac[6];
        mac_of(i, mac);
        fabric_set_mac(f, i, mac);
    }
    return f;
}

/* An Ethernet frame from src to dst (dst < 0: broadcast), tagged with k. */
static size_t frame(uint8_t *buf, int src, int dst, uint32_t k, size_t len)
{
    memset(buf, 0, len);
    if (dst < 0)
        memset(buf, 0xff, 6);
    else
        mac_of((unsigned)dst, buf);
    mac_of((unsigned)src, buf + 6);
    buf[12] = 0x08;
    memcpy(buf + 14, &k, 4);
    for (size_t i = 18; i < len; i++)
        buf[i] = (uint8_t)(i * 7 + k);
    return len;
}

static uint32_t tag(const struct got *g)
{
    uint32_t k;
    memcpy(&k, g->data + 14, 4);
    return k;
}

/* Run the clock in steps of `step` up to `until`, delivering. */
static void run(struct cc_fabric *f, struct sink *s, uint64_t from, uint64_t until, uint64_t step)
{
    for (uint64_t t = from; t <= until; t += step) {
        s->now = t;
        fabric_deliver(f, t, take, s);
    }
}

static void test_switching(void)
{
    struct cc_fabric *f = mk(3, 1, NULL);
    struct sink s = {0};
    uint8_t b[100];
    fabric_send(f, 0, 0, b, frame(b, 0, 2, 1, 60));
    fabric_send(f, 1, 0, b, frame(b, 1, -1, 2, 60));
    frame(b, 0, 2, 3, 60);
    b[5] = 0x77;                            /* a MAC nobody has */
    fabric_send(f, 0, 0, b, 60);
    is_u64(fabric_next_arrival(f), 100000, "next arrival at the default latency, 100 us");
    run(f, &s, 0, 99999, 99999);
    is_int(s.n, 0, "nothing arrives before the latency");
    run(f, &s, 100000, 100000, 1);
    is_int(s.n, 3, "unicast and two broadcast copies arrive at 100 us");
    ok(s.n == 3 && s.g[0].dst == 2 && tag(&s.g[0]) == 1, "unicast went to its MAC's port");
    ok(s.n == 3 && s.g[1].dst == 0 && s.g[2].dst == 2, "broadcast went to every other port");
    is_u64(fabric_unroutable(f, 0), 1, "unknown unicast counted as unroutable");
    const struct cc_link_stats *st = fabric_stats(f, 0, 2);
    ok(st->sent == 1 && st->delivered == 1 && st->delivered_bytes == 60 && st->in_flight == 0,
       "link 0->2: 1 sent, 1 delivered, 60 bytes");
    is_u64(fabric_next_arrival(f), UINT64_MAX, "nothing in flight");
    free(s.g);
    fabric_free(f);
}

static void test_jitter_fifo(uint64_t seed, uint64_t *sig, bool check)
{
    struct cc_link_params p;
    cc_link_params_default(&p);
    p.latency_ns = 1000000;
    p.jitter_ns = 500000;
    struct cc_fabric *f = mk(2, seed, &p);
    struct sink s = {0};
    uint8_t b[100];
    for (uint32_t k = 0; k < 200; k++)
        fabric_send(f, 0, k * 10000, b, frame(b, 0, 1, k, 64));
    run(f, &s, 0, 5000000, 1000);
    int in_range = 1, fifo = 1;
    *sig = 0;
    for (size_t i = 0; i < s.n; i++) {
        uint64_t sent = tag(&s.g[i]) * 10000ull;
        uint64_t d = s.g[i].when - sent;
        in_range &= d >= 1000000 && d <= 1500000 + 1000;
        if (i)
            fifo &= tag(&s.g[i]) == tag(&s.g[i - 1]) + 1;
        *sig = *sig * 31 + s.g[i].when;
    }
    if (check) {
        is_int(s.n, 200, "jitter: all 200 frames arrive");
        ok(in_range, "delays within latency + [0, jitter] (1 ms step)");
        ok(fifo, "jitter keeps FIFO order on a link");
    }
    free(s.g);
    fabric_free(f);
}

static void test_bandwidth(void)
{
    struct cc_link_params p;
    cc_link_params_default(&p);
    p.bandwidth_bps = 1000000;          /* 1000 bytes = 8 ms */
    p.queue_ns = 30000000;              /* 30 ms of queue */
    struct cc_fabric *f = mk(2, 1, &p);
    struct sink s = {0};
    uint8_t b[1000];
    for (uint32_t k = 0; k < 6; k++)
        fabric_send(f, 0, 0, b, frame(b, 0, 1, k, 1000));
    run(f, &s, 0, 100000000, 100000);
    is_int(s.n, 4, "4 frames fit the 30 ms queue at 8 ms each");
    ok(s.n == 4 && s.g[0].when == 8100000 && s.g[1].when == 16100000 &&
       s.g[3].when == 32100000, "serialized 8 ms apart (+ 100 us latency)");
    is_u64(fabric_stats(f, 0, 1)->dropped_queue, 2, "2 queue drops");
    free(s.g);
    fabric_free(f);
}

static void test_loss(void)
{
    struct cc_link_params p;
    cc_link_params_default(&p);
    p.loss_ppm = 200000;
    struct cc_fabric *f = mk(2, 42, &p);
    struct sink s = {0};
    uint8_t b[64];
    const unsigned N = 20000;
    for (uint32_t k = 0; k < N; k++) {
        fabric_send(f, 0, k * 1000ull, b, frame(b, 0, 1, k, 64));
        s.now = k * 1000ull;
        fabric_deliver(f, s.now, take, &s);
    }
    run(f, &s, N * 1000ull, N * 1000ull + 200000, 100000);
    const struct cc_link_stats *st = fabric_stats(f, 0, 1);
    double rate = (double)st->dropped_loss / st->sent;
    tap_diag("loss 20%%: %llu of %llu dropped = %.4f", (unsigned long long)st->dropped_loss,
             (unsigned long long)st->sent, rate);
    ok(rate > 0.19 && rate < 0.21, "measured loss rate %.4f is within 0.19..0.21", rate);
    ok(st->delivered + st->dropped_loss == st->sent && s.n == st->delivered,
       "every frame delivered or dropped, counted once");
    free(s.g);
    fabric_free(f);
}

static void test_corrupt_dup_reorder(void)
{
    struct cc_link_params p;
    cc_link_params_default(&p);
    p.corrupt_ppm = 1000000;
    struct cc_fabric *f = mk(2, 3, &p);
    struct sink s = {0};
    uint8_t b[200], ref[200];
    int one_bit = 1;
    for (uint32_t k = 0; k < 50; k++) {
        fabric_send(f, 0, 0, b, frame(b, 0, 1, k, 200));
        run(f, &s, 100000, 100000, 1);
        frame(ref, 0, 1, k, 200);
        int bits = 0;
        for (int i = 0; i < 200; i++)
            bits += __builtin_popcount(ref[i] ^ s.g[s.n - 1].data[i]);
        one_bit &= bits == 1 && !memcmp(ref, s.g[s.n - 1].data, 14);
    }
    ok(one_bit, "corrupt 100%%: exactly one bit flipped, never in the Ethernet header");
    is_u64(fabric_stats(f, 0, 1)->corrupted, 50, "50 corrupted");
    fabric_free(f);
    s.n = 0;

    cc_link_params_default(&p);
    p.duplicate_ppm = 1000000;
    f = mk(2, 3, &p);
    for (uint32_t k = 0; k < 10; k++)
        fabric_send(f, 0, k * 1000ull, b, frame(b, 0, 1, k, 64));
    run(f, &s, 0, 1000000, 1000);
    is_int(s.n, 20, "duplicate 100%%: every frame twice");
    ok(s.n == 20 && tag(&s.g[0]) == 0 && tag(&s.g[1]) == 0 && tag(&s.g[2]) == 1,
       "the copy right after the original");
    is_u64(fabric_stats(f, 0, 1)->duplicated, 10, "10 duplicated");
    is_u64(fabric_stats(f, 0, 1)->delivered, 20, "20 delivered");
    fabric_free(f);
    s.n = 0;

    cc_link_params_default(&p);
    p.reorder_ppm = 300000;
    p.reorder_ns = 2000000;
    f = mk(2, 3, &p);
    for (uint32_t k = 0; k < 100; k++)
        fabric_send(f, 0, k * 100000ull, b, frame(b, 0, 1, k, 64));
    run(f, &s, 0, 20000000, 10000);
    unsigned inversions = 0;
    for (size_t i = 1; i < s.n; i++)
        inversions += tag(&s.g[i]) < tag(&s.g[i - 1]);
    uint64_t re = fabric_stats(f, 0, 1)->reordered;
    tap_diag("reorder 30%%: %llu held back, %u inversions", (unsigned long long)re, inversions);
    ok(s.n == 100 && re > 15 && re < 45 && inversions > 0,
       "reorder: some frames held back and overtaken, none lost");
    free(s.g);
    fabric_free(f);
}

static void test_partition(void)
{
    struct cc_fabric *f = mk(3, 1, NULL);
    struct sink s = {0};
    uint8_t b[64];
    uint8_t groups[3] = {1, 0, 0};
    fabric_send(f, 0, 0, b, frame(b, 0, 1, 1, 64));      /* in flight when cut */
    fabric_partition(f, groups);
    ok(!fabric_connected(f, 0, 1) && !fabric_connected(f, 2, 0) &&
       fabric_connected(f, 1, 2), "partition [0] | [1 2]");
    fabric_send(f, 0, 10, b, frame(b, 0, 1, 2, 64));
    fabric_send(f, 2, 10, b, frame(b, 2, 0, 3, 64));
    fabric_send(f, 1, 10, b, frame(b, 1, 2, 4, 64));
    run(f, &s, 0, 1000000, 1000);
    ok(s.n == 1 && tag(&s.g[0]) == 4, "only 1->2 gets through");
    is_u64(fabric_stats(f, 0, 1)->dropped_partition, 2,
           "0->1: the frame in flight and the new one dropped");
    fabric_heal(f);
    fabric_send(f, 0, 2000000, b, frame(b, 0, 1, 5, 64));
    run(f, &s, 2000000, 3000000, 1000);
    ok(s.n == 2 && tag(&s.g[1]) == 5, "after heal 0->1 works again");

    fabric_set_port_up(f, 2, false);
    fabric_send(f, 1, 4000000, b, frame(b, 1, 2, 6, 64));
    run(f, &s, 4000000, 5000000, 1000);
    is_u64(fabric_stats(f, 1, 2)->dropped_down, 1, "a frame to a port that is down dropped");
    s.refuse = 1;
    fabric_send(f, 1, 6000000, b, frame(b, 1, 0, 7, 64));
    run(f, &s, 6000000, 7000000, 1000);
    is_u64(fabric_stats(f, 1, 0)->dropped_rx, 1, "a frame the receiver refused counted");
    free(s.g);
    fabric_free(f);

    /* A bridge port talks to every side; the sides still not to each other. */
    f = mk(3, 1, NULL);
    memset(&s, 0, sizeof(s));
    uint8_t bridged[3] = {1, 2, CC_FABRIC_BRIDGE};
    fabric_partition(f, bridged);
    ok(!fabric_connected(f, 0, 1) && fabric_connected(f, 0, 2) && fabric_connected(f, 2, 1) &&
       fabric_connected(f, 1, 2), "partition [0] | [1], bridge [2]");
    fabric_send(f, 0, 0, b, frame(b, 0, 1, 1, 64));
    fabric_send(f, 0, 0, b, frame(b, 0, 2, 2, 64));
    fabric_send(f, 2, 0, b, frame(b, 2, 1, 3, 64));
    run(f, &s, 0, 1000000, 1000);
    ok(s.n == 2 && tag(&s.g[0]) + tag(&s.g[1]) == 5, "0->2 and 2->1 get through, 0->1 not");
    free(s.g);
    fabric_free(f);
}

/* Loss draws on 0->1 do not depend on traffic on 0->2. */
static void test_streams(void)
{
    struct cc_link_params p;
    cc_link_params_default(&p);
    p.loss_ppm = 500000;
    uint64_t sig[2] = {0, 0};
    for (int with_other = 0; with_other < 2; with_other++) {
        struct cc_fabric *f = mk(3, 9, &p);
        struct sink s = {0};
        uint8_t b[64];
        for (uint32_t k = 0; k < 300; k++) {
            fabric_send(f, 0, k * 1000ull, b, frame(b, 0, 1, k, 64));
            if (with_other)
                fabric_send(f, 0, k * 1000ull, b, frame(b, 0, 2, k, 64));
        }
        run(f, &s, 0, 2000000, 1000);
        for (size_t i = 0; i < s.n; i++)
            if (s.g[i].dst == 1)
                sig[with_other] = sig[with_other] * 31 + tag(&s.g[i]);
        free(s.g);
        fabric_free(f);
    }
    ok(sig[0] == sig[1], "frames lost on 0->1 are the same with and without 0->2 traffic");

    uint64_t a, b2, c;
    test_jitter_fifo(1, &a, false);
    test_jitter_fifo(1, &b2, false);
    test_jitter_fifo(2, &c, false);
    ok(a == b2, "same seed: same arrival times");
    ok(a != c, "another seed: different arrival times");
}

static void test_save_load(void)
{
    struct cc_link_params p;
    cc_link_params_default(&p);
    p.loss_ppm = 100000;
    p.jitter_ns = 300000;
    p.duplicate_ppm = 50000;
    struct cc_fabric *f = mk(3, 5, &p);
    struct sink s1 = {0}, s2 = {0};
    uint8_t b[64];
    uint8_t groups[3] = {0, 0, 1};
    for (uint32_t k = 0; k < 100; k++)
        fabric_send(f, k % 3, k * 5000ull, b, frame(b, (int)(k % 3), (int)((k + 1) % 3), k, 64));
    fabric_partition(f, groups);
    struct cc_buf buf;
    buf_init(&buf);
    fabric_save(f, &buf);
    struct cc_fabric *g = mk(3, 77, NULL);
    struct cc_rd rd;
    struct cc_err err = {0};
    rd_init(&rd, buf.data, buf.len);
    ok(fabric_load(g, &rd, &err) == 0 && rd_left(&rd) == 0, "state loads (%s)", err.msg);
    for (uint32_t k = 100; k < 200; k++) {
        frame(b, (int)(k % 3), (int)((k + 1) % 3), k, 64);
        fabric_send(f, k % 3, 500000 + k * 5000ull, b, 64);
        fabric_send(g, k % 3, 500000 + k * 5000ull, b, 64);
    }
    run(f, &s1, 0, 3000000, 1000);
    run(g, &s2, 0, 3000000, 1000);
    int same = s1.n == s2.n && s1.n > 0;
    for (size_t i = 0; same && i < s1.n; i++)
        same &= s1.g[i].when == s2.g[i].when && s1.g[i].dst == s2.g[i].dst &&
                tag(&s1.g[i]) == tag(&s2.g[i]);
    for (unsigned i = 0; i < 3; i++)
        for (unsigned j = 0; j < 3; j++)
            same &= !memcmp(fabric_stats(f, i, j), fabric_stats(g, i, j),
                            sizeof(struct cc_link_stats));
    ok(same, "the loaded copy continues exactly: %zu deliveries, equal counters", s1.n);
    ok(!fabric_connected(g, 0, 2), "partition restored");
    int refused = 0;
    for (size_t n = 0; n < buf.len; n += 7) {
        rd_init(&rd, buf.data, n);
        refused += fabric_load(g, &rd, &err) < 0;
    }
    is_int(refused, (int)((buf.len + 6) / 7), "every truncation refused");
    struct cc_fabric *h = mk(2, 1, NULL);
    rd_init(&rd, buf.data, buf.len);
    ok(fabric_load(h, &rd, &err) < 0 && strstr(err.msg, "3 ports"),
       "a state of another size refused: %s", err.msg);
    fabric_free(h);
    buf_free(&buf);
    free(s1.g);
    free(s2.g);
    fabric_free(f);
    fabric_free(g);
}

int main(void)
{
    test_switching();
    uint64_t sig;
    test_jitter_fifo(1, &sig, true);
    test_bandwidth();
    test_loss();
    test_corrupt_dup_reorder();
    test_partition();
    test_streams();
    test_save_load();
    return tap_exit();
}
