/* Times as text: "1.5s", "250ms", "10us", "42ns" (a decimal number and a
 * unit, exact in nanoseconds). The public cc_time_format / cc_time_parse
 * (chaoscontrol/schedule.h) are built on these. */
#ifndef CC_UTIL_TIMEFMT_H
#define CC_UTIL_TIMEFMT_H

#include <stdbool.h>
#include <stdint.h>

#define TIMEFMT_MAX (UINT64_C(1) << 62)     /* about 146 years */

/* Parse a number with a unit (not a bare number); a negative time only
 * when allow_neg. On failure *why says what is wrong ("is negative", ...). */
bool timefmt_parse(const char *s, bool allow_neg, int64_t *out, const char **why);

#endif
