/* Linux tier of issue 5: the virtio devices seen from inside a Linux guest
 * (guests/virtio-check). Run it where KVM can run Linux guests:
 *   tools/kvm-host -- build/tests/linux/test_virtio_linux \
 *       build/kernel/bzImage build/guests/virtio-check.initrd
 * (meson test --suite linux virtio). CC_VIRTIO_ONLY=disk|udp runs one part;
 * CC_VIRTIO_UDP_REPEAT=N compares N same-seed UDP runs (investigation).
 *
 * One process, few boots: a "disk VM" (virtio-rng, an ext4 disk over a
 * read-only base image made here with mkfs.ext4, a raw all-zero disk) boots
 * once to the guest's command prompt (vc_mode=serve) and is snapshotted
 * there (S0); every scenario restores a snapshot and sends the guest
 * commands on its console (cc_vm_serial_input). Checked:
 *   - /dev/hwrng: equal bytes for equal seeds (two boots with seed 1),
 *     different bytes for seed 2;
 *   - ext4 on the virtio disk: the prepared file is read; a file written and
 *     synced reads back after a snapshot/restore; a file written after the
 *     snapshot is gone after restoring it; restoring to before the write
 *     (S0) makes the file disappear; a "restart" (S0's freshly booted guest
 *     with the post-sync disk) mounts and reads the data;
 *   - every blk fault kind observed by the guest: read error (EIO on a raw
 *     read and on an ext4 file read), write error (EIO on a raw write, EIO at
 *     fsync on ext4), torn write (the write succeeds; after a restart the
 *     guest reads the first k bytes new and the rest old), corrupt read (one
 *     flipped bit, once; in a raw read and in an ext4 file), corrupt write
 *     (one flipped bit, persistent), disk full (EIO for a write to new pages,
 *     a rewrite of stored pages succeeds); a torn write with torn_error
 *     (EIO, the first k bytes landed);
 *   - two VMs exchange UDP datagrams over a cc_wire, driven alternately
 *     from this thread in 1 ms quanta of virtual time, and the exchange
 *     (exit traces, serial output, wire frames) is identical across runs
 *     with the same seed and differs with another seed. One difference is
 *     forgiven, if a third run then matches: an interrupt window that the
 *     nested test host reported inside an STI shadow (see test_udp);
 *   - the base image file is never written (bytes and mtime unchanged). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../tap.h"
#include "chaoscontrol/snapshot.h"
#include "chaoscontrol/virtio.h"
#include "chaoscontrol/vm.h"
#include "sim/wire.h"

extern char **environ;

static const char *kernel, *initrd;
static char workdir[256], image[300];

#define RAW_SIZE (4u << 20)
/* Bounds, far above need (a boot to the prompt takes ~15,000 exits, a
 * command a few thousand), so that a stuck guest fails in minutes. */
#define BOOT_EXITS 2000000ull
#define CMD_EXITS 1000000ull
#define BASE_TEXT "prepared on the host by mkfs.ext4 -d"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void vm_log(void *opaque, const char *msg)
{
    (void)opaque;
    tap_diag("vm: %s", msg);
}

/* ---- the guest's file pattern and hash (as in virtio-check.c) ---- */

static uint8_t pattern(unsigned seed, size_t i)
{
    return (uint8_t)(seed * 131u + i * 7u + (i >> 9) * 13u);
}

static uint64_t pattern_fnv(unsigned seed, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= pattern(seed, i);
        h *= 0x100000001b3ull;
    }
    return h;
}

static uint64_t fnv_bytes(const uint8_t *p, size_t n, uint64_t h)
{
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* ---- the base image ---- */

/* Run argv with its output in log (not on our TAP stream); on failure the
 * log is shown as TAP comments. Returns the exit status or -1. */
static int run_prog(char *const argv[], const char *log)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        tap_diag("cannot run %s: %s", argv[0], strerror(rc));
        return -1;
    }
    int st;
    if (waitpid(pid, &st, 0) < 0)
        return -1;
    rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    if (rc != 0) {
        FILE *f = fopen(log, "r");
        char line[512];
        while (f && fgets(line, sizeof(line), f)) {
            line[strcspn(line, "\n")] = 0;
            tap_diag("  %s", line);
        }
        if (f)
            fclose(f);
    }
    return rc;
}

static const char *find_mkfs(void)
{
    static const char *cands[] = {"/usr/sbin/mkfs.ext4", "/sbin/mkfs.ext4", "/usr/bin/mkfs.ext4"};
    for (size_t i = 0; i < sizeof(cands) / sizeof(cands[0]); i++)
        if (access(cands[i], X_OK) == 0)
            return cands[i];
    return "mkfs.ext4";     /* from PATH, or a clear failure */
}

static int make_image(void)
{
    char src[300], file[320];
    snprintf(src, sizeof(src), "%s/src", workdir);
    snprintf(file, sizeof(file), "%s/base.txt", src);
    snprintf(image, sizeof(image), "%s/base.img", workdir);
    if (mkdir(src, 0755) < 0)
        return -1;
    FILE *f = fopen(file, "w");
    if (!f)
        return -1;
    fprintf(f, "%s\n", BASE_TEXT);
    fclose(f);
    /* 4 KiB blocks (extents map to whole disk pages); inode tables and
     * journal initialised now, so the guest's mount starts no lazy-init
     * writer; fixed UUID and hash seed. */
    char *argv[] = {(char *)find_mkfs(), "-F", "-q", "-b", "4096",
                    "-U", "c4a05c0e-0005-4000-8000-000000000005",
                    "-E", "root_owner=0:0,lazy_itable_init=0,lazy_journal_init=0,"
                          "hash_seed=c4a05c0e-0005-4000-8000-000000000006",
                    "-d", src, image, "16M", NULL};
    char log[320];
    snprintf(log, sizeof(log), "%s/mkfs.log", workdir);
    int rc = run_prog(argv, log);
    if (rc != 0)
        tap_diag("%s exited with status %d", argv[0], rc);
    return rc == 0 ? 0 : -1;
}

struct file_id {
    struct stat st;
    uint64_t hash;
};

static int file_identity(const char *path, struct file_id *id)
{
    memset(id, 0, sizeof(*id));
    if (stat(path, &id->st) < 0)
        return -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    uint8_t buf[65536];
    uint64_t h = 0xcbf29ce484222325ull;
    ssize_t k;
    while ((k = read(fd, buf, sizeof(buf))) > 0)
        h = fnv_bytes(buf, (size_t)k, h);
    close(fd);
    id->hash = h;
    return k < 0 ? -1 : 0;
}

/* ---- the disk VM and its console commands ---- */

struct dvm {
    struct cc_vm *vm;
    struct cc_virtio_rng *rng;
    struct cc_virtio_blk *disk, *raw;
    char ready_out[1024];       /* the guest's lines up to "ready" */
    uint64_t ready_trace;       /* exit-trace hash at the prompt */
};

static char out[16384];         /* the last command's "vc: " lines, prefix removed */
static char raw_out[65536];     /* everything the console printed for it */

/* Collect the "vc: " lines of serial[from..] into out. */
static void collect(struct cc_vm *vm, size_t from, char *dst, size_t dstlen)
{
    size_t len;
    const uint8_t *s = cc_vm_serial(vm, &len);
    size_t n = 0, rn = 0;
    dst[0] = 0;
    for (size_t i = from; i < len;) {
        size_t j = i;
        while (j < len && s[j] != '\n')
            j++;
        size_t l = j - i;
        while (l && (s[i + l - 1] == '\r'))
            l--;
        if (rn + l + 2 < sizeof(raw_out)) {
            memcpy(raw_out + rn, s + i, l);
            rn += l;
            raw_out[rn++] = '\n';
        }
        if (l >= 4 && !memcmp(s + i, "vc: ", 4) && !(l == 7 && !memcmp(s + i, "vc: end", 7))) {
            size_t m = l - 4;
            if (n + m + 2 < dstlen) {
                memcpy(dst + n, s + i + 4, m);
                n += m;
                dst[n++] = '\n';
            }
        }
        i = j + 1;
    }
    dst[n] = 0;
    raw_out[rn] = 0;
}

static void diag_raw(void)
{
    char *save = NULL;
    for (char *l = strtok_r(raw_out, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
        tap_diag("  | %s", l);
}

/* Send one command line; run until the guest's "vc: end". Returns the
 * guest's answer lines (in out), or NULL when the guest did not answer. */
static const char *cmd(struct dvm *d, const char *line)
{
    size_t before;
    cc_vm_serial(d->vm, &before);
    char buf[512];
    snprintf(buf, sizeof(buf), "%s\n", line);
    cc_vm_serial_input(d->vm, buf, strlen(buf));
    struct cc_run_limits lim = {.max_exits = CMD_EXITS, .until_serial = "vc: end"};
    struct cc_run_result res;
    struct cc_err err = {0};
    int rc = cc_vm_run(d->vm, &lim, &res, &err);
    collect(d->vm, before, out, sizeof(out));
    if (rc < 0 || res.stop != CC_STOP_SERIAL_MATCH) {
        tap_diag("command '%s': no answer (%s%s%s); console:", line, cc_stop_name(res.stop),
                 rc < 0 ? ", " : "", rc < 0 ? err.msg : "");
        diag_raw();
        return NULL;
    }
    char *p = out + strlen(out);
    while (p > out && p[-1] == '\n')
        *--p = 0;
    tap_diag("> %s  =>  %s", line, out);
    return out;
}

/* cmd, and its answer must contain want. */
static bool cmd_has(struct dvm *d, const char *line, const char *want)
{
    const char *o = cmd(d, line);
    return o && strstr(o, want);
}

/* The value after "key" in s (up to a space or newline), or "". */
static const char *field(const char *s, const char *key)
{
    static char v[4][128];
    static int k;
    char *o = v[k++ & 3];
    o[0] = 0;
    const char *p = s ? strstr(s, key) : NULL;
    if (!p)
        return o;
    p += strlen(key);
    size_t n = strcspn(p, " \n");
    if (n >= sizeof(v[0]))
        n = sizeof(v[0]) - 1;
    memcpy(o, p, n);
    o[n] = 0;
    return o;
}

static int dvm_boot(uint64_t seed, struct dvm *d)
{
    memset(d, 0, sizeof(*d));
    struct cc_vm_config cfg;
    cc_vm_config_default(&cfg);
    cfg.seed = seed;
    cfg.cmdline_extra = "vc_mode=serve";
    cfg.watchdog_s = 120;
    cfg.log = vm_log;
    struct cc_err err = {0};
    struct cc_blk_config disk = {.image_path = image, .id = "ext4disk"};
    struct cc_blk_config raw = {.size = RAW_SIZE, .id = "rawdisk"};
    if (cc_vm_create(&cfg, &d->vm, &err) < 0 || cc_vm_add_virtio_rng(d->vm, &d->rng, &err) < 0 ||
        cc_vm_add_virtio_blk(d->vm, &disk, &d->disk, &err) < 0 ||
        cc_vm_add_virtio_blk(d->vm, &raw, &d->raw, &err) < 0 ||
        cc_vm_load_linux(d->vm, kernel, initrd, NULL, &err) < 0) {
        tap_diag("disk VM: %s", err.msg);
        cc_vm_destroy(d->vm);
        d->vm = NULL;
        return -1;
    }
    struct cc_run_limits lim = {.max_exits = BOOT_EXITS, .until_serial = "vc: ready"};
    struct cc_run_result res;
    double t0 = now_s();
    int rc = cc_vm_run(d->vm, &lim, &res, &err);
    collect(d->vm, 0, d->ready_out, sizeof(d->ready_out));
    tap_diag("disk VM seed %" PRIu64 ": boot to the prompt: %s, %" PRIu64 " exits, %.1f s, "
             "virtual %.3f s", seed, cc_stop_name(res.stop), res.exits, now_s() - t0,
             (double)cc_vm_vtime_ns(d->vm) / 1e9);
    if (rc < 0 || res.stop != CC_STOP_SERIAL_MATCH) {
        tap_diag("disk VM did not reach the prompt%s%s; console:", rc < 0 ? ": " : "",
                 rc < 0 ? err.msg : "");
        diag_raw();
        cc_vm_destroy(d->vm);
        d->vm = NULL;
        return -1;
    }
    d->ready_trace = cc_vm_trace_hash(d->vm);
    return 0;
}

static void dvm_free(struct dvm *d)
{
    cc_vm_destroy(d->vm);
    d->vm = NULL;
}

static int restore(struct dvm *d, const struct cc_snapshot *s)
{
    struct cc_err err = {0};
    if (cc_vm_restore(d->vm, s, &err) < 0) {
        tap_diag("restore: %s", err.msg);
        return -1;
    }
    return 0;
}

/* "Restart": the freshly booted guest of s, on the disks as they are now
 * (a reboot after power loss keeps the disk, not the memory). */
static int restart(struct dvm *d, const struct cc_snapshot *s)
{
    struct cc_err err = {0};
    struct cc_blk_overlay *od = cc_virtio_blk_snapshot(d->disk);
    struct cc_blk_overlay *orw = cc_virtio_blk_snapshot(d->raw);
    int rc = od && orw ? 0 : -1;
    if (rc == 0 && (cc_vm_restore(d->vm, s, &err) < 0 ||
                    cc_virtio_blk_restore(d->disk, od, &err) < 0 ||
                    cc_virtio_blk_restore(d->raw, orw, &err) < 0)) {
        tap_diag("restart: %s", err.msg);
        rc = -1;
    }
    cc_blk_overlay_free(od);
    cc_blk_overlay_free(orw);
    return rc;
}

static int add_fault(struct cc_virtio_blk *b, const struct cc_blk_fault *f)
{
    struct cc_err err = {0};
    int id = cc_virtio_blk_fault_add(b, f, &err);
    if (id < 0)
        tap_diag("fault_add: %s", err.msg);
    return id;
}

/* "rawread ... ok runs=3 data=50*a,XX*1,50*b": exactly one byte differs
 * from fill, by exactly one bit. */
static bool one_bit_flipped(const char *o, unsigned fill, size_t len)
{
    if (!o || strcmp(field(o, "runs="), (len ? "3" : "")) != 0)
        return false;
    unsigned a, x, b;
    size_t na, nx, nb;
    const char *data = field(o, "data=");
    if (sscanf(data, "%x*%zu,%x*%zu,%x*%zu", &a, &na, &x, &nx, &b, &nb) != 6)
        return false;
    unsigned d = x ^ fill;
    return a == fill && b == fill && nx == 1 && na + nx + nb == len && d && !(d & (d - 1));
}

static bool same_str(const char *a, const char *b)
{
    return a && b && *a && !strcmp(a, b);
}

/* ---- hwrng ---- */

static void test_hwrng(struct dvm *d1)
{
    char h1a[160], h1b[160], h2[160];
    const char *o = cmd(d1, "hwrng 32");
    snprintf(h1a, sizeof(h1a), "%s", field(o, "hwrng "));
    ok(strlen(h1a) == 64, "hwrng: the guest reads 32 bytes from /dev/hwrng (%s)", h1a);
    struct cc_virtio_info info;
    cc_vm_virtio_info(d1->vm, 0, &info);
    ok(cc_virtio_rng_bytes_served(d1->rng) >= 32 && !info.failure,
       "hwrng: the device served %" PRIu64 " bytes, healthy",
       cc_virtio_rng_bytes_served(d1->rng));

    struct dvm d;
    h1b[0] = h2[0] = 0;
    bool same_boot = false;
    if (dvm_boot(1, &d) == 0) {
        same_boot = d.ready_trace == d1->ready_trace;
        o = cmd(&d, "hwrng 32");
        snprintf(h1b, sizeof(h1b), "%s", field(o, "hwrng "));
        dvm_free(&d);
    }
    /* Boot determinism is boot-hello's subject (verify); here only noted. */
    tap_diag("two boots with seed 1 reach the prompt with %s exit traces (%016" PRIx64 ")",
             same_boot ? "identical" : "DIFFERENT", d1->ready_trace);
    if (dvm_boot(2, &d) == 0) {
        o = cmd(&d, "hwrng 32");
        snprintf(h2, sizeof(h2), "%s", field(o, "hwrng "));
        dvm_free(&d);
    }
    tap_diag("seed 1: %s", h1a);
    tap_diag("seed 1: %s", h1b);
    tap_diag("seed 2: %s", h2);
    ok(same_str(h1a, h1b), "hwrng: equal bytes for equal seeds (two boots with seed 1)");
    ok(strlen(h2) == 64 && strcmp(h1a, h2), "hwrng: different bytes for seeds 1 and 2");
}

/* ---- ext4 ---- */

#define DATA_SIZE 20000
#define DATA_SEED 5

static void test_ext4(struct dvm *d, const struct cc_snapshot *s0)
{
    char want[32];
    snprintf(want, sizeof(want), "fnv=%016" PRIx64, pattern_fnv(DATA_SEED, DATA_SIZE));
    char readok[64];
    snprintf(readok, sizeof(readok), "ok size=%u %s", DATA_SIZE, want);

    if (restore(d, s0) < 0)
        tap_bail("cannot restore the post-boot snapshot");
    ok(cmd_has(d, "mount /dev/vda /mnt", "mount /dev/vda ok"),
       "ext4: the guest mounts the prepared image on the virtio disk");
    ok(cmd_has(d, "cat /mnt/base.txt", "text=" BASE_TEXT),
       "ext4: the guest reads the file the host put into the image");
    const char *o = cmd(d, "write /mnt/data.bin 20000 5");
    ok(o && strstr(o, "ok size=20000") && strstr(o, want),
       "ext4: the guest writes a 20000-byte file and fsyncs it (%s)", want);
    char extent[64];
    snprintf(extent, sizeof(extent), "%s", field(o, "extent="));
    unsigned long long ext_off = 0, ext_len = 0;
    bool have_extent = sscanf(extent, "%llu+%llu", &ext_off, &ext_len) == 2 && ext_len > 0 &&
                       ext_off % 4096 == 0;
    ok(have_extent, "ext4: FIEMAP gives the file's extent on the disk (%s)", extent);
    ok(cmd_has(d, "sync", "sync ok"), "ext4: sync");
    struct cc_blk_stats st;
    cc_virtio_blk_stats(d->disk, &st);
    tap_diag("ext4 disk after the write: %" PRIu64 " reads, %" PRIu64 " writes, %" PRIu64
             " flushes", st.reads, st.writes, st.flushes);
    ok(st.writes > 0 && st.flushes > 0, "ext4: the device saw writes and flushes");

    /* S1: after the write and sync. */
    struct cc_snapshot *s1 = NULL;
    struct cc_err err = {0};
    if (cc_vm_snapshot(d->vm, &s1, &err) < 0)
        tap_bail("snapshot after the write: %s", err.msg);
    struct cc_blk_overlay *disk_s1 = cc_virtio_blk_snapshot(d->disk);

    ok(cmd_has(d, "write /mnt/late.bin 4096 9", "ok size=4096") &&
       cmd_has(d, "read /mnt/late.bin", "ok size=4096"),
       "ext4: a second file written after the snapshot reads back");

    if (restore(d, s1) < 0)
        tap_bail("cannot restore");
    ok(cmd_has(d, "read /mnt/data.bin direct", readok),
       "ext4: after restore to the snapshot taken after the write, the file reads back "
       "from the disk (O_DIRECT) with the same contents");
    ok(cmd_has(d, "read /mnt/late.bin", "error ENOENT"),
       "ext4: the file written after that snapshot is gone");

    if (restore(d, s0) < 0)
        tap_bail("cannot restore");
    ok(cmd_has(d, "mount /dev/vda /mnt", "mount /dev/vda ok") &&
       cmd_has(d, "read /mnt/data.bin", "error ENOENT") &&
       cmd_has(d, "cat /mnt/base.txt", "text=" BASE_TEXT),
       "ext4: after restore to a point before the write, the file is gone (the prepared "
       "file is still there)");

    /* Restart: the freshly booted guest of S0 on S1's disk (after sync,
     * never unmounted: the mount replays the journal). */
    if (restore(d, s0) < 0 || cc_virtio_blk_restore(d->disk, disk_s1, &err) < 0)
        tap_bail("cannot restart on the post-sync disk: %s", err.msg);
    ok(cmd_has(d, "mount /dev/vda /mnt", "mount /dev/vda ok") &&
       cmd_has(d, "read /mnt/data.bin direct", readok),
       "ext4: after a restart on the synced disk the file is there with the same contents");

    /* Faults seen through the file system. */
    if (have_extent) {
        if (restore(d, s1) < 0)
            tap_bail("cannot restore");
        struct cc_blk_fault f = {.kind = CC_BLK_FAULT_READ_ERROR, .offset = ext_off,
                                 .length = ext_len, .count = CC_BLK_FAULT_UNLIMITED};
        int id = add_fault(d->disk, &f);
        bool eio = cmd_has(d, "read /mnt/data.bin direct", "error EIO");
        int64_t hits = cc_virtio_blk_fault_hits(d->disk, id);
        ok(eio && hits >= 1, "read error: reading the file's blocks fails with EIO in the guest "
           "(%" PRId64 " requests hit)", hits);
        cc_virtio_blk_fault_remove(d->disk, id);
        ok(cmd_has(d, "read /mnt/data.bin direct", readok),
           "read error: with the fault removed the file reads fine again");

        if (restore(d, s1) < 0)
            tap_bail("cannot restore");
        f = (struct cc_blk_fault){.kind = CC_BLK_FAULT_CORRUPT_READ, .offset = ext_off,
                                  .length = ext_len, .count = 1, .flip_bits = 1};
        id = add_fault(d->disk, &f);
        o = cmd(d, "read /mnt/data.bin direct");
        ok(o && strstr(o, "ok size=20000") && !strstr(o, want) &&
           cc_virtio_blk_fault_hits(d->disk, id) == 1,
           "corrupt read: the file reads without error but with different contents (%s)",
           field(o, "fnv="));
        ok(cmd_has(d, "read /mnt/data.bin direct", readok),
           "corrupt read: the next read is clean (the disk is unchanged)");
    } else {
        ok(0, "read error on an ext4 file (no extent known)");
        ok(0, "read error: reads fine again");
        ok(0, "corrupt read on an ext4 file (no extent known)");
        ok(0, "corrupt read: clean again");
    }

    if (restore(d, s1) < 0)
        tap_bail("cannot restore");
    struct cc_blk_fault wf = {.kind = CC_BLK_FAULT_WRITE_ERROR, .count = CC_BLK_FAULT_UNLIMITED};
    int wid = add_fault(d->disk, &wf);
    bool eio = cmd_has(d, "write /mnt/w.bin 8192 3", "error EIO at fsync");
    int64_t whits = cc_virtio_blk_fault_hits(d->disk, wid);
    ok(eio && whits >= 1, "write error: an ext4 file's fsync fails with EIO in the guest "
       "(%" PRId64 " requests hit)", whits);
    cc_virtio_blk_fault_clear(d->disk);

    cc_blk_overlay_free(disk_s1);
    cc_snapshot_put(s1);
}

/* ---- raw block I/O: every fault kind ---- */

static void test_raw(struct dvm *d, const struct cc_snapshot *s0)
{
    if (restore(d, s0) < 0)
        tap_bail("cannot restore the post-boot snapshot");
    struct cc_virtio_blk *b = d->raw;
    const char *o;

    /* Read error. */
    struct cc_blk_fault f = {.kind = CC_BLK_FAULT_READ_ERROR, .offset = 4096, .length = 4096,
                             .count = 1};
    int id = add_fault(b, &f);
    ok(cmd_has(d, "rawread /dev/vdb 4096 4096", "error EIO") && cc_virtio_blk_fault_hits(b, id) == 1,
       "read error: a raw read fails with EIO in the guest");
    ok(cmd_has(d, "rawread /dev/vdb 4096 4096", "ok runs=1 data=00*4096"),
       "read error: count 1, the next read succeeds");

    /* Write error. */
    f = (struct cc_blk_fault){.kind = CC_BLK_FAULT_WRITE_ERROR, .offset = 8192, .length = 4096,
                              .count = 1};
    id = add_fault(b, &f);
    ok(cmd_has(d, "rawwrite /dev/vdb 8192 4096 0x57", "error EIO") &&
       cc_virtio_blk_fault_hits(b, id) == 1,
       "write error: a raw write fails with EIO in the guest");
    ok(cmd_has(d, "rawread /dev/vdb 8192 4096", "ok runs=1 data=00*4096"),
       "write error: nothing was written");
    ok(cmd_has(d, "rawwrite /dev/vdb 8192 4096 0x57", "ok") &&
       cmd_has(d, "rawread /dev/vdb 8192 4096", "ok runs=1 data=57*4096"),
       "write error: count 1, the retry lands");

    /* Corrupt read: transient. */
    ok(cmd_has(d, "rawwrite /dev/vdb 16384 4096 0x50", "ok"), "corrupt read: pattern written");
    f = (struct cc_blk_fault){.kind = CC_BLK_FAULT_CORRUPT_READ, .offset = 16384, .length = 4096,
                              .count = 1, .flip_bits = 1};
    id = add_fault(b, &f);
    o = cmd(d, "rawread /dev/vdb 16384 4096");
    ok(one_bit_flipped(o, 0x50, 4096) && cc_virtio_blk_fault_hits(b, id) == 1,
       "corrupt read: the guest reads exactly one flipped bit, without error (%s)",
       field(o, "data="));
    ok(cmd_has(d, "rawread /dev/vdb 16384 4096", "ok runs=1 data=50*4096"),
       "corrupt read: the next read is clean (transient)");

    /* Corrupt write: persistent. */
    f = (struct cc_blk_fault){.kind = CC_BLK_FAULT_CORRUPT_WRITE, .offset = 20480,
                              .length = 4096, .count = 1, .flip_bits = 1};
    id = add_fault(b, &f);
    ok(cmd_has(d, "rawwrite /dev/vdb 20480 4096 0x60", "ok") && cc_virtio_blk_fault_hits(b, id) == 1,
       "corrupt write: the write reports success");
    char first[128];
    o = cmd(d, "rawread /dev/vdb 20480 4096");
    snprintf(first, sizeof(first), "%s", field(o, "data="));
    ok(one_bit_flipped(o, 0x60, 4096), "corrupt write: the guest reads one flipped bit (%s)",
       first);
    o = cmd(d, "rawread /dev/vdb 20480 4096");
    ok(o && same_str(first, field(o, "data=")),
       "corrupt write: the same flip is read again (stored on the disk)");

    /* Torn write, seen after a restart. */
    ok(cmd_has(d, "rawwrite /dev/vdb 65536 8192 0x4f", "ok") &&
       cmd_has(d, "rawread /dev/vdb 65536 8192", "ok runs=1 data=4f*8192"),
       "torn write: the old pattern (0x4f) is on the disk");
    f = (struct cc_blk_fault){.kind = CC_BLK_FAULT_TORN_WRITE, .offset = 65536, .length = 8192,
                              .count = 1, .torn_bytes = 3072};
    id = add_fault(b, &f);
    ok(cmd_has(d, "rawwrite /dev/vdb 65536 8192 0x4e", "rawwrite /dev/vdb 65536 8192 ok") &&
       cc_virtio_blk_fault_hits(b, id) == 1,
       "torn write: the guest's 8192-byte write of 0x4e reports success");
    if (restart(d, s0) < 0)
        tap_bail("cannot restart the guest");
    ok(cmd_has(d, "rawread /dev/vdb 65536 8192", "ok runs=2 data=4e*3072,4f*5120"),
       "torn write: after a restart the guest reads the first 3072 bytes new, the rest old");
    ok(cmd_has(d, "rawread /dev/vdb 20480 4096", "ok runs=3") &&
       cmd_has(d, "rawread /dev/vdb 8192 4096", "ok runs=1 data=57*4096"),
       "restart: the other writes are still on the disk");

    /* Torn write reported as an error: the guest gets EIO, yet the first
     * 512 bytes landed. */
    f = (struct cc_blk_fault){.kind = CC_BLK_FAULT_TORN_WRITE, .offset = 131072,
                              .length = 8192, .count = 1, .torn_bytes = 512, .torn_error = true};
    id = add_fault(b, &f);
    ok(cmd_has(d, "rawwrite /dev/vdb 131072 8192 0x33", "error EIO") &&
       cc_virtio_blk_fault_hits(b, id) == 1,
       "torn write with torn_error: the guest's write fails with EIO");
    ok(cmd_has(d, "rawread /dev/vdb 131072 8192", "ok runs=2 data=33*512,00*7680"),
       "torn write with torn_error: the first 512 bytes landed anyway");

    /* Disk full: only rewrites of stored pages still succeed. */
    struct cc_blk_usage u;
    cc_virtio_blk_usage(b, &u);
    f = (struct cc_blk_fault){.kind = CC_BLK_FAULT_DISK_FULL, .count = CC_BLK_FAULT_UNLIMITED,
                              .full_bytes = u.pages * 4096};
    id = add_fault(b, &f);
    ok(cmd_has(d, "rawwrite /dev/vdb 1048576 4096 0x70", "error EIO") &&
       cc_virtio_blk_fault_hits(b, id) == 1,
       "disk full: a write to new pages fails with EIO in the guest (full at %" PRIu64
       " pages)", u.pages);
    ok(cmd_has(d, "rawwrite /dev/vdb 16384 4096 0x71", "ok") &&
       cmd_has(d, "rawread /dev/vdb 16384 4096", "ok runs=1 data=71*4096"),
       "disk full: a rewrite of a stored page still succeeds");
    ok(cmd_has(d, "rawread /dev/vdb 1048576 4096", "ok runs=1 data=00*4096"),
       "disk full: the refused write stored nothing");
    struct cc_blk_usage u2;
    cc_virtio_blk_usage(b, &u2);
    is_int(u2.pages, u.pages, "disk full: the disk holds no new pages");
    cc_virtio_blk_fault_clear(b);
}

/* ---- UDP between two VMs over a wire ---- */

struct pair_run {
    bool ok;
    enum cc_stop stop[2];
    uint64_t trace[2], serial_hash[2], exits[2], vtime[2];
    char *serial[2];
    size_t serial_len[2];
    char lines[2][8192];
    struct cc_trace_rec *tr[2];     /* kept, to show the first divergence */
    size_t ntr[2];
    uint8_t *after_sti[2];          /* per record: an irq-window exit whose RIP
                                       follows an STI instruction */
    struct wire_stats ws;
    double seconds;
};

static void pair_free(struct pair_run *r)
{
    for (int i = 0; i < 2; i++) {
        free(r->serial[i]);
        free(r->tr[i]);
        free(r->after_sti[i]);
    }
}

static bool stopped(enum cc_stop s)
{
    return s == CC_STOP_POWEROFF || s == CC_STOP_HALTED || s == CC_STOP_RESET ||
           s == CC_STOP_TRIPLE_FAULT || s == CC_STOP_ERROR;
}

/* The kernel is linked at __START_KERNEL_map + its physical address. */
static bool after_sti(struct cc_vm *vm, uint64_t rip)
{
    const uint64_t kmap = 0xffffffff80000000ull;
    if (rip < kmap + 1)
        return false;
    const uint8_t *p = cc_vm_gpa(vm, rip - kmap - 1, 1);
    return p && *p == 0xfb;
}

static int run_pair(uint64_t seed, struct pair_run *r)
{
    memset(r, 0, sizeof(*r));
    static const char *cmdl[2] = {"vc_mode=udp-a vc_n=5", "vc_mode=udp-b"};
    const uint8_t mac[2][6] = {{0x02, 0xcc, 0, 0, 0, 0x0a}, {0x02, 0xcc, 0, 0, 0, 0x0b}};
    struct cc_vm *vm[2] = {NULL, NULL};
    struct cc_virtio_net *net[2];
    struct cc_wire *w = NULL;
    struct cc_err err = {0};
    int rc = -1;
    for (int i = 0; i < 2; i++) {
        struct cc_vm_config cfg;
        cc_vm_config_default(&cfg);
        cfg.seed = seed + (uint64_t)i;
        cfg.cmdline_extra = cmdl[i];
        cfg.trace_keep = true;
        cfg.watchdog_s = 120;
        cfg.log = vm_log;
        if (cc_vm_create(&cfg, &vm[i], &err) < 0 ||
            cc_vm_add_virtio_net(vm[i], mac[i], &net[i], &err) < 0 ||
            cc_vm_load_linux(vm[i], kernel, initrd, NULL, &err) < 0) {
            tap_diag("udp VM %c: %s", 'A' + i, err.msg);
            goto out;
        }
    }
    if (wire_connect(net[0], net[1], &w, &err) < 0) {
        tap_diag("wire: %s", err.msg);
        goto out;
    }
    /* Both VMs from this thread, alternately, in 1 ms quanta of virtual
     * time: a frame is delivered during the sender's exit, so the order of
     * everything is fixed. */
    const uint64_t quantum = 1000000, limit = 120ull * 1000000000;
    double t0 = now_s(), next_report = t0 + 20;
    bool done[2] = {false, false}, stuck = false;
    for (uint64_t t = quantum; !stuck && !(done[0] && done[1]); t += quantum) {
        if (now_s() > next_report) {     /* a diagnostic for slow runs only */
            next_report += 20;
            tap_diag("udp: still running after %.0f s: virtual %.3f s, A %" PRIu64 " exits at "
                     "%.3f s, B %" PRIu64 " exits at %.3f s", now_s() - t0, (double)t / 1e9,
                     cc_vm_exit_count(vm[0]), (double)cc_vm_vtime_ns(vm[0]) / 1e9,
                     cc_vm_exit_count(vm[1]), (double)cc_vm_vtime_ns(vm[1]) / 1e9);
        }
        if (t > limit) {
            tap_diag("udp: not finished after %" PRIu64 " s of virtual time", limit / 1000000000);
            stuck = true;
            break;
        }
        for (int i = 0; i < 2; i++) {
            if (done[i])
                continue;
            /* A quantum takes a few thousand exits at most (each costs at
             * least 200 ns of virtual time). */
            struct cc_run_limits lim = {.max_exits = 1000000, .until_vtime_ns = t};
            struct cc_run_result res;
            if (cc_vm_run(vm[i], &lim, &res, &err) < 0) {
                tap_diag("udp VM %c: %s", 'A' + i, err.msg);
                goto out;
            }
            if (res.stop == CC_STOP_MAX_EXITS) {
                tap_diag("udp VM %c: no progress in virtual time (%" PRIu64 " exits at %.6f s)",
                         'A' + i, res.exits, (double)cc_vm_vtime_ns(vm[i]) / 1e9);
                stuck = true;
                break;
            }
            if (stopped(res.stop)) {
                done[i] = true;
                r->stop[i] = res.stop;
            }
        }
    }
    r->seconds = now_s() - t0;
    for (int i = 0; i < 2; i++) {
        size_t len;
        const uint8_t *s = cc_vm_serial(vm[i], &len);
        r->serial[i] = malloc(len + 1);
        if (!r->serial[i])
            goto out;
        memcpy(r->serial[i], s, len);
        r->serial[i][len] = 0;
        r->serial_len[i] = len;
        r->serial_hash[i] = cc_vm_serial_hash(vm[i]);
        r->trace[i] = cc_vm_trace_hash(vm[i]);
        r->exits[i] = cc_vm_exit_count(vm[i]);
        r->vtime[i] = cc_vm_vtime_ns(vm[i]);
        const struct cc_trace_rec *tr = cc_vm_trace(vm[i], &r->ntr[i]);
        r->tr[i] = malloc((r->ntr[i] + 1) * sizeof(*tr));
        r->after_sti[i] = calloc(r->ntr[i] + 1, 1);
        if (r->tr[i] && r->after_sti[i])
            memcpy(r->tr[i], tr, r->ntr[i] * sizeof(*tr));
        else
            r->ntr[i] = 0;
        for (size_t j = 0; j < r->ntr[i]; j++)
            r->after_sti[i][j] = tr[j].kind == CC_TR_IRQ_WINDOW && after_sti(vm[i], tr[j].rip);
        collect(vm[i], 0, r->lines[i], sizeof(r->lines[i]));
    }
    wire_stats(w, &r->ws);
    for (int i = 0; stuck && i < 2; i++) {
        tap_diag("VM %c: last exits:", 'A' + i);
        for (size_t j = r->ntr[i] > 16 ? r->ntr[i] - 16 : 0; j < r->ntr[i]; j++) {
            char l[160];
            cc_trace_format(&r->tr[i][j], l, sizeof(l));
            tap_diag("  %s", l);
        }
        char *save = NULL;
        for (char *l = strtok_r(r->lines[i], "\n", &save); l; l = strtok_r(NULL, "\n", &save))
            tap_diag("  %c| %s", 'A' + i, l);
    }
    r->ok = !stuck;
    rc = stuck ? -1 : 0;
out:
    wire_free(w);
    cc_vm_destroy(vm[0]);
    cc_vm_destroy(vm[1]);
    return rc;
}

/* Where two runs' traces of VM i part, with some context. */
/* Returns -1 when the traces are equal, else 1 when the first difference
 * is an interrupt-window exit right after an STI in one run and after the
 * next instruction in the other (the STI shadow not honoured: an artifact of
 * the nested test host, see test_udp), else 0. */
static int show_divergence(const struct pair_run *a, const struct pair_run *b, int i)
{
    size_t n = a->ntr[i] < b->ntr[i] ? a->ntr[i] : b->ntr[i], k;
    for (k = 0; k < n; k++) {
        const struct cc_trace_rec *x = &a->tr[i][k], *y = &b->tr[i][k];
        if (x->kind != y->kind || x->addr != y->addr || x->data != y->data ||
            x->rip != y->rip || x->vtime != y->vtime || x->size != y->size)
            break;
    }
    if (k == n && a->ntr[i] == b->ntr[i])
        return -1;
    bool shadow = k < n && a->tr[i][k].kind == CC_TR_IRQ_WINDOW &&
                  b->tr[i][k].kind == CC_TR_IRQ_WINDOW &&
                  a->tr[i][k].vtime == b->tr[i][k].vtime &&
                  (a->after_sti[i][k] != b->after_sti[i][k]);
    tap_diag("VM %c: traces part at record %zu of %zu/%zu%s:", 'A' + i, k, a->ntr[i], b->ntr[i],
             shadow ? " (an interrupt window reported inside an STI shadow in one run)" : "");
    for (size_t j = k > 6 ? k - 6 : 0; j < k + 4 && j < n + 1; j++) {
        char l1[160] = "-", l2[160] = "-";
        if (j < a->ntr[i])
            cc_trace_format(&a->tr[i][j], l1, sizeof(l1));
        if (j < b->ntr[i])
            cc_trace_format(&b->tr[i][j], l2, sizeof(l2));
        tap_diag("  %s %s", j == k ? ">" : " ", l1);
        tap_diag("  %s %s", j == k ? ">" : " ", l2);
    }
    return shadow ? 1 : 0;
}

static unsigned count_lines(const char *s, const char *needle)
{
    unsigned n = 0;
    for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* -1: the two runs are identical (traces, exits, virtual time, serial
 * output); 1: they differ, and in each VM that differs the first
 * difference is the STI-shadow artifact; 0: they differ otherwise. */
static int pair_class(const struct pair_run *a, const struct pair_run *b)
{
    int res = -1;
    for (int i = 0; i < 2; i++) {
        bool equal = a->trace[i] == b->trace[i] && a->exits[i] == b->exits[i] &&
                     a->vtime[i] == b->vtime[i];
        int c = equal ? -1 : show_divergence(a, b, i);
        if (equal && (a->serial_len[i] != b->serial_len[i] ||
                      memcmp(a->serial[i], b->serial[i], a->serial_len[i])))
            c = 0;      /* equal traces, different output: never forgiven */
        if (!equal && c < 0)
            c = 0;      /* the hash differs but the kept records do not */
        if (c == 0)
            return 0;
        if (c == 1)
            res = 1;
    }
    return res;
}

/* Investigation aid (CC_VIRTIO_UDP_REPEAT=N): N runs with seed 1, each
 * compared with the first. */
static void udp_repeat(int n)
{
    struct pair_run first;
    if (run_pair(1, &first) < 0)
        tap_bail("udp run 1 failed");
    int same = 0, shadow = 0, other = 0, failed = 0;
    for (int k = 2; k <= n; k++) {
        struct pair_run r;
        if (run_pair(1, &r) < 0) {
            failed++;
            tap_diag("run %d failed", k);
            continue;
        }
        int ca = show_divergence(&first, &r, 0), cb = show_divergence(&first, &r, 1);
        bool eq = ca < 0 && cb < 0 && first.serial_len[0] == r.serial_len[0] &&
                  first.serial_len[1] == r.serial_len[1];
        if (eq)
            same++;
        else if (ca != 0 && cb != 0)
            shadow++;
        else
            other++;
        tap_diag("run %d: %s (%.1f s)", k, eq ? "identical" : ca != 0 && cb != 0 ?
                 "differs after an STI-shadow window" : "DIFFERS", r.seconds);
        pair_free(&r);
    }
    pair_free(&first);
    tap_diag("%d runs: %d identical to the first, %d STI-shadow, %d other, %d failed", n, same,
             shadow, other, failed);
    ok(other == 0 && failed == 0, "udp repeat: no divergence but the STI-shadow artifact");
}

static void test_udp(void)
{
    struct pair_run r1, r2;
    int rc1 = run_pair(1, &r1);
    if (rc1 == 0) {
        tap_diag("udp run 1: %.1f s; A: %s, %" PRIu64 " exits, virtual %.3f s; B: %s, %" PRIu64
                 " exits, virtual %.3f s; wire %" PRIu64 " A->B, %" PRIu64 " B->A frames",
                 r1.seconds, cc_stop_name(r1.stop[0]), r1.exits[0], (double)r1.vtime[0] / 1e9,
                 cc_stop_name(r1.stop[1]), r1.exits[1], (double)r1.vtime[1] / 1e9,
                 r1.ws.frames[0], r1.ws.frames[1]);
        for (int i = 0; i < 2; i++) {
            char *save = NULL, copy[8192];
            snprintf(copy, sizeof(copy), "%s", r1.lines[i]);
            for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
                tap_diag("  %c| %s", 'A' + i, l);
        }
    }
    ok(rc1 == 0 && r1.stop[0] == CC_STOP_POWEROFF && r1.stop[1] == CC_STOP_POWEROFF,
       "udp: both VMs run to power-off");
    ok(rc1 == 0 && strstr(r1.lines[0], "udp-a: done, 5 of 5 pongs") &&
       strstr(r1.lines[1], "(5 distinct)") && strstr(r1.lines[1], "udp-b: got 'bye'") &&
       strstr(r1.lines[0], "udp-a: got 'bye-ack'"),
       "udp: A gets pongs to its 5 pings, B answers all 5, bye acknowledged");
    bool tokens = rc1 == 0;
    for (unsigned i = 0; tokens && i < 5; i++) {
        char p[32];
        snprintf(p, sizeof(p), "'pong %u ", i);
        const char *a = strstr(r1.lines[0], p);
        snprintf(p, sizeof(p), "'ping %u ", i);
        const char *b = strstr(r1.lines[1], p);
        tokens = a && b && !strncmp(a + strlen(p), b + strlen(p), 16);
    }
    ok(tokens, "udp: each pong carries its ping's random token");
    ok(rc1 == 0 && count_lines(r1.lines[1], "from 10.0.0.1:") >= 6 &&
       count_lines(r1.lines[0], "from 10.0.0.2:7000") >= 6,
       "udp: datagrams come from the peer's address");
    ok(rc1 == 0 && r1.ws.frames[0] > 0 && r1.ws.frames[1] > 0 && !r1.ws.dropped[0] &&
       !r1.ws.dropped[1], "udp: frames crossed the wire both ways, none dropped");

    int rc2 = run_pair(1, &r2);
    if (rc2 == 0)
        tap_diag("udp run 2: %.1f s", r2.seconds);
    int cls = rc1 == 0 && rc2 == 0 ? pair_class(&r1, &r2) : 0;
    struct pair_run r2b, *same_as_1 = &r2;
    bool have_r2b = false;
    if (cls == 1) {
        /* The nested test host (KVM on QEMU's emulated SVM) now and then
         * reports an interrupt window one instruction early, inside the
         * shadow of an STI, which hardware holds closed; the injected
         * interrupt then lands one instruction earlier. Only that is
         * forgiven, and only if a third run matches one of the two. */
        tap_diag("udp: runs 1 and 2 differ only from an interrupt window reported inside an "
                 "STI shadow (a test-host artifact); a third run decides");
        have_r2b = run_pair(1, &r2b) == 0;
        if (have_r2b && pair_class(&r1, &r2b) < 0) {
            cls = -1;
            same_as_1 = &r2b;
        } else if (have_r2b && pair_class(&r2, &r2b) < 0) {
            cls = -1;
            pair_free(&r1);
            r1 = r2;
            memset(&r2, 0, sizeof(r2));
            same_as_1 = &r2b;
        }
    }
    ok(cls < 0, "udp: same seed, same exchange: both VMs' exit traces are identical "
       "(A %016" PRIx64 ", B %016" PRIx64 ")", r1.trace[0], r1.trace[1]);
    bool same = rc1 == 0 && rc2 == 0;
    for (int i = 0; same && i < 2; i++)
        same = r1.serial_len[i] == same_as_1->serial_len[i] &&
               !memcmp(r1.serial[i], same_as_1->serial[i], r1.serial_len[i]);
    ok(same, "udp: same seed: both VMs' serial output is byte-identical");
    ok(rc1 == 0 && rc2 == 0 && r1.ws.frames[0] == same_as_1->ws.frames[0] &&
       r1.ws.frames[1] == same_as_1->ws.frames[1],
       "udp: same seed: same frame counts on the wire");
    if (have_r2b)
        pair_free(&r2b);
    pair_free(&r2);

    /* Another seed: another exchange (the tokens come from getrandom). */
    struct pair_run r3;
    int rc3 = run_pair(2, &r3);
    if (rc3 == 0)
        tap_diag("udp run 3 (seed 2): %.1f s", r3.seconds);
    const char *p1 = rc1 == 0 ? strstr(r1.lines[0], "'pong 0 ") : NULL;
    const char *p3 = rc3 == 0 ? strstr(r3.lines[0], "'pong 0 ") : NULL;
    ok(p1 && p3 && strstr(r3.lines[0], "udp-a: done, 5 of 5 pongs") && strncmp(p1, p3, 24) &&
       r1.trace[0] != r3.trace[0],
       "udp: seed 2 gives a different exchange (other tokens, other trace)");
    pair_free(&r3);
    pair_free(&r1);
}

/* The disk VM: boot once, snapshot at the prompt, run every scenario. */
static void test_disk_vm(void)
{
    struct dvm d;
    if (dvm_boot(1, &d) < 0)
        tap_bail("the disk VM does not boot to the guest's prompt");
    ok(strstr(d.ready_out, "disk vda sectors=32768 serial=ext4disk") &&
       strstr(d.ready_out, "disk vdb sectors=8192 serial=rawdisk"),
       "the guest sees both virtio disks with their sizes and ids");
    struct cc_snapshot *s0 = NULL;
    struct cc_err err = {0};
    if (cc_vm_snapshot(d.vm, &s0, &err) < 0)
        tap_bail("snapshot: %s", err.msg);

    double t = now_s();
    test_hwrng(&d);
    tap_diag("hwrng: %.1f s", now_s() - t);
    t = now_s();
    test_ext4(&d, s0);
    tap_diag("ext4: %.1f s", now_s() - t);
    t = now_s();
    test_raw(&d, s0);
    tap_diag("raw faults: %.1f s", now_s() - t);
    for (unsigned i = 0; i < cc_vm_virtio_count(d.vm); i++) {
        struct cc_virtio_info info;
        cc_vm_virtio_info(d.vm, i, &info);
        ok(!info.failure, "device %u (type %d) is healthy after all of it%s%s", i, info.type,
           info.failure ? ": " : "", info.failure ? info.failure : "");
    }
    cc_snapshot_put(s0);
    dvm_free(&d);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: virtio_linux KERNEL VIRTIO_CHECK_INITRD\n");
        return 2;
    }
    kernel = argv[1];
    initrd = argv[2];
    setvbuf(stdout, NULL, _IOLBF, 0);
    /* CC_VIRTIO_ONLY=udp|disk runs one part (for debugging; kvm-host
     * passes CC_* variables into the test host). */
    const char *only = getenv("CC_VIRTIO_ONLY");
    tap_plan(0);
    double t0 = now_s();

    const char *tmp = getenv("TMPDIR");
    snprintf(workdir, sizeof(workdir), "%s/virtio-linux.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(workdir))
        tap_bail("mkdtemp %s: %s", workdir, strerror(errno));
    if (make_image() < 0)
        tap_bail("cannot make the ext4 image with mkfs.ext4 (e2fsprogs)");
    struct file_id before, after;
    if (file_identity(image, &before) < 0)
        tap_bail("cannot read %s", image);
    tap_diag("base image %s: %lld bytes", image, (long long)before.st.st_size);

    const char *rep = getenv("CC_VIRTIO_UDP_REPEAT");
    if (rep && atoi(rep) > 1) {
        udp_repeat(atoi(rep));
        return tap_exit();
    }
    if (!only || strcmp(only, "udp"))
        test_disk_vm();
    if (!only || strcmp(only, "disk")) {
        double t = now_s();
        test_udp();
        tap_diag("udp: %.1f s", now_s() - t);
    }

    ok(file_identity(image, &after) == 0 && after.hash == before.hash &&
       after.st.st_size == before.st.st_size &&
       after.st.st_mtim.tv_sec == before.st.st_mtim.tv_sec &&
       after.st.st_mtim.tv_nsec == before.st.st_mtim.tv_nsec,
       "the base image file was never written (bytes and mtime unchanged)");

    char rmcmd[600];
    snprintf(rmcmd, sizeof(rmcmd), "rm -rf '%s'", workdir);
    if (system(rmcmd) != 0)
        tap_diag("could not remove %s", workdir);
    tap_diag("total %.1f s", now_s() - t0);
    return tap_exit();
}
