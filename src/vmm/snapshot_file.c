/* Snapshot files: writing an in-memory snapshot (snapshot.c) to a file and
 * reading one back.
 *
 * File layout (all integers little-endian):
 *   "CCSNAPSH"  u32 format version  u32 flags (0)
 *   sections:   u32 tag  u64 length  payload
 *     'CONF'  VM configuration (memory size, seed, CPU identity, costs...)
 *     'STAT'  the state blob
 *     'VDEV'  which virtio devices the VM has (their manifest)
 *     'VIRT'  the virtio devices' full serialized state
 *     'MEM '  u64 pages, bitmap of stored pages, u64 zstd length, zstd frame
 *             holding the stored (non-zero) pages in order
 *     'END '  u64 XXH3-64 of every byte before this section
 * The format version is independent of the release version; a file with a
 * newer version is refused, as is any file whose checksum does not match. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>
#include <zstd.h>

#include "snapshot_internal.h"
#include "util/afile.h"

#define T_CONF SNAP_TAG('C', 'O', 'N', 'F')
#define T_STAT SNAP_TAG('S', 'T', 'A', 'T')
#define T_MEM  SNAP_TAG('M', 'E', 'M', ' ')
#define T_END  SNAP_TAG('E', 'N', 'D', ' ')
#define T_VDEV SNAP_TAG('V', 'D', 'E', 'V')
#define T_VIRT SNAP_TAG('V', 'I', 'R', 'T')

#define CONF_SECTION_VERSION 2
#define END_SECTION_BYTES 20        /* tag, length 8, checksum */

static const char FILE_MAGIC[8] = {'C', 'C', 'S', 'N', 'A', 'P', 'S', 'H'};

/* ---- configuration ---- */

static void put_config(struct cc_buf *b, const struct cc_vm_config *c)
{
    buf_put_u8(b, CONF_SECTION_VERSION);
    buf_put_u64(b, c->mem_size);
    buf_put_u64(b, c->seed);
    buf_put_u32(b, c->tsc_khz);
    buf_put(b, c->cpu.vendor, sizeof(c->cpu.vendor));
    buf_put_u32(b, c->cpu.family);
    buf_put_u32(b, c->cpu.model);
    buf_put_u32(b, c->cpu.stepping);
    buf_put(b, c->cpu.brand, sizeof(c->cpu.brand));
    buf_put_bool(b, c->avx2);
    buf_put_bool(b, c->avx512);
    buf_put_u64(b, c->rtc_epoch);
    buf_put_u64(b, c->costs.pio);
    buf_put_u64(b, c->costs.mmio);
    buf_put_u64(b, c->costs.hlt);
    buf_put_u64(b, c->costs.irq_window);
    buf_put_u64(b, c->costs.other);
    /* version 2: SMP */
    buf_put_u32(b, c->vcpus ? c->vcpus : 1);
    buf_put_u8(b, (uint8_t)c->vcpu_sched);
    buf_put_u32(b, c->vcpu_quantum);
}

static int get_config(struct cc_rd *r, struct cc_vm_config *c, struct cc_err *err)
{
    cc_vm_config_default(c);
    int ver = rd_version(r, CONF_SECTION_VERSION, "configuration section", err);
    if (ver < 0)
        return ver;
    c->mem_size = rd_u64(r);
    c->seed = rd_u64(r);
    c->tsc_khz = rd_u32(r);
    rd_get(r, c->cpu.vendor, sizeof(c->cpu.vendor));
    c->cpu.family = rd_u32(r);
    c->cpu.model = rd_u32(r);
    c->cpu.stepping = rd_u32(r);
    rd_get(r, c->cpu.brand, sizeof(c->cpu.brand));
    c->avx2 = rd_bool(r);
    c->avx512 = rd_bool(r);
    c->rtc_epoch = rd_u64(r);
    c->costs.pio = rd_u64(r);
    c->costs.mmio = rd_u64(r);
    c->costs.hlt = rd_u64(r);
    c->costs.irq_window = rd_u64(r);
    c->costs.other = rd_u64(r);
    c->vcpus = 1;
    if (ver >= 2) {
        c->vcpus = rd_u32(r);
        uint8_t sched = rd_u8(r);
        c->vcpu_quantum = rd_u32(r);
        if (rd_ok(r) && (c->vcpus < 1 || c->vcpus > CC_VM_MAX_VCPUS))
            return cc_err_set(err, EINVAL, "configuration: %u vCPUs (1-%d)", c->vcpus,
                              CC_VM_MAX_VCPUS);
        if (rd_ok(r) && sched > CC_VSCHED_RANDOM)
            return cc_err_set(err, EINVAL, "configuration: unknown vCPU scheduler %u", sched);
        c->vcpu_sched = (enum cc_vcpu_sched)sched;
    }
    c->cpu.vendor[12] = 0;
    c->cpu.brand[48] = 0;
    if (!rd_ok(r))
        return cc_err_set(err, EINVAL, "configuration section truncated");
    if (c->mem_size < (2ull << 20) || c->mem_size > (3ull << 30) || (c->mem_size & 0xfff))
        return cc_err_set(err, EINVAL, "configuration: bad memory size %llu",
                          (unsigned long long)c->mem_size);
    return 0;
}

/* ---- save ---- */

static void quiet_log(void *opaque, const char *msg)
{
    (void)opaque;
    (void)msg;
}

/* The full serialized device state for a file. An in-memory snapshot keeps
 * its disks as copy-on-write clones, not bytes: serialize them through a
 * short-lived fork of the snapshot. */
static int virtio_blob(const struct cc_snapshot *s, struct cc_buf *b, struct cc_err *err)
{
    if (!s->vsnap) {
        buf_put(b, s->vstate.data, s->vstate.len);
        return 0;
    }
    if (vm_virtio_snap_serialize(s->vsnap, b))
        return 0;
    struct cc_fork_opts o;
    cc_fork_opts_default(&o);
    o.log = quiet_log;      /* host notes were already shown for the original */
    struct cc_vm *tmp;
    int rc = cc_vm_fork(s, &o, &tmp, err);
    if (rc < 0)
        return cc_err_prefix(err, "serializing device state");
    vm_virtio_save(tmp, b);
    cc_vm_destroy(tmp);
    return 0;
}

/* The file header and every section before the memory. */
static int put_head(const struct cc_snapshot *s, struct cc_buf *b, struct cc_err *err)
{
    buf_put(b, FILE_MAGIC, 8);
    buf_put_u32(b, CC_SNAPSHOT_FORMAT_VERSION);
    buf_put_u32(b, 0);
    size_t at = snapshot_section_begin(b, T_CONF);
    put_config(b, &s->cfg);
    snapshot_section_end(b, at);
    at = snapshot_section_begin(b, T_STAT);
    buf_put(b, s->state.data, s->state.len);
    snapshot_section_end(b, at);
    at = snapshot_section_begin(b, T_VDEV);
    buf_put(b, s->vdev.data, s->vdev.len);
    snapshot_section_end(b, at);
    at = snapshot_section_begin(b, T_VIRT);
    int rc = virtio_blob(s, b, err);
    if (rc < 0)
        return rc;
    snapshot_section_end(b, at);
    return 0;
}

/* Room for `more` bytes past b->len, or b marked out of memory. */
static bool reserve(struct cc_buf *b, size_t more)
{
    if (b->len + more <= b->cap)
        return true;
    size_t want = b->len + more;
    uint8_t *nd = realloc(b->data, want * 2);
    if (!nd) {
        b->oom = true;
        return false;
    }
    b->data = nd;
    b->cap = want * 2;
    return true;
}

/* Append one zstd frame of the pages whose bit is set in bm (of n pages),
 * compressed straight into b. */
static int put_zstd_pages(ZSTD_CCtx *z, struct cc_buf *b, const uint8_t *pages,
                          const uint64_t *bm, uint64_t n, struct cc_err *err)
{
    ZSTD_CCtx_setParameter(z, ZSTD_c_compressionLevel, 1);
    size_t out_cap = ZSTD_CStreamOutSize();
    for (uint64_t p = 0; p <= n && buf_ok(b); p++) {
        bool last = p == n;
        ZSTD_inBuffer in = {NULL, 0, 0};
        if (!last) {
            if (!(bm[p / 64] >> (p % 64) & 1))
                continue;
            in.src = pages + p * SNAP_PAGE;
            in.size = SNAP_PAGE;
        }
        ZSTD_EndDirective mode = last ? ZSTD_e_end : ZSTD_e_continue;
        while (reserve(b, out_cap)) {
            ZSTD_outBuffer zo = {b->data + b->len, out_cap, 0};
            size_t r = ZSTD_compressStream2(z, &zo, &in, mode);
            if (ZSTD_isError(r))
                return cc_err_set(err, EIO, "compressing snapshot memory: %s",
                                  ZSTD_getErrorName(r));
            b->len += zo.pos;
            if (last ? r == 0 : in.pos == in.size)
                break;
        }
    }
    return 0;
}

/* The 'MEM ' section: page count, bitmap of stored (non-zero) pages, then
 * the zstd length and one zstd frame of those pages. */
static int put_memory(const struct cc_snapshot *s, struct cc_buf *b, struct cc_err *err)
{
    uint64_t n = s->mem_size / SNAP_PAGE, zh = snapshot_zero_page_hash();
    size_t at = snapshot_section_begin(b, T_MEM);
    buf_put_u64(b, n);
    size_t bm_words = (size_t)((n + 63) / 64);
    uint64_t *bm = calloc(bm_words, sizeof(uint64_t));
    uint8_t *pages = MAP_FAILED;
    ZSTD_CCtx *z = ZSTD_createCCtx();
    int rc = 0;
    if (!bm || !z) {
        rc = cc_err_set(err, ENOMEM, "out of memory");
        goto out;
    }
    pages = mmap(NULL, s->mem_size, PROT_READ, MAP_SHARED, s->memfd, 0);
    if (pages == MAP_FAILED) {
        rc = cc_err_set(err, errno, "mapping snapshot memory: %s", strerror(errno));
        goto out;
    }
    for (uint64_t p = 0; p < n; p++)
        if (s->page_hash[p] != zh)
            bm[p / 64] |= 1ull << (p % 64);
    for (size_t i = 0; i < bm_words; i++)
        buf_put_u64(b, bm[i]);
    size_t len_at = b->len;
    buf_put_u64(b, 0);
    rc = put_zstd_pages(z, b, pages, bm, n, err);
    if (rc < 0)
        goto out;
    if (buf_ok(b)) {
        uint64_t zlen = b->len - len_at - 8;
        for (int i = 0; i < 8; i++)
            b->data[len_at + i] = (uint8_t)(zlen >> (8 * i));
    }
    snapshot_section_end(b, at);
out:
    if (pages != MAP_FAILED)
        munmap(pages, s->mem_size);
    ZSTD_freeCCtx(z);
    free(bm);
    return rc;
}

/* The 'END ' section: the checksum of everything before it. */
static void put_end(struct cc_buf *b)
{
    size_t at = snapshot_section_begin(b, T_END);
    if (buf_ok(b)) {
        uint64_t sum = XXH3_64bits(b->data, at - 4);
        buf_put_u64(b, sum);
    }
    snapshot_section_end(b, at);
}

int cc_snapshot_save(const struct cc_snapshot *s, const char *path, struct cc_err *err)
{
    struct cc_buf b;
    buf_init(&b);
    int rc = put_head(s, &b, err);
    if (rc == 0)
        rc = put_memory(s, &b, err);
    if (rc == 0) {
        put_end(&b);
        if (!buf_ok(&b))
            rc = cc_err_set(err, ENOMEM, "out of memory writing snapshot");
    }
    if (rc == 0) {
        rc = cc_file_write_atomic(path, b.data, b.len, err);
        if (rc < 0)
            cc_err_prefix(err, "saving snapshot");
    }
    buf_free(&b);
    return rc;
}

/* ---- load ---- */

static int read_whole(const char *path, uint8_t **data, size_t *len, struct cc_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cc_err_set(err, errno, "snapshot '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return cc_err_set(err, EINVAL, "snapshot '%s': not a regular file", path);
    }
    *len = (size_t)st.st_size;
    *data = malloc(*len ? *len : 1);
    if (!*data) {
        close(fd);
        return cc_err_set(err, ENOMEM, "snapshot '%s': out of memory", path);
    }
    size_t off = 0;
    while (off < *len) {
        ssize_t r = read(fd, *data + off, *len - off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            int e = r < 0 ? errno : EIO;
            close(fd);
            free(*data);
            return cc_err_set(err, e, "snapshot '%s': read failed: %s", path, strerror(e));
        }
        off += (size_t)r;
    }
    close(fd);
    return 0;
}

/* Check the magic, the format version and, before anything else is
 * trusted, the checksum in the END section. */
static int check_file(const uint8_t *d, size_t len, const char *path, struct cc_err *err)
{
    if (len < 16 || memcmp(d, FILE_MAGIC, 8))
        return cc_err_set(err, EINVAL, "'%s' is not a ChaosControl snapshot (bad magic)", path);
    struct cc_rd r;
    rd_init(&r, d + 8, len - 8);
    uint32_t ver = rd_u32(&r);
    if (ver > CC_SNAPSHOT_FORMAT_VERSION)
        return cc_err_set(err, EINVAL, "snapshot '%s' has format version %u, newer than this "
                          "chaoscontrol supports (%u): use a newer chaoscontrol", path, ver,
                          CC_SNAPSHOT_FORMAT_VERSION);
    if (ver == 0)
        return cc_err_set(err, EINVAL, "snapshot '%s' has an invalid format version 0", path);
    if (len < 16 + END_SECTION_BYTES)
        return cc_err_set(err, EINVAL, "snapshot '%s' is truncated (%zu bytes)", path, len);
    struct cc_rd er;
    rd_init(&er, d + len - END_SECTION_BYTES, END_SECTION_BYTES);
    uint32_t tag = rd_u32(&er);
    uint64_t elen = rd_u64(&er), sum = rd_u64(&er);
    if (tag != T_END || elen != 8)
        return cc_err_set(err, EINVAL, "snapshot '%s' is truncated (no end marker)", path);
    if (XXH3_64bits(d, len - END_SECTION_BYTES) != sum)
        return cc_err_set(err, EINVAL, "snapshot '%s' is corrupt (checksum mismatch)", path);
    return 0;
}

/* Decompress the stored pages (bitmap bm of n pages, zstd frame in) into
 * the mapped memory and hash every page. */
static int unpack_pages(struct cc_snapshot *s, uint8_t *pages, const uint8_t *bm, uint64_t n,
                        ZSTD_inBuffer *in, const char *path, struct cc_err *err)
{
    ZSTD_DCtx *z = ZSTD_createDCtx();
    if (!z)
        return cc_err_set(err, ENOMEM, "out of memory loading snapshot memory");
    uint64_t zh = snapshot_zero_page_hash();
    int rc = 0;
    for (uint64_t p = 0; p < n && rc == 0; p++) {
        uint64_t word;
        memcpy(&word, bm + (p / 64) * 8, 8);
        if (!(word >> (p % 64) & 1)) {
            s->page_hash[p] = zh;
            continue;
        }
        ZSTD_outBuffer o = {pages + p * SNAP_PAGE, SNAP_PAGE, 0};
        while (o.pos < SNAP_PAGE && rc == 0) {
            size_t zr = ZSTD_decompressStream(z, &o, in);
            if (ZSTD_isError(zr))
                rc = cc_err_set(err, EINVAL, "snapshot '%s': corrupt memory data (%s)", path,
                                ZSTD_getErrorName(zr));
            else if (o.pos < SNAP_PAGE && in->pos == in->size)
                rc = cc_err_set(err, EINVAL, "snapshot '%s': memory data truncated", path);
        }
        if (rc < 0)
            break;
        s->page_hash[p] = XXH3_64bits(pages + p * SNAP_PAGE, SNAP_PAGE);
        if (s->page_hash[p] != zh)
            s->pages_nonzero++;
    }
    ZSTD_freeDCtx(z);
    return rc;
}

/* The 'MEM ' section into a new memfd (s->memfd) and s->page_hash. */
static int load_memory(struct cc_snapshot *s, struct cc_rd *sr, const char *path,
                       struct cc_err *err)
{
    uint64_t n = rd_u64(sr);
    if (n != s->mem_size / SNAP_PAGE)
        return cc_err_set(err, EINVAL, "snapshot '%s': memory section has %llu pages, "
                          "configuration says %llu", path, (unsigned long long)n,
                          (unsigned long long)(s->mem_size / SNAP_PAGE));
    size_t bm_words = (size_t)((n + 63) / 64);
    if (rd_left(sr) < bm_words * 8 + 8)
        return cc_err_set(err, EINVAL, "snapshot '%s': memory bitmap truncated", path);
    const uint8_t *bm = sr->p + sr->pos;
    sr->pos += bm_words * 8;
    uint64_t zlen = rd_u64(sr);
    if (zlen != rd_left(sr))
        return cc_err_set(err, EINVAL, "snapshot '%s': compressed memory length mismatch", path);
    int fd = snapshot_memfd_new(s->mem_size, err);
    if (fd < 0)
        return fd;
    s->memfd = fd;
    uint8_t *pages = mmap(NULL, s->mem_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    s->page_hash = malloc(n * sizeof(uint64_t));
    int rc;
    if (pages == MAP_FAILED || !s->page_hash) {
        rc = cc_err_set(err, ENOMEM, "out of memory loading snapshot memory");
    } else {
        ZSTD_inBuffer in = {sr->p + sr->pos, (size_t)zlen, 0};
        rc = unpack_pages(s, pages, bm, n, &in, path, err);
    }
    if (pages != MAP_FAILED)
        munmap(pages, s->mem_size);
    return rc;
}

/* A section's payload appended to a snapshot buffer. */
static int keep(struct cc_buf *b, const struct cc_rd *sr, uint64_t len, struct cc_err *err)
{
    buf_put(b, sr->p, len);
    if (!buf_ok(b))
        return cc_err_set(err, ENOMEM, "out of memory");
    return 0;
}

/* Every section between the file header and the END section, into s. */
static int load_sections(struct cc_snapshot *s, struct cc_rd *r, const char *path,
                         struct cc_err *err)
{
    bool have_conf = false, have_stat = false, have_mem = false, have_vdev = false,
         have_virt = false;
    while (rd_left(r) > END_SECTION_BYTES) {
        uint32_t tag = rd_u32(r);
        uint64_t slen = rd_u64(r);
        /* (fuzz_snapshot_file: a header 1-11 bytes before the end marker
         * once made the bound below wrap around) */
        if (!rd_ok(r) || rd_left(r) < END_SECTION_BYTES ||
            slen > rd_left(r) - END_SECTION_BYTES)
            return cc_err_set(err, EINVAL, "snapshot '%s': section runs past the end of the "
                              "file", path);
        char tn[5];
        bool *seen = tag == T_CONF ? &have_conf : tag == T_STAT ? &have_stat :
                     tag == T_MEM ? &have_mem : tag == T_VDEV ? &have_vdev :
                     tag == T_VIRT ? &have_virt : NULL;
        if (seen && *seen)
            return cc_err_set(err, EINVAL, "snapshot '%s': a second '%s' section (corrupt or "
                              "hand-made file)", path, snapshot_tag_name(tag, tn));
        struct cc_rd sr;
        rd_init(&sr, r->p + r->pos, slen);
        r->pos += slen;
        int rc;
        if (tag == T_CONF) {
            rc = get_config(&sr, &s->cfg, err);
            if (rc < 0)
                return cc_err_prefix(err, "snapshot '%s'", path);
            s->mem_size = s->cfg.mem_size;
            have_conf = true;
        } else if (tag == T_STAT) {
            rc = keep(&s->state, &sr, slen, err);
            have_stat = true;
        } else if (tag == T_VDEV) {
            rc = keep(&s->vdev, &sr, slen, err);
            have_vdev = true;
        } else if (tag == T_VIRT) {
            rc = keep(&s->vstate, &sr, slen, err);
            have_virt = true;
        } else if (tag == T_MEM) {
            if (!have_conf)
                return cc_err_set(err, EINVAL, "snapshot '%s': memory before configuration",
                                  path);
            rc = load_memory(s, &sr, path, err);
            have_mem = true;
        } else {
            return cc_err_set(err, EINVAL, "snapshot '%s': unknown section '%s'", path,
                              snapshot_tag_name(tag, tn));
        }
        if (rc < 0)
            return rc;
    }
    if (!have_conf || !have_stat || !have_mem)
        return cc_err_set(err, EINVAL, "snapshot '%s' is incomplete (missing %s section)", path,
                          !have_conf ? "configuration" : !have_stat ? "state" : "memory");
    return 0;
}

int cc_snapshot_load(const char *path, struct cc_snapshot **out, struct cc_err *err)
{
    *out = NULL;
    uint8_t *d = NULL;
    size_t len = 0;
    int rc = read_whole(path, &d, &len, err);
    if (rc < 0)
        return rc;
    struct cc_snapshot *s = NULL;
    rc = check_file(d, len, path, err);
    if (rc == 0 && !(s = snapshot_alloc()))
        rc = cc_err_set(err, ENOMEM, "out of memory");
    if (rc == 0) {
        struct cc_rd r;
        rd_init(&r, d + 16, len - 16);   /* past the magic, version and flags */
        rc = load_sections(s, &r, path, err);
    }
    if (rc == 0)
        rc = snapshot_memfd_seal(s->memfd, err);
    if (rc == 0 && snapshot_read_summary(s) < 0)
        rc = cc_err_set(err, EINVAL, "snapshot '%s': state section truncated", path);
    if (rc == 0) {
        *out = s;
        s = NULL;
    }
    cc_snapshot_put(s);
    free(d);
    return rc;
}
