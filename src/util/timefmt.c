/* Times as text (util/timefmt.h; public: cc_time_format, cc_time_parse). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "chaoscontrol/schedule.h"
#include "util/timefmt.h"

void cc_time_format(int64_t ns, char *buf, size_t len)
{
    static const struct { const char *unit; uint64_t ns; } units[] = {
        {"s", CC_SEC}, {"ms", CC_MSEC}, {"us", CC_USEC}, {"ns", 1},
    };
    uint64_t a = ns < 0 ? (uint64_t)0 - (uint64_t)ns : (uint64_t)ns;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (a % units[i].ns == 0 && (a || units[i].ns == 1)) {
            snprintf(buf, len, "%s%" PRIu64 "%s", ns < 0 ? "-" : "", a / units[i].ns,
                     units[i].unit);
            return;
        }
    }
}

/* A decimal number with a unit: exact nanoseconds. */
bool timefmt_parse(const char *s, bool allow_neg, int64_t *out, const char **why)
{
    const char *p = s;
    bool neg = false;
    if (*p == '-') {
        neg = true;
        p++;
    }
    unsigned __int128 ip = 0, fp = 0, fscale = 1;
    int digits = 0;
    while (*p >= '0' && *p <= '9') {
        ip = ip * 10 + (unsigned)(*p++ - '0');
        if (ip > ((unsigned __int128)1 << 80)) {
            *why = "is too large";
            return false;
        }
        digits++;
    }
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9') {
            if (fscale < ((unsigned __int128)1 << 70)) {
                fp = fp * 10 + (unsigned)(*p - '0');
                fscale *= 10;
            } else if (*p != '0') {
                *why = "has more decimals than nanoseconds can hold";
                return false;
            }
            p++;
            digits++;
        }
    }
    uint64_t unit;
    if (!strcmp(p, "h"))
        unit = 3600 * CC_SEC;
    else if (!strcmp(p, "m"))
        unit = 60 * CC_SEC;
    else if (!strcmp(p, "s"))
        unit = CC_SEC;
    else if (!strcmp(p, "ms"))
        unit = CC_MSEC;
    else if (!strcmp(p, "us"))
        unit = CC_USEC;
    else if (!strcmp(p, "ns"))
        unit = 1;
    else {
        *why = "is not a time (a number and a unit: ns, us, ms, s, m or h, e.g. \"1.5s\")";
        return false;
    }
    if (!digits) {
        *why = "is not a time (a number and a unit: ns, us, ms, s, m or h, e.g. \"1.5s\")";
        return false;
    }
    unsigned __int128 num = fp * unit;
    if (num % fscale) {
        *why = "is not a whole number of nanoseconds";
        return false;
    }
    unsigned __int128 v = ip * unit + num / fscale;
    if (v >= TIMEFMT_MAX) {
        *why = "is too large";
        return false;
    }
    if (neg && !allow_neg) {
        *why = "is negative";
        return false;
    }
    *out = neg ? -(int64_t)v : (int64_t)v;
    return true;
}

bool cc_time_parse(const char *s, uint64_t *ns)
{
    if (!s || !*s)
        return false;
    bool digits = true;
    for (const char *p = s; *p; p++)
        digits &= *p >= '0' && *p <= '9';
    int64_t v;
    const char *why;
    if (digits) {
        char buf[64];
        snprintf(buf, sizeof(buf), "%.60sns", s);
        if (!timefmt_parse(buf, false, &v, &why))
            return false;
    } else if (!timefmt_parse(s, false, &v, &why)) {
        return false;
    }
    *ns = (uint64_t)v;
    return true;
}
