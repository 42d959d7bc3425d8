/* Copy-on-write disk contents for virtio-blk: a read-only base (all zeros
 * or an image file) plus the 4 KiB pages written since, shared between
 * snapshots and forks.
 *
 * The written pages live in a radix tree with fan-out 512 (height 1 covers
 * 2 MiB, 2 covers 1 GiB, 3 covers 512 GiB, 4 covers 256 TiB; disks up to
 * 16 TiB). Every node and page carries a reference count: cloning an
 * overlay takes one reference on the root (O(1)); a write copies the path
 * from the root to the page where it is shared (refs > 1) and writes in
 * place where it is not. So N clones of a disk with W bytes written cost W
 * plus, per clone, only the pages and nodes it writes afterwards.
 *
 *   struct cc_blk_base *base;
 *   blk_base_open("disk.img", &base, &err);     // or NULL for zeros
 *   struct cc_blk_overlay *a;
 *   blk_overlay_create(base, 512 << 20, &a, &err);
 *   blk_overlay_write(a, 0, buf, 4096);
 *   struct cc_blk_overlay *snap = blk_overlay_clone(a);   // shares page 0
 *   blk_overlay_write(a, 0, buf2, 4096);        // a copies page 0 first
 *
 * The base file is opened O_RDONLY and read with pread: it is never written,
 * and a file that shrinks under us reads as zeros past its end rather than
 * faulting. Reference counts are atomic, so overlays that share pages may be
 * used from different threads (each overlay by one thread at a time). */
#ifndef CC_DEVICES_BLK_OVERLAY_H
#define CC_DEVICES_BLK_OVERLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chaoscontrol/err.h"
#include "util/buf.h"

#define CC_BLK_PAGE 4096u
#define CC_BLK_MAX_SIZE (16ull << 40)

struct cc_blk_base;

struct cc_blk_overlay {
    struct cc_blk_base *base;   /* one reference */
    void *root;                 /* NULL while nothing is written */
    unsigned height;
    uint64_t size;              /* bytes */
    uint64_t pages;             /* pages present in this tree */
};

/* path NULL: an all-zero base. */
int blk_base_open(const char *path, struct cc_blk_base **out, struct cc_err *err);
struct cc_blk_base *blk_base_get(struct cc_blk_base *b);
void blk_base_put(struct cc_blk_base *b);
uint64_t blk_base_size(const struct cc_blk_base *b);
/* XXH3 of the size and the first and last 64 KiB: identifies the base in
 * saved overlays (0 for the zero base). */
uint64_t blk_base_fingerprint(const struct cc_blk_base *b);
uint64_t blk_base_live_pages(const struct cc_blk_base *b);
uint64_t blk_base_live_nodes(const struct cc_blk_base *b);

/* A new overlay takes its own reference on base. size: bytes, multiple of
 * 512, at most CC_BLK_MAX_SIZE. */
int blk_overlay_create(struct cc_blk_base *base, uint64_t size,
                          struct cc_blk_overlay **out, struct cc_err *err);
/* O(1) copy-on-write clone; NULL when out of memory. */
struct cc_blk_overlay *blk_overlay_clone(const struct cc_blk_overlay *ov);
void cc_blk_overlay_free(struct cc_blk_overlay *ov);

/* The caller checks off + len <= size. read: 0 or -EIO (the base file could
 * not be read). write: 0, -EIO, or -ENOMEM (then a prefix may have landed,
 * whole pages at a time). */
int blk_overlay_read(const struct cc_blk_overlay *ov, uint64_t off, void *buf, size_t len);
int blk_overlay_write(struct cc_blk_overlay *ov, uint64_t off, const void *buf, size_t len);

/* Pages in [off, off + len) that are not stored yet (what a write there
 * would allocate). */
uint64_t blk_overlay_new_pages(const struct cc_blk_overlay *ov, uint64_t off, uint64_t len);

/* Saved form: version, size, base size and fingerprint, the page count and
 * each stored page as (index, 4096 bytes) in index order. */
void blk_overlay_save(const struct cc_blk_overlay *ov, struct cc_buf *out);
/* Build a new overlay over base from saved bytes; refuses another base or
 * size than expected_size, unordered or out-of-range pages. */
int blk_overlay_load(struct cc_blk_base *base, uint64_t expected_size, struct cc_rd *in,
                        struct cc_blk_overlay **out, struct cc_err *err);

#endif
