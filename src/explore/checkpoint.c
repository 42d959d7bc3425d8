/* checkpoint.json: the exploration's state (state_internal.h) as a file in
 * its output directory, written atomically after every round, so that an
 * exploration can continue (resume) and tools can look at it. The frontier
 * points are kept as recipes, never as snapshots: a resumed exploration
 * boots once and re-makes a point by replaying its recipe the first time
 * it is picked, which also checks the recorded simulation hash. Bug files
 * written after the last checkpoint (a run killed mid-round) are adopted on
 * resume. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "explore/state_internal.h"
#include "util/afile.h"

/* Checkpoints hold recipes and coverage, not memory: far below this. */
#define CK_MAX_SIZE (256u << 20)

int checkpoint_save(const struct cc_xstate *st, const char *dir, struct cc_err *err)
{
    char *text = cc_xstate_to_json(st);
    if (!text)
        return cc_err_set(err, ENOMEM, "out of memory writing the checkpoint");
    char path[4200];
    snprintf(path, sizeof(path), "%s/checkpoint.json", dir);
    int rc = cc_file_write_atomic(path, text, strlen(text), err);
    free(text);
    return rc;
}

/* The whole file (malloc'd, *len bytes plus a NUL). */
static int read_file(const char *path, const char *dir, char **out, size_t *len,
                     struct cc_err *err)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) < 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return cc_err_set(err, e == ENOENT ? ENOENT : e, "%s: cannot read it (%s): is '%s' an "
                          "exploration's output directory?", path, strerror(e), dir);
    }
    if (!S_ISREG(sb.st_mode) || (uint64_t)sb.st_size > CK_MAX_SIZE) {
        close(fd);
        return cc_err_set(err, EINVAL, "%s: %s: is '%s' an exploration's output directory?",
                          path, S_ISREG(sb.st_mode) ? "larger than 256 MiB" :
                          "not a regular file", dir);
    }
    char *text = malloc((size_t)sb.st_size + 1);
    if (!text) {
        close(fd);
        return cc_err_set(err, ENOMEM, "out of memory reading %s", path);
    }
    size_t n = 0;
    while (n < (size_t)sb.st_size) {
        ssize_t k = read(fd, text + n, (size_t)sb.st_size - n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            int e = k < 0 ? errno : EIO;
            close(fd);
            free(text);
            return cc_err_set(err, e, "%s: read: %s", path, k < 0 ? strerror(e) :
                              "the file shrank while being read");
        }
        n += (size_t)k;
    }
    close(fd);
    text[n] = 0;
    *out = text;
    *len = n;
    return 0;
}

int checkpoint_load(const char *dir, struct cc_xstate **out, struct cc_err *err)
{
    *out = NULL;
    char path[4200];
    snprintf(path, sizeof(path), "%s/checkpoint.json", dir);
    char *text;
    size_t len = 0;
    int rc = read_file(path, dir, &text, &len, err);
    if (rc < 0)
        return rc;
    rc = cc_xstate_parse(text, len, path, out, err);
    free(text);
    return rc;
}

int cc_xstate_load(const char *dir, struct cc_xstate **out, struct cc_err *err)
{
    return checkpoint_load(dir, out, err);
}

static void log_to(void (*log)(void *, const char *), void *opaque, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void log_to(void (*log)(void *, const char *), void *opaque, const char *fmt, ...)
{
    if (!log)
        return;
    char msg[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    log(opaque, msg);
}

/* Bug files newer than the checkpoint (a run killed mid-round). */
int checkpoint_adopt_bugs(struct cc_xstate *st, const char *dir,
                          void (*log)(void *opaque, const char *msg), void *opaque,
                          struct cc_err *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return cc_err_set(err, errno, "%s: %s", dir, strerror(errno));
    struct dirent *de;
    int rc = 0;
    while (rc == 0 && (de = readdir(d))) {
        unsigned num;
        char tail[8];
        if (sscanf(de->d_name, "bug_%u.%7s", &num, tail) != 2 || strcmp(tail, "json") ||
            xstate_has_bug(st, num))
            continue;
        char path[4400];
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        struct cc_bug *b;
        struct cc_err e = {0};
        if (cc_bug_load(path, &b, &e) < 0) {
            log_to(log, opaque, "warning: not adopting %s", e.msg);
            continue;
        }
        char where[400];
        snprintf(where, sizeof(where), "%s:%u", b->fail.file, b->fail.line);
        struct xbug xb = {
            .number = num, .id = b->fail.id, .vm = b->fail.vm, .message = b->fail.message,
            .where = where, .round = (unsigned)b->round, .branch = b->branch,
            .wall_s = b->wall_s, .sim_ns = b->fail.sim_ns, .size = cc_recipe_size(b->recipe),
        };
        if (xstate_bug_add(st, &xb) < 0)
            rc = cc_err_set(err, ENOMEM, "out of memory");
        else
            log_to(log, opaque, "adopted %.300s (written after the last checkpoint): \"%s\"",
                  path, b->fail.message);
        cc_bug_free(b);
    }
    closedir(d);
    return rc;
}

int cc_checkpoint_peek(const char *dir, unsigned *rounds, unsigned *bugs, struct cc_err *err)
{
    struct cc_xstate *st;
    int rc = checkpoint_load(dir, &st, err);
    if (rc < 0)
        return rc;
    *rounds = st->rounds_done;
    *bugs = (unsigned)st->n_bugs;
    cc_xstate_free(st);
    return 0;
}

int cc_checkpoint_check_target(const char *dir, struct cc_err *err)
{
    struct cc_xstate *st;
    int rc = checkpoint_load(dir, &st, err);
    if (rc < 0)
        return rc;
    rc = cc_xtarget_check_boot(&st->target, err);
    cc_xstate_free(st);
    return rc;
}
