/* The SDK's run state on the VMM side: the run log, the catalog and its
 * counts (guest state table plus host-side counts), assertion evaluations
 * that reach the VMM, guidance extremes, and random values with the choice
 * log, overrides and replay. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "chaoscontrol/dlog.h"
#include "chaoscontrol/platform.h"
#include "sdk_state.h"

#define MAX_EVENTS      (1u << 20)      /* run log cap; later events are dropped */

/* ---- the run log ---- */

void sdk_events_free(struct cc_sdk *s)
{
    for (size_t i = 0; i < s->nev; i++) {
        free((char *)s->ev[i].name);
        free((char *)s->ev[i].details);
    }
    free(s->ev);
    s->ev = NULL;
    s->nev = s->evcap = 0;
}

void sdk_guidance_free(struct cc_sdk *s)
{
    for (size_t i = 0; i < s->ngd; i++)
        free((char *)s->gd[i].message);
    free(s->gd);
    s->gd = NULL;
    s->ngd = s->gdcap = 0;
}

static char *dup_n(const char *p, size_t n)
{
    char *d = malloc(n + 1);
    if (!d)
        return NULL;
    if (n)
        memcpy(d, p, n);
    d[n] = 0;
    for (size_t i = 0; i < n; i++)
        if (!d[i])
            d[i] = '?';
    return d;
}

void sdk_log_event(struct cc_sdk *s, uint32_t kind, uint32_t pid, int64_t value,
                      const char *name, size_t name_len, const char *details,
                      size_t details_len)
{
    if (s->nev >= MAX_EVENTS)
        return;
    if (s->nev == s->evcap) {
        size_t cap = s->evcap ? s->evcap * 2 : 64;
        struct cc_sdk_event *e = realloc(s->ev, cap * sizeof(*e));
        if (!e)
            return;
        s->ev = e;
        s->evcap = cap;
    }
    struct cc_sdk_event *e = &s->ev[s->nev];
    *e = (struct cc_sdk_event){
        .seq = s->nev, .kind = kind, .pid = pid,
        .vtime = cc_vm_vtime_ns(s->vm), .exit = cc_vm_exit_count(s->vm), .value = value,
    };
    e->name = dup_n(name ? name : "", name ? name_len : 0);
    e->details = dup_n(details ? details : "", details ? details_len : 0);
    if (!e->name || !e->details) {
        free((char *)e->name);
        free((char *)e->details);
        return;
    }
    s->nev++;
    cc_vm_dlog_sdk(s->vm, kind, value, e->name);
    if (s->opt.hook)
        s->opt.hook(s->opt.hook_opaque, s->vm, e);
}

/* ---- catalog and counts ---- */

static struct cc_proto_slot *table_slot(struct cc_vm *vm, uint32_t slot, bool write)
{
    if (!slot || slot > CC_PROTO_SLOTS)
        return NULL;
    uint64_t gpa = CC_PROTO_TABLE_GPA + (uint64_t)(slot - 1) * CC_PROTO_SLOT_SIZE;
    return write ? cc_vm_gpa_w(vm, gpa, CC_PROTO_SLOT_SIZE)
                 : cc_vm_gpa(vm, gpa, CC_PROTO_SLOT_SIZE);
}

long sdk_register(struct cc_sdk *s, uint64_t id, uint32_t kind, uint32_t line,
                     const char *message, size_t message_len, const char *file,
                     size_t file_len, const char *function, size_t function_len,
                     bool want_slot, bool *added)
{
    if (kind < CC_ASSERT_ALWAYS || kind > CC_ASSERT_UNREACHABLE)
        return -1;
    long k = catalog_add(&s->cat, id, kind, line, message, message_len, file, file_len,
                            function, function_len, added);
    if (k < 0)
        return -1;
    struct cc_sdk_entry *e = &s->cat.e[k];
    if (want_slot && !e->slot && s->next_slot < CC_PROTO_SLOTS) {
        uint32_t slot = ++s->next_slot;
        struct cc_proto_slot *t = table_slot(s->vm, slot, true);
        if (t) {
            memset(t, 0, sizeof(*t));
            t->flags = CC_SLOT_USED;
            t->kind = kind;
            e->slot = slot;
        }
    }
    return k;
}

static void entry_counts(struct cc_sdk *s, const struct cc_sdk_entry *e, struct cc_assertion *a)
{
    *a = e->a;
    a->hits = e->host_hits;
    a->passes = e->host_passes;
    a->fails = e->host_fails;
    const struct cc_proto_slot *t = table_slot(s->vm, e->slot, false);
    if (t) {
        a->hits += t->hits;
        a->passes += t->passes;
        a->fails += t->fails;
    }
}

void sdk_sync(struct cc_sdk *s)
{
    if (s->cat.n > s->view_cap) {
        size_t cap = s->view_cap ? s->view_cap : 32;
        while (cap < s->cat.n)
            cap *= 2;
        struct cc_assertion *v = realloc(s->view, cap * sizeof(*v));
        if (!v)
            return;
        s->view = v;
        s->view_cap = cap;
    }
    for (size_t i = 0; i < s->cat.n; i++)
        entry_counts(s, &s->cat.e[i], &s->view[i]);
}

static bool kind_fails(uint32_t kind, bool cond)
{
    return ((kind == CC_ASSERT_ALWAYS || kind == CC_ASSERT_ALWAYS_OR_UNREACHABLE) && !cond) ||
           kind == CC_ASSERT_UNREACHABLE;
}

void sdk_assert_eval(struct cc_sdk *s, long idx, bool cond, bool counted, uint32_t pid,
                        const char *details, size_t details_len)
{
    struct cc_sdk_entry *e = &s->cat.e[idx];
    if (e->a.kind == CC_ASSERT_REACHABLE)
        cond = true;
    else if (e->a.kind == CC_ASSERT_UNREACHABLE)
        cond = false;
    if (!counted) {
        e->host_hits++;
        if (cond)
            e->host_passes++;
        else
            e->host_fails++;
    }
    if (!kind_fails(e->a.kind, cond))
        return;
    if (!s->failed) {
        s->failed = true;
        entry_counts(s, e, &s->failure.a);
        s->failure_details = dup_n(details ? details : "", details ? details_len : 0);
        s->failure.details = s->failure_details ? s->failure_details : "";
        s->failure.vtime = cc_vm_vtime_ns(s->vm);
        s->failure.exit = cc_vm_exit_count(s->vm);
    }
    sdk_log_event(s, CC_SDK_EV_FAILURE, pid, (int64_t)e->a.id, e->a.message,
                     strlen(e->a.message), details, details_len);
    if (s->opt.stop_on_failure)
        cc_vm_stop(s->vm, CC_STOP_ASSERTION);
}

void sdk_guidance(struct cc_sdk *s, const char *msg, size_t len, int64_t value,
                     bool maximize, uint32_t pid)
{
    struct cc_guidance *g = NULL;
    for (size_t i = 0; i < s->ngd; i++) {
        if (s->gd[i].maximize == maximize && strlen(s->gd[i].message) == len &&
            !memcmp(s->gd[i].message, msg, len)) {
            g = &s->gd[i];
            break;
        }
    }
    if (g) {
        if (maximize ? value <= g->best : value >= g->best)
            return;
        g->best = value;
        g->updates++;
    } else {
        if (s->ngd == s->gdcap) {
            size_t cap = s->gdcap ? s->gdcap * 2 : 16;
            struct cc_guidance *n = realloc(s->gd, cap * sizeof(*n));
            if (!n)
                return;
            s->gd = n;
            s->gdcap = cap;
        }
        char *m = dup_n(msg, len);
        if (!m)
            return;
        s->gd[s->ngd++] = (struct cc_guidance){.message = m, .maximize = maximize,
                                               .best = value, .updates = 1};
    }
    sdk_log_event(s, CC_SDK_EV_GUIDANCE, pid, value, msg, len, maximize ? "max" : "min", 3);
}

/* ---- randomness ---- */

static bool find_override(const struct cc_sdk *s, uint64_t index, uint64_t *value)
{
    size_t lo = 0, hi = s->nov;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->ov[mid].index == index) {
            *value = s->ov[mid].value;
            return true;
        }
        if (s->ov[mid].index < index)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

uint64_t sdk_random(struct cc_sdk *s, uint32_t kind, uint64_t n, uint8_t *bytes)
{
    uint64_t index = s->next_choice++;
    uint64_t v;
    /* The stream advances the same way whatever the script says, so values
     * after an overridden one are those of the unmodified run. */
    switch (kind) {
    case CC_CHOICE_CHOICE:
        v = n ? rng_below(&s->rng, n) : 0;
        break;
    default:                    /* u64; bytes: the seed of the chunk */
        v = rng_u64(&s->rng);
        break;
    }
    uint32_t source = CC_CHOICE_STREAM;
    uint64_t sv;
    if (find_override(s, index, &sv))
        source = CC_CHOICE_OVERRIDE;
    else if (index < s->nreplay) {
        sv = s->replay[index];
        source = CC_CHOICE_REPLAY;
    }
    if (source != CC_CHOICE_STREAM)
        v = kind == CC_CHOICE_CHOICE ? (n ? sv % n : 0) : sv;
    if (kind == CC_CHOICE_BYTES && bytes && n) {
        struct cc_rng r;
        rng_init(&r, v, "sdk-bytes");
        rng_bytes(&r, bytes, n);
    }
    if (s->nch == s->chcap) {
        size_t cap = s->chcap ? s->chcap * 2 : 256;
        struct cc_choice *c = realloc(s->ch, cap * sizeof(*c));
        if (c) {
            s->ch = c;
            s->chcap = cap;
        }
    }
    if (s->nch < s->chcap)
        s->ch[s->nch++] = (struct cc_choice){
            .index = index, .kind = kind, .source = source, .n = n, .value = v,
            .vtime = cc_vm_vtime_ns(s->vm),
        };
    return v;
}

