/* The mailbox operations of the wire protocol (sdk/chaoscontrol_protocol.h):
 * one request per doorbell, read from guest memory, which is untrusted:
 * every length and offset is checked, and a malformed request only earns a
 * negative status. The vCPU is stopped while an exit is handled, so the
 * mailbox cannot change under us. Everything written into guest memory goes
 * through cc_vm_gpa_w so snapshot resets know the page is dirty. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chaoscontrol/platform.h"
#include "sdk_state.h"

#define MAX_STAGE       (16u << 20)     /* longest staged payload */

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
        long k = sdk_register(s, rec.id, rec.kind, rec.line, m, rec.message_len, f,
                                 rec.file_len, fn, rec.function_len, true, &added);
        slots[i] = k >= 0 ? s->cat.e[k].slot : 0;
        added_n += added;
        off += need;
    }
    memcpy(r->mb->data, slots, count * sizeof(uint32_t));
    r->mb->len = (uint32_t)(count * sizeof(uint32_t));
    sdk_log_event(s, CC_SDK_EV_CATALOG, r->pid, (int64_t)added_n, NULL, 0, NULL, 0);
    return 0;
}

static int op_assert(struct cc_sdk *s, struct req *r)
{
    uint64_t id = r->mb->arg[0];
    uint64_t flags = r->mb->arg[1];
    uint32_t kind = (uint32_t)(flags >> 8) & 0xff;
    long k = catalog_find(&s->cat, id);
    if (k < 0) {
        /* Never registered (its registration failed): keep it visible. */
        char msg[64];
        int n = snprintf(msg, sizeof(msg), "(unregistered assertion %016llx)",
                         (unsigned long long)id);
        bool added;
        k = sdk_register(s, id, kind, 0, msg, (size_t)n, "", 0, "", 0, false, &added);
        if (k < 0)
            return -EINVAL;
    }
    sdk_assert_eval(s, k, flags & CC_ASSERT_COND, flags & CC_ASSERT_COUNTED, r->pid,
                       (const char *)r->p, r->len);
    return 0;
}

static int op_random(struct cc_sdk *s, struct req *r)
{
    uint32_t kind = (uint32_t)r->mb->arg[0];
    uint64_t n = r->mb->arg[1];
    switch (kind) {
    case CC_RAND_U64:
        r->mb->ret[0] = sdk_random(s, CC_CHOICE_U64, 0, NULL);
        r->mb->len = 0;
        return 0;
    case CC_RAND_CHOICE:
        r->mb->ret[0] = sdk_random(s, CC_CHOICE_CHOICE, n, NULL);
        r->mb->len = 0;
        return 0;
    case CC_RAND_BYTES:
        if (n > CC_PROTO_MAILBOX_DATA)
            return -E2BIG;
        r->mb->ret[0] = sdk_random(s, CC_CHOICE_BYTES, n, r->mb->data);
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
    if (r->len)     /* an empty first piece: no buffer yet (fuzz_sdk_mailbox) */
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
        sdk_log_event(s, CC_SDK_EV_HELLO, r->pid, (int64_t)r->mb->arg[1],
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
        sdk_log_event(s, CC_SDK_EV_SETUP, r->pid, 0, NULL, 0, (const char *)r->p, r->len);
        if (s->opt.stop_on_setup)
            cc_vm_stop(s->vm, CC_STOP_SETUP_COMPLETE);
        return 0;
    case CC_OP_EVENT: {
        const uint8_t *nul = memchr(r->p, 0, r->len);
        size_t nl = nul ? (size_t)(nul - r->p) : r->len;
        size_t rest = nul ? r->len - nl - 1 : 0;
        sdk_log_event(s, CC_SDK_EV_EVENT, r->pid, 0, (const char *)r->p, nl,
                         nul ? (const char *)nul + 1 : NULL, rest);
        return 0;
    }
    case CC_OP_GUIDANCE:
        sdk_guidance(s, (const char *)r->p, r->len < 4096 ? r->len : 4096,
                        (int64_t)r->mb->arg[0], r->mb->arg[1] & 1, r->pid);
        return 0;
    case CC_OP_RANDOM:
        return op_random(s, r);
    case CC_OP_JSON:
        return sdk_json_event(s, (const char *)r->p, r->len, r->pid);
    }
    return -ENOSYS;
}

int sdk_mailbox(struct cc_sdk *s, uint32_t idx)
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

