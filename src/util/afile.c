/* Atomic file writes (see afile.h). */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "afile.h"

void fsync_parent_dir(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(copy);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

int afile_open(struct cc_afile *f, const char *path, struct cc_err *err)
{
    memset(f, 0, sizeof(*f));
    f->fd = -1;
    f->path = strdup(path);
    if (!f->path || asprintf(&f->tmp, "%s.tmp-XXXXXX", path) < 0) {
        free(f->path);
        f->path = NULL;
        f->tmp = NULL;
        return cc_err_set(err, ENOMEM, "out of memory");
    }
    f->fd = mkostemp(f->tmp, O_CLOEXEC);
    if (f->fd < 0) {
        int e = errno;
        free(f->tmp);
        free(f->path);
        f->tmp = f->path = NULL;
        return cc_err_set(err, e, "cannot create a file next to '%s': %s", path, strerror(e));
    }
    return 0;
}

int afile_write(struct cc_afile *f, const void *p, size_t n, struct cc_err *err)
{
    const char *c = p;
    while (n && !f->failed) {
        ssize_t w = write(f->fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            f->failed = w < 0 ? errno : EIO;
            break;
        }
        c += w;
        n -= (size_t)w;
    }
    if (f->failed)
        return cc_err_set(err, f->failed, "cannot write '%s': %s", f->path, strerror(f->failed));
    return 0;
}

int afile_commit(struct cc_afile *f, struct cc_err *err)
{
    int rc = 0;
    if (f->failed)
        rc = cc_err_set(err, f->failed, "cannot write '%s': %s", f->path, strerror(f->failed));
    else if (fchmod(f->fd, 0644) < 0 || fsync(f->fd) < 0)
        rc = cc_err_set(err, errno, "cannot sync '%s': %s", f->path, strerror(errno));
    if (close(f->fd) < 0 && rc == 0)
        rc = cc_err_set(err, errno, "cannot close '%s': %s", f->path, strerror(errno));
    f->fd = -1;
    if (rc == 0 && rename(f->tmp, f->path) < 0)
        rc = cc_err_set(err, errno, "cannot rename into '%s': %s", f->path, strerror(errno));
    if (rc == 0)
        fsync_parent_dir(f->path);
    else
        unlink(f->tmp);
    free(f->tmp);
    free(f->path);
    f->tmp = f->path = NULL;
    return rc;
}

void afile_abort(struct cc_afile *f)
{
    if (f->fd >= 0)
        close(f->fd);
    if (f->tmp)
        unlink(f->tmp);
    free(f->tmp);
    free(f->path);
    memset(f, 0, sizeof(*f));
    f->fd = -1;
}

int cc_file_write_atomic(const char *path, const void *data, size_t len, struct cc_err *err)
{
    struct cc_afile f;
    int rc = afile_open(&f, path, err);
    if (rc < 0)
        return rc;
    rc = afile_write(&f, data, len, err);
    if (rc < 0) {
        afile_abort(&f);
        return rc;
    }
    return afile_commit(&f, err);
}

int cc_file_read(const char *path, const char *what, size_t max, char **out, size_t *len,
                 struct cc_err *err)
{
    *out = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return cc_err_set(err, errno, "%s: cannot read the %s: %s", path, what, strerror(errno));
    char *buf = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    for (;;) {
        if (cap - n < 65536) {
            if (cap > max) {
                rc = cc_err_set(err, EFBIG, "%s: larger than %zu MiB: not a %s", path,
                                max >> 20, what);
                break;
            }
            cap = cap ? cap * 2 : 65536 * 2;
            char *nb = realloc(buf, cap + 1);
            if (!nb) {
                rc = cc_err_set(err, ENOMEM, "%s: out of memory", path);
                break;
            }
            buf = nb;
        }
        size_t k = fread(buf + n, 1, cap - n, f);
        n += k;
        if (!k)
            break;
    }
    if (rc == 0 && ferror(f))
        rc = cc_err_set(err, EIO, "%s: read error", path);
    if (rc == 0 && n > max)
        rc = cc_err_set(err, EFBIG, "%s: larger than %zu MiB: not a %s", path, max >> 20, what);
    fclose(f);
    if (rc < 0) {
        free(buf);
        return rc;
    }
    buf[n] = 0;
    *out = buf;
    *len = n;
    return 0;
}
