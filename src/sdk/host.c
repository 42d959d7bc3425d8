/* The VMM side of the guest SDK: the header page, the two doorbells (port
 * CC_PROTO_PORT and KVM_EXIT_HYPERCALL), the mailbox operations, and the
 * per-VM run state they feed (catalog, counts, failure, events, guidance,
 * choices). The layout and the call sequence are in
 * sdk/chaoscontrol_protocol.h.
 *
 * Guest memory is untrusted: every length and offset from a mailbox is
 * checked, and a malformed request only earns a negative status. The vCPU
 * is stopped while an exit is handled (one vCPU), so the mailbox cannot
 * change under us. Everything written into guest memory goes through
 * cc_vm_gpa_w so snapshot resets know the page is dirty. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "sdk_state.h"
#include "vmm/vm_internal.h"

#define MAX_STAGE       (16u << 20)     /* longest staged payload */
#define MAX_EVENTS      (1u << 20)      /* run log cap; later events are dropped */
#define KVM_ENOSYS_     1000            /* KVM's -KVM_ENOSYS for unknown hypercalls */

static struct cc_sdk *sdk_of(struct cc_vm *vm)
{
    return vm->sdk;
}

/* ---- attach / detach / header ---- */

void cc_sdk_write_header(struct cc_vm *vm)
{
    struct cc_sdk *s = sdk_of(vm);
    struct cc_proto_header *h = cc_vm_gpa_w(vm, CC_PROTO_HEADER_GPA,
                                            offsetof(struct cc_proto_header, mailbox_owner));
    if (!s || !h)
        return;
    /* Only the VMM's half: the owner words belong to the guest. */
    memset(h, 0, offsetof(struct cc_proto_header, mailbox_owner));
    h->magic = CC_PROTO_MAGIC;
    h->version = CC_PROTO_VERSION;
    h->flags = (s->hypercall_enabled ? CC_PROTO_F_HYPERCALL : 0) |
               (s->vmmcall ? CC_PROTO_F_VMMCALL : 0) |
               (s->opt.trigger == CC_SDK_TRIGGER_PORT ? CC_PROTO_F_FORCE_PORT : 0);
    h->header_size = sizeof(struct cc_proto_header);
    h->port = CC_PROTO_PORT;
    h->hypercall_nr = CC_PROTO_HYPERCALL_NR;
    h->mailbox_count = CC_PROTO_MAILBOXES;
    h->mailbox_gpa = CC_PROTO_MAILBOX_GPA;
    h->mailbox_size = CC_PROTO_MAILBOX_SIZE;
    h->coverage_gpa = CC_PROTO_COVERAGE_GPA;
    h->coverage_size = CC_PROTO_COVERAGE_SIZE;
    h->table_gpa = CC_PROTO_TABLE_GPA;
    h->table_slots = CC_PROTO_SLOTS;
    h->slot_size = CC_PROTO_SLOT_SIZE;
}

int cc_sdk_attach(struct cc_vm *vm, struct cc_err *err)
{
    struct cc_sdk *s = calloc(1, sizeof(*s));
    if (!s)
        return cc_err_set(err, ENOMEM, "out of memory for the SDK state");
    s->vm = vm;
    s->opt.stop_on_failure = true;
    cc_catalog_init(&s->cat);
    cc_rng_init(&s->rng, vm->cfg.seed, "sdk-random");
    vm->sdk = s;

    /* KVM passes KVM_HC_MAP_GPA_RANGE to us once the capability is on. */
    if (vm->kvm_fd >= 0 && vm->vm_fd >= 0) {
        int mask = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_EXIT_HYPERCALL);
        if (mask > 0 && (mask & (1 << CC_PROTO_HYPERCALL_NR))) {
            struct kvm_enable_cap cap = {
                .cap = KVM_CAP_EXIT_HYPERCALL,
                .args = {1ull << CC_PROTO_HYPERCALL_NR},
            };
            if (ioctl(vm->vm_fd, KVM_ENABLE_CAP, &cap) == 0)
                s->hypercall_enabled = true;
        }
    }
    s->vmmcall = cc_host_is_svm();   /* AMD/Hygon: VMMCALL, else VMCALL */
    s->stats.hypercall_enabled = s->hypercall_enabled;
    cc_sdk_write_header(vm);
    return 0;
}

static void events_free(struct cc_sdk *s)
{
    for (size_t i = 0; i < s->nev; i++) {
        free((char *)s->ev[i].name);
        free((char *)s->ev[i].details);
    }
    free(s->ev);
    s->ev = NULL;
    s->nev = s->evcap = 0;
}

static void guidance_free(struct cc_sdk *s)
{
    for (size_t i = 0; i < s->ngd; i++)
        free((char *)s->gd[i].message);
    free(s->gd);
    s->gd = NULL;
    s->ngd = s->gdcap = 0;
}

void cc_sdk_detach(struct cc_vm *vm)
{
    struct cc_sdk *s = sdk_of(vm);
    if (!s)
        return;
    cc_catalog_free(&s->cat);
    free(s->view);
    free(s->failure_details);
    events_free(s);
    guidance_free(s);
    free(s->ch);
    free(s->ov);
    free(s->replay);
    for (unsigned i = 0; i < CC_PROTO_MAILBOXES; i++)
        free(s->stage[i].p);
    free(s);
    vm->sdk = NULL;
}

/* ---- the run log ---- */

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

void cc_sdk_log_event(struct cc_sdk *s, uint32_t kind, uint32_t pid, int64_t value,
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
        .vtime = s->vm->vtime, .exit = s->vm->exits, .value = value,
    };
    e->name = dup_n(name ? name : "", name ? name_len : 0);
    e->details = dup_n(details ? details : "", details ? details_len : 0);
    if (!e->name || !e->details) {
        free((char *)e->name);
        free((char *)e->details);
        return;
    }
    s->nev++;
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

long cc_sdk_register(struct cc_sdk *s, uint64_t id, uint32_t kind, uint32_t line,
                     const char *message, size_t message_len, const char *file,
                     size_t file_len, const char *function, size_t function_len,
                     bool want_slot, bool *added)
{
    if (kind < CC_ASSERT_ALWAYS || kind > CC_ASSERT_UNREACHABLE)
        return -1;
    long k = cc_catalog_add(&s->cat, id, kind, line, message, message_len, file, file_len,
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

void cc_sdk_sync(struct cc_sdk *s)
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

static void request_stop(struct cc_vm *vm, enum cc_stop why)
{
    if (vm->pending_stop == CC_STOP_NONE)
        vm->pending_stop = why;
}

void cc_sdk_assert_eval(struct cc_sdk *s, long idx, bool cond, bool counted, uint32_t pid,
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
        s->failure.vtime = s->vm->vtime;
        s->failure.exit = s->vm->exits;
    }
    cc_sdk_log_event(s, CC_SDK_EV_FAILURE, pid, (int64_t)e->a.id, e->a.message,
                     strlen(e->a.message), details, details_len);
    if (s->opt.stop_on_failure)
        request_stop(s->vm, CC_STOP_ASSERTION);
}

void cc_sdk_guidance(struct cc_sdk *s, const char *msg, size_t len, int64_t value,
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
    cc_sdk_log_event(s, CC_SDK_EV_GUIDANCE, pid, value, msg, len, maximize ? "max" : "min", 3);
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

uint64_t cc_sdk_random(struct cc_sdk *s, uint32_t kind, uint64_t n, uint8_t *bytes)
{
    uint64_t index = s->next_choice++;
    uint64_t v;
    /* The stream advances the same way whatever the script says, so values
     * after an overridden one are those of the unmodified run. */
    switch (kind) {
    case CC_CHOICE_CHOICE:
        v = n ? cc_rng_below(&s->rng, n) : 0;
        break;
    default:                    /* u64; bytes: the seed of the chunk */
        v = cc_rng_u64(&s->rng);
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
        cc_rng_init(&r, v, "sdk-bytes");
        cc_rng_bytes(&r, bytes, n);
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
            .vtime = s->vm->vtime,
        };
    return v;
}

/* ---- mailbox operations ---- */

struct req {
    uint32_t idx;
    uint32_t pid;               /* the owning thread id, from the header */
    struct cc_proto_mailbox *mb;
    const uint8_t *p;           /* payload */
    size_t len;
};

static int op_catalog(struct cc_sdk *s, struct req *r)
{
    uint64_t count = r->mb->arg[0];
    uint32_t slots[CC_PROTO_MAILBOX_DATA / sizeof(uint32_t)];
    if (count > sizeof(slots) / sizeof(slots[0]))
        return -E2BIG;
    size_t off = 0, added_n = 0;
    for (uint64_t i = 0; i < count; i++) {
        struct cc_proto_catrec rec;
        if (r->len - off < sizeof(rec))
            return -EINVAL;
        memcpy(&rec, r->p + off, sizeof(rec));
        size_t need = sizeof(rec) + (size_t)rec.message_len + rec.file_len + rec.function_len;
        need = (need + 7) & ~(size_t)7;
        if (need > r->len - off)
            return -EINVAL;
        const char *m = (const char *)r->p + off + sizeof(rec);
        const char *f = m + rec.message_len;
        const char *fn = f + rec.file_len;
        bool added = false;
        long k = cc_sdk_register(s, rec.id, rec.kind, rec.line, m, rec.message_len, f,
                                 rec.file_len, fn, rec.function_len, true, &added);
        slots[i] = k >= 0 ? s->cat.e[k].slot : 0;
        added_n += added;
        off += need;
    }
    memcpy(r->mb->data, slots, count * sizeof(uint32_t));
    r->mb->len = (uint32_t)(count * sizeof(uint32_t));
    cc_sdk_log_event(s, CC_SDK_EV_CATALOG, r->pid, (int64_t)added_n, NULL, 0, NULL, 0);
    return 0;
}

static int op_assert(struct cc_sdk *s, struct req *r)
{
    uint64_t id = r->mb->arg[0];
    uint64_t flags = r->mb->arg[1];
    uint32_t kind = (uint32_t)(flags >> 8) & 0xff;
    long k = cc_catalog_find(&s->cat, id);
    if (k < 0) {
        /* Never registered (its registration failed): keep it visible. */
        char msg[64];
        int n = snprintf(msg, sizeof(msg), "(unregistered assertion %016llx)",
                         (unsigned long long)id);
        bool added;
        k = cc_sdk_register(s, id, kind, 0, msg, (size_t)n, "", 0, "", 0, false, &added);
        if (k < 0)
            return -EINVAL;
    }
    cc_sdk_assert_eval(s, k, flags & CC_ASSERT_COND, flags & CC_ASSERT_COUNTED, r->pid,
                       (const char *)r->p, r->len);
    return 0;
}

static int op_random(struct cc_sdk *s, struct req *r)
{
    uint32_t kind = (uint32_t)r->mb->arg[0];
    uint64_t n = r->mb->arg[1];
    switch (kind) {
    case CC_RAND_U64:
        r->mb->ret[0] = cc_sdk_random(s, CC_CHOICE_U64, 0, NULL);
        r->mb->len = 0;
        return 0;
    case CC_RAND_CHOICE:
        r->mb->ret[0] = cc_sdk_random(s, CC_CHOICE_CHOICE, n, NULL);
        r->mb->len = 0;
        return 0;
    case CC_RAND_BYTES:
        if (n > CC_PROTO_MAILBOX_DATA)
            return -E2BIG;
        r->mb->ret[0] = cc_sdk_random(s, CC_CHOICE_BYTES, n, r->mb->data);
        r->mb->len = (uint32_t)n;
        return 0;
    }
    return -EINVAL;
}

static int op_append(struct cc_sdk *s, struct req *r)
{
    struct cc_sdk_stage *st = &s->stage[r->idx];
    uint64_t off = r->mb->arg[0];
    if (off == 0)
        st->len = 0;
    if (off != st->len)
        return -EINVAL;
    if (st->len + r->len > MAX_STAGE)
        return -E2BIG;
    if (st->len + r->len > st->cap) {
        size_t cap = st->cap ? st->cap : 8192;
        while (cap < st->len + r->len)
            cap *= 2;
        uint8_t *p = realloc(st->p, cap);
        if (!p)
            return -ENOMEM;
        st->p = p;
        st->cap = cap;
    }
    memcpy(st->p + st->len, r->p, r->len);
    st->len += r->len;
    return 0;
}

static int dispatch(struct cc_sdk *s, struct req *r, uint32_t op)
{
    switch (op) {
    case CC_OP_PING:
        return 0;
    case CC_OP_HELLO: {
        r->pid = (uint32_t)r->mb->arg[0];
        size_t n = r->len < 256 ? r->len : 256;
        cc_sdk_log_event(s, CC_SDK_EV_HELLO, r->pid, (int64_t)r->mb->arg[1],
                         (const char *)r->p, n, NULL, 0);
        return 0;
    }
    case CC_OP_APPEND:
        return op_append(s, r);
    case CC_OP_CATALOG:
        return op_catalog(s, r);
    case CC_OP_ASSERT:
        return op_assert(s, r);
    case CC_OP_SETUP:
        cc_sdk_log_event(s, CC_SDK_EV_SETUP, r->pid, 0, NULL, 0, (const char *)r->p, r->len);
        if (s->opt.stop_on_setup)
            request_stop(s->vm, CC_STOP_SETUP_COMPLETE);
        return 0;
    case CC_OP_EVENT: {
        const uint8_t *nul = memchr(r->p, 0, r->len);
        size_t nl = nul ? (size_t)(nul - r->p) : r->len;
        size_t rest = nul ? r->len - nl - 1 : 0;
        cc_sdk_log_event(s, CC_SDK_EV_EVENT, r->pid, 0, (const char *)r->p, nl,
                         nul ? (const char *)nul + 1 : NULL, rest);
        return 0;
    }
    case CC_OP_GUIDANCE:
        cc_sdk_guidance(s, (const char *)r->p, r->len < 4096 ? r->len : 4096,
                        (int64_t)r->mb->arg[0], r->mb->arg[1] & 1, r->pid);
        return 0;
    case CC_OP_RANDOM:
        return op_random(s, r);
    case CC_OP_JSON:
        return cc_sdk_json_event(s, (const char *)r->p, r->len, r->pid);
    }
    return -ENOSYS;
}

static int handle_mailbox(struct cc_sdk *s, uint32_t idx)
{
    struct cc_vm *vm = s->vm;
    if (idx >= CC_PROTO_MAILBOXES) {
        s->stats.bad_calls++;
        return -EINVAL;
    }
    struct cc_proto_mailbox *mb = cc_vm_gpa_w(vm, CC_PROTO_MAILBOX_GPA +
                                              (uint64_t)idx * CC_PROTO_MAILBOX_SIZE,
                                              CC_PROTO_MAILBOX_SIZE);
    const struct cc_proto_header *h = cc_vm_gpa(vm, CC_PROTO_HEADER_GPA, sizeof(*h));
    if (!mb || !h) {
        s->stats.bad_calls++;
        return -EFAULT;
    }
    s->stats.calls++;
    struct req r = {.idx = idx, .pid = h->mailbox_owner[idx], .mb = mb};
    uint32_t op = mb->op, len = mb->len, flags = mb->flags;
    int st;
    uint8_t *joined = NULL;
    if (len > CC_PROTO_MAILBOX_DATA) {
        st = -EINVAL;
        goto out;
    }
    if ((flags & CC_MB_STAGED) && op != CC_OP_APPEND) {
        /* The payload is the staged bytes followed by this piece. */
        struct cc_sdk_stage *sg = &s->stage[idx];
        joined = malloc(sg->len + len + 1);
        if (!joined) {
            st = -ENOMEM;
            goto out;
        }
        if (sg->len)
            memcpy(joined, sg->p, sg->len);
        memcpy(joined + sg->len, mb->data, len);
        r.p = joined;
        r.len = sg->len + len;
        sg->len = 0;
    } else {
        r.p = mb->data;
        r.len = len;
    }
    /* Ops that reply with data write mb->data: they read their payload
     * first (catalog) or have none (random). */
    st = dispatch(s, &r, op);
out:
    free(joined);
    if (op != CC_OP_APPEND && !(flags & CC_MB_STAGED))
        s->stage[idx].len = 0;
    if (st < 0)
        s->stats.bad_calls++;
    mb->status = st;
    return st;
}

void cc_sdk_port_write(struct cc_vm *vm, uint32_t value)
{
    struct cc_sdk *s = sdk_of(vm);
    if (!s)
        return;
    s->stats.port_calls++;
    handle_mailbox(s, value);
}

uint64_t cc_sdk_hypercall(struct cc_vm *vm, uint64_t nr, uint64_t gpa, uint64_t npages,
                          uint64_t attrs)
{
    struct cc_sdk *s = sdk_of(vm);
    (void)attrs;
    if (!s || nr != CC_PROTO_HYPERCALL_NR || npages != 1 || gpa < CC_PROTO_MAILBOX_GPA ||
        (gpa - CC_PROTO_MAILBOX_GPA) % CC_PROTO_MAILBOX_SIZE ||
        (gpa - CC_PROTO_MAILBOX_GPA) / CC_PROTO_MAILBOX_SIZE >= CC_PROTO_MAILBOXES)
        return (uint64_t)-(int64_t)KVM_ENOSYS_;
    s->stats.hypercall_calls++;
    int st = handle_mailbox(s, (uint32_t)((gpa - CC_PROTO_MAILBOX_GPA) / CC_PROTO_MAILBOX_SIZE));
    return (uint64_t)(int64_t)st;
}

/* ---- public accessors ---- */

const struct cc_assertion *cc_vm_assertions(struct cc_vm *vm, size_t *n)
{
    struct cc_sdk *s = sdk_of(vm);
    *n = 0;
    if (!s)
        return NULL;
    cc_sdk_sync(s);
    *n = s->view || !s->cat.n ? s->cat.n : 0;
    return s->view;
}

const struct cc_sdk_failure *cc_vm_sdk_failure(struct cc_vm *vm)
{
    struct cc_sdk *s = sdk_of(vm);
    return s && s->failed ? &s->failure : NULL;
}

const struct cc_sdk_event *cc_vm_sdk_events(struct cc_vm *vm, size_t *n)
{
    struct cc_sdk *s = sdk_of(vm);
    *n = s ? s->nev : 0;
    return s ? s->ev : NULL;
}

const struct cc_guidance *cc_vm_guidance(struct cc_vm *vm, size_t *n)
{
    struct cc_sdk *s = sdk_of(vm);
    *n = s ? s->ngd : 0;
    return s ? s->gd : NULL;
}

const struct cc_choice *cc_vm_choices(struct cc_vm *vm, size_t *n)
{
    struct cc_sdk *s = sdk_of(vm);
    *n = s ? s->nch : 0;
    return s ? s->ch : NULL;
}

struct ov_pos {
    uint64_t index, value;
    size_t pos;
};

static int ov_cmp(const void *a, const void *b)
{
    const struct ov_pos *x = a, *y = b;
    if (x->index != y->index)
        return x->index < y->index ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

int cc_vm_sdk_set_script(struct cc_vm *vm, const struct cc_choice_script *sc, struct cc_err *err)
{
    struct cc_sdk *s = sdk_of(vm);
    if (!s)
        return cc_err_set(err, EINVAL, "this VM has no SDK state");
    struct cc_choice_override *ov = NULL;
    uint64_t *rp = NULL;
    size_t nov = 0, nrp = 0;
    if (sc && sc->n_overrides) {
        /* Sorted by index; when an index repeats, the last one given wins. */
        struct ov_pos *t = malloc(sc->n_overrides * sizeof(*t));
        ov = malloc(sc->n_overrides * sizeof(*ov));
        if (!t || !ov) {
            free(t);
            free(ov);
            return cc_err_set(err, ENOMEM, "out of memory for the choice script");
        }
        for (size_t i = 0; i < sc->n_overrides; i++)
            t[i] = (struct ov_pos){sc->overrides[i].index, sc->overrides[i].value, i};
        qsort(t, sc->n_overrides, sizeof(*t), ov_cmp);
        for (size_t i = 0; i < sc->n_overrides; i++) {
            if (nov && ov[nov - 1].index == t[i].index)
                ov[nov - 1].value = t[i].value;
            else
                ov[nov++] = (struct cc_choice_override){t[i].index, t[i].value};
        }
        free(t);
    }
    if (sc && sc->n_replay) {
        rp = malloc(sc->n_replay * sizeof(*rp));
        if (!rp) {
            free(ov);
            return cc_err_set(err, ENOMEM, "out of memory for the choice script");
        }
        memcpy(rp, sc->replay, sc->n_replay * sizeof(*rp));
        nrp = sc->n_replay;
    }
    free(s->ov);
    free(s->replay);
    s->ov = ov;
    s->nov = nov;
    s->replay = rp;
    s->nreplay = nrp;
    return 0;
}

void cc_vm_sdk_get_options(struct cc_vm *vm, struct cc_sdk_options *o)
{
    struct cc_sdk *s = sdk_of(vm);
    if (s)
        *o = s->opt;
    else
        memset(o, 0, sizeof(*o));
}

void cc_vm_sdk_set_options(struct cc_vm *vm, const struct cc_sdk_options *o)
{
    struct cc_sdk *s = sdk_of(vm);
    if (!s)
        return;
    s->opt = *o;
    cc_sdk_write_header(vm);
}

void cc_vm_sdk_stats(struct cc_vm *vm, struct cc_sdk_stats *st)
{
    struct cc_sdk *s = sdk_of(vm);
    if (s)
        *st = s->stats;
    else
        memset(st, 0, sizeof(*st));
}

void cc_vm_sdk_reseed(struct cc_vm *vm, uint64_t seed)
{
    struct cc_sdk *s = sdk_of(vm);
    if (s)
        cc_rng_init(&s->rng, seed, "sdk-random");
}

const char *cc_sdk_event_kind_name(uint32_t kind)
{
    switch (kind) {
    case CC_SDK_EV_HELLO: return "hello";
    case CC_SDK_EV_CATALOG: return "catalog";
    case CC_SDK_EV_SETUP: return "setup_complete";
    case CC_SDK_EV_EVENT: return "event";
    case CC_SDK_EV_FAILURE: return "assertion_failed";
    case CC_SDK_EV_GUIDANCE: return "guidance";
    case CC_SDK_EV_SDK_INFO: return "sdk_info";
    }
    return "?";
}

const char *cc_choice_kind_name(uint32_t kind)
{
    switch (kind) {
    case CC_CHOICE_U64: return "u64";
    case CC_CHOICE_CHOICE: return "choice";
    case CC_CHOICE_BYTES: return "bytes";
    }
    return "?";
}
