/* virtio-net: guest frames to a host endpoint, host frames into the guest
 * through a bounded FIFO (see virtio_net.h). */
#include <errno.h>
#include <stdlib.h>

#include "devices/virtio_net.h"

#define NET_QUEUE_SIZE 256
#define NET_CONFIG_SIZE 12
#define NET_SAVE_VERSION 1

/* ---- RX ---- */

static struct cc_net_frame *rx_peek(struct cc_virtio_net *n)
{
    return n->rxq[n->rx_head];
}

static void rx_drop_head(struct cc_virtio_net *n)
{
    free(n->rxq[n->rx_head]);
    n->rxq[n->rx_head] = NULL;
    n->rx_head = (n->rx_head + 1) % n->rx_cap;
    n->rx_count--;
}

/* Deliver queued frames while the guest has RX buffers. */
static void rx_flush(struct cc_virtio_net *n)
{
    struct cc_virtio_mmio *t = &n->mmio;
    struct cc_vq_chain *c = &n->rx_chain;
    while (n->rx_count && virtio_mmio_queue_live(t, CC_NET_RXQ)) {
        if (virtio_mmio_pop(t, CC_NET_RXQ, c) <= 0)
            break;
        struct cc_net_frame *f = rx_peek(n);
        if (c->in_len < (uint64_t)CC_NET_HDR_LEN + f->len) {
            n->stats.rx_too_small++;
            rx_drop_head(n);
            virtio_mmio_push(t, CC_NET_RXQ, c, 0);
            continue;
        }
        struct cc_gmem m = virtio_mmio_mem(t);
        uint8_t hdr[CC_NET_HDR_LEN] = {0};
        put_le16(hdr + 10, 1);       /* num_buffers */
        vq_write(m, c, 0, hdr, sizeof(hdr));
        vq_write(m, c, CC_NET_HDR_LEN, f->data, f->len);
        uint32_t len = CC_NET_HDR_LEN + f->len;
        n->stats.rx_frames++;
        n->stats.rx_bytes += f->len;
        rx_drop_head(n);
        virtio_mmio_push(t, CC_NET_RXQ, c, len);
    }
    n->stats.rx_queued = n->rx_count;
}

int cc_virtio_net_inject(struct cc_virtio_net *n, const void *frame, size_t len)
{
    if (len == 0 || len > CC_NET_MAX_FRAME) {
        n->stats.rx_dropped++;
        return -EMSGSIZE;
    }
    if (!n->link_up) {
        n->stats.rx_dropped++;
        return -ENETDOWN;
    }
    if (n->rx_count >= n->rx_limit) {
        n->stats.rx_dropped++;
        return -ENOBUFS;
    }
    struct cc_net_frame *f = malloc(sizeof(*f) + len);
    if (!f) {
        n->stats.rx_dropped++;
        return -ENOMEM;
    }
    f->len = (uint16_t)len;
    memcpy(f->data, frame, len);
    n->rxq[(n->rx_head + n->rx_count) % n->rx_cap] = f;
    n->rx_count++;
    rx_flush(n);
    return 0;
}

/* Re-pack the FIFO into a ring of `cap` slots, dropping the newest frames
 * that do not fit. */
static int rx_resize(struct cc_virtio_net *n, unsigned cap)
{
    struct cc_net_frame **q = calloc(cap, sizeof(*q));
    if (!q)
        return -ENOMEM;
    unsigned keep = n->rx_count < cap ? n->rx_count : cap;
    for (unsigned i = 0; i < n->rx_count; i++) {
        struct cc_net_frame *f = n->rxq[(n->rx_head + i) % n->rx_cap];
        if (i < keep) {
            q[i] = f;
        } else {
            free(f);
            n->stats.rx_dropped++;
        }
    }
    free(n->rxq);
    n->rxq = q;
    n->rx_head = 0;
    n->rx_count = keep;
    n->rx_cap = cap;
    n->stats.rx_queued = keep;
    return 0;
}

void cc_virtio_net_set_rx_limit(struct cc_virtio_net *n, unsigned frames)
{
    if (frames < 1)
        frames = 1;
    if (frames > CC_NET_RX_LIMIT_MAX)
        frames = CC_NET_RX_LIMIT_MAX;
    if (rx_resize(n, frames) == 0)
        n->rx_limit = frames;
}

/* ---- TX ---- */

static void tx_run(struct cc_virtio_net *n)
{
    struct cc_virtio_mmio *t = &n->mmio;
    struct cc_vq_chain *c = &n->tx_chain;
    for (unsigned i = 0; i < t->vq[CC_NET_TXQ].num; i++) {
        if (virtio_mmio_pop(t, CC_NET_TXQ, c) <= 0)
            return;
        if (c->in_len || c->out_len < CC_NET_HDR_LEN) {
            virtio_mmio_fail(t, "virtio-net: TX chain from head %u has %llu readable and "
                                "%llu writable bytes; it needs a %u-byte header and no "
                                "writable buffers", c->head, (unsigned long long)c->out_len,
                                (unsigned long long)c->in_len, CC_NET_HDR_LEN);
            return;
        }
        uint64_t flen = c->out_len - CC_NET_HDR_LEN;
        bool send = flen > 0 && flen <= CC_NET_MAX_FRAME && n->link_up && n->tx;
        if (send)
            vq_read(virtio_mmio_mem(t), c, CC_NET_HDR_LEN, n->txbuf, (size_t)flen);
        virtio_mmio_push(t, CC_NET_TXQ, c, 0);
        if (!send) {
            n->stats.tx_dropped++;
            continue;
        }
        n->stats.tx_frames++;
        n->stats.tx_bytes += flen;
        n->tx(n->tx_opaque, n->txbuf, (size_t)flen);
    }
}

static void net_notify(void *dev, unsigned q)
{
    struct cc_virtio_net *n = dev;
    if (q == CC_NET_TXQ)
        tx_run(n);
    else
        rx_flush(n);
}

static void net_driver_ok(void *dev)
{
    rx_flush(dev);
}

static void net_config(void *dev, uint8_t *out)
{
    struct cc_virtio_net *n = dev;
    memcpy(out, n->mac, 6);
    put_le16(out + 6, n->link_up ? VIRTIO_NET_S_LINK_UP : 0);
}

static void net_save(const void *d, struct cc_buf *out) { virtio_net_save(d, out); }
static int net_load(void *d, struct cc_rd *in, struct cc_err *err)
{
    return virtio_net_load(d, in, err);
}
static void net_destroy(void *d) { virtio_net_destroy(d); }

static const struct cc_virtio_ops net_ops = {
    .name = "virtio-net",
    .device_id = CC_VIRTIO_NET,
    .features = 1ull << VIRTIO_NET_F_MAC | 1ull << VIRTIO_NET_F_STATUS,
    .num_queues = 2,
    .queue_max = NET_QUEUE_SIZE,
    .config_size = NET_CONFIG_SIZE,
    .config = net_config,
    .notify = net_notify,
    .driver_ok = net_driver_ok,
    .save = net_save,
    .load = net_load,
    .destroy = net_destroy,
};

/* ---- lifecycle and host API ---- */

int virtio_net_create(const uint8_t mac[6], uint8_t *const *mem_base,
                         const uint64_t *mem_size, struct cc_irq_sink irq, unsigned irq_line,
                         struct cc_virtio_net **out, struct cc_err *err)
{
    struct cc_virtio_net *n = calloc(1, sizeof(*n));
    if (!n)
        return cc_err_set(err, ENOMEM, "virtio-net: out of memory");
    memcpy(n->mac, mac, 6);
    n->link_up = true;
    n->rx_limit = n->rx_cap = CC_NET_RX_QUEUE_DEFAULT;
    n->rxq = calloc(n->rx_cap, sizeof(*n->rxq));
    if (!n->rxq) {
        free(n);
        return cc_err_set(err, ENOMEM, "virtio-net: out of memory");
    }
    virtio_mmio_init(&n->mmio, &net_ops, n, mem_base, mem_size, irq, irq_line);
    *out = n;
    return 0;
}

static void rx_clear(struct cc_virtio_net *n)
{
    while (n->rx_count)
        rx_drop_head(n);
    n->rx_head = 0;
}

void virtio_net_destroy(struct cc_virtio_net *n)
{
    if (!n)
        return;
    rx_clear(n);
    free(n->rxq);
    free(n);
}

void cc_virtio_net_set_endpoint(struct cc_virtio_net *n,
                                void (*fn)(void *opaque, const uint8_t *frame, size_t len),
                                void *opaque)
{
    n->tx = fn;
    n->tx_opaque = opaque;
}

void cc_virtio_net_set_link(struct cc_virtio_net *n, bool up)
{
    if (n->link_up == up)
        return;
    n->link_up = up;
    virtio_mmio_config_changed(&n->mmio);
}

void cc_virtio_net_mac(const struct cc_virtio_net *n, uint8_t mac[6])
{
    memcpy(mac, n->mac, 6);
}

const char *cc_virtio_net_failure(const struct cc_virtio_net *n)
{
    return virtio_mmio_failure(&n->mmio);
}

void cc_virtio_net_stats(const struct cc_virtio_net *n, struct cc_net_stats *s)
{
    *s = n->stats;
    s->rx_queued = n->rx_count;
}

/* ---- snapshots ---- */

void virtio_net_save(const struct cc_virtio_net *n, struct cc_buf *out)
{
    buf_put_u8(out, NET_SAVE_VERSION);
    virtio_mmio_save(&n->mmio, out);
    buf_put(out, n->mac, 6);
    buf_put_bool(out, n->link_up);
    const struct cc_net_stats *s = &n->stats;
    uint64_t sv[] = {s->tx_frames, s->tx_bytes, s->tx_dropped, s->rx_frames, s->rx_bytes,
                     s->rx_dropped, s->rx_too_small};
    for (size_t i = 0; i < sizeof(sv) / sizeof(sv[0]); i++)
        buf_put_u64(out, sv[i]);
    buf_put_u32(out, n->rx_limit);
    buf_put_u32(out, n->rx_count);
    for (unsigned i = 0; i < n->rx_count; i++) {
        const struct cc_net_frame *f = n->rxq[(n->rx_head + i) % n->rx_cap];
        buf_put_u16(out, f->len);
        buf_put(out, f->data, f->len);
    }
}

int virtio_net_load(struct cc_virtio_net *n, struct cc_rd *in, struct cc_err *err)
{
    int ver = rd_version(in, NET_SAVE_VERSION, "virtio-net", err);
    if (ver < 0)
        return ver;
    struct cc_virtio_mmio t = n->mmio;
    int rc = virtio_mmio_load(&t, in, err);
    if (rc < 0)
        return rc;
    uint8_t mac[6];
    rd_get(in, mac, 6);
    uint8_t link = rd_u8(in);
    uint64_t sv[7];
    for (size_t i = 0; i < 7; i++)
        sv[i] = rd_u64(in);
    uint32_t limit = rd_u32(in);
    uint32_t count = rd_u32(in);
    if (!rd_ok(in))
        return cc_err_set(err, EINVAL, "virtio-net: snapshot state truncated");
    if (link > 1 || limit < 1 || limit > CC_NET_RX_LIMIT_MAX || count > limit ||
        (uint64_t)count * 3 > rd_left(in))
        return cc_err_set(err, EINVAL, "virtio-net: snapshot state is invalid");
    struct cc_net_frame **q = calloc(limit, sizeof(*q));
    if (!q)
        return cc_err_set(err, ENOMEM, "virtio-net: out of memory");
    for (uint32_t i = 0; i < count; i++) {
        uint16_t len = rd_u16(in);
        struct cc_net_frame *f = NULL;
        if (rd_ok(in) && len >= 1 && len <= CC_NET_MAX_FRAME && rd_left(in) >= len)
            f = malloc(sizeof(*f) + len);
        if (f) {
            f->len = len;
            rd_get(in, f->data, len);
        }
        if (!f) {
            for (uint32_t j = 0; j < i; j++)
                free(q[j]);
            free(q);
            return cc_err_set(err, EINVAL, "virtio-net: snapshot RX frame %u is invalid", i);
        }
        q[i] = f;
    }
    rx_clear(n);
    free(n->rxq);
    n->rxq = q;
    n->rx_head = 0;
    n->rx_count = count;
    n->rx_cap = n->rx_limit = limit;
    n->mmio = t;
    memcpy(n->mac, mac, 6);
    n->link_up = link;
    n->stats = (struct cc_net_stats){sv[0], sv[1], sv[2], sv[3], sv[4], count, sv[5], sv[6]};
    return 0;
}
