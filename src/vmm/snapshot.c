/* Snapshots in memory: capture, in-place restore, fork, diff and info
 * (the file format is in snapshot_file.c).
 *
 * A snapshot is (state blob, memfd, per-page hashes, config). The state
 * blob is a sequence of tagged sections, one per component, each produced
 * by that component's save function; the same blob goes into files, so
 * in-memory and on-disk snapshots restore through one path:
 *   'VCPU' 'PIC ' 'PIT ' 'UART' 'CMOS'  the vCPU and the legacy devices
 *   'VM  '  the VM's own state (clock, exit count, PRNG, serial transcript)
 *   ...     one section per extension with state (vm_ext.h)
 * Memory lives in a sealed memfd that the VM maps copy-on-write. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xxhash.h>

#include "chaoscontrol/dlog.h"
#include "snapshot_internal.h"

#define T_VCPU SNAP_TAG('V', 'C', 'P', 'U')
#define T_PIC  SNAP_TAG('P', 'I', 'C', ' ')
#define T_PIT  SNAP_TAG('P', 'I', 'T', ' ')
#define T_UART SNAP_TAG('U', 'A', 'R', 'T')
#define T_CMOS SNAP_TAG('C', 'M', 'O', 'S')
#define T_VM   SNAP_TAG('V', 'M', ' ', ' ')
#define T_SMP  SNAP_TAG('S', 'M', 'P', ' ')

#define VM_SECTION_VERSION 3        /* 2: halted, missed_ticks; 3: the exit status */

uint64_t snapshot_zero_page_hash(void)
{
    static const uint8_t zero[SNAP_PAGE];
    return XXH3_64bits(zero, SNAP_PAGE);
}

static bool page_is_zero(const uint8_t *p)
{
    const uint64_t *q = (const uint64_t *)p;
    for (size_t i = 0; i < SNAP_PAGE / 8; i++)
        if (q[i])
            return false;
    return true;
}

/* ---- sections ---- */

size_t snapshot_section_begin(struct cc_buf *b, uint32_t tag)
{
    buf_put_u32(b, tag);
    size_t at = b->len;
    buf_put_u64(b, 0);
    return at;
}

void snapshot_section_end(struct cc_buf *b, size_t at)
{
    if (!buf_ok(b))
        return;
    uint64_t len = b->len - at - 8;
    for (int i = 0; i < 8; i++)
        b->data[at + i] = (uint8_t)(len >> (8 * i));
}

static void save_vm_section(const struct cc_vm *vm, struct cc_buf *b)
{
    buf_put_u8(b, VM_SECTION_VERSION);
    buf_put_u64(b, vm->vtime);
    buf_put_u64(b, vm->exits);
    buf_put_u64(b, vm->unknown_io);
    buf_put_u8(b, vm->port92);
    buf_put_u64(b, vm->trace.hash);
    buf_put_u64(b, vm->cfg.seed);
    rng_save(&vm->rng, b);
    buf_put_u64(b, vm->serial.len);
    buf_put(b, vm->serial.buf, vm->serial.len);
    buf_put_u64(b, vm->serial.in_len);
    buf_put(b, vm->serial.in, vm->serial.in_len);
    /* version 2: halted in the VMM, PIT ticks owed (vm_internal.h) */
    buf_put_bool(b, vm->halted);
    buf_put_u64(b, vm->missed_ticks);
    /* version 3: the exit status the guest told (CC_PORT_STATUS), clock page reads */
    buf_put_bool(b, vm->has_exit_status);
    buf_put_u32(b, vm->exit_status);
    buf_put_u64(b, vm->clock_reads);
}

static int grow_to(uint8_t **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : 4096;
    while (c < need)
        c *= 2;
    uint8_t *n = realloc(*buf, c);
    if (!n)
        return -ENOMEM;
    *buf = n;
    *cap = c;
    return 0;
}

static int load_vm_section(struct cc_vm *vm, struct cc_rd *r, struct cc_err *err)
{
    int ver = rd_version(r, VM_SECTION_VERSION, "VM state", err);
    if (ver < 0)
        return ver;
    uint64_t vtime = rd_u64(r), exits = rd_u64(r), unknown = rd_u64(r);
    uint8_t port92 = rd_u8(r);
    uint64_t trace_hash = rd_u64(r), seed = rd_u64(r);
    struct cc_rng rng;
    int rc = rng_load(&rng, r, err);
    if (rc < 0)
        return rc;
    uint64_t slen = rd_u64(r);
    if (!rd_ok(r) || slen > rd_left(r))
        return cc_err_set(err, EINVAL, "VM state: serial transcript truncated");
    if (grow_to(&vm->serial.buf, &vm->serial.cap, slen) < 0)
        return cc_err_set(err, ENOMEM, "out of memory");
    rd_get(r, vm->serial.buf, slen);
    uint64_t ilen = rd_u64(r);
    if (!rd_ok(r) || ilen > rd_left(r))
        return cc_err_set(err, EINVAL, "VM state: serial input truncated");
    if (grow_to(&vm->serial.in, &vm->serial.in_cap, ilen) < 0)
        return cc_err_set(err, ENOMEM, "out of memory");
    rd_get(r, vm->serial.in, ilen);
    bool halted = false, has_status = false;
    uint64_t missed = 0;
    uint32_t status = 0;
    uint64_t clock_reads = 0;
    if (ver >= 2) {
        halted = rd_bool(r);
        missed = rd_u64(r);
    }
    if (ver >= 3) {
        has_status = rd_bool(r);
        status = rd_u32(r);
        clock_reads = rd_u64(r);
    }
    if (!rd_ok(r))
        return cc_err_set(err, EINVAL, "VM state: truncated");
    vm->halted = halted;
    vm->missed_ticks = missed;
    vm->has_exit_status = has_status;
    vm->exit_status = status;
    vm->clock_reads = clock_reads;
    vm->vtime = vtime;
    vm->exits = exits;
    vm->unknown_io = unknown;
    vm->port92 = port92;
    vm->trace.hash = trace_hash;
    vm->cfg.seed = seed;
    vm->rng = rng;
    vm->serial.len = slen;
    vm->serial.in_len = ilen;
    /* Records kept for diagnostics past the restored point are gone. */
    while (vm->trace.n && vm->trace.recs[vm->trace.n - 1].seq > exits)
        vm->trace.n--;
    return 0;
}

static int save_state(struct cc_vm *vm, struct cc_buf *b, struct cc_err *err)
{
    size_t at;
    int rc;
    if (vm->smp) {
        /* First, so a loader knows how many VCPU sections follow. */
        at = snapshot_section_begin(b, T_SMP);
        rc = smp_save(vm, b, err);
        if (rc < 0)
            return rc;
        snapshot_section_end(b, at);
    }
    unsigned cur = vm->cur;
    for (unsigned i = 0; i < vm->ncpu; i++) {
        smp_select(vm, i);
        at = snapshot_section_begin(b, T_VCPU);
        rc = vcpu_save(vm, b, err);
        if (rc < 0) {
            smp_select(vm, cur);
            return vm->smp ? cc_err_prefix(err, "vCPU %u", i) : rc;
        }
        snapshot_section_end(b, at);
    }
    smp_select(vm, cur);
    at = snapshot_section_begin(b, T_PIC);
    pic_save(&vm->pic, b);
    snapshot_section_end(b, at);
    at = snapshot_section_begin(b, T_PIT);
    pit_save(&vm->pit, b);
    snapshot_section_end(b, at);
    at = snapshot_section_begin(b, T_UART);
    uart_save(&vm->uart, b);
    snapshot_section_end(b, at);
    at = snapshot_section_begin(b, T_CMOS);
    cmos_save(&vm->cmos, b);
    snapshot_section_end(b, at);
    at = snapshot_section_begin(b, T_VM);
    save_vm_section(vm, b);
    snapshot_section_end(b, at);
    int rc2 = ext_save_all(vm, b, err);
    if (rc2 < 0)
        return rc2;
    if (!buf_ok(b))
        return cc_err_set(err, ENOMEM, "out of memory saving VM state");
    return 0;
}

const char *snapshot_tag_name(uint32_t tag, char out[5])
{
    for (int i = 0; i < 4; i++) {
        char c = (char)(tag >> (8 * i));
        out[i] = (c >= 32 && c < 127) ? c : '?';
    }
    out[4] = 0;
    return out;
}

static int load_state(struct cc_vm *vm, const uint8_t *p, size_t len, struct cc_err *err)
{
    struct cc_rd r;
    rd_init(&r, p, len);
    unsigned seen = 0, ncpu_loaded = 0, cur = vm->cur;
    while (rd_left(&r) > 0) {
        uint32_t tag = rd_u32(&r);
        uint64_t slen = rd_u64(&r);
        if (!rd_ok(&r) || slen > rd_left(&r))
            return cc_err_set(err, EINVAL, "snapshot state: section header truncated");
        struct cc_rd s;
        rd_init(&s, r.p + r.pos, slen);
        r.pos += slen;
        int rc;
        char tn[5];
        switch (tag) {
        case T_VCPU:
            if (ncpu_loaded >= vm->ncpu || (vm->smp && !(seen & 64)))
                return cc_err_set(err, EINVAL, "snapshot state: more vCPUs than this VM's %u "
                                  "(a snapshot of an SMP VM needs --cpus as it was taken)",
                                  vm->ncpu);
            if (vm->smp)
                cur = vm->cur;      /* what the SMP section restored */
            smp_select(vm, ncpu_loaded);
            rc = vcpu_load(vm, &s, err);
            smp_select(vm, cur);
            if (rc < 0 && vm->smp)
                cc_err_prefix(err, "vCPU %u", ncpu_loaded);
            ncpu_loaded++;
            seen |= 1;
            break;
        case T_SMP:
            if (!vm->smp)
                return cc_err_set(err, EINVAL, "snapshot state: the snapshot is of an SMP VM, "
                                  "this VM has one vCPU (give --cpus as it was taken)");
            rc = smp_load(vm, &s, err);
            seen |= 64;
            break;
        case T_PIC: rc = pic_load(&vm->pic, &s, err); seen |= 2; break;
        case T_PIT: rc = pit_load(&vm->pit, &s, err); seen |= 4; break;
        case T_UART: rc = uart_load(&vm->uart, &s, err); seen |= 8; break;
        case T_CMOS: rc = cmos_load(&vm->cmos, &s, err); seen |= 16; break;
        case T_VM: rc = load_vm_section(vm, &s, err); seen |= 32; break;
        default:
            /* an extension's section (vm_ext.h): it reads all of it */
            rc = ext_load(vm, tag, s.p, slen, err);
            if (rc == 0)
                return cc_err_set(err, EINVAL, "snapshot state: section '%s' belongs to no "
                                  "part of this VM (an extension it does not have?)",
                                  snapshot_tag_name(tag, tn));
            if (rc > 0) {
                s.pos = slen;
                rc = 0;
            }
        }
        if (rc < 0)
            return cc_err_prefix(err, "snapshot section '%s'", snapshot_tag_name(tag, tn));
        if (rd_left(&s) != 0)
            return cc_err_set(err, EINVAL, "snapshot section '%s': %zu unexpected trailing bytes",
                              snapshot_tag_name(tag, tn), rd_left(&s));
    }
    if ((seen & 63) != 63 || (vm->smp && !(seen & 64)))
        return cc_err_set(err, EINVAL, "snapshot state is missing sections (have mask 0x%x)", seen);
    if (ncpu_loaded != vm->ncpu)
        return cc_err_set(err, EINVAL, "snapshot state has %u vCPUs, this VM has %u",
                          ncpu_loaded, vm->ncpu);
    return 0;
}

int snapshot_read_summary(struct cc_snapshot *s)
{
    struct cc_rd st;
    rd_init(&st, s->state.data, s->state.len);
    while (rd_left(&st) >= 12) {
        uint32_t tag = rd_u32(&st);
        uint64_t sl = rd_u64(&st);
        if (!rd_ok(&st) || sl > rd_left(&st))
            return -EINVAL;
        if (tag == T_VM && sl >= 1 + 8 * 5 + 1) {
            /* version, vtime, exits, unknown_io, port92, trace hash */
            struct cc_rd vr;
            rd_init(&vr, st.p + st.pos, sl);
            rd_u8(&vr);
            s->vtime = rd_u64(&vr);
            s->exits = rd_u64(&vr);
            rd_u64(&vr);
            rd_u8(&vr);
            s->trace_hash = rd_u64(&vr);
        }
        st.pos += sl;
    }
    return 0;
}

/* ---- memory ---- */

static int write_all_at(int fd, const void *p, size_t n, off_t off)
{
    const uint8_t *c = p;
    while (n) {
        ssize_t w = pwrite(fd, c, n, off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? -errno : -EIO;
        c += w;
        n -= (size_t)w;
        off += w;
    }
    return 0;
}

/* Copy the data extents of src into dst (same offsets), keeping holes. */
static int copy_extents(int src, int dst, uint64_t size)
{
    off_t pos = 0;
    while ((uint64_t)pos < size) {
        off_t data = lseek(src, pos, SEEK_DATA);
        if (data < 0)
            return errno == ENXIO ? 0 : -errno;
        off_t hole = lseek(src, data, SEEK_HOLE);
        if (hole < 0)
            return -errno;
        off_t in = data, out = data;
        size_t left = (size_t)(hole - data);
        while (left) {
            ssize_t c = copy_file_range(src, &in, dst, &out, left, 0);
            if (c < 0 && errno == EINTR)
                continue;
            if (c <= 0) {
                /* Fall back to a plain copy. */
                uint8_t buf[65536];
                while (left) {
                    size_t k = left < sizeof(buf) ? left : sizeof(buf);
                    ssize_t rd = pread(src, buf, k, in);
                    if (rd <= 0)
                        return rd < 0 ? -errno : -EIO;
                    int rc = write_all_at(dst, buf, (size_t)rd, out);
                    if (rc < 0)
                        return rc;
                    in += rd;
                    out += rd;
                    left -= (size_t)rd;
                }
                break;
            }
            left -= (size_t)c;
        }
        pos = hole;
    }
    return 0;
}

int snapshot_memfd_new(uint64_t size, struct cc_err *err)
{
    int fd = memfd_create("chaoscontrol-snapshot", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return cc_err_set(err, errno, "memfd_create: %s", strerror(errno));
    if (ftruncate(fd, (off_t)size) < 0) {
        int e = errno;
        close(fd);
        return cc_err_set(err, e, "sizing snapshot memory: %s", strerror(e));
    }
    return fd;
}

int snapshot_memfd_seal(int fd, struct cc_err *err)
{
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
        return cc_err_set(err, errno, "sealing snapshot memory: %s", strerror(errno));
    return 0;
}

/* Write the pages of RAM [first, first+count) into the memfd and hash them. */
static int store_pages(struct cc_vm *vm, struct cc_snapshot *s, uint64_t first, uint64_t count,
                       uint64_t zh, struct cc_err *err)
{
    for (uint64_t p = first; p < first + count; p++) {
        const uint8_t *src = vm->mem + p * SNAP_PAGE;
        if (page_is_zero(src)) {
            s->page_hash[p] = zh;
            continue;
        }
        s->page_hash[p] = XXH3_64bits(src, SNAP_PAGE);
        int rc = write_all_at(s->memfd, src, SNAP_PAGE, (off_t)(p * SNAP_PAGE));
        if (rc < 0)
            return cc_err_set(err, -rc, "writing snapshot memory: %s", strerror(-rc));
    }
    return 0;
}

static int build_memory(struct cc_vm *vm, struct cc_snapshot *s, struct cc_err *err)
{
    uint64_t n = vm->mem_size / SNAP_PAGE, zh = snapshot_zero_page_hash();
    s->page_hash = malloc(n * sizeof(uint64_t));
    if (!s->page_hash)
        return cc_err_set(err, ENOMEM, "out of memory for page hashes");
    int fd = snapshot_memfd_new(vm->mem_size, err);
    if (fd < 0)
        return fd;
    s->memfd = fd;

    int rc;
    if (vm->mem_base) {
        /* RAM is a view of the parent: start from its memory, then store
         * what was dirtied since. */
        rc = copy_extents(vm->mem_base->memfd, fd, vm->mem_size);
        if (rc < 0)
            return cc_err_set(err, -rc, "copying parent snapshot memory: %s", strerror(-rc));
        memcpy(s->page_hash, vm->mem_base->page_hash, n * sizeof(uint64_t));
        rc = mem_fetch_dirty(vm, err);
        if (rc < 0)
            return rc;
        for (uint64_t p = 0; p < n; p++) {
            if (!(vm->dirty[p / 64] >> (p % 64) & 1))
                continue;
            const uint8_t *src = vm->mem + p * SNAP_PAGE;
            s->page_hash[p] = XXH3_64bits(src, SNAP_PAGE);
            rc = write_all_at(fd, src, SNAP_PAGE, (off_t)(p * SNAP_PAGE));
            if (rc < 0)
                return cc_err_set(err, -rc, "writing snapshot memory: %s", strerror(-rc));
        }
    } else {
        /* Anonymous RAM: pages never touched are not resident; skip them. */
        unsigned char *vec = malloc(n);
        if (!vec)
            return cc_err_set(err, ENOMEM, "out of memory");
        if (mincore(vm->mem, vm->mem_size, vec) < 0)
            memset(vec, 1, n);
        for (uint64_t p = 0; p < n;) {
            if (!(vec[p] & 1)) {
                s->page_hash[p++] = zh;
                continue;
            }
            uint64_t start = p;
            while (p < n && (vec[p] & 1))
                p++;
            rc = store_pages(vm, s, start, p - start, zh, err);
            if (rc < 0) {
                free(vec);
                return rc;
            }
        }
        free(vec);
    }
    s->pages_nonzero = 0;
    for (uint64_t p = 0; p < n; p++)
        if (s->page_hash[p] != zh)
            s->pages_nonzero++;
    return snapshot_memfd_seal(fd, err);
}

/* ---- lifetime, capture, restore, fork ---- */

struct cc_snapshot *snapshot_alloc(void)
{
    struct cc_snapshot *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->refs = 1;
    s->memfd = -1;
    buf_init(&s->state);
    buf_init(&s->vdev);
    buf_init(&s->vstate);
    return s;
}

void cc_snapshot_get(struct cc_snapshot *s)
{
    if (s)
        s->refs++;
}

void cc_snapshot_put(struct cc_snapshot *s)
{
    if (!s || --s->refs > 0)
        return;
    if (s->memfd >= 0)
        close(s->memfd);
    free(s->page_hash);
    buf_free(&s->state);
    buf_free(&s->vdev);
    buf_free(&s->vstate);
    vm_virtio_snap_free(s->vsnap);
    free(s);
}

static void clean_config(struct cc_vm_config *c)
{
    c->cmdline_extra = NULL;
    c->trace_path = NULL;
    c->log = NULL;
    c->log_opaque = NULL;
    c->serial_fd = -1;
    c->trace_keep = false;
    c->dlog = NULL;
    c->dlog_vm = 0;
}

/* Point the VM's RAM at snapshot s (copy-on-write) and make s its base. */
static int adopt_memory(struct cc_vm *vm, struct cc_snapshot *s, struct cc_err *err)
{
    int rc = mem_map_memfd(vm, s->memfd, err);
    if (rc < 0)
        return rc;
    cc_snapshot_get(s);
    cc_snapshot_put(vm->mem_base);
    vm->mem_base = s;
    return 0;
}

int cc_vm_snapshot(struct cc_vm *vm, struct cc_snapshot **out, struct cc_err *err)
{
    *out = NULL;
    int rc = 0;
    unsigned cur = vm->cur;
    for (unsigned i = 0; i < vm->ncpu && rc == 0; i++) {
        smp_select(vm, i);
        rc = vcpu_complete_io(vm, err);
    }
    smp_select(vm, cur);
    if (rc < 0)
        return rc;
    struct cc_snapshot *s = snapshot_alloc();
    if (!s)
        return cc_err_set(err, ENOMEM, "out of memory");
    s->mem_size = vm->mem_size;
    s->cfg = vm->cfg;
    clean_config(&s->cfg);
    s->vtime = vm->vtime;
    s->exits = vm->exits;
    s->trace_hash = vm->trace.hash;
    rc = save_state(vm, &s->state, err);
    if (rc == 0) {
        vm_virtio_manifest_save(vm, &s->vdev);
        rc = vm_virtio_snap_take(vm, &s->vsnap, err);
    }
    if (rc == 0)
        rc = build_memory(vm, s, err);
    if (rc == 0)
        rc = adopt_memory(vm, s, err);
    if (rc < 0) {
        cc_snapshot_put(s);
        return rc;
    }
    if (vm->dlog)
        vm_dlog_mark(vm, CC_DLOG_MARK_SNAPSHOT,
                     XXH3_64bits(s->page_hash, (s->mem_size / SNAP_PAGE) * sizeof(uint64_t)));
    *out = s;
    return 0;
}

static int restore_virtio(struct cc_vm *vm, const struct cc_snapshot *s, struct cc_err *err)
{
    if (s->vsnap)
        return vm_virtio_snap_restore(vm, s->vsnap, err);
    struct cc_rd r;
    rd_init(&r, s->vstate.data, s->vstate.len);
    int rc = vm_virtio_load(vm, &r, err);
    if (rc < 0)
        return cc_err_prefix(err, "virtio device state");
    return 0;
}

int cc_vm_restore(struct cc_vm *vm, const struct cc_snapshot *cs, struct cc_err *err)
{
    struct cc_snapshot *s = (struct cc_snapshot *)cs;
    if (s->mem_size != vm->mem_size)
        return cc_err_set(err, EINVAL, "snapshot has %llu MiB of memory, the VM %llu MiB",
                          (unsigned long long)(s->mem_size >> 20),
                          (unsigned long long)(vm->mem_size >> 20));
    int rc;
    if (vm->mem_base == s) {
        int64_t n = mem_reset(vm, err);
        if (n < 0)
            return (int)n;
        vm->last_reset_pages = (uint64_t)n;
    } else {
        rc = mem_fetch_dirty(vm, err);
        if (rc < 0)
            return rc;
        vm->last_reset_pages = mem_dirty_count(vm);
        rc = adopt_memory(vm, s, err);
        if (rc < 0)
            return rc;
    }
    rc = load_state(vm, s->state.data, s->state.len, err);
    if (rc == 0)
        rc = restore_virtio(vm, s, err);
    if (rc == 0 && vm->dlog)
        vm_dlog_mark(vm, CC_DLOG_MARK_RESTORE,
                     XXH3_64bits(s->page_hash, (s->mem_size / SNAP_PAGE) * sizeof(uint64_t)));
    return rc;
}

void cc_fork_opts_default(struct cc_fork_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->serial_fd = -1;
}

int cc_vm_fork(const struct cc_snapshot *cs, const struct cc_fork_opts *o, struct cc_vm **out,
               struct cc_err *err)
{
    struct cc_snapshot *s = (struct cc_snapshot *)cs;
    struct cc_fork_opts def;
    if (!o) {
        cc_fork_opts_default(&def);
        o = &def;
    }
    struct cc_vm_config cfg = s->cfg;
    cfg.serial_fd = o->serial_fd;
    cfg.trace_keep = o->trace_keep;
    cfg.trace_path = o->trace_path;
    cfg.watchdog_s = o->watchdog_s;
    cfg.log = o->log;
    cfg.log_opaque = o->log_opaque;
    struct cc_vm *vm;
    int rc = cc_vm_create(&cfg, &vm, err);
    if (rc < 0)
        return rc;
    struct cc_rd man;
    rd_init(&man, s->vdev.data, s->vdev.len);
    rc = vm_virtio_manifest_apply(vm, &man, err);
    if (rc == 0)
        rc = adopt_memory(vm, s, err);
    if (rc == 0)
        rc = load_state(vm, s->state.data, s->state.len, err);
    if (rc == 0)
        rc = restore_virtio(vm, s, err);
    if (rc < 0) {
        cc_vm_destroy(vm);
        return rc;
    }
    if (o->reseed)
        cc_vm_reseed(vm, o->seed);
    *out = vm;
    return 0;
}

void cc_vm_reseed(struct cc_vm *vm, uint64_t seed)
{
    vm->cfg.seed = seed;
    rng_init(&vm->rng, seed, "vm");
    vm_virtio_reseed(vm, seed);
    ext_reseed_all(vm, seed);
    if (vm->smp)
        cc_vm_sched_reseed(vm, seed);   /* a fork's interleavings follow its seed too */
}

uint64_t cc_vm_last_reset_pages(const struct cc_vm *vm)
{
    return vm->last_reset_pages;
}

uint64_t cc_snapshot_bytes(const struct cc_snapshot *s)
{
    return s->pages_nonzero * SNAP_PAGE + s->state.len;
}

void cc_snapshot_info(const struct cc_snapshot *s, struct cc_snapshot_info *info)
{
    memset(info, 0, sizeof(*info));
    info->mem_size = s->mem_size;
    info->pages_nonzero = s->pages_nonzero;
    info->vtime_ns = s->vtime;
    info->exits = s->exits;
    info->seed = s->cfg.seed;
    info->trace_hash = s->trace_hash;
    info->ram_hash = XXH3_64bits(s->page_hash, (s->mem_size / SNAP_PAGE) * sizeof(uint64_t));
    info->state_bytes = s->state.len;
    info->vcpus = s->cfg.vcpus ? s->cfg.vcpus : 1;
    info->vcpu_sched = s->cfg.vcpu_sched;
    info->vcpu_quantum = s->cfg.vcpu_quantum ? s->cfg.vcpu_quantum : CC_VM_DEFAULT_QUANTUM;
}

int64_t cc_snapshot_diff(const struct cc_snapshot *a, const struct cc_snapshot *b,
                         void (*fn)(void *opaque, uint64_t first_page, uint64_t count),
                         void *opaque, struct cc_err *err)
{
    if (a->mem_size != b->mem_size)
        return cc_err_set(err, EINVAL, "snapshots have different memory sizes (%llu and %llu MiB)",
                          (unsigned long long)(a->mem_size >> 20),
                          (unsigned long long)(b->mem_size >> 20));
    uint64_t n = a->mem_size / SNAP_PAGE, total = 0;
    for (uint64_t p = 0; p < n;) {
        if (a->page_hash[p] == b->page_hash[p]) {
            p++;
            continue;
        }
        uint64_t start = p;
        while (p < n && a->page_hash[p] != b->page_hash[p])
            p++;
        total += p - start;
        if (fn)
            fn(opaque, start, p - start);
    }
    return (int64_t)total;
}
