/* Copy-on-write disk contents: a refcounted radix tree of written 4 KiB
 * pages over a read-only base (see blk_overlay.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include "devices/blk_overlay.h"

#define FANOUT_BITS 9
#define FANOUT (1u << FANOUT_BITS)
#define OVERLAY_SAVE_VERSION 1

struct cc_blk_base {
    uint32_t refs;
    int fd;                     /* -1: all zeros */
    uint64_t size;
    uint64_t fingerprint;
    uint64_t live_pages, live_nodes;    /* over all overlays on this base */
};

struct ov_page {
    uint32_t refs;
    uint8_t data[CC_BLK_PAGE];
};

struct ov_node {
    uint32_t refs;
    void *slot[FANOUT];         /* height > 1: nodes; height 1: pages */
};

static void ref(uint32_t *r) { __atomic_add_fetch(r, 1, __ATOMIC_RELAXED); }
static bool unref(uint32_t *r) { return __atomic_sub_fetch(r, 1, __ATOMIC_ACQ_REL) == 0; }
static uint32_t refs_of(uint32_t *r) { return __atomic_load_n(r, __ATOMIC_ACQUIRE); }
static void stat_add(uint64_t *c, int64_t d) { __atomic_add_fetch(c, (uint64_t)d, __ATOMIC_RELAXED); }

/* ---- base ---- */

static int read_full(int fd, uint8_t *buf, size_t len, uint64_t off)
{
    while (len) {
        ssize_t r = pread(fd, buf, len, (off_t)off);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -EIO;
        }
        if (r == 0) {
            memset(buf, 0, len);    /* the file shrank: zeros past its end */
            return 0;
        }
        buf += r;
        off += (uint64_t)r;
        len -= (size_t)r;
    }
    return 0;
}

int blk_base_open(const char *path, struct cc_blk_base **out, struct cc_err *err)
{
    struct cc_blk_base *b = calloc(1, sizeof(*b));
    if (!b)
        return cc_err_set(err, ENOMEM, "out of memory");
    b->refs = 1;
    b->fd = -1;
    if (path) {
        b->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (b->fd < 0) {
            int e = errno;
            free(b);
            return cc_err_set(err, e, "cannot open disk image %s: %s", path, strerror(e));
        }
        struct stat st;
        if (fstat(b->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
            close(b->fd);
            free(b);
            return cc_err_set(err, EINVAL, "disk image %s is not a regular file", path);
        }
        b->size = (uint64_t)st.st_size;
        /* Fingerprint: size, first and last 64 KiB. */
        XXH3_state_t *h = XXH3_createState();
        uint8_t *chunk = malloc(65536);
        if (!h || !chunk) {
            XXH3_freeState(h);
            free(chunk);
            close(b->fd);
            free(b);
            return cc_err_set(err, ENOMEM, "out of memory");
        }
        XXH3_64bits_reset(h);
        XXH3_64bits_update(h, &b->size, sizeof(b->size));
        uint64_t n = b->size < 65536 ? b->size : 65536;
        int rc = read_full(b->fd, chunk, n, 0);
        XXH3_64bits_update(h, chunk, n);
        if (rc == 0)
            rc = read_full(b->fd, chunk, n, b->size - n);
        XXH3_64bits_update(h, chunk, n);
        b->fingerprint = XXH3_64bits_digest(h) | 1;     /* never 0 (the zero base) */
        XXH3_freeState(h);
        free(chunk);
        if (rc < 0) {
            close(b->fd);
            free(b);
            return cc_err_set(err, EIO, "cannot read disk image %s", path);
        }
    }
    *out = b;
    return 0;
}

struct cc_blk_base *blk_base_get(struct cc_blk_base *b)
{
    ref(&b->refs);
    return b;
}

void blk_base_put(struct cc_blk_base *b)
{
    if (!b || !unref(&b->refs))
        return;
    if (b->fd >= 0)
        close(b->fd);
    free(b);
}

uint64_t blk_base_size(const struct cc_blk_base *b) { return b->size; }
uint64_t blk_base_fingerprint(const struct cc_blk_base *b) { return b->fingerprint; }
uint64_t blk_base_live_pages(const struct cc_blk_base *b)
{
    return __atomic_load_n(&b->live_pages, __ATOMIC_RELAXED);
}
uint64_t blk_base_live_nodes(const struct cc_blk_base *b)
{
    return __atomic_load_n(&b->live_nodes, __ATOMIC_RELAXED);
}

/* Read [off, off+len) of the base; zeros past its end. */
static int base_read(const struct cc_blk_base *b, uint64_t off, uint8_t *buf, size_t len)
{
    if (b->fd < 0 || off >= b->size) {
        memset(buf, 0, len);
        return 0;
    }
    size_t n = len;
    if (n > b->size - off)
        n = (size_t)(b->size - off);
    memset(buf + n, 0, len - n);
    return read_full(b->fd, buf, n, off);
}

/* ---- tree ---- */

static unsigned height_for(uint64_t size)
{
    uint64_t pages = (size + CC_BLK_PAGE - 1) / CC_BLK_PAGE;
    unsigned h = 1;
    uint64_t cover = FANOUT;
    while (cover < pages) {
        cover <<= FANOUT_BITS;
        h++;
    }
    return h;
}

static void page_put(struct cc_blk_base *b, struct ov_page *p)
{
    if (p && unref(&p->refs)) {
        free(p);
        stat_add(&b->live_pages, -1);
    }
}

static void node_put(struct cc_blk_base *b, struct ov_node *n, unsigned h)
{
    if (!n || !unref(&n->refs))
        return;
    for (unsigned i = 0; i < FANOUT; i++) {
        if (!n->slot[i])
            continue;
        if (h > 1)
            node_put(b, n->slot[i], h - 1);
        else
            page_put(b, n->slot[i]);
    }
    free(n);
    stat_add(&b->live_nodes, -1);
}

int blk_overlay_create(struct cc_blk_base *base, uint64_t size,
                          struct cc_blk_overlay **out, struct cc_err *err)
{
    if (size == 0 || (size & 511) || size > CC_BLK_MAX_SIZE)
        return cc_err_set(err, EINVAL, "disk size %llu is invalid: it must be a non-zero "
                          "multiple of 512 bytes up to 16 TiB", (unsigned long long)size);
    struct cc_blk_overlay *ov = calloc(1, sizeof(*ov));
    if (!ov)
        return cc_err_set(err, ENOMEM, "out of memory");
    ov->base = blk_base_get(base);
    ov->size = size;
    ov->height = height_for(size);
    *out = ov;
    return 0;
}

struct cc_blk_overlay *blk_overlay_clone(const struct cc_blk_overlay *ov)
{
    struct cc_blk_overlay *c = malloc(sizeof(*c));
    if (!c)
        return NULL;
    *c = *ov;
    blk_base_get(c->base);
    if (c->root)
        ref(&((struct ov_node *)c->root)->refs);
    return c;
}

void cc_blk_overlay_free(struct cc_blk_overlay *ov)
{
    if (!ov)
        return;
    node_put(ov->base, ov->root, ov->height);
    blk_base_put(ov->base);
    free(ov);
}

static struct ov_page *lookup(const struct cc_blk_overlay *ov, uint64_t pg)
{
    struct ov_node *n = ov->root;
    for (unsigned h = ov->height; n; h--) {
        void *child = n->slot[(pg >> (FANOUT_BITS * (h - 1))) & (FANOUT - 1)];
        if (h == 1)
            return child;
        n = child;
    }
    return NULL;
}

/* Make *slot a node this overlay owns alone (allocate or copy). */
static struct ov_node *own_node(struct cc_blk_base *b, void **slot, unsigned h)
{
    struct ov_node *n = *slot;
    if (n && refs_of(&n->refs) == 1)
        return n;
    struct ov_node *c = malloc(sizeof(*c));
    if (!c)
        return NULL;
    c->refs = 1;
    stat_add(&b->live_nodes, 1);
    if (!n) {
        memset(c->slot, 0, sizeof(c->slot));
    } else {
        memcpy(c->slot, n->slot, sizeof(c->slot));
        for (unsigned i = 0; i < FANOUT; i++) {
            if (!c->slot[i])
                continue;
            if (h > 1)
                ref(&((struct ov_node *)c->slot[i])->refs);
            else
                ref(&((struct ov_page *)c->slot[i])->refs);
        }
        node_put(b, n, h);
    }
    *slot = c;
    return c;
}

/* A page this overlay may write in place; new pages start as the base.
 * fill = false skips reading the base (the caller overwrites it all). */
static int own_page(struct cc_blk_overlay *ov, uint64_t pg, bool fill, struct ov_page **out)
{
    void **slot = &ov->root;
    for (unsigned h = ov->height; h >= 1; h--) {
        struct ov_node *n = own_node(ov->base, slot, h);
        if (!n)
            return -ENOMEM;
        slot = &n->slot[(pg >> (FANOUT_BITS * (h - 1))) & (FANOUT - 1)];
    }
    struct ov_page *p = *slot;
    if (p && refs_of(&p->refs) == 1) {
        *out = p;
        return 0;
    }
    struct ov_page *c = malloc(sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->refs = 1;
    if (p) {
        memcpy(c->data, p->data, CC_BLK_PAGE);
        page_put(ov->base, p);
    } else {
        if (fill && base_read(ov->base, pg * CC_BLK_PAGE, c->data, CC_BLK_PAGE) < 0) {
            free(c);
            return -EIO;
        }
        ov->pages++;
    }
    stat_add(&ov->base->live_pages, 1);
    *slot = c;
    *out = c;
    return 0;
}

int blk_overlay_read(const struct cc_blk_overlay *ov, uint64_t off, void *buf, size_t len)
{
    uint8_t *o = buf;
    while (len) {
        uint64_t pg = off / CC_BLK_PAGE;
        size_t in = (size_t)(off % CC_BLK_PAGE);
        size_t n = CC_BLK_PAGE - in;
        if (n > len)
            n = len;
        const struct ov_page *p = lookup(ov, pg);
        if (p)
            memcpy(o, p->data + in, n);
        else if (base_read(ov->base, off, o, n) < 0)
            return -EIO;
        o += n;
        off += n;
        len -= n;
    }
    return 0;
}

int blk_overlay_write(struct cc_blk_overlay *ov, uint64_t off, const void *buf, size_t len)
{
    const uint8_t *s = buf;
    while (len) {
        uint64_t pg = off / CC_BLK_PAGE;
        size_t in = (size_t)(off % CC_BLK_PAGE);
        size_t n = CC_BLK_PAGE - in;
        if (n > len)
            n = len;
        struct ov_page *p;
        int rc = own_page(ov, pg, n != CC_BLK_PAGE, &p);
        if (rc < 0)
            return rc;
        memcpy(p->data + in, s, n);
        s += n;
        off += n;
        len -= n;
    }
    return 0;
}

uint64_t blk_overlay_new_pages(const struct cc_blk_overlay *ov, uint64_t off, uint64_t len)
{
    if (len == 0)
        return 0;
    uint64_t first = off / CC_BLK_PAGE, last = (off + len - 1) / CC_BLK_PAGE, n = 0;
    for (uint64_t pg = first; pg <= last; pg++)
        n += lookup(ov, pg) == NULL;
    return n;
}

/* ---- save / load ---- */

static void save_pages(const struct ov_node *n, unsigned h, uint64_t prefix, struct cc_buf *out)
{
    for (unsigned i = 0; i < FANOUT; i++) {
        if (!n->slot[i])
            continue;
        uint64_t idx = prefix << FANOUT_BITS | i;
        if (h > 1) {
            save_pages(n->slot[i], h - 1, idx, out);
        } else {
            const struct ov_page *p = n->slot[i];
            buf_put_u64(out, idx);
            buf_put(out, p->data, CC_BLK_PAGE);
        }
    }
}

void blk_overlay_save(const struct cc_blk_overlay *ov, struct cc_buf *out)
{
    buf_put_u8(out, OVERLAY_SAVE_VERSION);
    buf_put_u64(out, ov->size);
    buf_put_u64(out, ov->base->size);
    buf_put_u64(out, ov->base->fingerprint);
    buf_put_u64(out, ov->pages);
    if (ov->root)
        save_pages(ov->root, ov->height, 0, out);
}

int blk_overlay_load(struct cc_blk_base *base, uint64_t expected_size, struct cc_rd *in,
                        struct cc_blk_overlay **out, struct cc_err *err)
{
    int ver = rd_version(in, OVERLAY_SAVE_VERSION, "disk overlay", err);
    if (ver < 0)
        return ver;
    uint64_t size = rd_u64(in);
    uint64_t base_size = rd_u64(in);
    uint64_t fp = rd_u64(in);
    uint64_t pages = rd_u64(in);
    if (!rd_ok(in))
        return cc_err_set(err, EINVAL, "disk overlay: saved state truncated");
    if (size != expected_size)
        return cc_err_set(err, EINVAL, "disk overlay: saved disk has %llu bytes, this disk %llu",
                          (unsigned long long)size, (unsigned long long)expected_size);
    if (base_size != base->size || fp != base->fingerprint)
        return cc_err_set(err, EINVAL, "disk overlay: saved over a different base image "
                          "(size %llu, fingerprint %016llx; this disk's base: %llu, %016llx)",
                          (unsigned long long)base_size, (unsigned long long)fp,
                          (unsigned long long)base->size, (unsigned long long)base->fingerprint);
    uint64_t total = (size + CC_BLK_PAGE - 1) / CC_BLK_PAGE;
    if (pages > total || pages * (8 + CC_BLK_PAGE) > rd_left(in))
        return cc_err_set(err, EINVAL, "disk overlay: page count %llu is impossible",
                          (unsigned long long)pages);
    struct cc_blk_overlay *ov;
    int rc = blk_overlay_create(base, size, &ov, err);
    if (rc < 0)
        return rc;
    uint64_t prev = 0;
    for (uint64_t i = 0; i < pages; i++) {
        uint64_t idx = rd_u64(in);
        if (!rd_ok(in) || idx >= total || (i > 0 && idx <= prev)) {
            cc_blk_overlay_free(ov);
            return cc_err_set(err, EINVAL, "disk overlay: page %llu: bad index",
                              (unsigned long long)i);
        }
        prev = idx;
        struct ov_page *p;
        rc = own_page(ov, idx, false, &p);
        if (rc < 0) {
            cc_blk_overlay_free(ov);
            return cc_err_set(err, -rc, "disk overlay: out of memory");
        }
        rd_get(in, p->data, CC_BLK_PAGE);
    }
    if (!rd_ok(in)) {
        cc_blk_overlay_free(ov);
        return cc_err_set(err, EINVAL, "disk overlay: saved state truncated");
    }
    *out = ov;
    return 0;
}
