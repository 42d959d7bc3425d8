/* Fuzz target: the snapshot file parser (cc_snapshot_load, format at the
 * top of src/vmm/snapshot.c). The input is a whole file. It is parsed
 * twice: as it is, and with its last 20 bytes replaced by an END section
 * carrying the right XXH3 checksum, since random bytes would otherwise
 * never get past the checksum to the section parsers (configuration, the
 * state blob, the zstd memory bitmap and frame).
 *
 * cc_snapshot_load takes a path: the input goes into a memfd opened as
 * /proc/self/fd/N. Checked for every parse:
 * - a refusal says why and returns no snapshot;
 * - a snapshot that loads has a sane summary (memory size within bounds,
 *   no more non-zero pages than pages), differs from itself in no page,
 *   and round-trips: saved to a file and loaded again it has the same
 *   summary (RAM hash included), and saving that gives identical bytes;
 * - the legacy devices' sections of its state blob (what a restore would
 *   hand to pic_load, pit_load, uart_load, cmos_load) are
 *   refused with a reason or accepted, and an accepted section saves back
 *   to exactly the bytes it was loaded from. (The vCPU, VM, SDK and
 *   virtio sections need a VM with a vCPU to load into, so this target
 *   does not reach them.)
 * Inputs whose configuration asks for more than 64 MiB of guest RAM (the
 * seed's size) are skipped: a legitimate file of that size is just slow.
 * The seed corpus is a real file (tests/fixtures/snapshots). */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include "chaoscontrol/snapshot.h"
#include "devices/cmos.h"
#include "devices/pic.h"
#include "devices/pit.h"
#include "devices/uart.h"
#include "devices/virtqueue.h"

#define TAG(a, b, c, d) ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)
#define T_CONF TAG('C', 'O', 'N', 'F')
#define T_STAT TAG('S', 'T', 'A', 'T')
#define T_END  TAG('E', 'N', 'D', ' ')
#define T_MEM  TAG('M', 'E', 'M', ' ')
#define T_PIC  TAG('P', 'I', 'C', ' ')
#define T_PIT  TAG('P', 'I', 'T', ' ')
#define T_UART TAG('U', 'A', 'R', 'T')
#define T_CMOS TAG('C', 'M', 'O', 'S')

#define MAX_MEM (64ull << 20)

static int in_fd = -1;
static char in_path[64];
static char dir[64];            /* the round trip's files */
static uint8_t *fixed;
static size_t fixed_cap;

static void setup(void)
{
    if (in_fd >= 0)
        return;
    in_fd = memfd_create("fuzz-snapshot", MFD_CLOEXEC);
    if (in_fd < 0) {
        perror("memfd_create");
        abort();
    }
    snprintf(in_path, sizeof(in_path), "/proc/self/fd/%d", in_fd);
}

/* A fresh directory for the round trip's files (removed after it: libFuzzer
 * does not run atexit handlers when its time is up). */
static void make_dir(void)
{
    snprintf(dir, sizeof(dir), "/dev/shm/fuzz-snapshot-XXXXXX");
    if (!mkdtemp(dir)) {
        snprintf(dir, sizeof(dir), "/tmp/fuzz-snapshot-XXXXXX");
        if (!mkdtemp(dir)) {
            perror("mkdtemp");
            abort();
        }
    }
}

static void put_file(const uint8_t *p, size_t n)
{
    if (ftruncate(in_fd, 0) < 0)
        abort();
    size_t off = 0;
    while (off < n) {
        ssize_t w = pwrite(in_fd, p + off, n - off, (off_t)off);
        if (w <= 0)
            abort();
        off += (size_t)w;
    }
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        abort();
    struct stat st;
    if (fstat(fileno(f), &st) < 0)
        abort();
    *len = (size_t)st.st_size;
    uint8_t *d = malloc(*len ? *len : 1);
    if (!d || fread(d, 1, *len, f) != *len)
        abort();
    fclose(f);
    return d;
}

/* Does any CONF section header in the input (anywhere: the parser's own
 * walk decides which ones count) ask for more than MAX_MEM? */
static bool too_big(const uint8_t *d, size_t len)
{
    for (size_t i = 0; i + 12 + 9 <= len; i++) {
        if (le32(d + i) != T_CONF)
            continue;
        uint64_t mem = le64(d + i + 12 + 1);
        if (mem > MAX_MEM)
            return true;
    }
    return false;
}


static void sane_info(const struct cc_snapshot_info *in)
{
    if (in->mem_size < (2ull << 20) || in->mem_size > MAX_MEM || (in->mem_size & 0xfff) ||
        in->pages_nonzero > in->mem_size / 4096)
        abort();
}

static void no_self_diff(const struct cc_snapshot *s)
{
    struct cc_err err = {0};
    if (cc_snapshot_diff(s, s, NULL, NULL, &err) != 0)
        abort();
}

/* Save, load back, compare, save again: identical bytes. */
static void roundtrip(const struct cc_snapshot *s)
{
    char a[96], b[96];
    make_dir();
    snprintf(a, sizeof(a), "%s/a.ccsnap", dir);
    snprintf(b, sizeof(b), "%s/b.ccsnap", dir);
    struct cc_err err = {0};
    if (cc_snapshot_save(s, a, &err) < 0) {
        fprintf(stderr, "fuzz_snapshot_file: a loaded snapshot does not save: %s\n", err.msg);
        abort();
    }
    struct cc_snapshot *t;
    if (cc_snapshot_load(a, &t, &err) < 0) {
        fprintf(stderr, "fuzz_snapshot_file: a saved snapshot does not load: %s\n", err.msg);
        abort();
    }
    struct cc_snapshot_info i1, i2;
    cc_snapshot_info(s, &i1);
    cc_snapshot_info(t, &i2);
    if (memcmp(&i1, &i2, sizeof(i1)))
        abort();
    if (cc_snapshot_save(t, b, &err) < 0)
        abort();
    size_t la, lb;
    uint8_t *da = read_file(a, &la), *db = read_file(b, &lb);
    if (la != lb || memcmp(da, db, la))
        abort();
    free(da);
    free(db);
    cc_snapshot_put(t);
    unlink(a);
    unlink(b);
    rmdir(dir);
}

/* One legacy device section of a state blob, loaded into a fresh device. */
static void device_section(uint32_t tag, const uint8_t *p, size_t n)
{
    struct cc_pic pic;
    struct cc_pit pit;
    struct cc_uart uart;
    struct cc_cmos cmos;
    struct cc_rd rd;
    struct cc_err err = {0};
    struct cc_buf out;
    int rc;
    rd_init(&rd, p, n);
    buf_init(&out);
    switch (tag) {
    case T_PIC:
        pic_init(&pic);
        rc = pic_load(&pic, &rd, &err);
        if (rc == 0)
            pic_save(&pic, &out);
        break;
    case T_PIT:
        pit_init(&pit, (struct cc_irq_sink){0}, 0);
        rc = pit_load(&pit, &rd, &err);
        if (rc == 0) {
            pit_save(&pit, &out);
            /* The restored timer runs. */
            pit_read(&pit, pit.next_irq_ns, 0x40);
            pit_advance(&pit, pit.next_irq_ns);
        }
        break;
    case T_UART:
        uart_init(&uart, (struct cc_irq_sink){0}, 4, NULL, NULL);
        rc = uart_load(&uart, &rd, &err);
        if (rc == 0) {
            uart_save(&uart, &out);
            uart_read(&uart, 0);
        }
        break;
    default:
        cmos_init(&cmos, CC_CMOS_DEFAULT_EPOCH, 64ull << 20);
        rc = cmos_load(&cmos, &rd, &err);
        if (rc == 0) {
            cmos_save(&cmos, &out);
            cmos_write(&cmos, 0, 0x70, 0);
            cmos_read(&cmos, 0, 0x71);
        }
        break;
    }
    if (rc < 0 && !err.msg[0])
        abort();
    if (rc == 0 && (out.len != rd.pos || memcmp(out.data, p, rd.pos)))
        abort();        /* an accepted section is exactly what a save writes */
    buf_free(&out);
}

/* Walk the file's sections (bounds-checked here) and hand the legacy
 * devices' sections of each STAT blob to their loaders. */
static void state_sections(const uint8_t *d, size_t len)
{
    size_t pos = 16;
    while (len >= 20 && pos + 12 <= len - 20) {
        uint32_t tag = le32(d + pos);
        uint64_t slen = le64(d + pos + 4);
        pos += 12;
        if (slen > len - 20 - pos)
            return;
        if (tag == T_STAT) {
            const uint8_t *st = d + pos;
            size_t sp = 0;
            while (sp + 12 <= slen) {
                uint32_t t = le32(st + sp);
                uint64_t l = le64(st + sp + 4);
                sp += 12;
                if (l > slen - sp)
                    break;
                if (t == T_PIC || t == T_PIT || t == T_UART || t == T_CMOS)
                    device_section(t, st + sp, (size_t)l);
                sp += (size_t)l;
            }
        }
        pos += (size_t)slen;
    }
}

static void parse(const uint8_t *d, size_t len)
{
    put_file(d, len);
    struct cc_snapshot *s = (struct cc_snapshot *)1;
    struct cc_err err = {0};
    int rc = cc_snapshot_load(in_path, &s, &err);
#ifdef FUZZ_VERBOSE
    fprintf(stderr, "%zu bytes: %s\n", len, rc < 0 ? err.msg : "loaded");
#endif
    if (rc < 0) {
        if (s || !err.msg[0] || err.code <= 0)
            abort();    /* refusals say why and return nothing */
        return;
    }
    if (!s)
        abort();
    struct cc_snapshot_info info;
    cc_snapshot_info(s, &info);
#ifdef FUZZ_VERBOSE
    fprintf(stderr, "mem %llu MiB, %llu pages with data, vtime %llu, exits %llu, state %zu bytes\n",
            (unsigned long long)(info.mem_size >> 20), (unsigned long long)info.pages_nonzero,
            (unsigned long long)info.vtime_ns, (unsigned long long)info.exits, info.state_bytes);
#endif
    sane_info(&info);
    no_self_diff(s);
    roundtrip(s);
    state_sections(d, len);
    cc_snapshot_put(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    setup();
    if (too_big(data, len))
        return 0;
    parse(data, len);
    if (len < 36)
        return 0;
    if (len > fixed_cap) {
        free(fixed);
        fixed = malloc(len);
        fixed_cap = len;
        if (!fixed)
            abort();
    }
    memcpy(fixed, data, len);
    uint8_t *e = fixed + len - 20;
    put_le32(e, T_END);
    put_le64(e + 4, 8);
    put_le64(e + 12, XXH3_64bits(fixed, len - 20));
    if (memcmp(fixed, data, len))
        parse(fixed, len);
    return 0;
}
