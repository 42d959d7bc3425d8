/* libchaoscontrol: writing result files safely; files that come with the
 * program. */
#ifndef CHAOSCONTROL_FILE_H
#define CHAOSCONTROL_FILE_H

#include <stddef.h>

#include "chaoscontrol/err.h"

/* Write a whole file atomically: the bytes go to a temporary file in the
 * destination's directory, which is fsynced and renamed over path, and the
 * directory is fsynced, so a crash or a kill leaves the old file or the new
 * one, never a mix. What every long run uses for reports, checkpoints, bug
 * files and snapshots. */
int cc_file_write_atomic(const char *path, const void *data, size_t len, struct cc_err *err);

/* Read a whole file (at most max bytes) into a new buffer with a NUL
 * after its len bytes (*out, for free()). Errors name the file: "PATH:
 * cannot read the WHAT: ...", "PATH: larger than N MiB: not a WHAT",
 * "PATH: read error". */
int cc_file_read(const char *path, const char *what, size_t max, char **out, size_t *len,
                 struct cc_err *err);

/* This program's own path (/proc/self/exe) in buf; NULL if it cannot be
 * read or does not fit. */
const char *cc_program_path(char *buf, size_t len);

/* A file that comes with this program, by its path REL in the build tree
 * relative to the binary (build/chaoscontrol: "kernel/bzImage" for
 * build/kernel/bzImage), or where make install put it
 * (LIBDIR/chaoscontrol/REL or DATADIR/chaoscontrol/REL, found relative to
 * the installed binary).
 * Copies the first that is a regular file to buf and returns buf; NULL if
 * neither is. */
const char *cc_file_beside_program(const char *rel, char *buf, size_t len);

#endif
