/* virtio-blk: request parsing, the copy-on-write disk and fault injection
 * (see virtio_blk.h and include/chaoscontrol/virtio.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "devices/virtio_blk.h"

#define BLK_QUEUE_SIZE 256
#define BLK_SIZE_MAX (128u << 10)
#define BLK_SEG_MAX (BLK_QUEUE_SIZE - 2)
#define BLK_CONFIG_SIZE 36
#define BLK_SAVE_VERSION 1

/* ---- faults ---- */

static bool fault_reads(enum cc_blk_fault_kind k)
{
    return k == CC_BLK_FAULT_READ_ERROR || k == CC_BLK_FAULT_CORRUPT_READ;
}

static uint64_t fault_end(const struct cc_virtio_blk *b, const struct cc_blk_fault *f)
{
    return f->length ? f->offset + f->length : b->size;
}

/* The first live fault of the read or write class overlapping [off,
 * off+len); a DISK_FULL fault only matches when it would refuse the write. */
static struct cc_blk_fault_slot *match(struct cc_virtio_blk *b, bool write, uint64_t off,
                                       uint64_t len)
{
    if (len == 0)
        return NULL;
    for (unsigned i = 0; i < b->nfaults; i++) {
        struct cc_blk_fault_slot *s = &b->faults[i];
        const struct cc_blk_fault *f = &s->f;
        if (f->count != CC_BLK_FAULT_UNLIMITED && s->hits >= f->count)
            continue;
        if (fault_reads(f->kind) == write)
            continue;
        if (!(off < fault_end(b, f) && f->offset < off + len))
            continue;
        if (f->kind == CC_BLK_FAULT_DISK_FULL) {
            uint64_t fresh = blk_overlay_new_pages(b->ov, off, len);
            if (fresh == 0 || (b->ov->pages + fresh) * CC_BLK_PAGE <= f->full_bytes)
                continue;
        }
        s->hits++;
        b->stats.faults_hit++;
        return s;
    }
    return NULL;
}

/* Draw distinct bit positions (relative to the request start) inside the
 * overlap of the request and the fault range. Returns how many. */
static unsigned draw_flips(struct cc_virtio_blk *b, const struct cc_blk_fault *f, uint64_t off,
                           uint64_t len)
{
    uint64_t lo = f->offset > off ? f->offset : off;
    uint64_t fe = fault_end(b, f), hi = fe < off + len ? fe : off + len;
    uint64_t bits = (hi - lo) * 8;
    uint64_t want = f->flip_bits ? f->flip_bits : 1;
    if (want > CC_VIRTIO_BLK_MAX_FLIPS)
        want = CC_VIRTIO_BLK_MAX_FLIPS;
    if (want > bits)
        want = bits;
    unsigned n = 0;
    while (n < want) {
        uint64_t p = (lo - off) * 8 + rng_below(&b->rng, bits);
        bool dup = false;
        for (unsigned i = 0; i < n && !dup; i++)
            dup = b->flips[i] == p;
        if (!dup)
            b->flips[n++] = p;
    }
    return n;
}

/* Flip the drawn bits that fall into the chunk at request offset pos. */
static void apply_flips(const struct cc_virtio_blk *b, unsigned n, uint64_t pos, uint8_t *chunk,
                        size_t len)
{
    for (unsigned i = 0; i < n; i++) {
        uint64_t byte = b->flips[i] / 8;
        if (byte >= pos && byte - pos < len)
            chunk[byte - pos] ^= (uint8_t)(1u << (b->flips[i] % 8));
    }
}

int cc_virtio_blk_fault_add(struct cc_virtio_blk *b, const struct cc_blk_fault *f,
                            struct cc_err *err)
{
    if (f->kind < CC_BLK_FAULT_READ_ERROR || f->kind > CC_BLK_FAULT_DISK_FULL)
        return cc_err_set(err, EINVAL, "virtio-blk fault: unknown kind %d", (int)f->kind);
    if (f->count == 0)
        return cc_err_set(err, EINVAL, "virtio-blk fault: count must be at least 1 "
                          "(CC_BLK_FAULT_UNLIMITED for every request)");
    if (f->offset >= b->size || f->length > b->size - f->offset)
        return cc_err_set(err, EINVAL, "virtio-blk fault: range %llu+%llu is outside the "
                          "%llu-byte disk", (unsigned long long)f->offset,
                          (unsigned long long)f->length, (unsigned long long)b->size);
    if (f->flip_bits > CC_VIRTIO_BLK_MAX_FLIPS)
        return cc_err_set(err, EINVAL, "virtio-blk fault: at most %u bit flips per request",
                          CC_VIRTIO_BLK_MAX_FLIPS);
    if (b->nfaults == CC_BLK_MAX_FAULTS)
        return cc_err_set(err, ENOSPC, "virtio-blk fault: %u faults already set; remove some",
                          CC_BLK_MAX_FAULTS);
    if (b->next_fault_id == INT32_MAX)
        return cc_err_set(err, ENOSPC, "virtio-blk fault: fault ids exhausted");
    struct cc_blk_fault_slot *s = &b->faults[b->nfaults++];
    s->id = b->next_fault_id++;
    s->f = *f;
    s->hits = 0;
    return s->id;
}

int cc_virtio_blk_fault_remove(struct cc_virtio_blk *b, int id)
{
    for (unsigned i = 0; i < b->nfaults; i++) {
        if (b->faults[i].id != id)
            continue;
        memmove(&b->faults[i], &b->faults[i + 1], (b->nfaults - i - 1) * sizeof(b->faults[0]));
        b->nfaults--;
        return 0;
    }
    return -ENOENT;
}

void cc_virtio_blk_fault_clear(struct cc_virtio_blk *b)
{
    b->nfaults = 0;
}

int64_t cc_virtio_blk_fault_hits(const struct cc_virtio_blk *b, int id)
{
    for (unsigned i = 0; i < b->nfaults; i++)
        if (b->faults[i].id == id)
            return (int64_t)b->faults[i].hits;
    return -ENOENT;
}

/* ---- requests ---- */

static bool range_ok(const struct cc_virtio_blk *b, uint64_t sector, uint64_t len)
{
    return len % 512 == 0 && len <= CC_VIRTIO_BLK_MAX_REQ && sector <= b->size / 512 &&
           len <= b->size - sector * 512;
}

static uint8_t do_read(struct cc_virtio_blk *b, const struct cc_vq_chain *c, uint64_t off,
                       uint64_t len, uint32_t *written)
{
    struct cc_gmem m = virtio_mmio_mem(&b->mmio);
    struct cc_blk_fault_slot *s = match(b, false, off, len);
    if (s && s->f.kind == CC_BLK_FAULT_READ_ERROR)
        return VIRTIO_BLK_S_IOERR;
    unsigned nflips = s && s->f.kind == CC_BLK_FAULT_CORRUPT_READ ? draw_flips(b, &s->f, off, len)
                                                                  : 0;
    for (uint64_t pos = 0; pos < len; pos += CC_VIRTIO_BLK_BOUNCE) {
        size_t n = len - pos < CC_VIRTIO_BLK_BOUNCE ? (size_t)(len - pos) : CC_VIRTIO_BLK_BOUNCE;
        if (blk_overlay_read(b->ov, off + pos, b->bounce, n) < 0)
            return VIRTIO_BLK_S_IOERR;
        apply_flips(b, nflips, pos, b->bounce, n);
        vq_write(m, c, pos, b->bounce, n);
    }
    *written = (uint32_t)len;
    b->stats.bytes_read += len;
    return VIRTIO_BLK_S_OK;
}

static uint8_t do_write(struct cc_virtio_blk *b, const struct cc_vq_chain *c, uint64_t off,
                        uint64_t len)
{
    if (b->read_only)
        return VIRTIO_BLK_S_IOERR;
    struct cc_gmem m = virtio_mmio_mem(&b->mmio);
    struct cc_blk_fault_slot *s = match(b, true, off, len);
    uint64_t land = len;
    unsigned nflips = 0;
    uint8_t status = VIRTIO_BLK_S_OK;
    if (s) {
        switch (s->f.kind) {
        case CC_BLK_FAULT_WRITE_ERROR:
        case CC_BLK_FAULT_DISK_FULL:
            return VIRTIO_BLK_S_IOERR;
        case CC_BLK_FAULT_TORN_WRITE:
            land = s->f.torn_bytes == CC_BLK_TORN_RANDOM ? 512 * rng_below(&b->rng, len / 512)
                                                          : s->f.torn_bytes;
            if (land > len)
                land = len;
            if (s->f.torn_error)
                status = VIRTIO_BLK_S_IOERR;
            break;
        case CC_BLK_FAULT_CORRUPT_WRITE:
            nflips = draw_flips(b, &s->f, off, len);
            break;
        default:
            break;
        }
    }
    for (uint64_t pos = 0; pos < land; pos += CC_VIRTIO_BLK_BOUNCE) {
        size_t n = land - pos < CC_VIRTIO_BLK_BOUNCE ? (size_t)(land - pos)
                                                      : CC_VIRTIO_BLK_BOUNCE;
        vq_read(m, c, 16 + pos, b->bounce, n);
        apply_flips(b, nflips, pos, b->bounce, n);
        if (blk_overlay_write(b->ov, off + pos, b->bounce, n) < 0)
            return VIRTIO_BLK_S_IOERR;
    }
    b->stats.bytes_written += land;
    return status;
}

static void handle(struct cc_virtio_blk *b, unsigned q, const struct cc_vq_chain *c)
{
    struct cc_virtio_mmio *t = &b->mmio;
    struct cc_gmem m = virtio_mmio_mem(t);
    if (c->out_len < 16 || c->in_len < 1) {
        virtio_mmio_fail(t, "virtio-blk: request from head %u has %llu readable and %llu "
                            "writable bytes; it needs a 16-byte header and a status byte",
                            c->head, (unsigned long long)c->out_len,
                            (unsigned long long)c->in_len);
        return;
    }
    uint8_t hdr[16];
    vq_read(m, c, 0, hdr, sizeof(hdr));
    uint32_t type = le32(hdr);
    uint64_t sector = le64(hdr + 8);
    uint8_t status;
    uint32_t written = 0;
    switch (type) {
    case VIRTIO_BLK_T_IN: {
        b->stats.reads++;
        uint64_t len = c->in_len - 1;
        status = range_ok(b, sector, len) ? do_read(b, c, sector * 512, len, &written)
                                          : VIRTIO_BLK_S_IOERR;
        break;
    }
    case VIRTIO_BLK_T_OUT: {
        b->stats.writes++;
        uint64_t len = c->out_len - 16;
        status = range_ok(b, sector, len) ? do_write(b, c, sector * 512, len)
                                          : VIRTIO_BLK_S_IOERR;
        break;
    }
    case VIRTIO_BLK_T_FLUSH:
        b->stats.flushes++;
        status = VIRTIO_BLK_S_OK;
        break;
    case VIRTIO_BLK_T_GET_ID: {
        b->stats.get_ids++;
        uint8_t id[20] = {0};
        memcpy(id, b->id, strnlen(b->id, sizeof(id)));
        size_t n = c->in_len - 1 < sizeof(id) ? (size_t)(c->in_len - 1) : sizeof(id);
        written = (uint32_t)vq_write(m, c, 0, id, n);
        status = VIRTIO_BLK_S_OK;
        break;
    }
    default:
        b->stats.unsupported++;
        status = VIRTIO_BLK_S_UNSUPP;
        break;
    }
    if (status == VIRTIO_BLK_S_IOERR) {
        b->stats.ioerrs++;
        written = 0;
    }
    vq_write(m, c, c->in_len - 1, &status, 1);
    virtio_mmio_push(t, q, c, written + 1);
}

static void blk_notify(void *dev, unsigned q)
{
    struct cc_virtio_blk *b = dev;
    for (unsigned i = 0; i < b->mmio.vq[q].num; i++) {
        if (virtio_mmio_pop(&b->mmio, q, &b->chain) <= 0)
            break;
        handle(b, q, &b->chain);
    }
}

static void blk_config(void *dev, uint8_t *out)
{
    struct cc_virtio_blk *b = dev;
    put_le64(out, b->size / 512);
    put_le32(out + 8, BLK_SIZE_MAX);
    put_le32(out + 12, BLK_SEG_MAX);
    put_le32(out + 20, 512);
}

/* ---- lifecycle ---- */

static void blk_save(const void *d, struct cc_buf *out) { virtio_blk_save(d, out); }
static int blk_load(void *d, struct cc_rd *in, struct cc_err *err)
{
    return virtio_blk_load(d, in, err);
}
static void blk_destroy(void *d) { virtio_blk_destroy(d); }
static void blk_save_meta(const void *d, struct cc_buf *out) { virtio_blk_save_meta(d, out); }
static void *blk_data_snapshot(void *d) { return cc_virtio_blk_snapshot(d); }
static void blk_data_free(void *data) { cc_blk_overlay_free(data); }
static int blk_load_meta(void *d, struct cc_rd *in, const void *data, struct cc_err *err)
{
    return virtio_blk_load_meta(d, in, data, err);
}

int cc_blk_config_check(const struct cc_blk_config *cfg, struct cc_err *err)
{
    if (cfg->id && strlen(cfg->id) > 20)
        return cc_err_set(err, EINVAL, "virtio-blk: id \"%s\" is longer than 20 bytes", cfg->id);
    struct cc_blk_base *base = NULL;
    int rc = blk_base_open(cfg->image_path, &base, err);
    if (rc < 0)
        return rc;
    uint64_t size = cfg->size ? cfg->size : (blk_base_size(base) + 511) & ~511ull;
    if (size == 0 && cfg->image_path)
        rc = cc_err_set(err, EINVAL, "disk image %s is empty; give a disk size too",
                        cfg->image_path);
    else if (size == 0)
        rc = cc_err_set(err, EINVAL, "virtio-blk: disk size is 0; give a size or a "
                        "non-empty image");
    if (rc == 0) {
        struct cc_blk_overlay *ov = NULL;
        rc = blk_overlay_create(base, size, &ov, err);
        if (rc < 0)
            cc_err_prefix(err, "virtio-blk");
        else
            cc_blk_overlay_free(ov);
    }
    blk_base_put(base);
    return rc;
}

int virtio_blk_create(const struct cc_blk_config *cfg, uint64_t seed, const char *label,
                         uint8_t *const *mem_base, const uint64_t *mem_size,
                         struct cc_irq_sink irq, unsigned irq_line,
                         struct cc_virtio_blk **out, struct cc_err *err)
{
    if (cfg->id && strlen(cfg->id) > 20)
        return cc_err_set(err, EINVAL, "virtio-blk: id \"%s\" is longer than 20 bytes", cfg->id);
    struct cc_virtio_blk *b = calloc(1, sizeof(*b));
    if (!b)
        return cc_err_set(err, ENOMEM, "virtio-blk: out of memory");
    b->bounce = malloc(CC_VIRTIO_BLK_BOUNCE);
    int rc;
    if (!b->bounce) {
        rc = cc_err_set(err, ENOMEM, "virtio-blk: out of memory");
        goto fail;
    }
    rc = blk_base_open(cfg->image_path, &b->base, err);
    if (rc < 0)
        goto fail;
    b->size = cfg->size;
    if (b->size == 0) {
        b->size = (blk_base_size(b->base) + 511) & ~511ull;
        if (b->size == 0) {
            rc = cc_err_set(err, EINVAL, "virtio-blk: disk size is 0; give a size or a "
                            "non-empty image");
            goto fail;
        }
    }
    rc = blk_overlay_create(b->base, b->size, &b->ov, err);
    if (rc < 0) {
        cc_err_prefix(err, "virtio-blk");
        goto fail;
    }
    b->read_only = cfg->read_only;
    snprintf(b->id, sizeof(b->id), "%s", cfg->id ? cfg->id : (label ? label : "chaoscontrol"));
    char stream[48];
    snprintf(stream, sizeof(stream), "%s-faults", label ? label : "virtio-blk");
    rng_init(&b->rng, seed, stream);
    b->ops = (struct cc_virtio_ops){
        .name = "virtio-blk",
        .device_id = CC_VIRTIO_BLK,
        .features = 1ull << VIRTIO_BLK_F_SIZE_MAX | 1ull << VIRTIO_BLK_F_SEG_MAX |
                    1ull << VIRTIO_BLK_F_BLK_SIZE | 1ull << VIRTIO_BLK_F_FLUSH |
                    (cfg->read_only ? 1ull << VIRTIO_BLK_F_RO : 0),
        .num_queues = 1,
        .queue_max = BLK_QUEUE_SIZE,
        .config_size = BLK_CONFIG_SIZE,
        .config = blk_config,
        .notify = blk_notify,
        .save = blk_save,
        .load = blk_load,
        .destroy = blk_destroy,
        .save_meta = blk_save_meta,
        .data_snapshot = blk_data_snapshot,
        .data_free = blk_data_free,
        .load_meta = blk_load_meta,
    };
    virtio_mmio_init(&b->mmio, &b->ops, b, mem_base, mem_size, irq, irq_line);
    *out = b;
    return 0;

fail:
    virtio_blk_destroy(b);
    return rc;
}

void virtio_blk_destroy(struct cc_virtio_blk *b)
{
    if (!b)
        return;
    cc_blk_overlay_free(b->ov);
    blk_base_put(b->base);
    free(b->bounce);
    free(b);
}

uint64_t cc_virtio_blk_size(const struct cc_virtio_blk *b) { return b->size; }

const char *cc_virtio_blk_failure(const struct cc_virtio_blk *b)
{
    return virtio_mmio_failure(&b->mmio);
}

void cc_virtio_blk_stats(const struct cc_virtio_blk *b, struct cc_blk_stats *s)
{
    *s = b->stats;
}

static int host_range(const struct cc_virtio_blk *b, uint64_t off, size_t len, struct cc_err *err)
{
    if (off > b->size || len > b->size - off)
        return cc_err_set(err, EINVAL, "virtio-blk: range %llu+%zu is outside the %llu-byte disk",
                          (unsigned long long)off, len, (unsigned long long)b->size);
    return 0;
}

int cc_virtio_blk_read(struct cc_virtio_blk *b, uint64_t off, void *buf, size_t len,
                       struct cc_err *err)
{
    int rc = host_range(b, off, len, err);
    if (rc < 0)
        return rc;
    if (blk_overlay_read(b->ov, off, buf, len) < 0)
        return cc_err_set(err, EIO, "virtio-blk: cannot read the base image");
    return 0;
}

int cc_virtio_blk_write(struct cc_virtio_blk *b, uint64_t off, const void *buf, size_t len,
                        struct cc_err *err)
{
    int rc = host_range(b, off, len, err);
    if (rc < 0)
        return rc;
    rc = blk_overlay_write(b->ov, off, buf, len);
    if (rc < 0)
        return cc_err_set(err, -rc, "virtio-blk: write failed: %s", strerror(-rc));
    return 0;
}

struct cc_blk_overlay *cc_virtio_blk_snapshot(struct cc_virtio_blk *b)
{
    return blk_overlay_clone(b->ov);
}

int cc_virtio_blk_restore(struct cc_virtio_blk *b, const struct cc_blk_overlay *ov,
                          struct cc_err *err)
{
    if (ov->size != b->size ||
        blk_base_fingerprint(ov->base) != blk_base_fingerprint(b->base) ||
        blk_base_size(ov->base) != blk_base_size(b->base))
        return cc_err_set(err, EINVAL, "virtio-blk: the snapshot is of another disk (size or "
                          "base image differ)");
    struct cc_blk_overlay *c = blk_overlay_clone(ov);
    if (!c)
        return cc_err_set(err, ENOMEM, "virtio-blk: out of memory");
    cc_blk_overlay_free(b->ov);
    b->ov = c;
    return 0;
}

static void usage_of(const struct cc_blk_overlay *ov, struct cc_blk_usage *u)
{
    u->pages = ov->pages;
    u->live_pages = blk_base_live_pages(ov->base);
    u->live_nodes = blk_base_live_nodes(ov->base);
}

void cc_virtio_blk_usage(const struct cc_virtio_blk *b, struct cc_blk_usage *u)
{
    usage_of(b->ov, u);
}

void cc_blk_overlay_usage(const struct cc_blk_overlay *ov, struct cc_blk_usage *u)
{
    usage_of(ov, u);
}

/* ---- snapshots ---- */

/* Everything but the disk pages: transport, fault stream, faults, stats. */
static void save_meta(const struct cc_virtio_blk *b, struct cc_buf *out)
{
    buf_put_u8(out, BLK_SAVE_VERSION);
    virtio_mmio_save(&b->mmio, out);
    rng_save(&b->rng, out);
    buf_put_u32(out, (uint32_t)b->next_fault_id);
    buf_put_u8(out, (uint8_t)b->nfaults);
    for (unsigned i = 0; i < b->nfaults; i++) {
        const struct cc_blk_fault_slot *s = &b->faults[i];
        buf_put_u32(out, (uint32_t)s->id);
        buf_put_u8(out, (uint8_t)s->f.kind);
        buf_put_u64(out, s->f.offset);
        buf_put_u64(out, s->f.length);
        buf_put_u64(out, s->f.count);
        buf_put_u32(out, s->f.torn_bytes);
        buf_put_bool(out, s->f.torn_error);
        buf_put_u32(out, s->f.flip_bits);
        buf_put_u64(out, s->f.full_bytes);
        buf_put_u64(out, s->hits);
    }
    const struct cc_blk_stats *st = &b->stats;
    uint64_t sv[] = {st->reads, st->writes, st->flushes, st->get_ids, st->unsupported,
                     st->bytes_read, st->bytes_written, st->ioerrs, st->faults_hit};
    for (size_t i = 0; i < sizeof(sv) / sizeof(sv[0]); i++)
        buf_put_u64(out, sv[i]);
}

struct blk_meta {
    struct cc_virtio_mmio mmio;
    struct cc_rng rng;
    int next_fault_id;
    unsigned nfaults;
    struct cc_blk_fault_slot faults[CC_BLK_MAX_FAULTS];
    struct cc_blk_stats stats;
};

static int parse_meta(const struct cc_virtio_blk *b, struct cc_rd *in, struct blk_meta *m,
                      struct cc_err *err)
{
    int ver = rd_version(in, BLK_SAVE_VERSION, "virtio-blk", err);
    if (ver < 0)
        return ver;
    m->mmio = b->mmio;
    int rc = virtio_mmio_load(&m->mmio, in, err);
    if (rc < 0)
        return rc;
    rc = rng_load(&m->rng, in, err);
    if (rc < 0)
        return cc_err_prefix(err, "virtio-blk");
    uint32_t next_id = rd_u32(in);
    uint8_t nf = rd_u8(in);
    if (!rd_ok(in))
        return cc_err_set(err, EINVAL, "virtio-blk: snapshot state truncated");
    if (nf > CC_BLK_MAX_FAULTS || next_id > INT32_MAX)
        return cc_err_set(err, EINVAL, "virtio-blk: snapshot fault list is invalid");
    for (unsigned i = 0; i < nf; i++) {
        struct cc_blk_fault_slot *s = &m->faults[i];
        memset(s, 0, sizeof(*s));
        uint32_t id = rd_u32(in);
        uint8_t kind = rd_u8(in);
        s->f.offset = rd_u64(in);
        s->f.length = rd_u64(in);
        s->f.count = rd_u64(in);
        s->f.torn_bytes = rd_u32(in);
        uint8_t torn_error = rd_u8(in);
        s->f.flip_bits = rd_u32(in);
        s->f.full_bytes = rd_u64(in);
        s->hits = rd_u64(in);
        if (!rd_ok(in))
            return cc_err_set(err, EINVAL, "virtio-blk: snapshot state truncated");
        s->id = (int)id;
        s->f.kind = (enum cc_blk_fault_kind)kind;
        s->f.torn_error = torn_error == 1;
        bool ids_ok = id < next_id && (i == 0 || (int)id > m->faults[i - 1].id);
        if (!ids_ok || kind < CC_BLK_FAULT_READ_ERROR || kind > CC_BLK_FAULT_DISK_FULL ||
            torn_error > 1 || s->f.count == 0 || s->f.offset >= b->size ||
            s->f.length > b->size - s->f.offset || s->f.flip_bits > CC_VIRTIO_BLK_MAX_FLIPS ||
            (s->f.count != CC_BLK_FAULT_UNLIMITED && s->hits > s->f.count))
            return cc_err_set(err, EINVAL, "virtio-blk: snapshot fault %u is invalid", i);
    }
    m->next_fault_id = (int)next_id;
    m->nfaults = nf;
    uint64_t sv[9];
    for (size_t i = 0; i < 9; i++)
        sv[i] = rd_u64(in);
    if (!rd_ok(in))
        return cc_err_set(err, EINVAL, "virtio-blk: snapshot state truncated");
    m->stats = (struct cc_blk_stats){sv[0], sv[1], sv[2], sv[3], sv[4], sv[5], sv[6], sv[7],
                                     sv[8]};
    return 0;
}

static void commit(struct cc_virtio_blk *b, const struct blk_meta *m, struct cc_blk_overlay *ov)
{
    b->mmio = m->mmio;
    b->rng = m->rng;
    b->next_fault_id = m->next_fault_id;
    b->nfaults = m->nfaults;
    memcpy(b->faults, m->faults, m->nfaults * sizeof(m->faults[0]));
    b->stats = m->stats;
    cc_blk_overlay_free(b->ov);
    b->ov = ov;
}

void virtio_blk_save(const struct cc_virtio_blk *b, struct cc_buf *out)
{
    save_meta(b, out);
    blk_overlay_save(b->ov, out);
}

int virtio_blk_load(struct cc_virtio_blk *b, struct cc_rd *in, struct cc_err *err)
{
    struct blk_meta *m = malloc(sizeof(*m));
    if (!m)
        return cc_err_set(err, ENOMEM, "virtio-blk: out of memory");
    struct cc_blk_overlay *ov = NULL;
    int rc = parse_meta(b, in, m, err);
    if (rc == 0) {
        rc = blk_overlay_load(b->base, b->size, in, &ov, err);
        if (rc < 0)
            cc_err_prefix(err, "virtio-blk");
    }
    if (rc == 0)
        commit(b, m, ov);
    free(m);
    return rc;
}

void virtio_blk_save_meta(const struct cc_virtio_blk *b, struct cc_buf *out)
{
    save_meta(b, out);
}

int virtio_blk_load_meta(struct cc_virtio_blk *b, struct cc_rd *in,
                            const struct cc_blk_overlay *disk, struct cc_err *err)
{
    if (disk->size != b->size ||
        blk_base_fingerprint(disk->base) != blk_base_fingerprint(b->base) ||
        blk_base_size(disk->base) != blk_base_size(b->base))
        return cc_err_set(err, EINVAL, "virtio-blk: the disk snapshot is of another disk");
    struct blk_meta *m = malloc(sizeof(*m));
    if (!m)
        return cc_err_set(err, ENOMEM, "virtio-blk: out of memory");
    int rc = parse_meta(b, in, m, err);
    struct cc_blk_overlay *ov = NULL;
    if (rc == 0 && !(ov = blk_overlay_clone(disk)))
        rc = cc_err_set(err, ENOMEM, "virtio-blk: out of memory");
    if (rc == 0)
        commit(b, m, ov);
    free(m);
    return rc;
}
