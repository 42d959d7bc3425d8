/* Insides of src/explore/ shared between its files. Not public. */
#ifndef CC_EXPLORE_INTERNAL_H
#define CC_EXPLORE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "chaoscontrol/explore.h"

/* JSON helpers (recipe.c): 64-bit integers beyond int64 as decimal strings,
 * times in the schedule's form ("1500ms"), hashes as 16 hex digits. */
json_t *xj_u64(uint64_t v);
json_t *xj_time(uint64_t ns);
json_t *xj_hex(uint64_t v);
int xj_get_u64(const json_t *v, uint64_t *out);
int xj_get_time(const json_t *v, uint64_t *out);
int xj_get_hex(const json_t *v, uint64_t *out);

/* target.c: the target as JSON (bug files, checkpoints) and back. Strings
 * of the parsed target point into *owned (one malloc'd block per string,
 * freed with xtarget_strings_free). */
struct xtarget_strings {
    char *kernel, *initrd, *cmdline, *append, *disk_image;
};
json_t *xtarget_to_json(const struct cc_xtarget *t);
int xtarget_from_json(const json_t *j, const char *src, const char *path, struct cc_xtarget *t,
                      struct xtarget_strings *owned, struct cc_err *err);
void xtarget_strings_free(struct xtarget_strings *s);

/* xrun.c: fill a failure record from the first failed VM of the sim. */
void xrun_read_failure(struct cc_sim *sim, int vm, uint64_t sim_ns, struct cc_xfailure *f);
json_t *xfailure_to_json(const struct cc_xfailure *f);
int xfailure_from_json(const json_t *j, const char *src, const char *path,
                       struct cc_xfailure *f, struct cc_err *err);

/* Wall-clock seconds (CLOCK_MONOTONIC) for reports; never reaches a guest. */
double xnow(void);

#endif
