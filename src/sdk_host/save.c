/* Saving and restoring the VMM's SDK state of a VM (for snapshots): the
 * catalog with its slots and host-side counts, the first failure, the run
 * log, guidance, the random stream position, the choice log and script,
 * staged payloads and the transport counters. The guest's half (state
 * table, coverage bitmap, mailboxes) is guest RAM and travels with it.
 * Options and hooks are the caller's configuration and are not saved.
 *
 * Record: magic "CCSDKST1", u32 version, then the fields in a fixed order,
 * little-endian (util/buf.h). A newer version is refused with a message. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sdk_state.h"

#define SAVE_MAGIC   0x3154534b44534343ull     /* "CCSDKST1" */
#define SAVE_VERSION 1u

/* The record's parts, in order; load_from reads them back the same way. */

static void save_catalog(const struct cc_sdk *s, struct cc_buf *out)
{
    buf_put_u64(out, s->cat.n);
    for (size_t i = 0; i < s->cat.n; i++) {
        const struct cc_sdk_entry *e = &s->cat.e[i];
        buf_put_u64(out, e->a.id);
        buf_put_u32(out, e->a.kind);
        buf_put_u32(out, e->a.line);
        buf_put_str(out, e->a.message);
        buf_put_str(out, e->a.file);
        buf_put_str(out, e->a.function);
        buf_put_u32(out, e->slot);
        buf_put_u64(out, e->host_hits);
        buf_put_u64(out, e->host_passes);
        buf_put_u64(out, e->host_fails);
    }
    buf_put_u32(out, s->next_slot);
}

static void save_failure(const struct cc_sdk *s, struct cc_buf *out)
{
    buf_put_bool(out, s->failed);
    if (!s->failed)
        return;
    const struct cc_sdk_failure *f = &s->failure;
    buf_put_u64(out, f->a.id);
    buf_put_u64(out, f->a.hits);
    buf_put_u64(out, f->a.passes);
    buf_put_u64(out, f->a.fails);
    buf_put_str(out, f->details);
    buf_put_u64(out, f->vtime);
    buf_put_u64(out, f->exit);
}

static void save_events_and_guidance(const struct cc_sdk *s, struct cc_buf *out)
{
    buf_put_u64(out, s->nev);
    for (size_t i = 0; i < s->nev; i++) {
        const struct cc_sdk_event *e = &s->ev[i];
        buf_put_u64(out, e->seq);
        buf_put_u32(out, e->kind);
        buf_put_u32(out, e->pid);
        buf_put_u64(out, e->vtime);
        buf_put_u64(out, e->exit);
        buf_put_u64(out, (uint64_t)e->value);
        buf_put_str(out, e->name);
        buf_put_str(out, e->details);
    }
    buf_put_u64(out, s->ngd);
    for (size_t i = 0; i < s->ngd; i++) {
        buf_put_str(out, s->gd[i].message);
        buf_put_bool(out, s->gd[i].maximize);
        buf_put_u64(out, (uint64_t)s->gd[i].best);
        buf_put_u64(out, s->gd[i].updates);
    }
}

/* The random stream, the choice log and the choice script. */
static void save_choices(const struct cc_sdk *s, struct cc_buf *out)
{
    rng_save(&s->rng, out);
    buf_put_u64(out, s->next_choice);
    buf_put_u64(out, s->nch);
    for (size_t i = 0; i < s->nch; i++) {
        const struct cc_choice *c = &s->ch[i];
        buf_put_u64(out, c->index);
        buf_put_u32(out, c->kind);
        buf_put_u32(out, c->source);
        buf_put_u64(out, c->n);
        buf_put_u64(out, c->value);
        buf_put_u64(out, c->vtime);
    }
    buf_put_u64(out, s->nov);
    for (size_t i = 0; i < s->nov; i++) {
        buf_put_u64(out, s->ov[i].index);
        buf_put_u64(out, s->ov[i].value);
    }
    buf_put_u64(out, s->nreplay);
    for (size_t i = 0; i < s->nreplay; i++)
        buf_put_u64(out, s->replay[i]);
}

static void save_to(const struct cc_sdk *s, struct cc_buf *out)
{
    buf_put_u64(out, SAVE_MAGIC);
    buf_put_u32(out, SAVE_VERSION);
    save_catalog(s, out);
    save_failure(s, out);
    save_events_and_guidance(s, out);
    save_choices(s, out);
    for (unsigned i = 0; i < CC_PROTO_MAILBOXES; i++) {
        buf_put_u32(out, (uint32_t)s->stage[i].len);
        buf_put(out, s->stage[i].p, s->stage[i].len);
    }
    buf_put_u64(out, s->stats.calls);
    buf_put_u64(out, s->stats.port_calls);
    buf_put_u64(out, s->stats.hypercall_calls);
    buf_put_u64(out, s->stats.bad_calls);
}

/* ---- load ---- */

struct ld {
    struct cc_rd *in;
    bool bad;
};

static char *get_str(struct ld *l)
{
    uint32_t n = rd_u32(l->in);
    if (!rd_ok(l->in) || n > rd_left(l->in)) {
        l->bad = true;
        return NULL;
    }
    char *p = malloc((size_t)n + 1);
    if (!p) {
        l->bad = true;
        return NULL;
    }
    rd_get(l->in, p, n);
    p[n] = 0;
    return p;
}

/* A count of records of at least min_size bytes each that can still be in
 * the input. */
static bool count_ok(struct ld *l, uint64_t n, size_t min_size)
{
    if (!rd_ok(l->in) || n > rd_left(l->in) / min_size)
        l->bad = true;
    return !l->bad;
}

static void sdk_parts_free(struct cc_sdk *s)
{
    catalog_free(&s->cat);
    free(s->view);
    free(s->failure_details);
    for (size_t i = 0; i < s->nev; i++) {
        free((char *)s->ev[i].name);
        free((char *)s->ev[i].details);
    }
    free(s->ev);
    for (size_t i = 0; i < s->ngd; i++)
        free((char *)s->gd[i].message);
    free(s->gd);
    free(s->ch);
    free(s->ov);
    free(s->replay);
    for (unsigned i = 0; i < CC_PROTO_MAILBOXES; i++)
        free(s->stage[i].p);
}

int sdk_save(void *state, uint8_t **data, size_t *len, struct cc_err *err)
{
    struct cc_buf b;
    buf_init(&b);
    save_to(state, &b);
    if (!buf_ok(&b)) {
        buf_free(&b);
        return cc_err_set(err, ENOMEM, "out of memory saving the SDK state");
    }
    *data = b.data;
    *len = b.len;
    return 0;
}

static int load_from(struct cc_sdk *s, struct cc_rd *in, struct cc_err *err);

int sdk_load(void *state, const uint8_t *data, size_t len, struct cc_err *err)
{
    struct cc_rd in;
    rd_init(&in, data, len);
    int rc = load_from(state, &in, err);
    if (rc == 0 && rd_left(&in))
        rc = cc_err_set(err, EINVAL, "SDK state record: %zu unexpected trailing bytes",
                        rd_left(&in));
    return rc;
}

/* Each part of the record below reads into t and returns 0, -EINVAL when
 * the record is truncated or corrupt, or -ENOMEM. What it allocated stays
 * in t for sdk_parts_free. */

/* The catalog of n entries with their slots and host-side counts. */
static int load_catalog(struct ld *l, struct cc_sdk *t, uint64_t n)
{
    struct cc_rd *in = l->in;
    if (!count_ok(l, n, 40))
        return -EINVAL;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t id = rd_u64(in);
        uint32_t kind = rd_u32(in), line = rd_u32(in);
        char *m = get_str(l), *f = get_str(l), *fn = get_str(l);
        bool added = false;
        long k = -1;
        if (!l->bad)
            k = catalog_add(&t->cat, id, kind, line, m, strlen(m), f, strlen(f), fn,
                            strlen(fn), &added);
        free(m);
        free(f);
        free(fn);
        if (l->bad || k < 0 || !added)
            return -EINVAL;
        struct cc_sdk_entry *e = &t->cat.e[k];
        e->slot = rd_u32(in);
        e->host_hits = rd_u64(in);
        e->host_passes = rd_u64(in);
        e->host_fails = rd_u64(in);
        if (e->slot > CC_PROTO_SLOTS)
            return -EINVAL;
    }
    t->next_slot = rd_u32(in);
    if (t->next_slot > CC_PROTO_SLOTS)
        return -EINVAL;
    return 0;
}

/* The first failure, if any: an entry of the catalog with its counts. */
static int load_failure(struct ld *l, struct cc_sdk *t)
{
    struct cc_rd *in = l->in;
    t->failed = rd_bool(in);
    if (!t->failed)
        return 0;
    uint64_t id = rd_u64(in);
    long k = catalog_find(&t->cat, id);
    if (k < 0)
        return -EINVAL;
    t->failure.a = t->cat.e[k].a;
    t->failure.a.hits = rd_u64(in);
    t->failure.a.passes = rd_u64(in);
    t->failure.a.fails = rd_u64(in);
    t->failure_details = get_str(l);
    if (l->bad)
        return -EINVAL;
    t->failure.details = t->failure_details;
    t->failure.vtime = rd_u64(in);
    t->failure.exit = rd_u64(in);
    return 0;
}

/* The run log. */
static int load_events(struct ld *l, struct cc_sdk *t)
{
    struct cc_rd *in = l->in;
    uint64_t n = rd_u64(in);
    if (!count_ok(l, n, 48))
        return -EINVAL;
    if (n) {
        t->ev = calloc(n, sizeof(*t->ev));
        if (!t->ev)
            return -ENOMEM;
        t->evcap = n;
    }
    for (uint64_t i = 0; i < n; i++) {
        struct cc_sdk_event *e = &t->ev[i];
        e->seq = rd_u64(in);
        e->kind = rd_u32(in);
        e->pid = rd_u32(in);
        e->vtime = rd_u64(in);
        e->exit = rd_u64(in);
        e->value = (int64_t)rd_u64(in);
        e->name = get_str(l);
        e->details = get_str(l);
        t->nev = i + 1;
        if (l->bad)
            return -EINVAL;
    }
    return 0;
}

/* Guidance: the best value of each maximize/minimize call. */
static int load_guidance(struct ld *l, struct cc_sdk *t)
{
    struct cc_rd *in = l->in;
    uint64_t n = rd_u64(in);
    if (!count_ok(l, n, 21))
        return -EINVAL;
    if (n) {
        t->gd = calloc(n, sizeof(*t->gd));
        if (!t->gd)
            return -ENOMEM;
        t->gdcap = n;
    }
    for (uint64_t i = 0; i < n; i++) {
        t->gd[i].message = get_str(l);
        t->ngd = i + 1;
        t->gd[i].maximize = rd_bool(in);
        t->gd[i].best = (int64_t)rd_u64(in);
        t->gd[i].updates = rd_u64(in);
        if (l->bad)
            return -EINVAL;
    }
    return 0;
}

/* The choice log: the next choice's index, then every choice made. */
static int load_choices(struct ld *l, struct cc_sdk *t)
{
    struct cc_rd *in = l->in;
    t->next_choice = rd_u64(in);
    uint64_t n = rd_u64(in);
    if (!count_ok(l, n, 40))
        return -EINVAL;
    if (n) {
        t->ch = malloc(n * sizeof(*t->ch));
        if (!t->ch)
            return -ENOMEM;
        t->chcap = n;
    }
    for (uint64_t i = 0; i < n; i++) {
        struct cc_choice *c = &t->ch[i];
        c->index = rd_u64(in);
        c->kind = rd_u32(in);
        c->source = rd_u32(in);
        c->n = rd_u64(in);
        c->value = rd_u64(in);
        c->vtime = rd_u64(in);
    }
    t->nch = n;
    return 0;
}

/* The choice script: overrides (sorted by index), then the replay list. */
static int load_script(struct ld *l, struct cc_sdk *t)
{
    struct cc_rd *in = l->in;
    uint64_t n = rd_u64(in);
    if (!count_ok(l, n, 16))
        return -EINVAL;
    if (n) {
        t->ov = malloc(n * sizeof(*t->ov));
        if (!t->ov)
            return -ENOMEM;
    }
    for (uint64_t i = 0; i < n; i++) {
        t->ov[i].index = rd_u64(in);
        t->ov[i].value = rd_u64(in);
        if (i && t->ov[i].index <= t->ov[i - 1].index)
            return -EINVAL;     /* must stay sorted for the lookup */
    }
    t->nov = n;
    n = rd_u64(in);
    if (!count_ok(l, n, 8))
        return -EINVAL;
    if (n) {
        t->replay = malloc(n * sizeof(*t->replay));
        if (!t->replay)
            return -ENOMEM;
    }
    for (uint64_t i = 0; i < n; i++)
        t->replay[i] = rd_u64(in);
    t->nreplay = n;
    return 0;
}

/* Staged payloads, one per mailbox, and the transport counters. */
static int load_stages_and_stats(struct ld *l, struct cc_sdk *t)
{
    struct cc_rd *in = l->in;
    for (unsigned i = 0; i < CC_PROTO_MAILBOXES; i++) {
        uint32_t len = rd_u32(in);
        if (!rd_ok(in) || len > rd_left(in))
            return -EINVAL;
        if (len) {
            t->stage[i].p = malloc(len);
            if (!t->stage[i].p)
                return -ENOMEM;
            rd_get(in, t->stage[i].p, len);
            t->stage[i].len = t->stage[i].cap = len;
        }
    }
    t->stats.calls = rd_u64(in);
    t->stats.port_calls = rd_u64(in);
    t->stats.hypercall_calls = rd_u64(in);
    t->stats.bad_calls = rd_u64(in);
    return rd_ok(in) ? 0 : -EINVAL;
}

/* The record into a new state; s is replaced only when all of it loaded. */
static int load_from(struct cc_sdk *s, struct cc_rd *in, struct cc_err *err)
{
    if (rd_u64(in) != SAVE_MAGIC || !rd_ok(in))
        return cc_err_set(err, EINVAL, "not an SDK state record (bad magic)");
    uint32_t ver = rd_u32(in);
    if (!rd_ok(in) || ver == 0 || ver > SAVE_VERSION)
        return cc_err_set(err, EINVAL, "SDK state record version %u is not supported (this "
                          "build reads versions 1 to %u)", ver, SAVE_VERSION);

    struct cc_sdk t;
    memset(&t, 0, sizeof(t));
    catalog_init(&t.cat);
    struct ld l = {in, false};
    uint64_t n = rd_u64(in);
    if (n == UINT64_MAX && rd_ok(in))
        return cc_err_set(err, EINVAL, "the SDK state record is empty (saved from a VM "
                          "without SDK state)");
    int rc = load_catalog(&l, &t, n);
    if (rc == 0)
        rc = load_failure(&l, &t);
    if (rc == 0)
        rc = load_events(&l, &t);
    if (rc == 0)
        rc = load_guidance(&l, &t);
    if (rc == 0 && rng_load(&t.rng, in, err) < 0) {
        sdk_parts_free(&t);
        return cc_err_prefix(err, "SDK state record");
    }
    if (rc == 0)
        rc = load_choices(&l, &t);
    if (rc == 0)
        rc = load_script(&l, &t);
    if (rc == 0)
        rc = load_stages_and_stats(&l, &t);
    if (rc < 0) {
        sdk_parts_free(&t);
        if (rc == -ENOMEM)
            return cc_err_set(err, ENOMEM, "out of memory restoring the SDK state");
        return cc_err_set(err, EINVAL, "SDK state record is truncated or corrupt");
    }

    /* Keep what belongs to this VM, not to the saved run. */
    t.vm = s->vm;
    t.opt = s->opt;
    t.hypercall_enabled = s->hypercall_enabled;
    t.vmmcall = s->vmmcall;
    t.stats.hypercall_enabled = s->hypercall_enabled;
    sdk_parts_free(s);
    *s = t;
    return 0;
}
