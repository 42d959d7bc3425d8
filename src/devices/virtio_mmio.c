/* virtio-mmio transport, version 2 (see virtio_mmio.h): registers, feature
 * handshake, queue set-up, notifications, interrupts, the failed state and
 * snapshots. Devices plug in through struct cc_virtio_ops. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "devices/virtio_mmio.h"

/* A guest can fail and reset a device in a loop; log only the first few. */
#define LOG_LIMIT 16

#define STATUS_KNOWN (VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | \
                      VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_FEATURES_OK | \
                      VIRTIO_STATUS_DEVICE_NEEDS_RESET | VIRTIO_STATUS_FAILED)

static uint64_t device_features(const struct cc_virtio_mmio *t)
{
    return t->ops->features | (1ull << VIRTIO_F_VERSION_1);
}

static void reset_state(struct cc_virtio_mmio *t)
{
    t->status = 0;
    t->dev_features_sel = t->drv_features_sel = 0;
    t->driver_features = 0;
    t->queue_sel = 0;
    t->isr = 0;
    t->shm_sel = 0;
    t->kicked = 0;
    t->failed = false;
    t->reason[0] = 0;
    for (unsigned i = 0; i < CC_VIRTIO_MAX_QUEUES; i++)
        vq_reset(&t->vq[i], i < t->ops->num_queues ? t->ops->queue_max : 0);
}

void virtio_mmio_init(struct cc_virtio_mmio *t, const struct cc_virtio_ops *ops, void *dev,
                         uint8_t *const *mem_base, const uint64_t *mem_size,
                         struct cc_irq_sink irq, unsigned irq_line)
{
    memset(t, 0, sizeof(*t));
    t->ops = ops;
    t->dev = dev;
    t->mem_base = mem_base;
    t->mem_size = mem_size;
    t->irq = irq;
    t->irq_line = irq_line;
    snprintf(t->label, sizeof(t->label), "%s", ops->name);
    reset_state(t);
}

void virtio_mmio_set_log(struct cc_virtio_mmio *t, const char *label,
                            void (*log)(void *opaque, const char *msg), void *opaque)
{
    if (label)
        snprintf(t->label, sizeof(t->label), "%s", label);
    t->log = log;
    t->log_opaque = opaque;
}

void virtio_mmio_set_dirty_hook(struct cc_virtio_mmio *t,
                                   void (*fn)(void *opaque, uint64_t gpa, uint64_t len),
                                   void *opaque)
{
    t->mark = fn;
    t->mark_opaque = opaque;
}

struct cc_gmem virtio_mmio_mem(const struct cc_virtio_mmio *t)
{
    struct cc_gmem m = {NULL, 0, t->mark, t->mark_opaque};
    if (t->mem_base && t->mem_size) {
        m.base = *t->mem_base;
        m.size = *t->mem_size;
    }
    return m;
}

/* ---- interrupts ---- */

static void update_line(struct cc_virtio_mmio *t)
{
    bool level = t->isr != 0;
    if (level != t->irq_level) {
        t->irq_level = level;
        irq_set(&t->irq, t->irq_line, level);
    }
}

static void raise_isr(struct cc_virtio_mmio *t, uint32_t bits)
{
    t->isr |= bits;
    update_line(t);
}

/* ---- failure ---- */

void virtio_mmio_fail(struct cc_virtio_mmio *t, const char *fmt, ...)
{
    if (t->failed)
        return;             /* keep the first reason */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->reason, sizeof(t->reason), fmt, ap);
    va_end(ap);
    if (!t->reason[0])
        snprintf(t->reason, sizeof(t->reason), "unspecified protocol error");
    t->failed = true;
    t->failures++;
    t->status |= VIRTIO_STATUS_DEVICE_NEEDS_RESET;
    if (t->log && t->logged < LOG_LIMIT) {
        char msg[384];
        snprintf(msg, sizeof(msg), "%s: device needs reset: %s%s", t->label, t->reason,
                 ++t->logged == LOG_LIMIT ? " (further messages from this device suppressed)"
                                          : "");
        t->log(t->log_opaque, msg);
    }
    if (t->status & VIRTIO_STATUS_DRIVER_OK)
        raise_isr(t, VIRTIO_INT_CONFIG);
}

const char *virtio_mmio_failure(const struct cc_virtio_mmio *t)
{
    return t->failed ? t->reason : NULL;
}

bool virtio_mmio_has_feature(const struct cc_virtio_mmio *t, unsigned bit)
{
    return bit < 64 && (t->status & VIRTIO_STATUS_FEATURES_OK) &&
           (t->driver_features >> bit) & 1;
}

void virtio_mmio_config_changed(struct cc_virtio_mmio *t)
{
    t->config_gen++;
    if ((t->status & VIRTIO_STATUS_DRIVER_OK) && !t->failed)
        raise_isr(t, VIRTIO_INT_CONFIG);
}

/* ---- queues ---- */

bool virtio_mmio_queue_live(const struct cc_virtio_mmio *t, unsigned q)
{
    return q < t->ops->num_queues && !t->failed && t->vq[q].ready &&
           (t->status & VIRTIO_STATUS_DRIVER_OK);
}

int virtio_mmio_pop(struct cc_virtio_mmio *t, unsigned q, struct cc_vq_chain *c)
{
    if (!virtio_mmio_queue_live(t, q))
        return 0;
    struct cc_err err = {0};
    int r = vq_pop(&t->vq[q], virtio_mmio_mem(t), c, &err);
    if (r < 0)
        virtio_mmio_fail(t, "queue %u: %s", q, err.msg);
    return r;
}

void virtio_mmio_push(struct cc_virtio_mmio *t, unsigned q, const struct cc_vq_chain *c,
                         uint32_t written)
{
    if (!virtio_mmio_queue_live(t, q))
        return;
    struct cc_gmem m = virtio_mmio_mem(t);
    struct cc_err err = {0};
    if (vq_push(&t->vq[q], m, c->head, written, &err) < 0) {
        virtio_mmio_fail(t, "queue %u: %s", q, err.msg);
        return;
    }
    if (vq_want_interrupt(&t->vq[q], m))
        raise_isr(t, VIRTIO_INT_USED);
}

static void run_queue(struct cc_virtio_mmio *t, unsigned q)
{
    if (virtio_mmio_queue_live(t, q) && t->ops->notify)
        t->ops->notify(t->dev, q);
}

/* ---- registers ---- */

static struct cc_vq *sel_queue(struct cc_virtio_mmio *t)
{
    return t->queue_sel < t->ops->num_queues ? &t->vq[t->queue_sel] : NULL;
}

static uint32_t reg_read(struct cc_virtio_mmio *t, uint64_t off)
{
    struct cc_vq *q = sel_queue(t);
    switch (off) {
    case VIRTIO_MMIO_MAGIC_VALUE: return VIRTIO_MMIO_MAGIC;
    case VIRTIO_MMIO_VERSION: return 2;
    case VIRTIO_MMIO_DEVICE_ID: return t->ops->device_id;
    case VIRTIO_MMIO_VENDOR_ID: return CC_VIRTIO_VENDOR;
    case VIRTIO_MMIO_DEVICE_FEATURES:
        if (t->dev_features_sel > 1)
            return 0;
        return (uint32_t)(device_features(t) >> (32 * t->dev_features_sel));
    case VIRTIO_MMIO_QUEUE_NUM_MAX: return q ? q->num_max : 0;
    case VIRTIO_MMIO_QUEUE_READY: return q ? q->ready : 0;
    case VIRTIO_MMIO_INTERRUPT_STATUS: return t->isr;
    case VIRTIO_MMIO_STATUS: return t->status;
    case VIRTIO_MMIO_SHM_LEN_LOW:
    case VIRTIO_MMIO_SHM_LEN_HIGH:
    case VIRTIO_MMIO_SHM_BASE_LOW:
    case VIRTIO_MMIO_SHM_BASE_HIGH:
        return 0xffffffffu;     /* no shared memory regions */
    case VIRTIO_MMIO_CONFIG_GENERATION: return t->config_gen;
    default: return 0;
    }
}

static void set_status(struct cc_virtio_mmio *t, uint32_t val)
{
    if (val == 0) {
        bool had_line = t->irq_level;
        reset_state(t);
        if (had_line)
            update_line(t);
        if (t->ops->reset)
            t->ops->reset(t->dev);
        return;
    }
    uint32_t old = t->status;
    val &= STATUS_KNOWN & ~VIRTIO_STATUS_DEVICE_NEEDS_RESET;
    if ((val & VIRTIO_STATUS_FEATURES_OK) && !(old & VIRTIO_STATUS_FEATURES_OK)) {
        uint64_t drv = t->driver_features;
        bool ok = (drv & ~device_features(t)) == 0 && (drv >> VIRTIO_F_VERSION_1) & 1;
        if (!ok) {
            val &= ~(uint32_t)VIRTIO_STATUS_FEATURES_OK;
            if (t->log && t->logged < LOG_LIMIT) {
                char msg[320];
                snprintf(msg, sizeof(msg), "%s: refusing driver features 0x%llx (offered "
                         "0x%llx; VIRTIO_F_VERSION_1 is required)%s", t->label,
                         (unsigned long long)drv, (unsigned long long)device_features(t),
                         ++t->logged == LOG_LIMIT ? " (further messages from this device "
                                                    "suppressed)" : "");
                t->log(t->log_opaque, msg);
            }
        }
    }
    if (old & VIRTIO_STATUS_FEATURES_OK)
        val |= VIRTIO_STATUS_FEATURES_OK;   /* cannot be taken back without a reset */
    t->status = val | (old & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
    if ((val & VIRTIO_STATUS_DRIVER_OK) && !(old & VIRTIO_STATUS_DRIVER_OK)) {
        if (!(t->status & VIRTIO_STATUS_FEATURES_OK)) {
            virtio_mmio_fail(t, "DRIVER_OK set without accepted features (FEATURES_OK)");
            return;
        }
        if (t->ops->driver_ok && !t->failed)
            t->ops->driver_ok(t->dev);
        uint32_t k = t->kicked;
        t->kicked = 0;
        for (unsigned q = 0; q < t->ops->num_queues; q++)
            if (k & (1u << q))
                run_queue(t, q);
    }
}

static void set_addr(struct cc_vq *q, uint64_t *field, uint32_t val, bool high)
{
    if (!q || q->ready)
        return;     /* the spec forbids changing a live queue; ignore */
    if (high)
        *field = (*field & 0xffffffffull) | (uint64_t)val << 32;
    else
        *field = (*field & ~0xffffffffull) | val;
}

static void reg_write(struct cc_virtio_mmio *t, uint64_t off, uint32_t val)
{
    struct cc_vq *q = sel_queue(t);
    switch (off) {
    case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
        t->dev_features_sel = val;
        break;
    case VIRTIO_MMIO_DRIVER_FEATURES:
        if (t->status & VIRTIO_STATUS_FEATURES_OK)
            break;          /* fixed once accepted */
        if (t->drv_features_sel == 0)
            t->driver_features = (t->driver_features & ~0xffffffffull) | val;
        else if (t->drv_features_sel == 1)
            t->driver_features = (t->driver_features & 0xffffffffull) | (uint64_t)val << 32;
        break;
    case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
        t->drv_features_sel = val;
        break;
    case VIRTIO_MMIO_QUEUE_SEL:
        t->queue_sel = val;
        break;
    case VIRTIO_MMIO_QUEUE_NUM:
        if (q && !q->ready)
            q->num = val > 0xffff ? 0 : (uint16_t)val;
        break;
    case VIRTIO_MMIO_QUEUE_READY:
        if (!q)
            break;
        if (!(val & 1)) {
            q->ready = false;
        } else if (!q->ready) {
            struct cc_err err = {0};
            if (vq_check(q, virtio_mmio_mem(t), &err) < 0)
                virtio_mmio_fail(t, "queue %u: %s", t->queue_sel, err.msg);
            else
                q->ready = true;
        }
        break;
    case VIRTIO_MMIO_QUEUE_NOTIFY: {
        unsigned n = val & 0xffff;
        if (n >= t->ops->num_queues || t->failed)
            break;
        if (!(t->status & VIRTIO_STATUS_DRIVER_OK))
            t->kicked |= 1u << n;
        else
            run_queue(t, n);
        break;
    }
    case VIRTIO_MMIO_INTERRUPT_ACK:
        t->isr &= ~val;
        update_line(t);
        break;
    case VIRTIO_MMIO_STATUS:
        set_status(t, val);
        break;
    case VIRTIO_MMIO_QUEUE_DESC_LOW: set_addr(q, q ? &q->desc : NULL, val, false); break;
    case VIRTIO_MMIO_QUEUE_DESC_HIGH: set_addr(q, q ? &q->desc : NULL, val, true); break;
    case VIRTIO_MMIO_QUEUE_AVAIL_LOW: set_addr(q, q ? &q->avail : NULL, val, false); break;
    case VIRTIO_MMIO_QUEUE_AVAIL_HIGH: set_addr(q, q ? &q->avail : NULL, val, true); break;
    case VIRTIO_MMIO_QUEUE_USED_LOW: set_addr(q, q ? &q->used : NULL, val, false); break;
    case VIRTIO_MMIO_QUEUE_USED_HIGH: set_addr(q, q ? &q->used : NULL, val, true); break;
    case VIRTIO_MMIO_SHM_SEL:
        t->shm_sel = val;
        break;
    default:
        break;      /* read-only or unknown: ignored */
    }
}

void virtio_mmio_read(struct cc_virtio_mmio *t, uint64_t off, void *data, unsigned size)
{
    uint8_t *out = data;
    memset(out, 0, size);
    if (off >= CC_VIRTIO_MMIO_SIZE || size == 0 || size > 8)
        return;
    if (off >= VIRTIO_MMIO_CONFIG) {
        uint8_t cfg[CC_VIRTIO_CONFIG_MAX] = {0};
        uint32_t n = t->ops->config_size;
        if (n > CC_VIRTIO_CONFIG_MAX)
            n = CC_VIRTIO_CONFIG_MAX;
        if (t->ops->config)
            t->ops->config(t->dev, cfg);
        uint64_t c = off - VIRTIO_MMIO_CONFIG;
        for (unsigned i = 0; i < size; i++)
            if (c + i < n)
                out[i] = cfg[c + i];
        return;
    }
    if (size != 4 || (off & 3))
        return;
    put_le32(out, reg_read(t, off));
}

void virtio_mmio_write(struct cc_virtio_mmio *t, uint64_t off, const void *data, unsigned size)
{
    /* The configuration spaces we offer are read-only. */
    if (off >= VIRTIO_MMIO_CONFIG || size != 4 || (off & 3))
        return;
    reg_write(t, off, le32(data));
}

/* ---- snapshots ---- */

#define MMIO_SAVE_VERSION 1

void virtio_mmio_save(const struct cc_virtio_mmio *t, struct cc_buf *out)
{
    buf_put_u8(out, MMIO_SAVE_VERSION);
    buf_put_u32(out, t->ops->device_id);
    buf_put_u32(out, t->status);
    buf_put_u32(out, t->dev_features_sel);
    buf_put_u32(out, t->drv_features_sel);
    buf_put_u64(out, t->driver_features);
    buf_put_u32(out, t->queue_sel);
    buf_put_u32(out, t->isr);
    buf_put_u32(out, t->config_gen);
    buf_put_u32(out, t->shm_sel);
    buf_put_u32(out, t->kicked);
    buf_put_bool(out, t->irq_level);
    buf_put_bool(out, t->failed);
    size_t rl = strnlen(t->reason, sizeof(t->reason) - 1);
    buf_put_u16(out, (uint16_t)rl);
    buf_put(out, t->reason, rl);
    buf_put_u8(out, (uint8_t)t->ops->num_queues);
    for (unsigned i = 0; i < t->ops->num_queues; i++) {
        const struct cc_vq *q = &t->vq[i];
        buf_put_u16(out, q->num);
        buf_put_bool(out, q->ready);
        buf_put_u64(out, q->desc);
        buf_put_u64(out, q->avail);
        buf_put_u64(out, q->used);
        buf_put_u16(out, q->last_avail);
        buf_put_u16(out, q->used_idx);
    }
}

static int bad(struct cc_err *err, const struct cc_virtio_mmio *t, const char *what)
{
    return cc_err_set(err, EINVAL, "%s: snapshot state is invalid: %s", t->ops->name, what);
}

int virtio_mmio_load(struct cc_virtio_mmio *t, struct cc_rd *in, struct cc_err *err)
{
    char what[64];
    snprintf(what, sizeof(what), "%s transport", t->ops->name);
    int ver = rd_version(in, MMIO_SAVE_VERSION, what, err);
    if (ver < 0)
        return ver;
    struct cc_virtio_mmio n = *t;       /* keeps the wiring */
    uint32_t id = rd_u32(in);
    n.status = rd_u32(in);
    n.dev_features_sel = rd_u32(in);
    n.drv_features_sel = rd_u32(in);
    n.driver_features = rd_u64(in);
    n.queue_sel = rd_u32(in);
    n.isr = rd_u32(in);
    n.config_gen = rd_u32(in);
    n.shm_sel = rd_u32(in);
    n.kicked = rd_u32(in);
    uint8_t irq_level = rd_u8(in);
    uint8_t failed = rd_u8(in);
    uint16_t rl = rd_u16(in);
    if (!rd_ok(in))
        return bad(err, t, "truncated");
    if (rl >= sizeof(n.reason))
        return bad(err, t, "failure reason too long");
    memset(n.reason, 0, sizeof(n.reason));
    rd_get(in, n.reason, rl);
    for (unsigned i = 0; i < rl; i++)
        if (n.reason[i] < 0x20 || n.reason[i] > 0x7e)
            return bad(err, t, "failure reason is not printable text");
    uint8_t nq = rd_u8(in);
    if (!rd_ok(in))
        return bad(err, t, "truncated");
    if (id != t->ops->device_id)
        return cc_err_set(err, EINVAL, "%s: snapshot holds device id %u, this device is %u",
                          t->ops->name, id, t->ops->device_id);
    if (nq != t->ops->num_queues)
        return bad(err, t, "queue count differs");
    for (unsigned i = 0; i < nq; i++) {
        struct cc_vq *q = &n.vq[i];
        q->num = rd_u16(in);
        uint8_t ready = rd_u8(in);
        q->desc = rd_u64(in);
        q->avail = rd_u64(in);
        q->used = rd_u64(in);
        q->last_avail = rd_u16(in);
        q->used_idx = rd_u16(in);
        if (!rd_ok(in))
            return bad(err, t, "truncated");
        if (ready > 1)
            return bad(err, t, "queue ready flag");
        q->ready = ready;
        q->num_max = t->ops->queue_max;
        /* A live queue must have a layout the driver could have enabled
         * (a queue being set up may hold anything); RAM bounds are checked
         * again on every access. */
        if (q->ready && q->num > q->num_max)
            return bad(err, t, "live queue larger than the maximum");
        if (q->ready && ((q->num & (q->num - 1)) || q->num == 0 || (q->desc & 15) ||
                         (q->avail & 1) || (q->used & 3)))
            return bad(err, t, "live queue with an impossible layout");
    }
    if (irq_level > 1 || failed > 1)
        return bad(err, t, "flag out of range");
    n.irq_level = irq_level;
    n.failed = failed;
    if (n.status & ~(uint32_t)STATUS_KNOWN)
        return bad(err, t, "unknown status bits");
    if (n.isr > 3 || n.irq_level != (n.isr != 0))
        return bad(err, t, "interrupt status and line disagree");
    if (n.kicked >> nq)
        return bad(err, t, "pending notification for a missing queue");
    if (n.failed != !!(n.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET) || (n.failed && rl == 0))
        return bad(err, t, "failed state and status disagree");
    if ((n.status & VIRTIO_STATUS_FEATURES_OK) &&
        ((n.driver_features & ~device_features(t)) ||
         !((n.driver_features >> VIRTIO_F_VERSION_1) & 1)))
        return bad(err, t, "accepted features the device does not offer");
    *t = n;
    return 0;
}
