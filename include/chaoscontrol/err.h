/* Error reporting for libchaoscontrol.
 *
 * Library code never exits or prints on failure: a fallible function takes a
 * struct cc_err *, fills in a message saying what went wrong and what to do,
 * and returns a negative errno. The caller decides what to show.
 *
 *   struct cc_err err = {0};
 *   if (cc_vm_create(&cfg, &vm, &err) < 0)
 *       fprintf(stderr, "chaoscontrol: %s\n", err.msg);
 */
#ifndef CHAOSCONTROL_ERR_H
#define CHAOSCONTROL_ERR_H

#include <stddef.h>

struct cc_err {
    int code;            /* positive errno, 0 when no error */
    char msg[1024];
};

/* Record an error and return -code. err may be NULL. */
int cc_err_set(struct cc_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefix an existing message: "context: old message". Returns -err->code. */
int cc_err_prefix(struct cc_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
