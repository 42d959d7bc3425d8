/* The determinism log: writer and reader (chaoscontrol/dlog.h).
 *
 * File layout (all fixed-width integers little-endian; docs/dlog.md):
 *   "CCDETLOG"  u32 format version  u32 header length H
 *   header (H bytes): u32 n_vms  u64 seed  u64 regs_every  u8 source length, source
 *   u64 XXH3-64 of every byte before it
 *   blocks:  u32 'DBLK'  u32 raw length  u32 stored length  u32 records
 *            u64 XXH3-64 of the 16 bytes before it and the stored bytes
 *            stored bytes: a zstd frame of the raw records
 *   end:     u32 'DEND'  u32 0  u64 records  u64 blocks  u64 XXH3-64 of the 24 bytes before
 * Records inside a block: u8 type, then LEB128 varints (signed ones
 * zigzag); exit numbers, times and RIPs are deltas from the same VM's
 * previous record in the block (every block starts from zero, so each one
 * decodes on its own). */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <xxhash.h>
#include <zstd.h>

#include "chaoscontrol/dlog.h"
#include "chaoscontrol/sdk_host.h"
#include "chaoscontrol/sim.h"
#include "chaoscontrol/vm.h"
#include "util/afile.h"
#include "util/buf.h"
#include "util/cjson.h"

#define TAG(a, b, c, d) ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)
#define T_BLOCK TAG('D', 'B', 'L', 'K')
#define T_END   TAG('D', 'E', 'N', 'D')
#define BLOCK_RAW 131072            /* raw bytes per block before it is compressed */
#define MAX_RAW (16u << 20)         /* a reader refuses larger blocks as corrupt */
#define ZSTD_LEVEL 1

static const char MAGIC[8] = {'C', 'C', 'D', 'E', 'T', 'L', 'O', 'G'};

/* Per-VM delta state, reset at each block. */
struct vm_prev {
    uint64_t exit, vtime, rip;
};

struct cc_dlog {
    struct cc_afile f;
    struct cc_dlog_opts o;
    char source[32];
    struct cc_buf raw;
    uint32_t raw_recs;
    struct vm_prev *prev;
    void *zbuf;
    size_t zcap;
    ZSTD_CCtx *z;
    uint64_t records, blocks, bytes;
    struct cc_err werr;         /* the first write error */
    bool failed;
};

/* ---- varints ---- */

static void put_uv(struct cc_buf *b, uint64_t v)
{
    uint8_t t[10];
    size_t n = 0;
    do {
        t[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v)
            t[n] |= 0x80;
        n++;
    } while (v);
    buf_put(b, t, n);
}

static void put_sv(struct cc_buf *b, int64_t v)
{
    put_uv(b, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

static void put_str(struct cc_buf *b, const char *s, size_t max)
{
    size_t n = strnlen(s, max);
    put_uv(b, n);
    buf_put(b, s, n);
}

/* ---- writer ---- */

static void set_failed(struct cc_dlog *d, int code, const char *what)
{
    if (d->failed)
        return;
    d->failed = true;
    cc_err_set(&d->werr, code, "dlog '%s': %s", d->f.path ? d->f.path : "?", what);
}

static void write_bytes(struct cc_dlog *d, const void *p, size_t n)
{
    if (d->failed)
        return;
    struct cc_err e = {0};
    if (afile_write(&d->f, p, n, &e) < 0) {
        d->failed = true;
        d->werr = e;
        return;
    }
    d->bytes += n;
}

static void le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p)
{
    return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static void flush_block(struct cc_dlog *d)
{
    if (!d->raw_recs)
        return;
    if (!buf_ok(&d->raw)) {
        set_failed(d, ENOMEM, "out of memory");
    } else {
        size_t need = ZSTD_compressBound(d->raw.len);
        if (need > d->zcap) {
            void *n = realloc(d->zbuf, need);
            if (!n) {
                set_failed(d, ENOMEM, "out of memory");
                goto reset;
            }
            d->zbuf = n;
            d->zcap = need;
        }
        size_t zn = ZSTD_compressCCtx(d->z, d->zbuf, d->zcap, d->raw.data, d->raw.len,
                                      ZSTD_LEVEL);
        if (ZSTD_isError(zn)) {
            set_failed(d, EIO, ZSTD_getErrorName(zn));
            goto reset;
        }
        uint8_t h[24];
        le32(h, T_BLOCK);
        le32(h + 4, (uint32_t)d->raw.len);
        le32(h + 8, (uint32_t)zn);
        le32(h + 12, d->raw_recs);
        XXH3_state_t *st = XXH3_createState();
        if (!st) {
            set_failed(d, ENOMEM, "out of memory");
            goto reset;
        }
        XXH3_64bits_reset(st);
        XXH3_64bits_update(st, h, 16);
        XXH3_64bits_update(st, d->zbuf, zn);
        le64(h + 16, XXH3_64bits_digest(st));
        XXH3_freeState(st);
        write_bytes(d, h, sizeof(h));
        write_bytes(d, d->zbuf, zn);
        d->blocks++;
    }
reset:
    d->raw.len = 0;
    d->raw.oom = false;
    d->raw_recs = 0;
    memset(d->prev, 0, d->o.n_vms * sizeof(*d->prev));
}

int cc_dlog_create(const char *path, const struct cc_dlog_opts *o, struct cc_dlog **out,
                   struct cc_err *err)
{
    *out = NULL;
    if (o->n_vms < 1 || o->n_vms > CC_DLOG_MAX_VMS)
        return cc_err_set(err, EINVAL, "dlog '%s': %u VMs (1 to %u)", path, o->n_vms,
                          CC_DLOG_MAX_VMS);
    struct cc_dlog *d = calloc(1, sizeof(*d));
    if (!d)
        return cc_err_set(err, ENOMEM, "out of memory");
    d->o = *o;
    snprintf(d->source, sizeof(d->source), "%s", o->source ? o->source : "");
    d->o.source = d->source;
    buf_init(&d->raw);
    d->prev = calloc(o->n_vms, sizeof(*d->prev));
    d->z = ZSTD_createCCtx();
    if (!d->prev || !d->z) {
        free(d->prev);
        ZSTD_freeCCtx(d->z);
        free(d);
        return cc_err_set(err, ENOMEM, "out of memory");
    }
    int rc = afile_open(&d->f, path, err);
    if (rc < 0) {
        free(d->prev);
        ZSTD_freeCCtx(d->z);
        free(d);
        return rc;
    }
    struct cc_buf h;
    buf_init(&h);
    buf_put(&h, MAGIC, 8);
    buf_put_u32(&h, CC_DLOG_FORMAT_VERSION);
    size_t lenat = h.len;
    buf_put_u32(&h, 0);
    buf_put_u32(&h, o->n_vms);
    buf_put_u64(&h, o->seed);
    buf_put_u64(&h, o->regs_every);
    size_t sl = strlen(d->source);
    buf_put_u8(&h, (uint8_t)sl);
    buf_put(&h, d->source, sl);
    if (buf_ok(&h))
        le32(h.data + lenat, (uint32_t)(h.len - lenat - 4));
    buf_put_u64(&h, buf_ok(&h) ? XXH3_64bits(h.data, h.len) : 0);
    if (!buf_ok(&h))
        set_failed(d, ENOMEM, "out of memory");
    else
        write_bytes(d, h.data, h.len);
    buf_free(&h);
    *out = d;
    return 0;
}

uint64_t cc_dlog_regs_every(const struct cc_dlog *d)
{
    return d ? d->o.regs_every : 0;
}

uint64_t cc_dlog_records(const struct cc_dlog *d)
{
    return d->records;
}

uint64_t cc_dlog_bytes(const struct cc_dlog *d)
{
    return d->bytes;
}

/* The VM's delta state; a SIM record of the whole network has none. */
static void put_vm_head(struct cc_dlog *d, const struct cc_dlog_rec *r, struct vm_prev *p)
{
    put_uv(&d->raw, r->vm);
    put_sv(&d->raw, (int64_t)(r->exit - p->exit));
    put_sv(&d->raw, (int64_t)(r->vtime - p->vtime));
    p->exit = r->exit;
    p->vtime = r->vtime;
}

void cc_dlog_add(struct cc_dlog *d, const struct cc_dlog_rec *r)
{
    if (!d || d->failed)
        return;
    struct cc_buf *b = &d->raw;
    if (r->type == CC_DLOG_SIM) {
        if (r->vm != CC_DLOG_NO_VM && r->vm >= d->o.n_vms)
            return;
    } else if (r->vm >= d->o.n_vms || r->type < CC_DLOG_EXIT || r->type > CC_DLOG_MARK) {
        return;
    }
    buf_put_u8(b, (uint8_t)r->type);
    struct vm_prev *p = r->type == CC_DLOG_SIM ? NULL : &d->prev[r->vm];
    switch (r->type) {
    case CC_DLOG_EXIT:
        put_vm_head(d, r, p);
        put_uv(b, r->kind);
        put_sv(b, (int64_t)(r->rip - p->rip));
        p->rip = r->rip;
        put_uv(b, r->addr);
        put_uv(b, r->size);
        put_uv(b, r->data);
        break;
    case CC_DLOG_INJECT:
        put_vm_head(d, r, p);
        put_uv(b, r->addr);
        break;
    case CC_DLOG_REGS: {
        put_vm_head(d, r, p);
        uint32_t n = r->nregs > CC_DLOG_MAX_REGS ? CC_DLOG_MAX_REGS : r->nregs;
        put_uv(b, n);
        for (uint32_t i = 0; i < n; i++)
            put_uv(b, r->regs[i]);
        break;
    }
    case CC_DLOG_SDK:
        put_vm_head(d, r, p);
        put_uv(b, r->kind);
        put_sv(b, r->value);
        put_str(b, r->text, sizeof(r->text) - 1);
        break;
    case CC_DLOG_SIM:
        put_uv(b, r->vm == CC_DLOG_NO_VM ? 0 : (uint64_t)r->vm + 1);
        put_uv(b, r->vtime);
        put_uv(b, r->kind);
        put_sv(b, r->value);
        put_uv(b, r->size);
        put_str(b, r->text, sizeof(r->text) - 1);
        break;
    case CC_DLOG_MARK:
        put_vm_head(d, r, p);
        put_uv(b, r->kind);
        put_uv(b, r->data);
        put_uv(b, r->addr);
        break;
    }
    d->raw_recs++;
    d->records++;
    if (b->len >= BLOCK_RAW)
        flush_block(d);
}

static void dlog_free(struct cc_dlog *d)
{
    buf_free(&d->raw);
    free(d->prev);
    free(d->zbuf);
    ZSTD_freeCCtx(d->z);
    free(d);
}

int cc_dlog_close(struct cc_dlog *d, struct cc_err *err)
{
    if (!d)
        return 0;
    flush_block(d);
    uint8_t e[32];
    le32(e, T_END);
    le32(e + 4, 0);
    le64(e + 8, d->records);
    le64(e + 16, d->blocks);
    le64(e + 24, XXH3_64bits(e, 24));
    write_bytes(d, e, sizeof(e));
    int rc;
    if (d->failed) {
        if (err)
            *err = d->werr;
        rc = -d->werr.code;
        afile_abort(&d->f);
    } else {
        rc = afile_commit(&d->f, err);
    }
    dlog_free(d);
    return rc;
}

void cc_dlog_abort(struct cc_dlog *d)
{
    if (!d)
        return;
    afile_abort(&d->f);
    dlog_free(d);
}

/* ---- reader ---- */

struct cc_dlog_reader {
    FILE *f;
    char *name;
    struct cc_dlog_info info;
    uint64_t off;               /* file offset of the next unread byte */
    uint64_t block;             /* blocks read */
    uint64_t records;           /* records returned */
    uint8_t *zbuf, *raw;
    size_t zcap, rawcap;
    ZSTD_DCtx *z;
    struct cc_rd rd;            /* the current block's raw records */
    uint32_t left;              /* records left in it */
    uint64_t block_off;
    struct vm_prev *prev;
    bool done;
};

static int rerr(struct cc_dlog_reader *r, struct cc_err *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int rerr(struct cc_dlog_reader *r, struct cc_err *err, const char *fmt, ...)
{
    char what[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return cc_err_set(err, EINVAL, "dlog '%s': %s", r->name, what);
}

/* Read exactly n bytes: 1, 0 at a clean end of file (nothing read), or a
 * truncation error. */
static int read_exact(struct cc_dlog_reader *r, void *p, size_t n, const char *what,
                      struct cc_err *err)
{
    size_t got = fread(p, 1, n, r->f);
    if (got == n) {
        r->off += n;
        return 1;
    }
    if (ferror(r->f))
        return cc_err_set(err, EIO, "dlog '%s': read error at byte %" PRIu64, r->name, r->off);
    if (got == 0)
        return 0;
    return rerr(r, err, "truncated in %s at byte %" PRIu64 " (%zu of %zu bytes)", what, r->off,
                got, n);
}

static int read_header(struct cc_dlog_reader *r, struct cc_err *err)
{
    uint8_t h[16];
    int rc = read_exact(r, h, 16, "the file header", err);
    if (rc == 0 || (rc < 0 && r->off < 8))
        return cc_err_set(err, EINVAL, "'%s' is not a ChaosControl dlog (empty or too short)",
                          r->name);
    if (rc < 0)
        return rc;
    if (memcmp(h, MAGIC, 8))
        return cc_err_set(err, EINVAL, "'%s' is not a ChaosControl dlog (bad magic)", r->name);
    uint32_t ver = rd32(h + 8);
    if (ver == 0)
        return rerr(r, err, "invalid format version 0");
    if (ver > CC_DLOG_FORMAT_VERSION)
        return rerr(r, err, "format version %u is newer than this chaoscontrol reads (up to "
                    "%u): use a newer chaoscontrol", ver, CC_DLOG_FORMAT_VERSION);
    uint32_t hl = rd32(h + 12);
    if (hl < 21 || hl > 4096)
        return rerr(r, err, "corrupt header (length %u)", hl);
    uint8_t b[4096 + 16 + 8];
    memcpy(b, h, 16);
    rc = read_exact(r, b + 16, hl + 8, "the file header", err);
    if (rc == 0)
        return rerr(r, err, "truncated after the first 16 bytes");
    if (rc < 0)
        return rc;
    if (XXH3_64bits(b, 16 + hl) != rd64(b + 16 + hl))
        return rerr(r, err, "corrupt header (checksum mismatch)");
    r->info.version = ver;
    r->info.n_vms = rd32(b + 16);
    r->info.seed = rd64(b + 20);
    r->info.regs_every = rd64(b + 28);
    uint8_t sl = b[36];
    if ((uint32_t)sl + 21 > hl || sl >= sizeof(r->info.source))
        return rerr(r, err, "corrupt header (source name)");
    memcpy(r->info.source, b + 37, sl);
    r->info.source[sl] = 0;
    if (r->info.n_vms < 1 || r->info.n_vms > CC_DLOG_MAX_VMS)
        return rerr(r, err, "corrupt header (%u VMs)", r->info.n_vms);
    r->prev = calloc(r->info.n_vms, sizeof(*r->prev));
    if (!r->prev)
        return cc_err_set(err, ENOMEM, "out of memory");
    return 0;
}

static int open_file(FILE *f, const char *name, struct cc_dlog_reader **out, struct cc_err *err)
{
    struct cc_dlog_reader *r = calloc(1, sizeof(*r));
    if (!r || !(r->name = strdup(name)) || !(r->z = ZSTD_createDCtx())) {
        fclose(f);
        if (r) {
            free(r->name);
            free(r);
        }
        return cc_err_set(err, ENOMEM, "out of memory");
    }
    r->f = f;
    int rc = read_header(r, err);
    if (rc < 0) {
        cc_dlog_reader_close(r);
        return rc;
    }
    *out = r;
    return 0;
}

int cc_dlog_open(const char *path, struct cc_dlog_reader **out, struct cc_err *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return cc_err_set(err, errno, "cannot open dlog '%s': %s", path, strerror(errno));
    return open_file(f, path, out, err);
}

int cc_dlog_open_mem(const void *data, size_t len, const char *name,
                     struct cc_dlog_reader **out, struct cc_err *err)
{
    *out = NULL;
    if (!len)
        return cc_err_set(err, EINVAL, "'%s' is not a ChaosControl dlog (empty or too short)",
                          name);
    FILE *f = fmemopen((void *)data, len, "rb");
    if (!f)
        return cc_err_set(err, errno, "dlog '%s': %s", name, strerror(errno));
    return open_file(f, name, out, err);
}

const struct cc_dlog_info *cc_dlog_reader_info(const struct cc_dlog_reader *r)
{
    return &r->info;
}

void cc_dlog_reader_close(struct cc_dlog_reader *r)
{
    if (!r)
        return;
    if (r->f)
        fclose(r->f);
    ZSTD_freeDCtx(r->z);
    free(r->zbuf);
    free(r->raw);
    free(r->prev);
    free(r->name);
    free(r);
}

static bool grow(uint8_t **p, size_t *cap, size_t need)
{
    if (need <= *cap)
        return true;
    uint8_t *n = realloc(*p, need);
    if (!n)
        return false;
    *p = n;
    *cap = need;
    return true;
}

/* The end marker (tag already read), then nothing after it. */
static int read_end(struct cc_dlog_reader *r, const uint8_t *h, struct cc_err *err)
{
    uint8_t e[32];
    memcpy(e, h, 24);
    int rc = read_exact(r, e + 24, 8, "the end marker", err);
    if (rc == 0)
        return rerr(r, err, "truncated in the end marker at byte %" PRIu64, r->off);
    if (rc < 0)
        return rc;
    if (XXH3_64bits(e, 24) != rd64(e + 24))
        return rerr(r, err, "corrupt end marker at byte %" PRIu64 " (checksum mismatch)",
                    r->off - 32);
    if (rd64(e + 8) != r->records || rd64(e + 16) != r->block)
        return rerr(r, err, "corrupt: the end marker counts %" PRIu64 " records in %" PRIu64
                    " blocks, the file has %" PRIu64 " in %" PRIu64, rd64(e + 8), rd64(e + 16),
                    r->records, r->block);
    uint8_t extra;
    if (fread(&extra, 1, 1, r->f) == 1)
        return rerr(r, err, "corrupt: bytes after the end marker at byte %" PRIu64, r->off);
    r->done = true;
    return 0;
}

/* The next block into r->rd: 1, 0 at the end marker. */
static int next_block(struct cc_dlog_reader *r, struct cc_err *err)
{
    uint8_t h[24];
    uint64_t at = r->off;
    int rc = read_exact(r, h, 24, "a block header", err);
    if (rc == 0)
        return rerr(r, err, "truncated: no end marker after %" PRIu64 " blocks (byte %" PRIu64
                    "): the writer did not finish", r->block, r->off);
    if (rc < 0)
        return rc;
    uint32_t tag = rd32(h);
    if (tag == T_END)
        return read_end(r, h, err);
    if (tag != T_BLOCK)
        return rerr(r, err, "corrupt: no block at byte %" PRIu64 " (block %" PRIu64 ")", at,
                    r->block);
    uint32_t rawlen = rd32(h + 4), zlen = rd32(h + 8), nrec = rd32(h + 12);
    if (rawlen > MAX_RAW || zlen > ZSTD_compressBound(MAX_RAW) || !nrec || nrec > rawlen)
        return rerr(r, err, "corrupt block %" PRIu64 " at byte %" PRIu64 " (bad lengths)",
                    r->block, at);
    if (!grow(&r->zbuf, &r->zcap, zlen ? zlen : 1) || !grow(&r->raw, &r->rawcap, rawlen))
        return cc_err_set(err, ENOMEM, "out of memory");
    rc = read_exact(r, r->zbuf, zlen, "a block", err);
    if (rc == 0 && zlen)
        return rerr(r, err, "truncated in block %" PRIu64 " at byte %" PRIu64, r->block, r->off);
    if (rc < 0)
        return rc;
    XXH3_state_t *st = XXH3_createState();
    if (!st)
        return cc_err_set(err, ENOMEM, "out of memory");
    XXH3_64bits_reset(st);
    XXH3_64bits_update(st, h, 16);
    XXH3_64bits_update(st, r->zbuf, zlen);
    uint64_t sum = XXH3_64bits_digest(st);
    XXH3_freeState(st);
    if (sum != rd64(h + 16))
        return rerr(r, err, "corrupt block %" PRIu64 " at byte %" PRIu64 " (checksum mismatch)",
                    r->block, at);
    size_t n = ZSTD_decompressDCtx(r->z, r->raw, rawlen, r->zbuf, zlen);
    if (ZSTD_isError(n) || n != rawlen)
        return rerr(r, err, "corrupt block %" PRIu64 " at byte %" PRIu64 " (%s)", r->block, at,
                    ZSTD_isError(n) ? ZSTD_getErrorName(n) : "wrong length");
    rd_init(&r->rd, r->raw, rawlen);
    r->left = nrec;
    r->block_off = at;
    r->block++;
    memset(r->prev, 0, r->info.n_vms * sizeof(*r->prev));
    return 1;
}

static uint64_t get_uv(struct cc_rd *d)
{
    uint64_t v = 0;
    for (unsigned s = 0; s < 64; s += 7) {
        uint8_t b = rd_u8(d);
        v |= (uint64_t)(b & 0x7f) << s;
        if (!(b & 0x80))
            return v;
    }
    d->short_read = true;       /* too long: treat as malformed */
    return 0;
}

static int64_t get_sv(struct cc_rd *d)
{
    uint64_t u = get_uv(d);
    return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

static void get_str(struct cc_rd *d, char *out, size_t cap)
{
    uint64_t n = get_uv(d);
    if (n >= cap || n > rd_left(d)) {
        d->short_read = true;
        out[0] = 0;
        return;
    }
    rd_get(d, out, (size_t)n);
    out[n] = 0;
    for (size_t i = 0; i < n; i++)
        if (!out[i])
            out[i] = '?';
}

static bool get_vm_head(struct cc_dlog_reader *r, struct cc_dlog_rec *rec)
{
    uint64_t vm = get_uv(&r->rd);
    if (vm >= r->info.n_vms)
        return false;
    struct vm_prev *p = &r->prev[vm];
    rec->vm = (uint32_t)vm;
    rec->exit = p->exit + (uint64_t)get_sv(&r->rd);
    rec->vtime = p->vtime + (uint64_t)get_sv(&r->rd);
    p->exit = rec->exit;
    p->vtime = rec->vtime;
    return true;
}

static int decode(struct cc_dlog_reader *r, struct cc_dlog_rec *rec)
{
    struct cc_rd *d = &r->rd;
    memset(rec, 0, offsetof(struct cc_dlog_rec, regs));
    rec->text[0] = 0;
    rec->type = rd_u8(d);
    switch (rec->type) {
    case CC_DLOG_EXIT: {
        if (!get_vm_head(r, rec))
            return -1;
        struct vm_prev *p = &r->prev[rec->vm];
        rec->kind = (uint32_t)get_uv(d);
        rec->rip = p->rip + (uint64_t)get_sv(d);
        p->rip = rec->rip;
        rec->addr = get_uv(d);
        uint64_t sz = get_uv(d);
        rec->size = (uint32_t)sz;
        rec->data = get_uv(d);
        return sz > UINT32_MAX ? -1 : 0;
    }
    case CC_DLOG_INJECT:
        if (!get_vm_head(r, rec))
            return -1;
        rec->addr = get_uv(d);
        return 0;
    case CC_DLOG_REGS: {
        if (!get_vm_head(r, rec))
            return -1;
        uint64_t n = get_uv(d);
        if (n > 1024)
            return -1;
        for (uint64_t i = 0; i < n; i++) {
            uint64_t v = get_uv(d);
            if (i < CC_DLOG_MAX_REGS)
                rec->regs[i] = v;
        }
        rec->nregs = (uint32_t)(n < CC_DLOG_MAX_REGS ? n : CC_DLOG_MAX_REGS);
        return 0;
    }
    case CC_DLOG_SDK:
        if (!get_vm_head(r, rec))
            return -1;
        rec->kind = (uint32_t)get_uv(d);
        rec->value = get_sv(d);
        get_str(d, rec->text, sizeof(rec->text));
        return 0;
    case CC_DLOG_SIM: {
        uint64_t vm = get_uv(d);
        if (vm > r->info.n_vms)
            return -1;
        rec->vm = vm ? (uint32_t)(vm - 1) : CC_DLOG_NO_VM;
        rec->vtime = get_uv(d);
        rec->kind = (uint32_t)get_uv(d);
        rec->value = get_sv(d);
        rec->size = (uint32_t)get_uv(d);
        get_str(d, rec->text, sizeof(rec->text));
        return 0;
    }
    case CC_DLOG_MARK:
        if (!get_vm_head(r, rec))
            return -1;
        rec->kind = (uint32_t)get_uv(d);
        rec->data = get_uv(d);
        rec->addr = get_uv(d);
        return 0;
    default:
        return -1;
    }
}

int cc_dlog_next(struct cc_dlog_reader *r, struct cc_dlog_rec *rec, struct cc_err *err)
{
    if (r->done)
        return 0;
    while (!r->left) {
        if (rd_left(&r->rd))
            return rerr(r, err, "corrupt block %" PRIu64 " at byte %" PRIu64 " (bytes after its "
                        "last record)", r->block - 1, r->block_off);
        int rc = next_block(r, err);
        if (rc <= 0)
            return rc;
    }
    uint64_t at = r->rd.pos;
    if (decode(r, rec) < 0 || !rd_ok(&r->rd))
        return rerr(r, err, "corrupt record in block %" PRIu64 " at byte %" PRIu64 " (offset %"
                    PRIu64 " in the block's records)", r->block - 1, r->block_off, at);
    r->left--;
    r->records++;
    return 1;
}

/* ---- names and formatting ---- */

const char *cc_dlog_type_name(uint32_t type)
{
    static const char *const n[] = {
        [CC_DLOG_EXIT] = "exit", [CC_DLOG_INJECT] = "inject", [CC_DLOG_REGS] = "regs",
        [CC_DLOG_SDK] = "sdk", [CC_DLOG_SIM] = "sim", [CC_DLOG_MARK] = "mark",
    };
    return type < sizeof(n) / sizeof(n[0]) && n[type] ? n[type] : "?";
}

const char *cc_dlog_mark_name(uint32_t what)
{
    switch (what) {
    case CC_DLOG_MARK_SNAPSHOT: return "snapshot";
    case CC_DLOG_MARK_RESTORE: return "restore";
    case CC_DLOG_MARK_END: return "end";
    default: return "?";
    }
}

static const char *const reg_names[] = {
    "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp",
    "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
    "rip", "rflags", "cr0", "cr2", "cr3", "cr4", "cr8", "efer",
    "cs", "ss", "ds", "es", "fs", "gs", "fs_base", "gs_base",
};

const char *cc_dlog_reg_name(unsigned i)
{
    return i < sizeof(reg_names) / sizeof(reg_names[0]) ? reg_names[i] : "?";
}

static const char *addr_label(uint32_t kind)
{
    switch (kind) {
    case CC_TR_PIO_IN: case CC_TR_PIO_OUT: return "port";
    case CC_TR_HYPERCALL: return "arg0";
    case CC_TR_OTHER: return "reason";
    default: return "addr";
    }
}

/* " cpu=N" for SMP records (vCPU N > 0), else "". */
static const char *cpu_label(unsigned cpu, char *buf, size_t len)
{
    if (!cpu)
        return "";
    snprintf(buf, len, " cpu=%u", cpu);
    return buf;
}

void cc_dlog_format(const struct cc_dlog_rec *r, char *buf, size_t len)
{
    char who[32], cpu[16];
    if (r->type == CC_DLOG_SIM) {
        snprintf(who, sizeof(who), "sim");
    } else {
        snprintf(who, sizeof(who), "vm%u #%" PRIu64, r->vm, r->exit);
    }
    int n = snprintf(buf, len, "%s t=%" PRIu64 ".%09" PRIu64 " ", who, r->vtime / 1000000000u,
                     r->vtime % 1000000000u);
    if (n < 0 || (size_t)n >= len)
        return;
    char *p = buf + n;
    size_t left = len - (size_t)n;
    switch (r->type) {
    case CC_DLOG_EXIT:
        snprintf(p, left, "%s %s=0x%" PRIx64 " size=%u data=0x%" PRIx64 " rip=0x%" PRIx64 "%s",
                 cc_trace_kind_name(r->kind & 0xff), addr_label(r->kind & 0xff), r->addr, r->size,
                 r->data, r->rip, cpu_label(r->kind >> 8, cpu, sizeof(cpu)));
        break;
    case CC_DLOG_INJECT:
        snprintf(p, left, "inject vector=0x%" PRIx64 "%s%s", r->addr & 0xff,
                 (r->addr & 0xff) == 2 ? " (nmi)" : "",
                 cpu_label((unsigned)(r->addr >> 8), cpu, sizeof(cpu)));
        break;
    case CC_DLOG_REGS:
        n = snprintf(p, left, "regs");
        for (uint32_t i = 0; i < r->nregs && n >= 0 && (size_t)n < left; i++)
            n += snprintf(p + n, left - (size_t)n, " %s=%" PRIx64, cc_dlog_reg_name(i),
                          r->regs[i]);
        break;
    case CC_DLOG_SDK:
        snprintf(p, left, "sdk %s value=%" PRId64 " name=\"%s\"", cc_sdk_event_kind_name(r->kind),
                 r->value, r->text);
        break;
    case CC_DLOG_SIM: {
        char vm[16] = "-";
        if (r->vm != CC_DLOG_NO_VM)
            snprintf(vm, sizeof(vm), "%u", r->vm);
        snprintf(p, left, "%s vm=%s fault=%" PRId64 " type=%s \"%s\"",
                 cc_sim_log_kind_name(r->kind), vm, r->value,
                 r->size ? cc_fault_type_name((enum cc_fault_type)r->size) : "-", r->text);
        break;
    }
    case CC_DLOG_MARK:
        snprintf(p, left, "mark %s ram=%016" PRIx64 " trace=%016" PRIx64,
                 cc_dlog_mark_name(r->kind), r->data, r->addr);
        break;
    default:
        snprintf(p, left, "?");
        break;
    }
}

static json_t *hex(uint64_t v)
{
    char b[24];
    snprintf(b, sizeof(b), "0x%" PRIx64, v);
    return json_string(b);
}

/* Guest-made text as a JSON string: bytes outside printable ASCII become '?'
 * (jansson refuses invalid UTF-8). */
static json_t *text(const char *s)
{
    char b[sizeof(((struct cc_dlog_rec *)0)->text)];
    size_t i = 0;
    for (; s[i] && i + 1 < sizeof(b); i++)
        b[i] = (unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f ? '?' : s[i];
    b[i] = 0;
    return json_string(b);
}

char *cc_dlog_rec_json(const struct cc_dlog_rec *r)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "type", json_string(cc_dlog_type_name(r->type)));
    if (r->type == CC_DLOG_SIM)
        json_object_set_new(o, "vm", r->vm == CC_DLOG_NO_VM ? json_null() : json_integer(r->vm));
    else
        json_object_set_new(o, "vm", json_integer(r->vm));
    if (r->type != CC_DLOG_SIM)
        json_object_set_new(o, "exit", cj_u64(r->exit));
    json_object_set_new(o, "vtime", cj_u64(r->vtime));
    switch (r->type) {
    case CC_DLOG_EXIT:
        json_object_set_new(o, "kind", json_string(cc_trace_kind_name(r->kind & 0xff)));
        if (r->kind >> 8)
            json_object_set_new(o, "cpu", json_integer(r->kind >> 8));
        json_object_set_new(o, "addr", hex(r->addr));
        json_object_set_new(o, "size", json_integer(r->size));
        json_object_set_new(o, "data", hex(r->data));
        json_object_set_new(o, "rip", hex(r->rip));
        break;
    case CC_DLOG_INJECT:
        json_object_set_new(o, "vector", json_integer((json_int_t)(r->addr & 0xff)));
        if (r->addr >> 8)
            json_object_set_new(o, "cpu", json_integer((json_int_t)(r->addr >> 8)));
        break;
    case CC_DLOG_REGS: {
        json_t *g = json_object();
        for (uint32_t i = 0; i < r->nregs; i++) {
            char name[16];
            if (i < sizeof(reg_names) / sizeof(reg_names[0]))
                snprintf(name, sizeof(name), "%s", reg_names[i]);
            else
                snprintf(name, sizeof(name), "r%u", i);
            json_object_set_new(g, name, hex(r->regs[i]));
        }
        json_object_set_new(o, "regs", g);
        break;
    }
    case CC_DLOG_SDK:
        json_object_set_new(o, "kind", json_string(cc_sdk_event_kind_name(r->kind)));
        json_object_set_new(o, "value", json_integer(r->value));
        json_object_set_new(o, "name", text(r->text));
        break;
    case CC_DLOG_SIM:
        json_object_set_new(o, "kind", json_string(cc_sim_log_kind_name(r->kind)));
        json_object_set_new(o, "fault", json_integer(r->value));
        json_object_set_new(o, "fault_type", r->size ? json_string(cc_fault_type_name(
                                (enum cc_fault_type)r->size)) : json_null());
        json_object_set_new(o, "text", text(r->text));
        break;
    case CC_DLOG_MARK:
        json_object_set_new(o, "mark", json_string(cc_dlog_mark_name(r->kind)));
        json_object_set_new(o, "ram_hash", cj_hex64(r->data));
        json_object_set_new(o, "trace_hash", cj_hex64(r->addr));
        break;
    }
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}
