/* JSON conventions of the whole library, on top of jansson. Every file
 * that reads or writes JSON (SDK run records, sim reports, schedules, bug
 * files, checkpoints) uses these, so one counter looks the same everywhere:
 *
 *   unsigned 64-bit numbers  a JSON number up to 2^53 (exact in every JSON
 *                            reader, JavaScript's included), a decimal
 *                            string above ("18446744073709551615");
 *                            readers accept either form;
 *   hashes, identifiers      16 lowercase hex digits in a string
 *                            ("00c0ffee00c0ffee");
 *   virtual times            the schedule's text form ("1500ms", "2s"):
 *                            readers also accept a number of nanoseconds;
 *   absent strings           null.
 *
 * Internal to the library (not installed); names follow the house rule for
 * internal modules: cj_<verb>. */
#ifndef CC_UTIL_CJSON_H
#define CC_UTIL_CJSON_H

#include <stdint.h>

#include <jansson.h>

#include "chaoscontrol/err.h"

#define CJ_EXACT_MAX (UINT64_C(1) << 53)

json_t *cj_u64(uint64_t v);
json_t *cj_hex64(uint64_t v);
json_t *cj_time(int64_t ns);     /* negative: "-2s" */
json_t *cj_str_or_null(const char *s);

/* 0, or -EINVAL when v is not of that form. */
int cj_get_u64(const json_t *v, uint64_t *out);
int cj_get_hex64(const json_t *v, uint64_t *out);
int cj_get_time(const json_t *v, uint64_t *out);

/* What a JSON value is, for messages: "an object", "a string", ... */
const char *cj_kind(const json_t *v);

/* Write root as indented JSON to path atomically (temporary file, fsync,
 * rename: util/afile.h). */
int cj_write_file(const json_t *root, const char *path, struct cc_err *err);

#endif
