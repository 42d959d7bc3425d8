/* Atomic file writes: data goes to a temporary file in the destination's
 * directory, which is fsynced and renamed over the destination only when
 * complete (then the directory is fsynced), so a crash or a kill leaves
 * either the old file or the new one, never a half-written one.
 *
 *   struct cc_afile f;
 *   if (afile_open(&f, "out/checkpoint.json", &err) < 0) ...
 *   afile_write(&f, buf, len, &err);   // any number of times
 *   afile_commit(&f, &err);            // or afile_abort(&f)
 */
#ifndef CC_UTIL_AFILE_H
#define CC_UTIL_AFILE_H

#include <stddef.h>

#include "chaoscontrol/err.h"

struct cc_afile {
    char *path, *tmp;
    int fd;
    int failed;         /* errno of the first failed write, 0 if none */
};

int afile_open(struct cc_afile *f, const char *path, struct cc_err *err);
/* Errors are sticky: after a failed write, commit fails with that error. */
int afile_write(struct cc_afile *f, const void *p, size_t n, struct cc_err *err);
int afile_commit(struct cc_afile *f, struct cc_err *err);
void afile_abort(struct cc_afile *f);

/* Write a whole buffer atomically: cc_file_write_atomic (public). */
#include "chaoscontrol/file.h"

/* fsync the directory containing path (best effort). */
void fsync_parent_dir(const char *path);

#endif
