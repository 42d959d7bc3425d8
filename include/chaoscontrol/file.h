/* libchaoscontrol: writing result files safely. */
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

#endif
