/* Between the dashboard's state builder (src/explore/dash_state.c) and its
 * HTTP server (src/dash/server.c). */
#ifndef CC_EXPLORE_DASH_INTERNAL_H
#define CC_EXPLORE_DASH_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "chaoscontrol/err.h"

/* /api/state of the corpus open as dirfd (generation 0), or NULL with err
 * set (an unreadable or invalid checkpoint; a missing one is an empty
 * state, the explorer is still booting). */
json_t *dash_state(const char *corpus, int dirfd, bool live, struct cc_err *err);
/* /api/bug/N, or NULL with *status 404 (no such bug file) or 500. */
json_t *dash_bug(const char *corpus, int dirfd, unsigned number, int *status);
/* A regular file directly in dirfd (no symlink followed), at most max
 * bytes, NUL-terminated; NULL with *e an errno (EFBIG, EISDIR, ...). */
char *dash_read_at(int dirfd, const char *name, size_t max, size_t *len, int *e);

#endif
