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
    char prefix[512], old[sizeof(err->msg)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof(old));
    int n = snprintf(err->msg, sizeof(err->msg), "%s: ", prefix);
    if (n >= 0 && (size_t)n < sizeof(err->msg))
        strncat(err->msg, old, sizeof(err->msg) - (size_t)n - 1);
    if (err->code <= 0)
        err->code = EINVAL;
    return -err->code;
}
