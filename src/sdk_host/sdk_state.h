/* The host side of the guest SDK: per-VM state (struct cc_sdk) shared by the
 * files of src/sdk_host/. Not part of the public API (that is
 * include/chaoscontrol/sdk_host.h). The SDK host is a VM extension
 * (ext.c); it uses only the VMM's public API. */
#ifndef CC_SDK_STATE_H
#define CC_SDK_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chaoscontrol/sdk_host.h"
#include "chaoscontrol/vm.h"
#include "chaoscontrol/vm_ext.h"
#include "chaoscontrol_protocol.h"
#include "util/buf.h"
#include "util/rng.h"

struct cc_vm;

/* A catalog entry: the public view (strings owned here) plus where its
 * counts live. */
struct cc_sdk_entry {
    struct cc_assertion a;      /* a.hits etc. unused here: see below */
    uint32_t slot;              /* state table slot + 1; 0 = counted by the host */
    uint64_t host_hits, host_passes, host_fails;
};

/* The catalog: entries in registration order and an id -> index map. The
 * oracle uses the same structure. */
struct cc_catalog {
    struct cc_sdk_entry *e;
    size_t n, cap;
    uint32_t *map;              /* open addressing: index + 1, 0 = empty */
    size_t map_cap;             /* power of two */
};

void catalog_init(struct cc_catalog *c);
void catalog_free(struct cc_catalog *c);
/* Index of id, or -1. */
long catalog_find(const struct cc_catalog *c, uint64_t id);
/* Add (copying the strings) unless present; returns the index or -1 (out of
 * memory). *added tells which. */
long catalog_add(struct cc_catalog *c, uint64_t id, uint32_t kind, uint32_t line,
                    const char *message, size_t message_len, const char *file, size_t file_len,
                    const char *function, size_t function_len, bool *added);

struct cc_sdk_stage {
    uint8_t *p;
    size_t len, cap;
};

struct cc_sdk {
    struct cc_vm *vm;
    struct cc_sdk_options opt;
    bool hypercall_enabled;     /* KVM_CAP_EXIT_HYPERCALL on */
    bool vmmcall;               /* AMD host */

    struct cc_catalog cat;
    uint32_t next_slot;         /* slots handed out so far */
    struct cc_assertion *view;  /* cc_vm_assertions' array */
    size_t view_cap;

    bool failed;
    struct cc_sdk_failure failure;
    char *failure_details;

    struct cc_sdk_event *ev;
    size_t nev, evcap;

    struct cc_guidance *gd;
    size_t ngd, gdcap;

    struct cc_rng rng;          /* (seed, "sdk-random") */
    uint64_t next_choice;
    struct cc_choice *ch;
    size_t nch, chcap;
    struct cc_choice_override *ov;  /* sorted by index */
    size_t nov;
    uint64_t *replay;
    size_t nreplay;

    struct cc_sdk_stage stage[CC_PROTO_MAILBOXES];
    struct cc_sdk_stats stats;
};

/* The VM's SDK state, or NULL when the VM was made without the SDK. */
static inline struct cc_sdk *sdk_of(struct cc_vm *vm)
{
    return cc_vm_ext(vm, &cc_sdk_ext_ops);
}

/* ext.c: (re)write the header page: after attach and option changes. */
void sdk_write_header(struct cc_sdk *s);
/* mailbox.c: handle a doorbell for mailbox idx; returns its status. */
int sdk_mailbox(struct cc_sdk *s, uint32_t idx);
/* save.c: the extension's snapshot section. */
int sdk_save(void *state, uint8_t **data, size_t *len, struct cc_err *err);
int sdk_load(void *state, const uint8_t *data, size_t len, struct cc_err *err);

/* run_state.c */
void sdk_events_free(struct cc_sdk *s);
void sdk_guidance_free(struct cc_sdk *s);
void sdk_log_event(struct cc_sdk *s, uint32_t kind, uint32_t pid, int64_t value,
                      const char *name, size_t name_len, const char *details,
                      size_t details_len);
/* An evaluation that reached the VMM (uncounted entries, failures). */
void sdk_assert_eval(struct cc_sdk *s, long idx, bool cond, bool counted, uint32_t pid,
                        const char *details, size_t details_len);
void sdk_guidance(struct cc_sdk *s, const char *msg, size_t len, int64_t value,
                     bool maximize, uint32_t pid);
/* Register one entry; returns its catalog index or -1. */
long sdk_register(struct cc_sdk *s, uint64_t id, uint32_t kind, uint32_t line,
                     const char *message, size_t message_len, const char *file,
                     size_t file_len, const char *function, size_t function_len,
                     bool want_slot, bool *added);
/* Handle a CC_OP_JSON payload (json.c). Returns 0 or -errno. */
int sdk_json_event(struct cc_sdk *s, const char *text, size_t len, uint32_t pid);
/* One random value (u64 / choice / bytes chunk); fills bytes for BYTES. */
uint64_t sdk_random(struct cc_sdk *s, uint32_t kind, uint64_t n, uint8_t *bytes);
/* Refresh s->view from the catalog and the guest's state table. */
void sdk_sync(struct cc_sdk *s);

#endif
