/* Error messages returned by library functions (see include/chaoscontrol/err.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "chaoscontrol/err.h"

int cc_err_set(struct cc_err *err, int code, const char *fmt, ...)
{
    if (code <= 0)
        code = EINVAL;
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return -code;
}

int cc_err_prefix(struct cc_err *err, const char *fmt, ...)
{
    if (!err)
        return -EINVAL;
    char prefix[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    size_t plen = strlen(prefix) + 2;           /* "prefix: " */
    size_t cap = sizeof(err->msg);
    size_t olen = strnlen(err->msg, cap - 1);
    if (plen >= cap)
        plen = cap - 1;
    if (olen > cap - 1 - plen)
        olen = cap - 1 - plen;
    memmove(err->msg + plen, err->msg, olen);
    err->msg[plen + olen] = 0;
    memcpy(err->msg, prefix, plen - 2);
    err->msg[plen - 2] = ':';
    err->msg[plen - 1] = ' ';
    if (err->code <= 0)
        err->code = EINVAL;
    return -err->code;
}
