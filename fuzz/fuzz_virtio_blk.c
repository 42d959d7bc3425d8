/* Fuzz target: virtio-blk behind the transport, on a 1 MiB copy-on-write
 * disk (see fuzz_common.h for the input format). Device ops: 10 add a
 * fault (kind, range, count and parameters from the op), 11 remove one or
 * all, 12 snapshot the disk / restore the last snapshot, 13 host write,
 * 14 host read (both range-checked). Saves/loads include every written
 * page. */
#include <stdio.h>

#include "devices/virtio_blk.h"
#include "fuzz_common.h"

#define DISK (1u << 20)

static void save(void *dev, struct cc_buf *out) { virtio_blk_save(dev, out); }
static int load(void *dev, struct cc_rd *in, struct cc_err *err)
{
    return virtio_blk_load(dev, in, err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    static struct fuzz_op ops[256];
    struct fuzz_ctx c;
    if (!fuzz_parse(&c, data, len, ops))
        return 0;
    struct cc_virtio_blk *b;
    struct cc_err err = {0};
    struct cc_blk_config cfg = {.size = DISK};
    if (virtio_blk_create(&cfg, 3, "virtio-blk0", &c.mem, &c.size,
                             (struct cc_irq_sink){fuzz_irq_set, &c.irq}, 6, &b, &err) < 0)
        abort();
    struct cc_blk_overlay *snap = NULL;
    static uint8_t tmp[16384];
    for (size_t i = 0; i < c.nops; i++) {
        const struct fuzz_op *o = &c.ops[i];
        switch (o->op % 16) {
        case FUZZ_OP_DEVICE: {
            struct cc_blk_fault f = {
                .kind = (enum cc_blk_fault_kind)(o->arg % 7),
                .offset = (uint64_t)(o->val & 0x7ff) * 512,
                .length = (uint64_t)((o->val >> 11) & 0xff) * 512,
                .count = (o->val >> 19) & 7 ? (o->val >> 19) & 7 : CC_BLK_FAULT_UNLIMITED,
                .torn_bytes = (o->arg & 0x80) ? CC_BLK_TORN_RANDOM : ((o->val >> 22) & 0xff) * 37,
                .torn_error = (o->arg >> 6) & 1,
                .flip_bits = (o->val >> 22) & 0x3ff,
                .full_bytes = (uint64_t)((o->val >> 24) & 0xff) * 4096,
            };
            cc_virtio_blk_fault_add(b, &f, &err);
            break;
        }
        case FUZZ_OP_DEVICE + 1:
            if (o->arg & 1)
                cc_virtio_blk_fault_clear(b);
            else
                cc_virtio_blk_fault_remove(b, (int)(o->val % 80));
            break;
        case FUZZ_OP_DEVICE + 2:
            if (o->arg & 1) {
                cc_blk_overlay_free(snap);
                snap = cc_virtio_blk_snapshot(b);
            } else if (snap) {
                if (cc_virtio_blk_restore(b, snap, &err) < 0)
                    abort();
            }
            break;
        case FUZZ_OP_DEVICE + 3:
        case FUZZ_OP_DEVICE + 4: {
            uint64_t off = (uint64_t)o->val % (DISK + 4096);
            size_t n = (size_t)(o->arg) * 64;
            memset(tmp, o->arg, n);
            int rc = o->op % 16 == FUZZ_OP_DEVICE + 3 ? cc_virtio_blk_write(b, off, tmp, n, &err)
                                                       : cc_virtio_blk_read(b, off, tmp, n, &err);
            if ((rc == 0) != (off + n <= DISK))
                abort();
            break;
        }
        default:
            fuzz_generic(&c, &b->mmio, o, b, save, load);
            break;
        }
        fuzz_check(&c, &b->mmio);
        if (b->ov->pages > DISK / 4096)
            abort();
    }
#ifdef FUZZ_VERBOSE
    fprintf(stderr, "ops %zu, status 0x%x, failure: %s\n", c.nops, b->mmio.status,
            virtio_mmio_failure(&b->mmio) ? virtio_mmio_failure(&b->mmio) : "none");
    struct cc_blk_stats st;
    cc_virtio_blk_stats(b, &st);
    fprintf(stderr, "reads %llu writes %llu flushes %llu ids %llu unsupp %llu ioerrs %llu "
            "faults %llu pages %llu\n", (unsigned long long)st.reads,
            (unsigned long long)st.writes, (unsigned long long)st.flushes,
            (unsigned long long)st.get_ids, (unsigned long long)st.unsupported,
            (unsigned long long)st.ioerrs, (unsigned long long)st.faults_hit,
            (unsigned long long)b->ov->pages);
#endif
    cc_blk_overlay_free(snap);
    virtio_blk_destroy(b);
    free(c.mem);
    return 0;
}
