/* Guest SDK internals shared by sdk.c, local.c, coverage.c and the
 * libvoidstar shim (voidstar.c). Not installed; not part of the API. */
#ifndef CC_SDK_INTERNAL_H
#define CC_SDK_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chaoscontrol.h"
#include "chaoscontrol_protocol.h"

#define CCSDK_HIDDEN __attribute__((visibility("hidden")))
/* Code on the coverage path must not itself be instrumented. */
#define CCSDK_NOINSTR __attribute__((no_sanitize_address, no_sanitize("undefined")))

/* Start-up (idempotent, thread-safe); returns the mode. */
CCSDK_HIDDEN int ccsdk_init(void);
/* True once ccsdk_init has finished. */
CCSDK_HIDDEN bool ccsdk_ready(void);
CCSDK_HIDDEN int ccsdk_current_mode(void);

/* What a call returns. data/cap: where to copy the reply payload. */
struct ccsdk_reply {
    int32_t status;
    uint64_t ret[2];
    void *data;
    size_t cap;
    size_t got;
};

/* One call to the VMM (payload of any length; chunked as needed). Returns
 * the VMM's status (0 or negative errno), -ENODEV in local mode. */
CCSDK_HIDDEN int ccsdk_call(uint32_t op, uint64_t a0, uint64_t a1, uint64_t a2,
                            const void *payload, size_t len, struct ccsdk_reply *reply);

/* Same with a payload made of two parts (e.g. name, NUL, details). */
CCSDK_HIDDEN int ccsdk_call2(uint32_t op, uint64_t a0, uint64_t a1, uint64_t a2,
                             const void *p1, size_t l1, const void *p2, size_t l2,
                             struct ccsdk_reply *reply);

/* ---- local mode (local.c) ---- */

/* A growable string for JSON; never fails visibly: on allocation failure
 * it stops growing and ok turns false. */
struct ccsdk_str {
    char *p;
    size_t len, cap;
    bool ok;
    char small[512];
};
CCSDK_HIDDEN void ccsdk_str_init(struct ccsdk_str *s);
CCSDK_HIDDEN void ccsdk_str_free(struct ccsdk_str *s);
CCSDK_HIDDEN void ccsdk_str_add(struct ccsdk_str *s, const char *p, size_t n);
CCSDK_HIDDEN void ccsdk_str_cstr(struct ccsdk_str *s, const char *p);
CCSDK_HIDDEN void ccsdk_str_fmt(struct ccsdk_str *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A JSON string literal (quoted, escaped); NULL gives "". */
CCSDK_HIDDEN void ccsdk_str_json(struct ccsdk_str *s, const char *text);
/* A JSON value from caller text: the text itself when it is valid JSON,
 * null for NULL or empty, else the text as a JSON string. */
CCSDK_HIDDEN void ccsdk_str_json_value(struct ccsdk_str *s, const char *text);
/* True when text (of length n) is exactly one valid JSON value. */
CCSDK_HIDDEN bool ccsdk_json_valid(const char *text, size_t n);

/* Open the local output (CHAOSCONTROL_SDK_OUTPUT) if set. */
CCSDK_HIDDEN void ccsdk_local_open(void);
/* Write one line (a newline is added) to the local output, if any. */
CCSDK_HIDDEN void ccsdk_local_line(const char *json, size_t len);
CCSDK_HIDDEN bool ccsdk_local_enabled(void);
/* Local-mode events. */
CCSDK_HIDDEN void ccsdk_local_sdk_info(const char *language);
CCSDK_HIDDEN void ccsdk_local_assert(const struct cc_catalog_entry *e, bool hit, bool cond,
                                     const char *details);
/* Randomness from getrandom (falls back to /dev/urandom, then a counter-
 * based generator, so it always returns). */
CCSDK_HIDDEN void ccsdk_local_random(void *buf, size_t len);

/* ---- coverage (coverage.c) ---- */

/* Switch the edge bitmap to the VMM's shared one (adding what was counted
 * locally so far), or keep the private one (map == NULL). */
CCSDK_HIDDEN void ccsdk_cov_attach(uint8_t *map);
CCSDK_HIDDEN void ccsdk_cov_edge(uint32_t loc);
/* Kernel coverage (KCOV) for the calling thread: set up lazily, folded into
 * the bitmap at SDK calls. */
CCSDK_HIDDEN void ccsdk_kcov_enable(bool on);
CCSDK_HIDDEN bool ccsdk_kcov_active(void);
CCSDK_HIDDEN void ccsdk_kcov_fold(void);
CCSDK_HIDDEN void ccsdk_kcov_forget(void);    /* after fork, in the child */


/* ---- misc ---- */
CCSDK_HIDDEN uint64_t ccsdk_entry_id(const struct cc_catalog_entry *e);
CCSDK_HIDDEN const char *ccsdk_kind_display(uint32_t kind);   /* "Always", ... */
CCSDK_HIDDEN const char *ccsdk_kind_type(uint32_t kind);      /* "always", ... */
CCSDK_HIDDEN bool ccsdk_kind_must_hit(uint32_t kind);

#endif
