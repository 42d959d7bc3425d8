/* libchaoscontrol: the VMM side of the guest SDK (sdk/chaoscontrol.h).
 *
 * Every VM carries the SDK state of its run: the assertion catalog the
 * guest registered, per-assertion hit/pass/fail counts, the first failure,
 * lifecycle events, guidance extremes, every random value handed to the
 * guest (the choice log) and the coverage bitmap (which lives in guest RAM,
 * so memory snapshots carry it). A struct cc_oracle aggregates assertions
 * over many runs into verdicts.
 *
 *   struct cc_vm *vm;  ... cc_vm_create, cc_vm_load_linux ...
 *   cc_vm_run(vm, NULL, &res, &err);
 *   if (res.stop == CC_STOP_ASSERTION) {
 *       const struct cc_sdk_failure *f = cc_vm_sdk_failure(vm);
 *       printf("%s at %s:%u\n", f->message, f->file, f->line);
 *   }
 *   size_t n;
 *   const struct cc_assertion *a = cc_vm_assertions(vm, &n);
 *   for (size_t i = 0; i < n; i++)
 *       printf("%s %s: %s\n", cc_kind_name(a[i].kind), a[i].message,
 *              cc_verdict_name(cc_assertion_verdict(&a[i])));
 *
 * Replaying choices: cc_vm_sdk_set_script() before (or during) a run makes
 * random call number i return a given value; every other value still comes
 * from the seeded stream, and the stream advances the same either way, so
 * overriding one choice leaves later ones as they were.
 *
 * The SDK host is a VM extension (chaoscontrol/vm_ext.h: cc_sdk_ext_ops,
 * in cc_vm_default_exts), so every VM has it unless its configuration
 * names other extensions; all of this state travels in snapshots as the
 * extension's section. Nothing here is global; every function takes the VM
 * (and does nothing, or returns nothing, for a VM without the SDK). */
#ifndef CHAOSCONTROL_SDK_HOST_H
#define CHAOSCONTROL_SDK_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chaoscontrol/err.h"

struct cc_vm;
struct cc_vm_ext_ops;

/* The SDK host as a VM extension. */
extern const struct cc_vm_ext_ops cc_sdk_ext_ops;

/* Assertion kinds: the same numbers as CC_KIND_* in the wire protocol. */
enum cc_assert_kind {
    CC_ASSERT_ALWAYS = 1,
    CC_ASSERT_ALWAYS_OR_UNREACHABLE = 2,
    CC_ASSERT_SOMETIMES = 3,
    CC_ASSERT_REACHABLE = 4,
    CC_ASSERT_UNREACHABLE = 5,
};

/* "ALWAYS", "ALWAYS_OR_UNREACHABLE", "SOMETIMES", "REACHABLE", "UNREACHABLE" */
const char *cc_kind_name(uint32_t kind);

enum cc_verdict {
    CC_VERDICT_UNEXERCISED = 0,     /* never reached */
    CC_VERDICT_PASSED,
    CC_VERDICT_FAILED,
};
const char *cc_verdict_name(enum cc_verdict v);   /* "unexercised", "passed", "failed" */

/* One catalog entry and its counts (in one run, or summed over runs). */
struct cc_assertion {
    uint64_t id;                /* FNV-1a of "file:line:message" */
    uint32_t kind;              /* enum cc_assert_kind */
    uint32_t line;
    const char *message;
    const char *file;
    const char *function;
    uint64_t hits;              /* times reached */
    uint64_t passes;            /* times the condition held */
    uint64_t fails;             /* times it did not (UNREACHABLE: every hit) */
};

/* Verdict from counts (SDK.md): ALWAYS fails on any false, passes when
 * reached; ALWAYS_OR_UNREACHABLE fails on any false, passes otherwise,
 * also when never reached; SOMETIMES passes when true at least once and
 * fails when reached but never true; REACHABLE passes when reached;
 * UNREACHABLE fails when reached. Otherwise: unexercised. */
enum cc_verdict cc_assertion_verdict(const struct cc_assertion *a);

/* True when this entry, with these counts, is a failure that stops a run
 * (ALWAYS/ALWAYS_OR_UNREACHABLE false, UNREACHABLE reached). */
bool cc_assertion_failed(const struct cc_assertion *a);

/* The VM's catalog with counts as of now (the guest's state table is read
 * at this call). Entries are in registration order; the array stays valid
 * until the next SDK call on this VM. */
const struct cc_assertion *cc_vm_assertions(struct cc_vm *vm, size_t *n);

/* The first failed assertion of this run, or NULL. */
struct cc_sdk_failure {
    struct cc_assertion a;      /* counts as of the failure */
    const char *details;        /* JSON text the guest passed, or "" */
    uint64_t vtime;             /* virtual ns */
    uint64_t exit;              /* exit number */
};
const struct cc_sdk_failure *cc_vm_sdk_failure(struct cc_vm *vm);

/* Run log: lifecycle and SDK events in order. */
enum cc_sdk_event_kind {
    CC_SDK_EV_HELLO = 1,        /* a guest process connected; name = program */
    CC_SDK_EV_CATALOG,          /* entries registered; value = how many new */
    CC_SDK_EV_SETUP,            /* setup_complete; details */
    CC_SDK_EV_EVENT,            /* send_event: name, details */
    CC_SDK_EV_FAILURE,          /* an assertion failed; name = message */
    CC_SDK_EV_GUIDANCE,         /* a new extreme; name = message, value */
    CC_SDK_EV_SDK_INFO,         /* antithesis_sdk (shim); details */
};
const char *cc_sdk_event_kind_name(uint32_t kind);

struct cc_sdk_event {
    uint64_t seq;               /* 0, 1, ... in this run */
    uint32_t kind;              /* enum cc_sdk_event_kind */
    uint32_t pid;               /* guest process (from its hello), 0 if unknown */
    uint64_t vtime, exit;
    int64_t value;
    const char *name;           /* "" when none */
    const char *details;        /* JSON text or "" */
};
const struct cc_sdk_event *cc_vm_sdk_events(struct cc_vm *vm, size_t *n);

/* Guidance: the best value seen per (message, direction). */
struct cc_guidance {
    const char *message;
    bool maximize;
    int64_t best;
    uint64_t updates;           /* times a new extreme arrived */
};
const struct cc_guidance *cc_vm_guidance(struct cc_vm *vm, size_t *n);

/* ---- random values and the choice log ---- */

enum cc_choice_kind {
    CC_CHOICE_U64 = 1,          /* cc_random_u64, fuzz_get_random */
    CC_CHOICE_CHOICE = 2,       /* cc_random_choice(n) */
    CC_CHOICE_BYTES = 3,        /* cc_random_bytes: one record per chunk */
};
enum cc_choice_source {
    CC_CHOICE_STREAM = 0,       /* from the seeded stream */
    CC_CHOICE_REPLAY = 1,       /* from the script's replay list */
    CC_CHOICE_OVERRIDE = 2,     /* from the script's overrides */
};
const char *cc_choice_kind_name(uint32_t kind);

struct cc_choice {
    uint64_t index;             /* 0, 1, ... over the whole run */
    uint32_t kind;              /* enum cc_choice_kind */
    uint32_t source;            /* enum cc_choice_source */
    uint64_t n;                 /* choice: the range; bytes: the length; u64: 0 */
    uint64_t value;             /* u64/choice: the value; bytes: see below */
    uint64_t vtime;
};
/* For CC_CHOICE_BYTES, value is what determines the bytes: from the stream
 * it is the first 8 bytes (little-endian, zero-padded); a replayed or
 * overridden value v fills the chunk with the stream of cc_rng(v, "sdk-bytes"). */
const struct cc_choice *cc_vm_choices(struct cc_vm *vm, size_t *n);

/* A choice script: value overrides by index, and/or a replay list whose
 * value i is used for choice i (i < n_replay). Overrides win over the
 * replay list. Choice values are reduced modulo n when out of range. */
struct cc_choice_override {
    uint64_t index;
    uint64_t value;
};
struct cc_choice_script {
    const struct cc_choice_override *overrides;
    size_t n_overrides;
    const uint64_t *replay;
    size_t n_replay;
};
/* Copies the script into the VM (NULL clears it). */
int cc_vm_sdk_set_script(struct cc_vm *vm, const struct cc_choice_script *s, struct cc_err *err);

/* ---- options and hooks ---- */

enum cc_sdk_trigger {
    CC_SDK_TRIGGER_AUTO = 0,    /* hypercall when the host has it, else port I/O */
    CC_SDK_TRIGGER_PORT = 1,    /* ask guests to use the port doorbell */
};

struct cc_sdk_options {
    bool stop_on_failure;       /* default true: CC_STOP_ASSERTION */
    bool stop_on_setup;         /* default false: CC_STOP_SETUP_COMPLETE */
    int trigger;                /* enum cc_sdk_trigger */
    /* Called for every event as it is logged (NULL = none). The hook may
     * call cc_vm_request_stop. */
    void (*hook)(void *opaque, struct cc_vm *vm, const struct cc_sdk_event *ev);
    void *hook_opaque;
};
void cc_vm_sdk_get_options(struct cc_vm *vm, struct cc_sdk_options *o);
void cc_vm_sdk_set_options(struct cc_vm *vm, const struct cc_sdk_options *o);

/* Counters of the transport (for measurements and tests). */
struct cc_sdk_stats {
    uint64_t calls;             /* doorbells handled */
    uint64_t port_calls;
    uint64_t hypercall_calls;
    uint64_t bad_calls;         /* malformed requests (status < 0) */
    bool hypercall_enabled;     /* KVM_CAP_EXIT_HYPERCALL is on for this VM */
};
void cc_vm_sdk_stats(struct cc_vm *vm, struct cc_sdk_stats *s);

/* Restart the SDK's random stream from (seed, "sdk-random"), e.g. so that
 * forks of one snapshot draw different values. */
void cc_vm_sdk_reseed(struct cc_vm *vm, uint64_t seed);

/* ---- coverage ---- */

#define CC_COVERAGE_SIZE 65536u

/* The guest's edge bitmap (hit counts), live in guest RAM: read-only view. */
const uint8_t *cc_vm_coverage(struct cc_vm *vm);
/* Zero the bitmap (e.g. before a measured stretch). */
void cc_vm_coverage_clear(struct cc_vm *vm);
/* AFL hit-count buckets: 0, 1, 2, 3, 4-7, 8-15, 16-31, 32-127, 128-255 map
 * to 0, 1, 2, 4, 8, 16, 32, 64, 128. out may equal in. */
void cc_coverage_buckets(const uint8_t *in, uint8_t *out, size_t n);
/* Non-zero entries. */
size_t cc_coverage_count(const uint8_t *map, size_t n);
/* 64-bit hash of a map. */
uint64_t cc_coverage_hash(const uint8_t *map, size_t n);
/* Fold bucketed counts into an accumulated map (bitwise OR). Returns 2 if
 * an edge appeared that acc had never seen, 1 if only a new bucket of a
 * known edge, 0 if nothing new. */
int cc_coverage_merge(uint8_t *acc, const uint8_t *buckets, size_t n);

/* ---- reports ---- */

/* The run's SDK state as one JSON object (malloc'd text, NULL when out of
 * memory): assertions with verdicts, failure, events, guidance, choices,
 * coverage summary. */
char *cc_vm_sdk_json(struct cc_vm *vm);

/* Parse a choice script from JSON: either the object cc_vm_sdk_json
 * writes (its "choices" are replayed) or {"replay": [v, ...],
 * "overrides": [{"index": i, "value": v}, ...]}. Fills *s with malloc'd
 * arrays; free them with cc_choice_script_free. */
int cc_choice_script_from_json(const char *text, struct cc_choice_script *s, struct cc_err *err);
void cc_choice_script_free(struct cc_choice_script *s);

/* ---- verdicts across runs ---- */

struct cc_oracle;

struct cc_oracle_entry {
    struct cc_assertion a;      /* counts summed over runs */
    uint64_t runs_hit;          /* runs in which it was reached */
    uint64_t runs_failed;       /* runs in which it failed */
};

struct cc_oracle *cc_oracle_new(void);
void cc_oracle_free(struct cc_oracle *o);
/* Add one run: every catalog entry (reached or not) and its counts. */
int cc_oracle_add(struct cc_oracle *o, const struct cc_assertion *a, size_t n, struct cc_err *err);
int cc_oracle_add_vm(struct cc_oracle *o, struct cc_vm *vm, struct cc_err *err);
uint64_t cc_oracle_runs(const struct cc_oracle *o);
const struct cc_oracle_entry *cc_oracle_entries(const struct cc_oracle *o, size_t *n);
enum cc_verdict cc_oracle_verdict(const struct cc_oracle_entry *e);

#endif
