/* Fuzz target: virtio-net behind the transport (see fuzz_common.h for the
 * input format). Device ops: 10 inject a frame (length from the op, bytes
 * from guest RAM), 11 set the RX queue limit, 12 link up/down, 13 switch
 * the TX endpoint between none, a sink and a loopback that injects every
 * transmitted frame back into the same device. Saves/loads include the
 * pending RX frames. */
#include <stdio.h>

#include "devices/virtio_net.h"
#include "fuzz_common.h"

static void save(void *dev, struct cc_buf *out) { virtio_net_save(dev, out); }
static int load(void *dev, struct cc_rd *in, struct cc_err *err)
{
    return virtio_net_load(dev, in, err);
}

static unsigned sent;

static void sink(void *opaque, const uint8_t *frame, size_t len)
{
    (void)opaque;
    if (len == 0 || len > CC_NET_MAX_FRAME || !frame)
        abort();
    sent += frame[0] + frame[len - 1];
}

static void loopback(void *opaque, const uint8_t *frame, size_t len)
{
    sink(opaque, frame, len);
    cc_virtio_net_inject(opaque, frame, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    static struct fuzz_op ops[256];
    static uint8_t frame[2048];
    struct fuzz_ctx c;
    if (!fuzz_parse(&c, data, len, ops))
        return 0;
    struct cc_virtio_net *n;
    struct cc_err err = {0};
    static const uint8_t mac[6] = {2, 0xcc, 0, 0, 0, 1};
    if (virtio_net_create(mac, &c.mem, &c.size, (struct cc_irq_sink){fuzz_irq_set, &c.irq},
                             7, &n, &err) < 0)
        abort();
    cc_virtio_net_set_endpoint(n, loopback, n);
    for (size_t i = 0; i < c.nops; i++) {
        const struct fuzz_op *o = &c.ops[i];
        switch (o->op % 16) {
        case FUZZ_OP_DEVICE: {
            size_t flen = o->val % 1600;
            for (size_t k = 0; k < flen; k++)
                frame[k] = c.mem[(o->arg * 256u + k) % c.size];
            cc_virtio_net_inject(n, frame, flen);
            break;
        }
        case FUZZ_OP_DEVICE + 1:
            cc_virtio_net_set_rx_limit(n, o->val % 600);
            break;
        case FUZZ_OP_DEVICE + 2:
            cc_virtio_net_set_link(n, o->arg & 1);
            break;
        case FUZZ_OP_DEVICE + 3:
            if (o->arg % 3 == 0)
                cc_virtio_net_set_endpoint(n, NULL, NULL);
            else
                cc_virtio_net_set_endpoint(n, o->arg % 3 == 1 ? sink : loopback, n);
            break;
        default:
            fuzz_generic(&c, &n->mmio, o, n, save, load);
            break;
        }
        fuzz_check(&c, &n->mmio);
        struct cc_net_stats st;
        cc_virtio_net_stats(n, &st);
        if (st.rx_queued > n->rx_limit || n->rx_limit > n->rx_cap)
            abort();
    }
#ifdef FUZZ_VERBOSE
    fprintf(stderr, "ops %zu, status 0x%x, failure: %s\n", c.nops, n->mmio.status,
            virtio_mmio_failure(&n->mmio) ? virtio_mmio_failure(&n->mmio) : "none");
    struct cc_net_stats st;
    cc_virtio_net_stats(n, &st);
    fprintf(stderr, "tx %llu txdrop %llu rx %llu rxdrop %llu queued %llu small %llu\n",
            (unsigned long long)st.tx_frames, (unsigned long long)st.tx_dropped,
            (unsigned long long)st.rx_frames, (unsigned long long)st.rx_dropped,
            (unsigned long long)st.rx_queued, (unsigned long long)st.rx_too_small);
#endif
    virtio_net_destroy(n);
    free(c.mem);
    return 0;
}
