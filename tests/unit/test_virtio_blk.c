/* Unit tests for virtio-blk and its copy-on-write overlay
 * (src/devices/virtio_blk.h, blk_overlay.h): requests and status bytes
 * through a fake driver, malformed requests, the base image is never
 * written (bytes and mtime), page sharing between snapshots (a 512 MiB
 * disk with 1 MiB written costs 1 MiB however many snapshots), refcounts
 * back to zero, every fault kind with ranges, counts and seeded positions,
 * and snapshots with corrupt-input rejection. */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../tap.h"
#include "devices/virtio_blk.h"
#include "virtio_fake.h"

#define MEM (4u << 20)
#define RING 0x1000u
#define HDR 0x3000u
#define ST 0x3100u
#define DATA 0x10000u
#define DATA2 0x80000u

static struct cc_virtio_blk *mk_cfg(struct fake_guest *g, const struct cc_blk_config *cfg,
                                    uint64_t seed)
{
    fg_mem(g, MEM);
    struct cc_virtio_blk *b;
    struct cc_err err = {0};
    if (virtio_blk_create(cfg, seed, "virtio-blk0", &g->mem, &g->size, fg_sink(g), 6, &b,
                             &err) < 0)
        tap_bail("blk create: %s", err.msg);
    g->t = &b->mmio;
    fg_negotiate(g);
    fg_queue(g, 0, 16, RING);
    fg_driver_ok(g);
    return b;
}

static struct cc_virtio_blk *mk(struct fake_guest *g, uint64_t size)
{
    struct cc_blk_config cfg = {.size = size};
    return mk_cfg(g, &cfg, 1);
}

static void done(struct fake_guest *g, struct cc_virtio_blk *b)
{
    virtio_blk_destroy(b);
    fg_free(g);
}

/* One request; returns the status byte (0xff if nothing came back). */
static uint8_t req(struct fake_guest *g, uint32_t type, uint64_t sector, uint64_t data,
                   uint32_t len, uint32_t *used)
{
    put_le32(g->mem + HDR, type);
    put_le32(g->mem + HDR + 4, 0);
    put_le64(g->mem + HDR + 8, sector);
    g->mem[ST] = 0xff;
    struct fake_seg s[3];
    unsigned n = 0;
    s[n++] = (struct fake_seg){HDR, 16, false};
    if (len)
        s[n++] = (struct fake_seg){data, len, type != VIRTIO_BLK_T_OUT};
    s[n++] = (struct fake_seg){ST, 1, true};
    fg_add(g, 0, s, n);
    fg_kick(g, 0);
    uint32_t id, l = 0;
    if (!fg_used(g, 0, &id, &l))
        return 0xff;
    if (used)
        *used = l;
    return g->mem[ST];
}

static void pattern(uint8_t *p, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(seed + i * 7 + (i >> 9));
}

static void test_requests(void)
{
    struct fake_guest g;
    struct cc_virtio_blk *b = mk(&g, 1 << 20);
    uint8_t cfg[8];
    virtio_mmio_read(g.t, VIRTIO_MMIO_CONFIG, cfg, 8);
    is_u64(le64(cfg), 2048, "config capacity: 2048 sectors");
    virtio_mmio_read(g.t, VIRTIO_MMIO_CONFIG + 12, cfg, 4);
    is_int(le32(cfg), 254, "config seg_max 254");
    ok(virtio_mmio_has_feature(g.t, VIRTIO_BLK_F_FLUSH), "FLUSH negotiated");

    uint32_t used = 0;
    memset(g.mem + DATA, 0xaa, 4096);
    is_int(req(&g, VIRTIO_BLK_T_IN, 0, DATA, 4096, &used), VIRTIO_BLK_S_OK, "read: OK");
    is_int(used, 4097, "read: used length = data + status");
    uint8_t zero[4096] = {0};
    ok(!memcmp(g.mem + DATA, zero, 4096), "fresh disk reads zeros");

    pattern(g.mem + DATA, 8192, 1);
    is_int(req(&g, VIRTIO_BLK_T_OUT, 3, DATA, 8192, &used), VIRTIO_BLK_S_OK, "write 16 sectors");
    is_int(used, 1, "write: used length 1");
    memset(g.mem + DATA2, 0, 8192);
    is_int(req(&g, VIRTIO_BLK_T_IN, 3, DATA2, 8192, NULL), VIRTIO_BLK_S_OK, "read back");
    ok(!memcmp(g.mem + DATA, g.mem + DATA2, 8192), "read back equals what was written");
    struct cc_blk_usage u;
    cc_virtio_blk_usage(b, &u);
    is_int(u.pages, 3, "sectors 3..18 touch 3 pages");

    uint8_t host[512];
    struct cc_err err = {0};
    ok(cc_virtio_blk_read(b, 3 * 512, host, 512, &err) == 0 && !memcmp(host, g.mem + DATA, 512),
       "host read sees the guest's write");

    is_int(req(&g, VIRTIO_BLK_T_FLUSH, 0, 0, 0, NULL), VIRTIO_BLK_S_OK, "flush: OK");
    memset(g.mem + DATA, 0xcc, 32);
    is_int(req(&g, VIRTIO_BLK_T_GET_ID, 0, DATA, 20, &used), VIRTIO_BLK_S_OK, "get id: OK");
    ok(!memcmp(g.mem + DATA, "virtio-blk0\0", 12) && used == 21, "get id: \"virtio-blk0\"");
    is_int(req(&g, 77, 0, DATA, 512, NULL), VIRTIO_BLK_S_UNSUPP, "unknown type: UNSUPP");
    is_int(req(&g, VIRTIO_BLK_T_IN, 2047, DATA, 1024, NULL), VIRTIO_BLK_S_IOERR,
           "read across the end: IOERR");
    is_int(req(&g, VIRTIO_BLK_T_OUT, 1ull << 60, DATA, 512, NULL), VIRTIO_BLK_S_IOERR,
           "sector 2^60 (offset overflow): IOERR");
    is_int(req(&g, VIRTIO_BLK_T_IN, UINT64_MAX, DATA, 512, NULL), VIRTIO_BLK_S_IOERR,
           "sector 2^64-1: IOERR");
    is_int(req(&g, VIRTIO_BLK_T_IN, 0, DATA, 100, NULL), VIRTIO_BLK_S_IOERR,
           "length not a multiple of 512: IOERR");
    is_int(req(&g, VIRTIO_BLK_T_IN, 2047, DATA, 512, NULL), VIRTIO_BLK_S_OK, "last sector: OK");
    struct cc_blk_stats st;
    cc_virtio_blk_stats(b, &st);
    ok(st.reads == 6 && st.writes == 2 && st.flushes == 1 && st.get_ids == 1 &&
       st.unsupported == 1 && st.ioerrs == 4, "statistics count requests");
    ok(!cc_virtio_blk_failure(b), "no device failure from bad requests");
    done(&g, b);
}

static void test_malformed(void)
{
    struct fake_guest g;
    struct cc_virtio_blk *b = mk(&g, 1 << 20);
    /* Header split over two descriptors (legal), then no status byte. */
    put_le32(g.mem + HDR, VIRTIO_BLK_T_IN);
    put_le64(g.mem + HDR + 8, 0);
    struct fake_seg s[3] = {{HDR, 4, false}, {HDR + 4, 12, false}, {ST, 1, true}};
    fg_add(&g, 0, s, 3);
    fg_kick(&g, 0);
    uint32_t id, len;
    ok(fg_used(&g, 0, &id, &len) && g.mem[ST] == VIRTIO_BLK_S_OK, "split header accepted");
    struct fake_seg nost[2] = {{HDR, 16, false}, {DATA, 512, false}};
    fg_add(&g, 0, nost, 2);
    fg_kick(&g, 0);
    ok(cc_virtio_blk_failure(b) && strstr(cc_virtio_blk_failure(b), "status byte"),
       "request without a status byte fails the device: %s",
       cc_virtio_blk_failure(b) ? cc_virtio_blk_failure(b) : "");
    fg_negotiate(&g);
    fg_queue(&g, 0, 16, RING);
    fg_driver_ok(&g);
    struct fake_seg shorthdr[2] = {{HDR, 8, false}, {ST, 1, true}};
    fg_add(&g, 0, shorthdr, 2);
    fg_kick(&g, 0);
    ok(cc_virtio_blk_failure(b) != NULL, "an 8-byte header fails the device");
    done(&g, b);
}

static void test_huge_request(void)
{
    /* 16 descriptors of 256 KiB all pointing at the same RAM: 4 MiB of
     * data for a 64 MiB disk, bounded and bounced; over the 32 MiB cap with
     * 16 x 3 MiB is an IOERR without touching the disk. */
    struct fake_guest g;
    struct cc_virtio_blk *b = mk(&g, 64 << 20);
    put_le32(g.mem + HDR, VIRTIO_BLK_T_OUT);
    put_le64(g.mem + HDR + 8, 0);
    struct fake_seg s[16];
    s[0] = (struct fake_seg){HDR, 16, false};
    for (int i = 1; i < 15; i++)
        s[i] = (struct fake_seg){DATA, 256 << 10, false};
    s[15] = (struct fake_seg){ST, 1, true};
    fg_add(&g, 0, s, 16);
    fg_kick(&g, 0);
    uint32_t id, len;
    ok(fg_used(&g, 0, &id, &len) && g.mem[ST] == VIRTIO_BLK_S_OK, "3.5 MiB aliased write OK");
    struct cc_blk_usage u;
    cc_virtio_blk_usage(b, &u);
    is_int(u.pages, 896, "896 pages stored");
    for (int i = 1; i < 15; i++)
        s[i] = (struct fake_seg){0, 3 << 20, false};
    s[0] = (struct fake_seg){HDR, 16, false};
    fg_add(&g, 0, s, 16);
    fg_kick(&g, 0);
    ok(fg_used(&g, 0, &id, &len) && g.mem[ST] == VIRTIO_BLK_S_IOERR,
       "a 42 MiB request (over the 32 MiB cap) gets IOERR");
    done(&g, b);
}

static void test_image(void)
{
    char path[] = "/tmp/cc-blk-test-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        tap_bail("mkstemp");
    static uint8_t img[3 * 4096 + 100];
    pattern(img, sizeof(img), 42);
    if (write(fd, img, sizeof(img)) != (ssize_t)sizeof(img))
        tap_bail("write image");
    close(fd);
    /* An old mtime, so a write (or a touch) would be visible. */
    struct timespec ts[2] = {{1000000000, 0}, {1000000000, 0}};
    utimensat(AT_FDCWD, path, ts, 0);
    chmod(path, 0644);
    struct stat before;
    stat(path, &before);

    struct fake_guest g;
    struct cc_blk_config cfg = {.image_path = path};
    struct cc_virtio_blk *b = mk_cfg(&g, &cfg, 1);
    is_u64(cc_virtio_blk_size(b), 12800, "size: the image's, rounded up to 512");
    is_int(req(&g, VIRTIO_BLK_T_IN, 0, DATA, 12800, NULL), VIRTIO_BLK_S_OK, "read the image");
    ok(!memcmp(g.mem + DATA, img, sizeof(img)), "reads return the image");
    uint8_t zero[412] = {0};
    ok(!memcmp(g.mem + DATA + sizeof(img), zero, sizeof(zero)), "past the image: zeros");
    /* Partial-page write: the page is filled from the image first. */
    memset(g.mem + DATA, 0x5a, 512);
    is_int(req(&g, VIRTIO_BLK_T_OUT, 9, DATA, 512, NULL), VIRTIO_BLK_S_OK, "write sector 9");
    req(&g, VIRTIO_BLK_T_IN, 8, DATA2, 4096, NULL);
    uint8_t want[4096];
    memcpy(want, img + 4096, 4096);
    memset(want + 512, 0x5a, 512);
    ok(!memcmp(g.mem + DATA2, want, 4096), "written sector over the image, neighbours kept");
    struct cc_blk_overlay *snap = cc_virtio_blk_snapshot(b);
    for (int i = 0; i < 25; i++) {
        memset(g.mem + DATA, i, 12800);
        req(&g, VIRTIO_BLK_T_OUT, 0, DATA, 12800, NULL);
    }
    virtio_blk_destroy(b);
    cc_blk_overlay_free(snap);
    fg_free(&g);

    struct stat after;
    stat(path, &after);
    fd = open(path, O_RDONLY);
    static uint8_t now[sizeof(img) + 1];
    ssize_t n = read(fd, now, sizeof(now));
    close(fd);
    ok(n == (ssize_t)sizeof(img) && !memcmp(now, img, sizeof(img)),
       "the image file's bytes are unchanged");
    ok(after.st_mtim.tv_sec == before.st_mtim.tv_sec &&
       after.st_mtim.tv_nsec == before.st_mtim.tv_nsec && after.st_size == before.st_size,
       "the image file's mtime and size are unchanged");

    /* Read-only device. */
    cfg.read_only = true;
    b = mk_cfg(&g, &cfg, 1);
    ok(virtio_mmio_has_feature(g.t, VIRTIO_BLK_F_RO), "read-only disk offers RO");
    is_int(req(&g, VIRTIO_BLK_T_OUT, 0, DATA, 512, NULL), VIRTIO_BLK_S_IOERR,
           "write to a read-only disk: IOERR");
    done(&g, b);

    struct cc_err err = {0};
    cfg = (struct cc_blk_config){.image_path = "/nonexistent/disk.img"};
    ok(virtio_blk_create(&cfg, 1, "x", &g.mem, &g.size, fg_sink(&g), 6, &b, &err) < 0 &&
       strstr(err.msg, "/nonexistent/disk.img"), "missing image: %s", err.msg);
    cfg = (struct cc_blk_config){.size = 1000};
    ok(virtio_blk_create(&cfg, 1, "x", &g.mem, &g.size, fg_sink(&g), 6, &b, &err) < 0,
       "size not a multiple of 512 refused: %s", err.msg);
    unlink(path);
}

static void test_sharing(void)
{
    /* 512 MiB disk, 1 MiB written, 10 snapshots. */
    struct cc_blk_base *base;
    struct cc_blk_overlay *ov;
    struct cc_err err = {0};
    blk_base_open(NULL, &base, &err);
    blk_overlay_create(base, 512ull << 20, &ov, &err);
    blk_base_put(base);
    static uint8_t mib[1 << 20];
    pattern(mib, sizeof(mib), 3);
    blk_overlay_write(ov, 100ull << 20, mib, sizeof(mib));
    uint64_t pages0 = blk_base_live_pages(ov->base), nodes0 = blk_base_live_nodes(ov->base);
    is_u64(pages0, 256, "1 MiB written: 256 pages");
    ok(nodes0 <= 3, "and %llu tree nodes", (unsigned long long)nodes0);
    struct cc_blk_overlay *snap[10];
    for (int i = 0; i < 10; i++)
        snap[i] = blk_overlay_clone(ov);
    ok(blk_base_live_pages(ov->base) == pages0 && blk_base_live_nodes(ov->base) == nodes0,
       "10 snapshots cost no pages and no nodes");
    /* Each snapshot diverges by one page: one page + a path of nodes each. */
    for (int i = 0; i < 10; i++) {
        uint8_t x = (uint8_t)i;
        blk_overlay_write(snap[i], (100ull << 20) + 4096ull * i, &x, 1);
    }
    is_u64(blk_base_live_pages(ov->base), pages0 + 10, "10 one-byte writes: 10 page copies");
    ok(blk_base_live_nodes(ov->base) <= nodes0 + 10 * 2,
       "and at most 2 node copies each (%llu nodes)",
       (unsigned long long)blk_base_live_nodes(ov->base));
    uint8_t a[4096], c[4096];
    blk_overlay_read(ov, (100ull << 20) + 4096 * 3, a, 4096);
    blk_overlay_read(snap[3], (100ull << 20) + 4096 * 3, c, 4096);
    ok(!memcmp(a, mib + 4096 * 3, 4096) && c[0] == 3 && !memcmp(c + 1, a + 1, 4095),
       "the original is unchanged; the snapshot sees its own write");
    /* Writes to the original after cloning do not show in snapshots. */
    uint8_t y = 0xee;
    blk_overlay_write(ov, 100ull << 20, &y, 1);
    blk_overlay_read(snap[9], 100ull << 20, c, 1);
    ok(c[0] == mib[0], "writes after the snapshot stay out of it");
    /* A write to a never-written area of a snapshot allocates only there. */
    blk_overlay_write(snap[0], 0, &y, 1);
    is_u64(snap[0]->pages, 257, "snapshot page count follows its own writes");
    is_u64(ov->pages, 256, "original page count unchanged");
    is_u64(blk_overlay_new_pages(ov, (100ull << 20) - 4096, 3 * 4096), 1,
           "new_pages: one of three pages not stored");
    for (int i = 0; i < 10; i++)
        cc_blk_overlay_free(snap[i]);
    is_u64(blk_base_live_pages(ov->base), pages0,
           "freeing the snapshots frees their pages and the shared page the original copied");
    struct cc_blk_base *keep = blk_base_get(ov->base);
    cc_blk_overlay_free(ov);
    ok(blk_base_live_pages(keep) == 0 && blk_base_live_nodes(keep) == 0,
       "everything freed at the end");
    blk_base_put(keep);

    /* Large disks use taller trees. */
    blk_base_open(NULL, &base, &err);
    ok(blk_overlay_create(base, 16ull << 40, &ov, &err) == 0 && ov->height == 4,
       "a 16 TiB disk: height 4");
    blk_overlay_write(ov, (16ull << 40) - 1, &y, 1);
    blk_overlay_read(ov, (16ull << 40) - 1, c, 1);
    ok(c[0] == 0xee, "its last byte is writable");
    cc_blk_overlay_free(ov);
    ok(blk_overlay_create(base, (16ull << 40) + 512, &ov, &err) < 0, "over 16 TiB refused");
    blk_base_put(base);
}

static void test_device_snapshots(void)
{
    struct fake_guest g;
    struct cc_virtio_blk *b = mk(&g, 1 << 20);
    pattern(g.mem + DATA, 4096, 9);
    req(&g, VIRTIO_BLK_T_OUT, 0, DATA, 4096, NULL);
    struct cc_blk_overlay *snap = cc_virtio_blk_snapshot(b);
    memset(g.mem + DATA, 1, 4096);
    req(&g, VIRTIO_BLK_T_OUT, 0, DATA, 4096, NULL);
    struct cc_err err = {0};
    ok(cc_virtio_blk_restore(b, snap, &err) == 0, "restore");
    req(&g, VIRTIO_BLK_T_IN, 0, DATA2, 4096, NULL);
    pattern(g.mem + DATA, 4096, 9);
    ok(!memcmp(g.mem + DATA, g.mem + DATA2, 4096), "restored contents are the snapshot's");
    struct cc_blk_usage u;
    cc_blk_overlay_usage(snap, &u);
    is_int(u.pages, 1, "snapshot holds one page");

    struct fake_guest g2;
    struct cc_virtio_blk *other = mk(&g2, 2 << 20);
    ok(cc_virtio_blk_restore(other, snap, &err) < 0, "restore into a different-size disk refused");
    done(&g2, other);
    cc_blk_overlay_free(snap);
    done(&g, b);
}

/* ---- faults ---- */

static int add(struct cc_virtio_blk *b, struct cc_blk_fault f)
{
    struct cc_err err = {0};
    int id = cc_virtio_blk_fault_add(b, &f, &err);
    if (id < 0)
        tap_diag("fault_add: %s", err.msg);
    return id;
}

static void test_fault_errors(void)
{
    struct fake_guest g;
    struct cc_virtio_blk *b = mk(&g, 1 << 20);
    pattern(g.mem + DATA, 8192, 5);
    req(&g, VIRTIO_BLK_T_OUT, 0, DATA, 8192, NULL);

    int id = add(b, (struct cc_blk_fault){.kind = CC_BLK_FAULT_READ_ERROR, .offset = 4096,
                                          .length = 512, .count = 1});
    ok(id >= 0, "read-error fault added");
    is_int(req(&g, VIRTIO_BLK_T_IN, 0, DATA2, 4096, NULL), VIRTIO_BLK_S_OK,
           "read outside the fault range: OK");
    is_int(req(&g, VIRTIO_BLK_T_IN, 0, DATA2, 8192, NULL), VIRTIO_BLK_S_IOERR,
           "read overlapping the range: IOERR");
    is_int(req(&g, VIRTIO_BLK_T_IN, 0, DATA2, 8192, NULL), VIRTIO_BLK_S_OK,
           "count 1: the next read is OK");
    is_int(cc_virtio_blk_fault_hits(b, id), 1, "hits 1");

    id = add(b, (struct cc_blk_fault){.kind = CC_BLK_FAULT_WRITE_ERROR, .offset = 0,
                                      .count = CC_BLK_FAULT_UNLIMITED});
    memset(g.mem + DATA2, 0x77, 512);
    for (int i = 0; i < 3; i++)
        is_int(req(&g, VIRTIO_BLK_T_OUT, 1, DATA2, 512, NULL), VIRTIO_BLK_S_IOERR,
               "unlimited write error %d: IOERR", i);
    req(&g, VIRTIO_BLK_T_IN, 0, DATA2, 8192, NULL);
    ok(!memcmp(g.mem + DATA2, g.mem + DATA, 8192), "failed writes wrote nothing");
    is_int(req(&g, VIRTIO_BLK_T_IN, 0, DATA2, 512, NULL), VIRTIO_BLK_S_OK,
           "reads unaffected by a write fault");
    is_int(cc_virtio_blk_fault_hits(b, id), 3, "hits 3");
    ok(cc_virtio_blk_fault_remove(b, id) == 0, "remove");
    is_int(cc_virtio_blk_fault_remove(b, id), -ENOENT, "remove twice: ENOENT");
    is_int(req(&g, VIRTIO_BLK_T_OUT, 1, DATA2, 512, NULL), VIRTIO_BLK_S_OK, "write OK again");
    is_int(req(&g, VIRTIO_BLK_T_FLUSH, 0, 0, 0, NULL), VIRTIO_BLK_S_OK, "flush unaffected");

    /* Order: the first added fault wins. */
    int a = add(b, (struct cc_blk_fault){.kind = CC_BLK_FAULT_READ_ERROR, .count = 1});
    int c = add(b, (struct cc_blk_fault){.kind = CC_BLK_FAULT_CORRUPT_READ, .count = 1});
    req(&g, VIRTIO_BLK_T_IN, 0, DATA2, 512, NULL);
    ok(cc_virtio_blk_fault_hits(b, a) == 1 && cc_virtio_blk_fault_hits(b, c) == 0,
       "two matching faults: the first added applies");
    cc_virtio_blk_fault_clear(b);
    is_int(cc_virtio_blk_fault_hits(b, c), -ENOENT, "clear removes all");

    struct cc_err err = {0};
    struct cc_blk_fault bad[] = {
        {.kind = 0, .count = 1},
        {.kind = CC_BLK_FAULT_READ_ERROR, .count = 0},
        {.kind = CC_BLK_FAULT_READ_ERROR, .count = 1, .offset = 1 << 20},
        {.kind = CC_BLK_FAULT_READ_ERROR, .count = 1, .offset = 512, .length = 1 << 20},
        {.kind = CC_BLK_FAULT_CORRUPT_READ, .count = 1, .flip_bits = 5000},
    };
    int refused = 0;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        refused += cc_virtio_blk_fault_add(b, &bad[i], &err) < 0;
    is_int(refused, 5, "invalid faults refused (last: %s)", err.msg);
    for (int i = 0; i < CC_BLK_MAX_FAULTS; i++)
        add(b, (struct cc_blk_fault){.kind = CC_BLK_FAULT_READ_ERROR, .count = 1});
    struct cc_blk_fault one = {.kind = CC_BLK_FAULT_READ_ERROR, .count = 1};
    is_int(cc_virtio_blk_fault_add(b, &one, &err), -ENOSPC, "at most %d faults",
           CC_BLK_MAX_FAULTS);
    done(&g, b);
}

static void test_torn(void)
{
    struct fake_guest g;
    struct cc_virtio_blk *b = mk(&g, 1 << 20);
    memset(g.mem + DATA, 0x11, 8192);
    req(&g, VIRTIO_BLK_T_OUT, 0, DATA, 8192, NULL);
    add(b, (struct cc_blk_fault){.kind = CC_BLK_FAULT_TORN_WRITE, .count = 1,
                                 .torn_bytes = 1000});
    memset(g.mem + DATA, 0x22, 8192);
    is_int(req(&g, VIRTIO_BLK_T_OUT, 0, DATA, 8192, NULL), VIRTIO_BLK_S_OK,
           "torn write reports OK");
    uint8_t d[8192];
    struct cc_err err = {0};
    cc_virtio_blk_read(b, 0, d, sizeof(d), &err);
    bool first = true, rest = true;
    for (int i = 0; i < 8192; i++) {
        if (i < 1000)
            first &= d[i] == 0x22;
        else
            rest &= d[i] == 0x11;
    }
    ok(first && rest, "only the first 1000 bytes landed");

    add(b, (struct cc_blk_fault){.kind = CC_BLK_FAULT_TORN_WRITE, .count = 1,
                                 .torn_bytes = 512, .torn_error = true});
    memset(g.mem + DATA, 0x33, 8192);
    is_int(req(&g, VIRTIO_BLK_T_OUT, 0, DATA, 8192, NULL), VIRTIO_BLK_S_IOERR,
           "torn write with torn_error reports IOERR");
    cc_virtio_blk_read(b, 0, d, sizeof(d), &err);
    ok(d[511] == 0x33 && d[512] == 0x22, "and its first 512 bytes landed");

    /* Random tear points are multiples of 512, seeded. */
    uint64_t tears[2][8];
    for (int run = 0; run < 2; run++) {
        struct fake_guest h;
        struct cc_virtio_blk *x = mk(&h, 1 << 20);
        add(x, (struct cc_blk_fault){.kind = CC_BLK_FAULT_TORN_WRITE,
                                     .count = CC_BLK_FAULT_UNLIMITED,
                                     .torn_bytes = CC_BLK_TORN_RANDOM});
        for (int i = 0; i < 8; i++) {
            memset(h.mem + DATA, i + 1, 32768);
            req(&h, VIRTIO_BLK_T_OUT, 0, DATA, 32768, NULL);
            uint8_t e[32768];
            cc_virtio_blk_read(x, 0, e, sizeof(e), &err);
            uint64_t k = 0;
            while (k < sizeof(e) && e[k] == i + 1)
                k++;
            tears[run][i] = k;
        }
        done(&h, x);
    }
    bool mult = true, varied = false;
    for (int i = 0; i < 8; i++) {
        mult &= tears[0][i] % 512 == 0 && tears[0][i] < 32768;
        varied |= tears[0][i] != tears[0][0];
    }
    ok(mult && varied, "random tears: multiples of 512 below the length, varied");
    ok(!memcmp(tears[0], tears[1], sizeof(tears[0])), "random tears: same seed, same points");
    done(&g, b);
}

static unsigned bit_diff(const uint8_t *a, const uint8_t *b, size_t n, size_t *first,
                         size_t *last)
{
    unsigned d = 0;
    *first = SIZE_MAX;
    *last = 0;
    for (size_t i = 0; i < n; i++) {
        if (a[i] != b[i]) {
            d += (unsigned)__builtin_popcount(a[i] ^ b[i]);
            if (*first == SIZE_MAX)
                *first = i;
            *last = i;
        }
    }
    return d;
}

static void test_corrupt(void)
{
    struct fake_guest g;
    struct cc_virtio_blk *b = mk(&g, 1 << 20);
    pattern(g.mem + DATA, 16384, 8);
    req(&g, VIRTIO_BLK_T_OUT, 0, DATA, 16384, NULL);
    add(b, (struct cc_blk_fault){.kind = CC_BLK_FAULT_CORRUPT_READ, .count = 1,
                                 .offset = 4096, .length = 4096, .flip_bits = 7});
    is_int(req(&g, VIRTIO_BLK_T_IN, 0, DATA2, 16384, NULL), VIRTIO_BLK_S_OK,
           "corrupted read reports OK");
    size_t lo, hi;
    is_int(bit_diff(g.mem + DATA, g.mem + DATA2, 16384, &lo, &hi), 7, "7 bits flipped");
    ok(lo >= 4096 && hi < 8192, "all inside the fault range (%zu..%zu)", lo, hi);
    req(&g, VIRTIO_BLK_T_IN, 0, DATA2, 16384, NULL);
    ok(!memcmp(g.mem + DATA, g.mem + DATA2, 16384), "the disk itself is unchanged");

    add(b, (struct cc_blk_fault){.kind = CC_BLK_FAULT_CORRUPT_WRITE, .count = 1,
                                 .flip_bits = 3});
    pattern(g.mem + DATA, 16384, 99);
    is_int(req(&g, VIRTIO_BLK_T_OUT, 0, DATA, 16384, NULL), VIRTIO_BLK_S_OK,
           "corrupted write reports OK");
    req(&g, VIRTIO_BLK_T_IN, 0, DATA2, 16384, NULL);
    is_int(bit_diff(g.mem + DATA, g.mem + DATA2, 16384, &lo, &hi), 3,
           "the stored data has 3 flipped bits");
    req(&g, VIRTIO_BLK_T_IN, 0, DATA, 16384, NULL);
    ok(!memcmp(g.mem + DATA, g.mem + DATA2, 16384), "persistently");

    /* A 1-byte fault range with 20 flips: at most 8 distinct bits. */
    add(b, (struct cc_blk_fault){.kind = CC_BLK_FAULT_CORRUPT_READ, .count = 1,
                                 .offset = 100, .length = 1, .flip_bits = 20});
    memcpy(g.mem + DATA, g.mem + DATA2, 512);
    req(&g, VIRTIO_BLK_T_IN, 0, DATA2, 512, NULL);
    ok(bit_diff(g.mem + DATA, g.mem + DATA2, 512, &lo, &hi) == 8 && lo == 100 && hi == 100,
       "20 flips in a 1-byte range: all 8 bits of byte 100");

    /* Seeded: two devices with the same seed flip the same bits. */
    uint8_t out[2][4096];
    for (int run = 0; run < 3; run++) {
        struct fake_guest h;
        struct cc_blk_config cfg = {.size = 1 << 20};
        struct cc_virtio_blk *x = mk_cfg(&h, &cfg, run == 2 ? 77 : 76);
        add(x, (struct cc_blk_fault){.kind = CC_BLK_FAULT_CORRUPT_READ, .count = 1,
                                     .flip_bits = 16});
        req(&h, VIRTIO_BLK_T_IN, 0, DATA, 4096, NULL);
        if (run < 2)
            memcpy(out[run], h.mem + DATA, 4096);
        else
            ok(memcmp(out[0], h.mem + DATA, 4096) != 0, "another seed: other positions");
        done(&h, x);
    }
    ok(!memcmp(out[0], out[1], 4096), "same seed: same flipped positions");
    done(&g, b);
}

static void test_disk_full(void)
{
    struct fake_guest g;
    struct cc_virtio_blk *b = mk(&g, 1 << 20);
    int id = add(b, (struct cc_blk_fault){.kind = CC_BLK_FAULT_DISK_FULL,
                                          .count = CC_BLK_FAULT_UNLIMITED,
                                          .full_bytes = 3 * 4096});
    memset(g.mem + DATA, 0x44, 16384);
    is_int(req(&g, VIRTIO_BLK_T_OUT, 0, DATA, 8192, NULL), VIRTIO_BLK_S_OK,
           "2 pages of a 3-page budget: OK");
    is_int(req(&g, VIRTIO_BLK_T_OUT, 16, DATA, 8192, NULL), VIRTIO_BLK_S_IOERR,
           "2 more pages would exceed it: IOERR");
    struct cc_blk_usage u;
    cc_virtio_blk_usage(b, &u);
    is_int(u.pages, 2, "nothing of the failed write was stored");
    is_int(req(&g, VIRTIO_BLK_T_OUT, 16, DATA, 4096, NULL), VIRTIO_BLK_S_OK,
           "1 more page fits exactly");
    is_int(req(&g, VIRTIO_BLK_T_OUT, 64, DATA, 512, NULL), VIRTIO_BLK_S_IOERR, "full: IOERR");
    is_int(req(&g, VIRTIO_BLK_T_OUT, 0, DATA, 8192, NULL), VIRTIO_BLK_S_OK,
           "rewriting stored pages still works");
    is_int(cc_virtio_blk_fault_hits(b, id), 2, "the fault counts only refused writes");
    done(&g, b);
}

/* ---- snapshots of the device ---- */

static void test_save_load(void)
{
    struct fake_guest g;
    struct cc_virtio_blk *b = mk(&g, 4 << 20);
    pattern(g.mem + DATA, 65536, 1);
    req(&g, VIRTIO_BLK_T_OUT, 96, DATA, 65536, NULL);
    add(b, (struct cc_blk_fault){.kind = CC_BLK_FAULT_CORRUPT_READ, .count = 5, .flip_bits = 2});
    add(b, (struct cc_blk_fault){.kind = CC_BLK_FAULT_READ_ERROR, .count = 1, .offset = 8192,
                                 .length = 512});
    req(&g, VIRTIO_BLK_T_IN, 0, DATA2, 512, NULL);
    struct cc_buf s;
    buf_init(&s);
    virtio_blk_save(b, &s);

    struct fake_guest g2;
    struct cc_virtio_blk *b2 = mk(&g2, 4 << 20);
    memcpy(g2.mem, g.mem, MEM);
    g2.q[0] = g.q[0];
    struct cc_rd rd;
    struct cc_err err = {0};
    rd_init(&rd, s.data, s.len);
    ok(virtio_blk_load(b2, &rd, &err) == 0, "blk state loads (%s)", err.msg);
    struct cc_buf s2;
    buf_init(&s2);
    virtio_blk_save(b2, &s2);
    ok(s.len == s2.len && !memcmp(s.data, s2.data, s.len), "save(load(x)) == x (%zu bytes)",
       s.len);
    /* Both continue identically: the corrupting fault's stream too. */
    req(&g, VIRTIO_BLK_T_IN, 96, DATA, 65536, NULL);
    req(&g2, VIRTIO_BLK_T_IN, 96, DATA, 65536, NULL);
    ok(!memcmp(g.mem + DATA, g2.mem + DATA, 65536), "restored disk reads the same flips");
    ok(g.mem[ST] == g2.mem[ST], "same status");

    /* Truncations (sampled: every byte of the head, then every 509th). */
    struct cc_buf s1;
    buf_init(&s1);
    virtio_blk_save(b2, &s1);
    int tried = 0, refused = 0;
    for (size_t n = 0; n < s.len; n += n < 600 ? 1 : 509) {
        tried++;
        rd_init(&rd, s.data, n);
        refused += virtio_blk_load(b2, &rd, &err) < 0;
    }
    is_int(refused, tried, "%d truncations refused", tried);
    buf_free(&s2);
    buf_init(&s2);
    virtio_blk_save(b2, &s2);
    ok(s1.len == s2.len && !memcmp(s1.data, s2.data, s1.len), "refused loads changed nothing");
    buf_free(&s1);

    /* Other disk size; other base. */
    struct fake_guest g3;
    struct cc_virtio_blk *b3 = mk(&g3, 8 << 20);
    rd_init(&rd, s.data, s.len);
    ok(virtio_blk_load(b3, &rd, &err) < 0 && strstr(err.msg, "bytes"),
       "other disk size refused: %s", err.msg);
    done(&g3, b3);

    /* Page indexes out of order. */
    uint8_t *c = malloc(s.len);
    memcpy(c, s.data, s.len);
    size_t pages_at = s.len - 16 * (8 + 4096);     /* 16 pages saved */
    put_le64(c + pages_at + (8 + 4096), 0);      /* second page index 0 < first */
    rd_init(&rd, c, s.len);
    ok(virtio_blk_load(b2, &rd, &err) < 0 && strstr(err.msg, "index"),
       "unordered page indexes refused: %s", err.msg);
    memcpy(c, s.data, s.len);
    put_le64(c + pages_at, 1 << 20);
    rd_init(&rd, c, s.len);
    ok(virtio_blk_load(b2, &rd, &err) < 0, "page index past the disk refused");
    free(c);
    buf_free(&s);
    buf_free(&s2);
    done(&g, b);
    done(&g2, b2);
}

int main(void)
{
    test_requests();
    test_malformed();
    test_huge_request();
    test_image();
    test_sharing();
    test_device_snapshots();
    test_fault_errors();
    test_torn();
    test_corrupt();
    test_disk_full();
    test_save_load();
    return tap_exit();
}
