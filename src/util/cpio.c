/* Deterministic newc cpio writer (see include/chaoscontrol/cpio.h).
 *
 * A newc entry is a 110-byte ASCII header ("070701" and thirteen 8-digit hex
 * fields), the NUL-terminated name padded to a multiple of 4 bytes (counting
 * from the start of the header), then the data padded to a multiple of 4.
 * The archive ends with an entry named "TRAILER!!!". Bytes go through a 64 KiB
 * buffer, or through zlib's deflate when gzip is on, into a temporary file
 * that cc_cpio_finish() renames over the destination.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "chaoscontrol/cpio.h"

#define OUT_BUF_SIZE (64 * 1024)
#define NEWC_HDR_LEN 110
#define TRAILER_NAME "TRAILER!!!"

/* Longest path shown in an error message, so the message stays readable. */
#define SHOW_MAX 200

/* Set of archive paths added so far, and whether each is a directory:
 * detects duplicates and entries under non-directories, and lets
 * auto_parents know which parents are missing. Open addressing. */
struct name_ent {
    char *name;
    size_t len;
    bool dir;
    bool auto_parent;         /* added by auto_parents, not by the caller */
};

struct name_set {
    struct name_ent *v;
    size_t cap, n;
};

struct cc_cpio {
    int fd;
    char *path;
    char *tmp_path;
    bool gzip, auto_parents;
    z_stream zs;
    bool zs_live;
    uint32_t next_ino;
    uint32_t uid, gid;
    uint64_t offset;          /* uncompressed archive bytes so far */
    int failed;               /* negative errno after an I/O error */
    struct cc_err first_err;
    struct name_set names;
    size_t buf_len;
    uint8_t buf[OUT_BUF_SIZE];
};

/* ---- name set ---- */

static uint64_t fnv1a(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (uint8_t)s[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static struct name_ent *names_find(const struct name_set *s, const char *name, size_t len)
{
    if (!s->cap)
        return NULL;
    for (size_t i = fnv1a(name, len) & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
        struct name_ent *e = &s->v[i];
        if (!e->name)
            return NULL;
        if (e->len == len && !memcmp(e->name, name, len))
            return e;
    }
}

static int names_grow(struct name_set *s)
{
    size_t cap = s->cap ? s->cap * 2 : 64;
    struct name_ent *v = calloc(cap, sizeof(*v));
    if (!v)
        return -ENOMEM;
    for (size_t j = 0; j < s->cap; j++) {
        struct name_ent *e = &s->v[j];
        if (!e->name)
            continue;
        size_t i = fnv1a(e->name, e->len) & (cap - 1);
        while (v[i].name)
            i = (i + 1) & (cap - 1);
        v[i] = *e;
    }
    free(s->v);
    s->v = v;
    s->cap = cap;
    return 0;
}

static int names_add(struct name_set *s, const char *name, size_t len, bool dir,
                     bool auto_parent)
{
    if ((s->n + 1) * 4 > s->cap * 3) {
        int r = names_grow(s);
        if (r < 0)
            return r;
    }
    char *copy = strndup(name, len);
    if (!copy)
        return -ENOMEM;
    size_t i = fnv1a(name, len) & (s->cap - 1);
    while (s->v[i].name)
        i = (i + 1) & (s->cap - 1);
    s->v[i] = (struct name_ent){
        .name = copy, .len = len, .dir = dir, .auto_parent = auto_parent,
    };
    s->n++;
    return 0;
}

static void names_free(struct name_set *s)
{
    for (size_t i = 0; i < s->cap; i++)
        free(s->v[i].name);
    free(s->v);
    s->v = NULL;
    s->cap = s->n = 0;
}

/* ---- output ---- */

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Record an I/O failure: the writer refuses everything after it. */
static int fail(struct cc_cpio *w, struct cc_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(struct cc_cpio *w, struct cc_err *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->first_err.msg, sizeof(w->first_err.msg), fmt, ap);
    va_end(ap);
    w->first_err.code = code > 0 ? code : EIO;
    w->failed = -w->first_err.code;
    return cc_err_set(err, w->first_err.code, "%s", w->first_err.msg);
}

static int flush_buf(struct cc_cpio *w, struct cc_err *err)
{
    int r = write_all(w->fd, w->buf, w->buf_len);
    if (r < 0)
        return fail(w, err, -r, "cannot write '%s': %s", w->tmp_path, strerror(-r));
    w->buf_len = 0;
    return 0;
}

/* Run deflate over the pending input with the given flush mode. */
static int deflate_run(struct cc_cpio *w, int flush, struct cc_err *err)
{
    for (;;) {
        if (w->buf_len == OUT_BUF_SIZE) {
            int r = flush_buf(w, err);
            if (r < 0)
                return r;
        }
        w->zs.next_out = w->buf + w->buf_len;
        w->zs.avail_out = (uInt)(OUT_BUF_SIZE - w->buf_len);
        int z = deflate(&w->zs, flush);
        w->buf_len = OUT_BUF_SIZE - w->zs.avail_out;
        /* Z_BUF_ERROR without Z_FINISH: nothing left to do (all input was
         * consumed and the output buffer happened to fill up exactly). */
        if (z == Z_STREAM_END || (z == Z_BUF_ERROR && flush == Z_NO_FLUSH))
            return 0;
        if ((z != Z_OK && z != Z_BUF_ERROR) || (z == Z_BUF_ERROR && w->zs.avail_out))
            return fail(w, err, EIO, "gzip compression failed: %s",
                        w->zs.msg ? w->zs.msg : "deflate error");
        /* Without Z_FINISH, deflate is done with its input once it leaves
         * room in the output buffer; with it, loop until Z_STREAM_END. */
        if (flush == Z_NO_FLUSH && w->zs.avail_out != 0)
            return 0;
    }
}

static int emit(struct cc_cpio *w, const void *p, size_t n, struct cc_err *err)
{
    w->offset += n;
    if (w->gzip) {
        const uint8_t *q = p;
        while (n) {
            uInt chunk = n > (1u << 30) ? (1u << 30) : (uInt)n;
            w->zs.next_in = (Bytef *)q;
            w->zs.avail_in = chunk;
            int r = deflate_run(w, Z_NO_FLUSH, err);
            if (r < 0)
                return r;
            q += chunk;
            n -= chunk;
        }
        return 0;
    }
    const uint8_t *q = p;
    while (n) {
        size_t k = OUT_BUF_SIZE - w->buf_len;
        if (k > n)
            k = n;
        memcpy(w->buf + w->buf_len, q, k);
        w->buf_len += k;
        q += k;
        n -= k;
        if (w->buf_len == OUT_BUF_SIZE) {
            int r = flush_buf(w, err);
            if (r < 0)
                return r;
        }
    }
    return 0;
}

static int pad4(struct cc_cpio *w, struct cc_err *err)
{
    static const uint8_t zeros[4];
    size_t n = (4 - (w->offset & 3)) & 3;
    return n ? emit(w, zeros, n, err) : 0;
}

/* Header, name and name padding of one entry; the caller emits the data. */
static int emit_header(struct cc_cpio *w, uint32_t ino, uint32_t mode, uint32_t nlink,
                       uint32_t size, uint32_t rmajor, uint32_t rminor,
                       const char *name, struct cc_err *err)
{
    char hdr[NEWC_HDR_LEN + 1];
    size_t namesize = strlen(name) + 1;
    uint32_t uid = ino ? w->uid : 0, gid = ino ? w->gid : 0;
    int n = snprintf(hdr, sizeof(hdr),
                     "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
                     ino, mode, uid, gid, nlink, 0u /* mtime */, size,
                     0u, 0u /* dev major/minor of the archive's "disk" */,
                     rmajor, rminor, (uint32_t)namesize, 0u /* check */);
    if (n != NEWC_HDR_LEN)
        return fail(w, err, EINVAL, "internal error: cpio header is %d bytes", n);
    int r = emit(w, hdr, NEWC_HDR_LEN, err);
    if (r == 0)
        r = emit(w, name, namesize, err);
    if (r == 0)
        r = pad4(w, err);
    return r;
}

/* ---- paths ---- */

int cc_cpio_norm_path(const char *path, char *out, struct cc_err *err)
{
    if (!path || !*path)
        return cc_err_set(err, EINVAL, "empty archive path");
    size_t total = strlen(path);
    size_t o = 0;
    const char *p = path;
    while (*p) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        const char *s = p;
        while (*p && *p != '/')
            p++;
        size_t n = (size_t)(p - s);
        if (n == 1 && s[0] == '.')
            continue;
        if (n == 2 && s[0] == '.' && s[1] == '.')
            return cc_err_set(err, EINVAL,
                              "archive path '%.*s%s': '..' components are not allowed "
                              "(paths are relative to the archive root)",
                              SHOW_MAX, path, total > SHOW_MAX ? "..." : "");
        if (n > CC_CPIO_NAME_MAX)
            return cc_err_set(err, ENAMETOOLONG,
                              "archive path '%.*s%s': a component is %zu bytes long, "
                              "the limit is %d",
                              SHOW_MAX, path, total > SHOW_MAX ? "..." : "",
                              n, CC_CPIO_NAME_MAX);
        if (o + (o ? 1 : 0) + n > CC_CPIO_PATH_MAX)
            return cc_err_set(err, ENAMETOOLONG,
                              "archive path '%.*s%s' is too long (%zu bytes, the limit "
                              "is %d)", SHOW_MAX, path, total > SHOW_MAX ? "..." : "",
                              total, CC_CPIO_PATH_MAX);
        if (o)
            out[o++] = '/';
        memcpy(out + o, s, n);
        o += n;
    }
    if (o == 0)
        return cc_err_set(err, EINVAL,
                          "archive path '%.*s' names the archive root, which always exists",
                          SHOW_MAX, path);
    out[o] = '\0';
    return 0;
}

static const char *type_name(unsigned mode)
{
    switch (mode & S_IFMT) {
    case S_IFDIR: return "directory";
    case S_IFREG: return "file";
    case S_IFLNK: return "symlink";
    case S_IFCHR: return "character device";
    case S_IFBLK: return "block device";
    default: return "entry";
    }
}

/* Everything that can be checked before writing a byte: a usable writer,
 * the mode, the path (normalized into name), no duplicate, and parents that
 * exist as directories (or may be created). On success *missing_parents
 * says whether auto_parents must add some. */
static int prepare(struct cc_cpio *w, const char *path, unsigned mode, unsigned type,
                   char *name, bool *missing_parents, struct cc_err *err)
{
    if (!w)
        return cc_err_set(err, EINVAL, "cpio writer is NULL");
    if (w->failed)
        return cc_err_set(err, -w->failed, "%s", w->first_err.msg);
    int r = cc_cpio_norm_path(path, name, err);
    if (r < 0)
        return r;
    if (mode & ~07777u)
        return cc_err_set(err, EINVAL,
                          "%s '/%s': mode 0%o has bits outside 07777 (give permission "
                          "bits only; the type comes from the entry kind)",
                          type_name(type), name, mode);
    size_t len = strlen(name);
    struct name_ent *e = names_find(&w->names, name, len);
    if (e && e->auto_parent)
        return cc_err_set(err, EEXIST, "'/%s' is already in the archive: it was created "
                          "(mode 0755) as the parent of an earlier entry; add it before "
                          "the entries under it", name);
    if (e)
        return cc_err_set(err, EEXIST, "'/%s' is already in the archive", name);
    *missing_parents = false;
    for (size_t i = 0; i < len; i++) {
        if (name[i] != '/')
            continue;
        e = names_find(&w->names, name, i);
        if (!e) {
            if (!w->auto_parents)
                return cc_err_set(err, ENOENT,
                                  "'/%s': parent directory '/%.*s' is not in the archive; "
                                  "add it first", name, (int)i, name);
            *missing_parents = true;
        } else if (!e->dir) {
            return cc_err_set(err, ENOTDIR,
                              "'/%s': parent '/%.*s' is in the archive but is not a "
                              "directory", name, (int)i, name);
        }
    }
    return 0;
}

static int record(struct cc_cpio *w, const char *name, size_t len, bool dir,
                  bool auto_parent, struct cc_err *err)
{
    if (names_add(&w->names, name, len, dir, auto_parent) < 0)
        return fail(w, err, ENOMEM, "out of memory recording archive path '/%s'", name);
    return 0;
}

static int add_parents(struct cc_cpio *w, const char *name, struct cc_err *err)
{
    for (size_t i = 0; name[i]; i++) {
        if (name[i] != '/' || names_find(&w->names, name, i))
            continue;
        char parent[CC_CPIO_PATH_MAX + 1];
        memcpy(parent, name, i);
        parent[i] = '\0';
        int r = emit_header(w, w->next_ino++, S_IFDIR | 0755, 2, 0, 0, 0, parent, err);
        if (r == 0)
            r = record(w, parent, i, true, true, err);
        if (r < 0)
            return r;
    }
    return 0;
}

/* prepare() done: parents, then this entry's header (data follows). */
static int begin_entry(struct cc_cpio *w, const char *name, bool missing_parents,
                       uint32_t mode, uint32_t nlink, uint32_t size,
                       uint32_t rmajor, uint32_t rminor, struct cc_err *err)
{
    int r = missing_parents ? add_parents(w, name, err) : 0;
    if (r == 0)
        r = emit_header(w, w->next_ino++, mode, nlink, size, rmajor, rminor, name, err);
    if (r == 0)
        r = record(w, name, strlen(name), S_ISDIR(mode), false, err);
    return r;
}

/* ---- public API ---- */

int cc_cpio_open(struct cc_cpio **out, const char *path,
                 const struct cc_cpio_opts *opts, struct cc_err *err)
{
    *out = NULL;
    if (!path || !*path)
        return cc_err_set(err, EINVAL, "cpio: no output path given");
    struct cc_cpio *w = calloc(1, sizeof(*w));
    if (!w)
        return cc_err_set(err, ENOMEM, "out of memory creating cpio writer");
    w->fd = -1;
    w->next_ino = 1;
    if (opts) {
        w->gzip = opts->gzip;
        w->auto_parents = opts->auto_parents;
    }
    w->path = strdup(path);
    if (!w->path || asprintf(&w->tmp_path, "%s.tmp-XXXXXX", path) < 0) {
        w->tmp_path = NULL;
        cc_cpio_abort(w);
        return cc_err_set(err, ENOMEM, "out of memory creating cpio writer");
    }
    w->fd = mkostemp(w->tmp_path, O_CLOEXEC);
    if (w->fd < 0) {
        int e = errno;
        cc_err_set(err, e, "cannot create temporary file '%s' for '%s': %s",
                   w->tmp_path, path, strerror(e));
        free(w->tmp_path);
        w->tmp_path = NULL;   /* nothing to remove */
        cc_cpio_abort(w);
        return -e;
    }
    if (w->gzip) {
        /* windowBits 15 + 16: gzip wrapper. zlib writes mtime 0 and no file
         * name unless given a header, so the output is deterministic. */
        if (deflateInit2(&w->zs, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
                         Z_DEFAULT_STRATEGY) != Z_OK) {
            cc_cpio_abort(w);
            return cc_err_set(err, ENOMEM, "cannot initialize gzip compression");
        }
        w->zs_live = true;
    }
    *out = w;
    return 0;
}

void cc_cpio_set_owner(struct cc_cpio *w, uint32_t uid, uint32_t gid)
{
    if (w) {
        w->uid = uid;
        w->gid = gid;
    }
}

int cc_cpio_add_dir(struct cc_cpio *w, const char *path, unsigned mode, struct cc_err *err)
{
    char name[CC_CPIO_PATH_MAX + 1];
    bool mp;
    int r = prepare(w, path, mode, S_IFDIR, name, &mp, err);
    if (r == 0)
        r = begin_entry(w, name, mp, S_IFDIR | mode, 2, 0, 0, 0, err);
    return r;
}

int cc_cpio_add_file(struct cc_cpio *w, const char *path, unsigned mode,
                     const void *data, size_t len, struct cc_err *err)
{
    char name[CC_CPIO_PATH_MAX + 1];
    bool mp;
    int r = prepare(w, path, mode, S_IFREG, name, &mp, err);
    if (r < 0)
        return r;
    if (len > UINT32_MAX)
        return cc_err_set(err, EFBIG, "file '/%s' is %zu bytes; newc cpio entries "
                          "are limited to 4 GiB - 1", name, len);
    if (len && !data)
        return cc_err_set(err, EINVAL, "file '/%s': no data for %zu bytes", name, len);
    r = begin_entry(w, name, mp, S_IFREG | mode, 1, (uint32_t)len, 0, 0, err);
    if (r == 0 && len)
        r = emit(w, data, len, err);
    if (r == 0)
        r = pad4(w, err);
    return r;
}

int cc_cpio_add_file_from(struct cc_cpio *w, const char *path, unsigned mode,
                          const char *host_path, struct cc_err *err)
{
    char name[CC_CPIO_PATH_MAX + 1];
    bool mp;
    int r = prepare(w, path, mode, S_IFREG, name, &mp, err);
    if (r < 0)
        return r;
    int fd = open(host_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT)
            return cc_err_set(err, e, "host file '%s' not found: %s", host_path, strerror(e));
        return cc_err_set(err, e, "cannot open host file '%s': %s", host_path, strerror(e));
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return cc_err_set(err, e, "cannot stat host file '%s': %s", host_path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return cc_err_set(err, EINVAL, "host file '%s' is a %s, not a regular file",
                          host_path, type_name(st.st_mode));
    }
    if ((uint64_t)st.st_size > UINT32_MAX) {
        close(fd);
        return cc_err_set(err, EFBIG, "host file '%s' is %lld bytes; newc cpio entries "
                          "are limited to 4 GiB - 1", host_path, (long long)st.st_size);
    }
    uint32_t size = (uint32_t)st.st_size;
    r = begin_entry(w, name, mp, S_IFREG | mode, 1, size, 0, 0, err);
    uint8_t chunk[16384];
    uint64_t left = size;
    while (r == 0 && left) {
        ssize_t k = read(fd, chunk, left < sizeof(chunk) ? left : sizeof(chunk));
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            r = fail(w, err, errno, "cannot read host file '%s': %s", host_path,
                     strerror(errno));
        else if (k == 0)
            r = fail(w, err, EIO, "host file '%s' shrank while it was being archived",
                     host_path);
        else {
            r = emit(w, chunk, (size_t)k, err);
            left -= (uint64_t)k;
        }
    }
    if (r == 0) {
        ssize_t k;
        do
            k = read(fd, chunk, 1);
        while (k < 0 && errno == EINTR);
        if (k > 0)
            r = fail(w, err, EIO, "host file '%s' grew while it was being archived",
                     host_path);
    }
    close(fd);
    if (r == 0)
        r = pad4(w, err);
    return r;
}

int cc_cpio_add_symlink(struct cc_cpio *w, const char *path, const char *target,
                        unsigned mode, struct cc_err *err)
{
    char name[CC_CPIO_PATH_MAX + 1];
    bool mp;
    int r = prepare(w, path, mode, S_IFLNK, name, &mp, err);
    if (r < 0)
        return r;
    size_t len = target ? strlen(target) : 0;
    if (len == 0)
        return cc_err_set(err, EINVAL, "symlink '/%s': empty target", name);
    if (len > CC_CPIO_PATH_MAX)
        return cc_err_set(err, ENAMETOOLONG, "symlink '/%s': target is %zu bytes, the "
                          "limit is %d", name, len, CC_CPIO_PATH_MAX);
    r = begin_entry(w, name, mp, S_IFLNK | mode, 1, (uint32_t)len, 0, 0, err);
    if (r == 0)
        r = emit(w, target, len, err);
    if (r == 0)
        r = pad4(w, err);
    return r;
}

int cc_cpio_add_node(struct cc_cpio *w, const char *path, unsigned mode,
                     enum cc_cpio_node_type type, uint32_t major, uint32_t minor,
                     struct cc_err *err)
{
    char name[CC_CPIO_PATH_MAX + 1];
    bool mp;
    unsigned fmt = type == CC_CPIO_BLK ? S_IFBLK : S_IFCHR;
    if (type != CC_CPIO_CHR && type != CC_CPIO_BLK)
        return cc_err_set(err, EINVAL, "device node '%s': unknown node type %d",
                          path ? path : "(null)", (int)type);
    int r = prepare(w, path, mode, fmt, name, &mp, err);
    if (r < 0)
        return r;
    if (major > 0xfff || minor > 0xfffff)
        return cc_err_set(err, ERANGE, "%s '/%s': device %u:%u is out of range (major "
                          "must be below 4096, minor below 1048576)",
                          type_name(fmt), name, major, minor);
    return begin_entry(w, name, mp, fmt | mode, 1, 0, major, minor, err);
}

void cc_cpio_abort(struct cc_cpio *w)
{
    if (!w)
        return;
    if (w->zs_live)
        deflateEnd(&w->zs);
    if (w->fd >= 0)
        close(w->fd);
    if (w->tmp_path)
        unlink(w->tmp_path);
    names_free(&w->names);
    free(w->tmp_path);
    free(w->path);
    free(w);
}

/* fsync the directory holding path so the rename is durable. Best effort:
 * the archive itself is already safely on disk. */
static void sync_parent_dir(const char *path)
{
    char *dir = strdup(path);
    if (!dir)
        return;
    char *slash = strrchr(dir, '/');
    const char *d = ".";
    if (slash == dir)
        d = "/";
    else if (slash) {
        *slash = '\0';
        d = dir;
    }
    int fd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(dir);
}

int cc_cpio_finish(struct cc_cpio *w, struct cc_err *err)
{
    if (!w)
        return cc_err_set(err, EINVAL, "cpio writer is NULL");
    if (w->failed) {
        int r = cc_err_set(err, -w->failed, "%s", w->first_err.msg);
        cc_cpio_abort(w);
        return r;
    }
    int r = emit_header(w, 0, 0, 1, 0, 0, 0, TRAILER_NAME, err);
    if (r == 0)
        r = pad4(w, err);
    if (r == 0 && w->gzip) {
        w->zs.next_in = NULL;
        w->zs.avail_in = 0;
        r = deflate_run(w, Z_FINISH, err);
    }
    if (r == 0)
        r = flush_buf(w, err);
    if (r == 0 && fchmod(w->fd, 0644) < 0)
        r = fail(w, err, errno, "cannot chmod '%s': %s", w->tmp_path, strerror(errno));
    if (r == 0 && fsync(w->fd) < 0)
        r = fail(w, err, errno, "cannot fsync '%s': %s", w->tmp_path, strerror(errno));
    if (r == 0) {
        int fd = w->fd;
        w->fd = -1;
        if (close(fd) < 0)
            r = fail(w, err, errno, "cannot close '%s': %s", w->tmp_path, strerror(errno));
    }
    if (r == 0 && rename(w->tmp_path, w->path) < 0)
        r = fail(w, err, errno, "cannot rename '%s' to '%s': %s", w->tmp_path, w->path,
                 strerror(errno));
    if (r == 0) {
        sync_parent_dir(w->path);
        free(w->tmp_path);
        w->tmp_path = NULL;   /* renamed: nothing to remove */
    }
    cc_cpio_abort(w);
    return r;
}
