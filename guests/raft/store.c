/* store: Raft's persistent state on a raw block device; format in store.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#define HDR_MAGIC 0x314b534454464152ull     /* "RAFTDSK1" */
#define HDR_VERSION 1u
#define HDR_BYTES 56u                      /* 48 covered + checksum */
#define LOAD_TRIES 3

static void set_err(struct raft_store *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_err(struct raft_store *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->err, sizeof(s->err), fmt, ap);
    va_end(ap);
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static uint64_t sum(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
    h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
    return h ^ (h >> 31);
}

/* ---- block I/O ---- */

static int pread_full(int fd, void *buf, size_t len, uint64_t off)
{
    uint8_t *p = buf;
    size_t got = 0;
    while (got < len) {
        ssize_t k = pread(fd, p + got, len - got, (off_t)(off + got));
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        got += (size_t)k;
    }
    return 0;
}

static int pwrite_full(int fd, const void *buf, size_t len, uint64_t off)
{
    const uint8_t *p = buf;
    size_t put = 0;
    while (put < len) {
        ssize_t k = pwrite(fd, p + put, len - put, (off_t)(off + put));
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        put += (size_t)k;
    }
    return 0;
}

static int read_block(struct raft_store *s, uint64_t block, uint8_t *buf)
{
    if (pread_full(s->fd, buf, RAFT_STORE_BLOCK, block * RAFT_STORE_BLOCK) < 0) {
        set_err(s, "reading block %llu: %s", (unsigned long long)block,
                errno ? strerror(errno) : "short read");
        return -1;
    }
    return 0;
}

/* Write s->buf to block, sync, read it back; one rewrite on a mismatch. */
static int write_block(struct raft_store *s, uint64_t block)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        errno = 0;
        if (pwrite_full(s->fd, s->buf, RAFT_STORE_BLOCK, block * RAFT_STORE_BLOCK) < 0) {
            set_err(s, "writing block %llu: %s", (unsigned long long)block,
                    errno ? strerror(errno) : "short write");
            return -1;
        }
        s->writes++;
        if (fdatasync(s->fd) < 0) {
            set_err(s, "fdatasync after block %llu: %s", (unsigned long long)block,
                    strerror(errno));
            return -1;
        }
        s->syncs++;
        if (read_block(s, block, s->vbuf) < 0)
            return -1;
        if (!memcmp(s->buf, s->vbuf, RAFT_STORE_BLOCK))
            return 0;
        s->rewrites++;
    }
    set_err(s, "block %llu reads back different from what was written (twice)",
            (unsigned long long)block);
    return -1;
}

/* ---- encoding ---- */

static void encode_header(uint8_t *b, int node_id, uint64_t seq, uint64_t term, int voted_for,
                          uint64_t log_len)
{
    memset(b, 0, RAFT_STORE_BLOCK);
    put64(b + 0, HDR_MAGIC);
    put64(b + 8, HDR_VERSION | (uint64_t)(uint32_t)(node_id + 1) << 32);
    put64(b + 16, seq);
    put64(b + 24, term);
    put64(b + 32, (uint64_t)(voted_for + 1));
    put64(b + 40, log_len);
    put64(b + 48, sum(b, 48));
}

static int all_zero(const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return 0;
    return 1;
}

/* 1 valid, 0 zero (never written), -1 invalid */
static int decode_header(const uint8_t *b, uint64_t *seq, uint64_t *term, int64_t *vote1,
                         uint64_t *log_len, uint32_t *id1)
{
    if (all_zero(b, RAFT_STORE_BLOCK))
        return 0;
    if (get64(b) != HDR_MAGIC || (uint32_t)get64(b + 8) != HDR_VERSION ||
        get64(b + 48) != sum(b, 48) || !all_zero(b + HDR_BYTES, RAFT_STORE_BLOCK - HDR_BYTES))
        return -1;
    *id1 = (uint32_t)(get64(b + 8) >> 32);
    *seq = get64(b + 16);
    *term = get64(b + 24);
    *vote1 = (int64_t)get64(b + 32);
    *log_len = get64(b + 40);
    return 1;
}

static void encode_record(uint8_t *r, uint64_t index, const struct raft_entry *e)
{
    memset(r, 0, RAFT_STORE_REC);
    put64(r + 0, e->term);
    put64(r + 8, index);
    put64(r + 16, e->hash);
    r[24] = e->len;
    memcpy(r + 25, e->value, e->len <= RAFT_VALUE_MAX ? e->len : RAFT_VALUE_MAX);
    put64(r + 56, sum(r, 56));
}

/* ---- public ---- */

int raft_store_open(struct raft_store *s, const char *path, int node_id)
{
    memset(s, 0, sizeof(*s));
    s->node_id = node_id;
    s->fd = -1;
    s->fd = open(path, O_RDWR | O_CLOEXEC | O_DIRECT);
    if (s->fd >= 0) {
        s->direct = 1;
    } else {
        s->fd = open(path, O_RDWR | O_CLOEXEC);
        if (s->fd < 0) {
            set_err(s, "open %s: %s", path, strerror(errno));
            return -1;
        }
    }
    struct stat st;
    if (fstat(s->fd, &st) < 0) {
        set_err(s, "stat %s: %s", path, strerror(errno));
        raft_store_close(s);
        return -1;
    }
    if (S_ISBLK(st.st_mode)) {
        uint64_t size = 0;
        if (ioctl(s->fd, BLKGETSIZE64, &size) < 0) {
            set_err(s, "BLKGETSIZE64 %s: %s", path, strerror(errno));
            raft_store_close(s);
            return -1;
        }
        s->size = size;
        if (!s->direct)
            ioctl(s->fd, BLKFLSBUF, 0);   /* no stale cached blocks */
    } else {
        s->size = (uint64_t)st.st_size;
    }
    if (s->size < RAFT_STORE_LOG_OFF + RAFT_STORE_BLOCK) {
        set_err(s, "%s holds %llu bytes; the store needs at least %u", path,
                (unsigned long long)s->size, RAFT_STORE_LOG_OFF + RAFT_STORE_BLOCK);
        raft_store_close(s);
        return -1;
    }
    s->capacity = (s->size / RAFT_STORE_BLOCK * RAFT_STORE_BLOCK - RAFT_STORE_LOG_OFF) /
                  RAFT_STORE_REC;
    if (s->capacity > RAFT_LOG_MAX)
        s->capacity = RAFT_LOG_MAX;
    void *a = NULL, *b = NULL;
    if (posix_memalign(&a, RAFT_STORE_BLOCK, RAFT_STORE_BLOCK) ||
        posix_memalign(&b, RAFT_STORE_BLOCK, RAFT_STORE_BLOCK)) {
        free(a);
        set_err(s, "out of memory");
        raft_store_close(s);
        return -1;
    }
    s->buf = a;
    s->vbuf = b;
    /* O_DIRECT may open but then refuse I/O (some file systems): probe */
    if (s->direct && pread(s->fd, s->buf, RAFT_STORE_BLOCK, 0) != (ssize_t)RAFT_STORE_BLOCK) {
        int flags = fcntl(s->fd, F_GETFL);
        if (flags < 0 || fcntl(s->fd, F_SETFL, flags & ~O_DIRECT) < 0) {
            set_err(s, "%s: O_DIRECT reads fail and it cannot be turned off", path);
            raft_store_close(s);
            return -1;
        }
        s->direct = 0;
    }
    return 0;
}

static int load_once(struct raft_store *s, uint64_t *term, int *voted_for,
                     struct raft_entry *entries, uint64_t max, uint64_t *n_entries)
{
    uint64_t seq[2] = {0, 0}, t[2] = {0, 0}, len[2] = {0, 0};
    int64_t vote1[2] = {0, 0};
    uint32_t id1[2] = {0, 0};
    int st[2];
    for (unsigned k = 0; k < 2; k++) {
        if (read_block(s, k, s->buf) < 0)
            return -1;
        st[k] = decode_header(s->buf, &seq[k], &t[k], &vote1[k], &len[k], &id1[k]);
        if (st[k] < 0) {
            set_err(s, "header slot %u is corrupt", k);
            return -1;
        }
        if (st[k] > 0 && s->node_id >= 0 && id1[k] && id1[k] != (uint32_t)s->node_id + 1) {
            set_err(s, "the disk belongs to node %u, not node %d (each node needs its own disk)",
                    id1[k] - 1, s->node_id);
            return -1;
        }
    }
    if (st[0] == 0 && st[1] == 0) {
        *term = 0;
        *voted_for = -1;
        *n_entries = 0;
        s->seq = 0;
        s->slot = 1;                /* the first save goes to slot 0 */
        s->persisted_len = 0;
        return 0;
    }
    unsigned cur = st[0] == 1 && (st[1] != 1 || seq[0] > seq[1]) ? 0 : 1;
    if (vote1[cur] < 0 || vote1[cur] > RAFT_MAX_NODES) {
        set_err(s, "header slot %u: vote %lld out of range", cur, (long long)vote1[cur] - 1);
        return -1;
    }
    if (len[cur] > s->capacity || len[cur] > max) {
        set_err(s, "header slot %u: log length %llu exceeds capacity %llu", cur,
                (unsigned long long)len[cur],
                (unsigned long long)(s->capacity < max ? s->capacity : max));
        return -1;
    }
    uint64_t prev_hash = RAFT_HASH_INIT;
    uint64_t loaded_block = UINT64_MAX;
    for (uint64_t i = 1; i <= len[cur]; i++) {
        uint64_t off = RAFT_STORE_LOG_OFF + (i - 1) * RAFT_STORE_REC;
        uint64_t block = off / RAFT_STORE_BLOCK;
        if (block != loaded_block) {
            if (read_block(s, block, s->buf) < 0)
                return -1;
            loaded_block = block;
        }
        const uint8_t *r = s->buf + off % RAFT_STORE_BLOCK;
        struct raft_entry *e = &entries[i - 1];
        memset(e, 0, sizeof(*e));
        e->term = get64(r);
        e->hash = get64(r + 16);
        e->len = r[24];
        if (get64(r + 56) != sum(r, 56) || get64(r + 8) != i || e->len > RAFT_VALUE_MAX ||
            !all_zero(r + 25 + e->len, 31 - e->len) || e->term > t[cur]) {
            set_err(s, "log record %llu is corrupt", (unsigned long long)i);
            return -1;
        }
        memcpy(e->value, r + 25, e->len);
        uint64_t h = raft_hash_step(prev_hash, e->term, e->value, e->len);
        if (h != e->hash) {
            set_err(s, "log record %llu breaks the hash chain", (unsigned long long)i);
            return -1;
        }
        prev_hash = h;
    }
    *term = t[cur];
    *voted_for = (int)vote1[cur] - 1;
    *n_entries = len[cur];
    s->seq = seq[cur];
    s->slot = cur;
    s->persisted_len = len[cur];
    return 0;
}

int raft_store_load(struct raft_store *s, uint64_t *term, int *voted_for,
                    struct raft_entry *entries, uint64_t max, uint64_t *n_entries)
{
    /* a corrupt read may be the read's fault, not the disk's: try again */
    for (int i = 0; i < LOAD_TRIES; i++)
        if (load_once(s, term, voted_for, entries, max, n_entries) == 0)
            return 0;
    return -1;
}

static int write_header(struct raft_store *s, uint64_t term, int voted_for, uint64_t log_len)
{
    unsigned slot = s->slot ^ 1u;
    encode_header(s->buf, s->node_id, s->seq + 1, term, voted_for, log_len);
    if (write_block(s, slot) < 0)
        return -1;
    s->seq++;
    s->slot = slot;
    s->persisted_len = log_len;
    return 0;
}

int raft_store_save(struct raft_store *s, uint64_t term, int voted_for,
                    const struct raft_entry *log, uint64_t log_len, uint64_t first_dirty)
{
    if (log_len > s->capacity) {
        set_err(s, "log length %llu exceeds the disk's capacity %llu",
                (unsigned long long)log_len, (unsigned long long)s->capacity);
        return -1;
    }
    if (first_dirty) {
        if (first_dirty <= s->persisted_len &&
            write_header(s, term, voted_for, first_dirty - 1) < 0)
            return -1;
        if (first_dirty <= log_len) {
            uint64_t b0 = (RAFT_STORE_LOG_OFF + (first_dirty - 1) * RAFT_STORE_REC) /
                          RAFT_STORE_BLOCK;
            uint64_t b1 = (RAFT_STORE_LOG_OFF + (log_len - 1) * RAFT_STORE_REC) /
                          RAFT_STORE_BLOCK;
            for (uint64_t b = b0; b <= b1; b++) {
                memset(s->buf, 0, RAFT_STORE_BLOCK);
                uint64_t first = (b * RAFT_STORE_BLOCK - RAFT_STORE_LOG_OFF) / RAFT_STORE_REC + 1;
                for (unsigned k = 0; k < RAFT_STORE_PER_BLOCK; k++) {
                    uint64_t i = first + k;
                    if (i > log_len)
                        break;
                    encode_record(s->buf + k * RAFT_STORE_REC, i, &log[i]);
                }
                if (write_block(s, b) < 0)
                    return -1;
            }
        }
    }
    return write_header(s, term, voted_for, log_len);
}

void raft_store_close(struct raft_store *s)
{
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    free(s->buf);
    free(s->vbuf);
    s->buf = s->vbuf = NULL;
}
