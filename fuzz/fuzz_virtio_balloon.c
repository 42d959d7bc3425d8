/* Fuzz target: virtio-balloon behind the transport (see fuzz_common.h for
 * the input format). Guest RAM is 1..16 pages, so PFN arrays mix pages
 * inside RAM and bad PFNs. Device op 10 sets the host's target (val, or
 * above 2^32 pages when arg bit 0 is set, which saturates); saves/loads use
 * the device's own functions.
 *
 * Checked after every operation, besides the transport's invariants:
 * - configuration space reads back the target and actual counts, and the
 *   stats agree with them; a driver write to configuration space changes
 *   nothing;
 * - a target change bumps ConfigGeneration (and raises the configuration
 *   interrupt while the driver runs), setting the same target does not;
 * - the balloon never holds more pages than were ever inflated;
 * - on a notification that left the device healthy, every request the
 *   device counted was returned on the used ring of its queue.
 * A corrupted state that loads is kept and fuzzed on, but only crash
 * freedom is checked from then on (its counters may be inconsistent). */
#include <stdio.h>

#include "devices/virtio_balloon.h"
#include "fuzz_common.h"

static void save(void *dev, struct cc_buf *out) { virtio_balloon_save(dev, out); }
static int load(void *dev, struct cc_rd *in, struct cc_err *err)
{
    return virtio_balloon_load(dev, in, err);
}

static int same_state(struct cc_virtio_balloon *b, const struct cc_buf *before)
{
    struct cc_buf now;
    buf_init(&now);
    save(b, &now);
    int same = now.len == before->len && !memcmp(now.data, before->data, now.len);
    buf_free(&now);
    return same;
}

static void check(struct cc_virtio_balloon *b)
{
    struct cc_virtio_mmio *t = &b->mmio;
    if (fuzz_r(t, VIRTIO_MMIO_CONFIG) != b->target ||
        fuzz_r(t, VIRTIO_MMIO_CONFIG + 4) != b->actual)
        abort();
    uint8_t cfg[8];
    virtio_mmio_read(t, VIRTIO_MMIO_CONFIG, cfg, 8);
    if (le64(cfg) != ((uint64_t)b->actual << 32 | b->target))
        abort();
    struct cc_balloon_stats st;
    cc_virtio_balloon_stats(b, &st);
    if (st.target_pages != b->target || st.actual_pages != b->actual)
        abort();
    if ((cc_virtio_balloon_failure(b) != NULL) != t->failed)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    static struct fuzz_op ops[256];
    struct fuzz_ctx c;
    if (!fuzz_parse(&c, data, len, ops))
        return 0;
    struct cc_virtio_balloon *b;
    struct cc_err err = {0};
    if (virtio_balloon_create(&c.mem, &c.size, (struct cc_irq_sink){fuzz_irq_set, &c.irq}, 8,
                                 &b, &err) < 0)
        abort();
    struct cc_virtio_mmio *t = &b->mmio;
    bool tainted = false;       /* a corrupted state was accepted */
    for (size_t i = 0; i < c.nops; i++) {
        const struct fuzz_op *o = &c.ops[i];
        unsigned code = o->op % 16;
        uint32_t target = b->target;
        uint32_t gen = t->config_gen;
        struct cc_balloon_stats st0;
        cc_virtio_balloon_stats(b, &st0);
        uint16_t used0[2] = {t->vq[0].used_idx, t->vq[1].used_idx};
        struct cc_buf before;
        buf_init(&before);
        if (code == FUZZ_OP_LOADBAD)
            save(b, &before);

        if (code == FUZZ_OP_DEVICE) {
            uint64_t pages = (o->arg & 1) ? (uint64_t)o->val << 8 | o->arg : o->val;
            cc_virtio_balloon_set_target(b, pages);
            uint32_t want = pages > UINT32_MAX ? UINT32_MAX : (uint32_t)pages;
            if (b->target != want || (t->config_gen != gen) != (want != target))
                abort();
            if (want != target && (t->status & VIRTIO_STATUS_DRIVER_OK) && !t->failed &&
                !(t->isr & VIRTIO_INT_CONFIG))
                abort();
        } else {
            fuzz_generic(&c, t, o, b, save, load);
            if (code == FUZZ_OP_LOADBAD && !same_state(b, &before))
                tainted = true;
        }
        buf_free(&before);
        fuzz_check(&c, t);
        check(b);
        if (tainted)
            continue;

        struct cc_balloon_stats st;
        cc_virtio_balloon_stats(b, &st);
        if (st.actual_pages > st.inflated)
            abort();
        if (code != FUZZ_OP_DEVICE && code != FUZZ_OP_SAVELOAD && code != FUZZ_OP_LOADBAD &&
            b->target != target)
            abort();    /* only the host moves the target */
        if ((code == FUZZ_OP_NOTIFY || code == FUZZ_OP_PUBLISH || code == FUZZ_OP_DRIVER_OK) &&
            !t->failed &&
            ((uint16_t)(st.inflate_reqs - st0.inflate_reqs) !=
                 (uint16_t)(t->vq[0].used_idx - used0[0]) ||
             (uint16_t)(st.deflate_reqs - st0.deflate_reqs) !=
                 (uint16_t)(t->vq[1].used_idx - used0[1])))
            abort();
    }
#ifdef FUZZ_VERBOSE
    struct cc_balloon_stats st;
    cc_virtio_balloon_stats(b, &st);
    fprintf(stderr, "ops %zu, status 0x%x, failure: %s\n", c.nops, t->status,
            virtio_mmio_failure(t) ? virtio_mmio_failure(t) : "none");
    fprintf(stderr, "target %llu actual %llu inflated %llu deflated %llu reqs %llu/%llu bad %llu\n",
            (unsigned long long)st.target_pages, (unsigned long long)st.actual_pages,
            (unsigned long long)st.inflated, (unsigned long long)st.deflated,
            (unsigned long long)st.inflate_reqs, (unsigned long long)st.deflate_reqs,
            (unsigned long long)st.bad_pfns);
#endif
    virtio_balloon_destroy(b);
    free(c.mem);
    return 0;
}
