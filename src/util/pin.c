/* Host core lists and pinning (chaoscontrol/pin.h). */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chaoscontrol/pin.h"

/* A core number: decimal digits only, below CC_CPULIST_MAX. */
static const char *parse_core(const char *p, unsigned *out)
{
    if (*p < '0' || *p > '9')
        return NULL;
    unsigned v = 0;
    while (*p >= '0' && *p <= '9') {
        v = v * 10 + (unsigned)(*p++ - '0');
        if (v >= CC_CPULIST_MAX)
            return NULL;
    }
    *out = v;
    return p;
}

int cc_cpulist_parse(const char *s, struct cc_cpulist *out, struct cc_err *err)
{
    memset(out, 0, sizeof(*out));
    if (!s || !*s)
        return cc_err_set(err, EINVAL, "an empty list of cores (want e.g. 0-3,6)");
    unsigned char seen[CC_CPULIST_MAX] = {0};
    const char *p = s;
    for (;;) {
        const char *item = p;
        size_t ilen = strcspn(item, ",");
        unsigned a, b;
        const char *q = parse_core(p, &a);
        if (q && *q == '-')
            q = parse_core(q + 1, &b);
        else
            b = a;
        if (!q || (*q && *q != ',')) {
            if (!ilen)
                return cc_err_set(err, EINVAL, "an empty item in '%s' (want e.g. 0-3,6)", s);
            return cc_err_set(err, EINVAL, "'%.*s' is not a core number or a range A-B of "
                              "them (cores 0-%d)", (int)ilen, item, CC_CPULIST_MAX - 1);
        }
        if (b < a)
            return cc_err_set(err, EINVAL, "the range '%.*s' is backwards", (int)ilen, item);
        for (unsigned c = a; c <= b; c++) {
            if (seen[c])
                return cc_err_set(err, EINVAL, "core %u is listed twice", c);
            seen[c] = 1;
            out->cpu[out->n++] = (uint16_t)c;
        }
        if (!*q)
            return 0;
        p = q + 1;
    }
}

void cc_cpulist_format(const struct cc_cpulist *l, char *buf, size_t len)
{
    size_t at = 0;
    if (len)
        buf[0] = 0;
    for (unsigned i = 0; i < l->n && at < len;) {
        unsigned j = i;
        while (j + 1 < l->n && l->cpu[j + 1] == l->cpu[j] + 1)
            j++;
        int k = j > i ? snprintf(buf + at, len - at, "%s%u-%u", i ? "," : "", l->cpu[i], l->cpu[j])
                      : snprintf(buf + at, len - at, "%s%u", i ? "," : "", l->cpu[i]);
        at += k > 0 ? (size_t)k : 0;
        i = j + 1;
    }
}

int cc_cpulist_allowed(struct cc_cpulist *out, struct cc_err *err)
{
    memset(out, 0, sizeof(*out));
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) < 0)
        return cc_err_set(err, errno, "sched_getaffinity: %s", strerror(errno));
    for (unsigned c = 0; c < CC_CPULIST_MAX; c++)
        if (CPU_ISSET(c, &set))
            out->cpu[out->n++] = (uint16_t)c;
    return 0;
}

int cc_cpulist_check_allowed(const struct cc_cpulist *l, struct cc_err *err)
{
    struct cc_cpulist *ok = malloc(sizeof(*ok));
    if (!ok)
        return cc_err_set(err, ENOMEM, "out of memory");
    int rc = cc_cpulist_allowed(ok, err);
    unsigned char allowed[CC_CPULIST_MAX] = {0};
    for (unsigned i = 0; rc == 0 && i < ok->n; i++)
        allowed[ok->cpu[i]] = 1;
    for (unsigned i = 0; rc == 0 && i < l->n; i++) {
        if (!allowed[l->cpu[i]]) {
            char have[256];
            cc_cpulist_format(ok, have, sizeof(have));
            rc = cc_err_set(err, EINVAL, "core %u is not one this process may run on (%s)",
                            l->cpu[i], have);
        }
    }
    free(ok);
    return rc;
}

int cc_pin_thread(unsigned cpu, struct cc_err *err)
{
    if (cpu >= CC_CPULIST_MAX)
        return cc_err_set(err, EINVAL, "core %u is out of range", cpu);
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof(set), &set) < 0)
        return cc_err_set(err, errno, "cannot pin to core %u: sched_setaffinity: %s", cpu,
                          strerror(errno));
    return 0;
}
