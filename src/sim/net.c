/* The simulated network: switch, links, frames in flight (see net.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/net.h"
#include "util/rng.h"

#define NET_SAVE_VERSION 1
#define ETH_HDR 14

struct link {
    struct cc_link_params p;
    struct cc_link_stats st;
    struct cc_rng rng;
    uint64_t busy_until;        /* bandwidth: when the wire is free again */
    uint64_t last_arrival;      /* FIFO order */
};

struct port {
    uint8_t mac[6];
    bool has_mac;
    bool up;
    uint8_t group;              /* partition group */
    uint64_t seq;               /* frames sent (copies included) */
    uint64_t unroutable;
};

struct frame {
    uint64_t arrival;
    uint64_t seq;
    uint32_t src, dst;
    uint32_t len;
    uint8_t data[];
};

struct cc_fabric {
    unsigned n;
    struct port *port;
    struct link *link;          /* n * n, [from * n + to] */
    struct frame **heap;        /* min-heap by (arrival, src, seq) */
    size_t nheap, capheap;
};

void cc_link_params_default(struct cc_link_params *p)
{
    memset(p, 0, sizeof(*p));
    p->latency_ns = 100000;
    p->queue_ns = 100000000;
    p->reorder_ns = 1000000;
}

static struct link *L(const struct cc_fabric *f, unsigned from, unsigned to)
{
    return &f->link[(size_t)from * f->n + to];
}

static void seed_links(struct cc_fabric *f, uint64_t seed)
{
    for (unsigned i = 0; i < f->n; i++)
        for (unsigned j = 0; j < f->n; j++) {
            char label[48];
            snprintf(label, sizeof(label), "net-link-%u-%u", i, j);
            rng_init(&L(f, i, j)->rng, seed, label);
        }
}

int fabric_new(unsigned n_ports, uint64_t seed, const struct cc_link_params *p,
                  struct cc_fabric **out, struct cc_err *err)
{
    if (n_ports < 1 || n_ports > CC_SIM_MAX_VMS)
        return cc_err_set(err, EINVAL, "network: %u ports (1..%u)", n_ports, CC_SIM_MAX_VMS);
    struct cc_fabric *f = calloc(1, sizeof(*f));
    if (!f)
        return cc_err_set(err, ENOMEM, "out of memory");
    f->n = n_ports;
    f->port = calloc(n_ports, sizeof(*f->port));
    f->link = calloc((size_t)n_ports * n_ports, sizeof(*f->link));
    if (!f->port || !f->link) {
        fabric_free(f);
        return cc_err_set(err, ENOMEM, "out of memory");
    }
    struct cc_link_params def;
    cc_link_params_default(&def);
    for (unsigned i = 0; i < n_ports; i++) {
        f->port[i].up = true;
        for (unsigned j = 0; j < n_ports; j++)
            L(f, i, j)->p = p ? *p : def;
    }
    seed_links(f, seed);
    *out = f;
    return 0;
}

static void heap_clear(struct cc_fabric *f)
{
    for (size_t i = 0; i < f->nheap; i++)
        free(f->heap[i]);
    f->nheap = 0;
}

void fabric_free(struct cc_fabric *f)
{
    if (!f)
        return;
    heap_clear(f);
    free(f->heap);
    free(f->port);
    free(f->link);
    free(f);
}

unsigned fabric_ports(const struct cc_fabric *f)
{
    return f->n;
}

void fabric_set_mac(struct cc_fabric *f, unsigned port, const uint8_t mac[6])
{
    if (port >= f->n)
        return;
    memcpy(f->port[port].mac, mac, 6);
    f->port[port].has_mac = true;
}

void fabric_set_port_up(struct cc_fabric *f, unsigned port, bool up)
{
    if (port < f->n)
        f->port[port].up = up;
}

/* ---- the in-flight queue ---- */

static bool before(const struct frame *a, const struct frame *b)
{
    if (a->arrival != b->arrival)
        return a->arrival < b->arrival;
    if (a->src != b->src)
        return a->src < b->src;
    return a->seq < b->seq;
}

static int heap_push(struct cc_fabric *f, struct frame *fr)
{
    if (f->nheap == f->capheap) {
        size_t cap = f->capheap ? f->capheap * 2 : 64;
        struct frame **h = realloc(f->heap, cap * sizeof(*h));
        if (!h)
            return -ENOMEM;
        f->heap = h;
        f->capheap = cap;
    }
    size_t i = f->nheap++;
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (!before(fr, f->heap[up]))
            break;
        f->heap[i] = f->heap[up];
        i = up;
    }
    f->heap[i] = fr;
    return 0;
}

static struct frame *heap_pop(struct cc_fabric *f)
{
    struct frame *top = f->heap[0], *last = f->heap[--f->nheap];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= f->nheap)
            break;
        if (c + 1 < f->nheap && before(f->heap[c + 1], f->heap[c]))
            c++;
        if (!before(f->heap[c], last))
            break;
        f->heap[i] = f->heap[c];
        i = c;
    }
    if (f->nheap)
        f->heap[i] = last;
    return top;
}

uint64_t fabric_next_arrival(const struct cc_fabric *f)
{
    return f->nheap ? f->heap[0]->arrival : UINT64_MAX;
}

/* ---- sending ---- */

static bool draw(struct cc_rng *r, uint32_t ppm)
{
    if (!ppm)
        return false;
    if (ppm >= 1000000)
        return true;
    return rng_below(r, 1000000) < ppm;
}

static void enqueue(struct cc_fabric *f, struct link *l, unsigned src, unsigned dst,
                    uint64_t arrival, const uint8_t *data, size_t len)
{
    struct frame *fr = malloc(sizeof(*fr) + len);
    if (!fr)
        return;             /* lost, as a switch out of buffers would */
    fr->arrival = arrival;
    fr->seq = f->port[src].seq++;
    fr->src = src;
    fr->dst = dst;
    fr->len = (uint32_t)len;
    memcpy(fr->data, data, len);
    if (heap_push(f, fr) < 0) {
        free(fr);
        return;
    }
    l->st.in_flight++;
}

static bool same_side(const struct cc_fabric *f, unsigned a, unsigned b)
{
    uint8_t ga = f->port[a].group, gb = f->port[b].group;
    return ga == gb || ga == CC_FABRIC_BRIDGE || gb == CC_FABRIC_BRIDGE;
}

static void send_link(struct cc_fabric *f, unsigned src, unsigned dst, uint64_t now,
                      const uint8_t *frame, size_t len)
{
    struct link *l = L(f, src, dst);
    const struct cc_link_params *p = &l->p;
    l->st.sent++;
    l->st.sent_bytes += len;
    if (!same_side(f, src, dst)) {
        l->st.dropped_partition++;
        return;
    }
    if (draw(&l->rng, p->loss_ppm)) {
        l->st.dropped_loss++;
        return;
    }
    uint64_t depart = now;
    if (p->bandwidth_bps) {
        uint64_t start = l->busy_until > now ? l->busy_until : now;
        if (start - now > p->queue_ns) {
            l->st.dropped_queue++;
            return;
        }
        unsigned __int128 bits = (unsigned __int128)len * 8 * 1000000000u;
        uint64_t ser = (uint64_t)((bits + p->bandwidth_bps - 1) / p->bandwidth_bps);
        l->busy_until = start + ser;
        depart = l->busy_until;
    }
    uint8_t buf[65536];
    const uint8_t *data = frame;
    if (draw(&l->rng, p->corrupt_ppm) && len <= sizeof(buf)) {
        memcpy(buf, frame, len);
        size_t lo = len > ETH_HDR ? ETH_HDR : 0;
        uint64_t bit = rng_below(&l->rng, (uint64_t)(len - lo) * 8);
        buf[lo + bit / 8] ^= (uint8_t)(1u << (bit % 8));
        data = buf;
        l->st.corrupted++;
    }
    uint64_t arrival = depart + p->latency_ns;
    if (p->jitter_ns)
        arrival += rng_below(&l->rng, p->jitter_ns + 1);
    if (draw(&l->rng, p->reorder_ppm)) {
        arrival += p->reorder_ns;
        l->st.reordered++;
    } else {
        if (arrival < l->last_arrival)
            arrival = l->last_arrival;
        l->last_arrival = arrival;
    }
    enqueue(f, l, src, dst, arrival, data, len);
    if (draw(&l->rng, p->duplicate_ppm)) {
        l->st.duplicated++;
        enqueue(f, l, src, dst, arrival, data, len);
    }
}

void fabric_send(struct cc_fabric *f, unsigned src, uint64_t now, const uint8_t *frame,
                    size_t len)
{
    if (src >= f->n || len < ETH_HDR || len > 65536)
        return;
    const uint8_t *dst_mac = frame;
    if (dst_mac[0] & 1) {       /* broadcast / multicast */
        for (unsigned j = 0; j < f->n; j++)
            if (j != src && f->port[j].has_mac)
                send_link(f, src, j, now, frame, len);
        return;
    }
    for (unsigned j = 0; j < f->n; j++) {
        if (j != src && f->port[j].has_mac && !memcmp(f->port[j].mac, dst_mac, 6)) {
            send_link(f, src, j, now, frame, len);
            return;
        }
    }
    f->port[src].unroutable++;
}

/* ---- delivery ---- */

void fabric_deliver(struct cc_fabric *f, uint64_t now, cc_fabric_deliver_fn fn, void *opaque)
{
    while (f->nheap && f->heap[0]->arrival <= now) {
        struct frame *fr = heap_pop(f);
        struct link *l = L(f, fr->src, fr->dst);
        l->st.in_flight--;
        if (!f->port[fr->dst].up)
            l->st.dropped_down++;
        else if (!same_side(f, fr->src, fr->dst))
            l->st.dropped_partition++;
        else if (fn(opaque, fr->dst, fr->data, fr->len) < 0)
            l->st.dropped_rx++;
        else {
            l->st.delivered++;
            l->st.delivered_bytes += fr->len;
        }
        free(fr);
    }
}

/* ---- partitions, settings, counters ---- */

void fabric_partition(struct cc_fabric *f, const uint8_t *group)
{
    for (unsigned i = 0; i < f->n; i++)
        f->port[i].group = group[i];
}

void fabric_heal(struct cc_fabric *f)
{
    for (unsigned i = 0; i < f->n; i++)
        f->port[i].group = 0;
}

bool fabric_connected(const struct cc_fabric *f, unsigned from, unsigned to)
{
    return from < f->n && to < f->n && same_side(f, from, to);
}

uint8_t fabric_group(const struct cc_fabric *f, unsigned port)
{
    return port < f->n ? f->port[port].group : 0;
}

struct cc_link_params *fabric_link(struct cc_fabric *f, unsigned from, unsigned to)
{
    return &L(f, from, to)->p;
}

const struct cc_link_params *fabric_link_c(const struct cc_fabric *f, unsigned from,
                                              unsigned to)
{
    return &L(f, from, to)->p;
}

const struct cc_link_stats *fabric_stats(const struct cc_fabric *f, unsigned from, unsigned to)
{
    return &L(f, from, to)->st;
}

uint64_t fabric_unroutable(const struct cc_fabric *f, unsigned port)
{
    return port < f->n ? f->port[port].unroutable : 0;
}

void fabric_reseed(struct cc_fabric *f, uint64_t seed)
{
    seed_links(f, seed);
}

/* ---- save / load ---- */

static void put_params(struct cc_buf *b, const struct cc_link_params *p)
{
    buf_put_u64(b, p->latency_ns);
    buf_put_u64(b, p->jitter_ns);
    buf_put_u64(b, p->bandwidth_bps);
    buf_put_u64(b, p->queue_ns);
    buf_put_u32(b, p->loss_ppm);
    buf_put_u32(b, p->corrupt_ppm);
    buf_put_u32(b, p->duplicate_ppm);
    buf_put_u32(b, p->reorder_ppm);
    buf_put_u64(b, p->reorder_ns);
}

static void get_params(struct cc_rd *r, struct cc_link_params *p)
{
    p->latency_ns = rd_u64(r);
    p->jitter_ns = rd_u64(r);
    p->bandwidth_bps = rd_u64(r);
    p->queue_ns = rd_u64(r);
    p->loss_ppm = rd_u32(r);
    p->corrupt_ppm = rd_u32(r);
    p->duplicate_ppm = rd_u32(r);
    p->reorder_ppm = rd_u32(r);
    p->reorder_ns = rd_u64(r);
}

#define N_STATS (sizeof(struct cc_link_stats) / sizeof(uint64_t))

void fabric_save(const struct cc_fabric *f, struct cc_buf *out)
{
    buf_put_u8(out, NET_SAVE_VERSION);
    buf_put_u32(out, f->n);
    for (unsigned i = 0; i < f->n; i++) {
        const struct port *p = &f->port[i];
        buf_put(out, p->mac, 6);
        buf_put_bool(out, p->has_mac);
        buf_put_bool(out, p->up);
        buf_put_u8(out, p->group);
        buf_put_u64(out, p->seq);
        buf_put_u64(out, p->unroutable);
    }
    for (size_t k = 0; k < (size_t)f->n * f->n; k++) {
        const struct link *l = &f->link[k];
        put_params(out, &l->p);
        const uint64_t *st = (const uint64_t *)&l->st;
        for (size_t i = 0; i < N_STATS; i++)
            buf_put_u64(out, st[i]);
        rng_save(&l->rng, out);
        buf_put_u64(out, l->busy_until);
        buf_put_u64(out, l->last_arrival);
    }
    buf_put_u64(out, f->nheap);
    for (size_t i = 0; i < f->nheap; i++) {
        const struct frame *fr = f->heap[i];
        buf_put_u64(out, fr->arrival);
        buf_put_u64(out, fr->seq);
        buf_put_u32(out, fr->src);
        buf_put_u32(out, fr->dst);
        buf_put_u32(out, fr->len);
        buf_put(out, fr->data, fr->len);
    }
}

int fabric_load(struct cc_fabric *f, struct cc_rd *in, struct cc_err *err)
{
    int ver = rd_version(in, NET_SAVE_VERSION, "network", err);
    if (ver < 0)
        return ver;
    uint32_t n = rd_u32(in);
    if (!rd_ok(in))
        return cc_err_set(err, EINVAL, "network state truncated");
    if (n != f->n)
        return cc_err_set(err, EINVAL, "network state has %u ports, this simulation %u", n, f->n);
    struct port *port = calloc(n, sizeof(*port));
    struct link *link = calloc((size_t)n * n, sizeof(*link));
    struct frame **heap = NULL;
    uint64_t nheap = 0;
    int rc = 0;
    if (!port || !link) {
        rc = cc_err_set(err, ENOMEM, "out of memory");
        goto fail;
    }
    for (unsigned i = 0; i < n; i++) {
        struct port *p = &port[i];
        rd_get(in, p->mac, 6);
        p->has_mac = rd_bool(in);
        p->up = rd_bool(in);
        p->group = rd_u8(in);
        p->seq = rd_u64(in);
        p->unroutable = rd_u64(in);
    }
    for (size_t k = 0; k < (size_t)n * n; k++) {
        struct link *l = &link[k];
        get_params(in, &l->p);
        uint64_t *st = (uint64_t *)&l->st;
        for (size_t i = 0; i < N_STATS; i++)
            st[i] = rd_u64(in);
        rc = rng_load(&l->rng, in, err);
        if (rc < 0)
            goto fail;
        l->busy_until = rd_u64(in);
        l->last_arrival = rd_u64(in);
    }
    nheap = rd_u64(in);
    if (!rd_ok(in) || nheap > rd_left(in) / 28) {
        rc = cc_err_set(err, EINVAL, "network state truncated");
        goto fail;
    }
    heap = calloc(nheap ? nheap : 1, sizeof(*heap));
    if (!heap) {
        rc = cc_err_set(err, ENOMEM, "out of memory");
        goto fail;
    }
    for (uint64_t i = 0; i < nheap; i++) {
        uint64_t arrival = rd_u64(in), seq = rd_u64(in);
        uint32_t src = rd_u32(in), dst = rd_u32(in), len = rd_u32(in);
        if (!rd_ok(in) || src >= n || dst >= n || len > 65536 || len > rd_left(in)) {
            rc = cc_err_set(err, EINVAL, "network state: a frame in flight is damaged");
            goto fail;
        }
        struct frame *fr = malloc(sizeof(*fr) + len);
        if (!fr) {
            rc = cc_err_set(err, ENOMEM, "out of memory");
            goto fail;
        }
        fr->arrival = arrival;
        fr->seq = seq;
        fr->src = src;
        fr->dst = dst;
        fr->len = len;
        rd_get(in, fr->data, len);
        heap[i] = fr;
    }
    if (!rd_ok(in)) {
        rc = cc_err_set(err, EINVAL, "network state truncated");
        goto fail;
    }
    heap_clear(f);
    free(f->heap);
    free(f->port);
    free(f->link);
    f->port = port;
    f->link = link;
    f->heap = heap;
    f->nheap = f->capheap = nheap;
    if (!f->capheap) {
        free(f->heap);
        f->heap = NULL;
    }
    return 0;
fail:
    for (uint64_t i = 0; heap && i < nheap; i++)
        free(heap[i]);
    free(heap);
    free(port);
    free(link);
    return rc;
}
