/* raft: the pure core of the Raft guest. See raft.h for the contract.
 *
 * Indices are 1-based as in the paper; log[0] is a sentinel with term 0 and
 * hash RAFT_HASH_INIT, so prev_index 0 needs no special case. Invariants
 * the code keeps even under planted bugs (so that a bug can only break
 * Raft's properties, never this program's memory safety):
 *   commit_index <= log_len <= cfg.log_capacity <= RAFT_LOG_MAX,
 *   applied_index <= RAFT_LOG_MAX, match_index[p] <= log_len,
 *   1 <= next_index[p] <= log_len + 1.
 */
#include "raft.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- names ---- */

static const char *const bug_names[RAFT_BUG_COUNT] = {
    [RAFT_BUG_NONE] = "none",
    [RAFT_BUG_FIG8_COMMIT] = "fig8_commit",
    [RAFT_BUG_SKIP_TRUNCATE] = "skip_truncate",
    [RAFT_BUG_ACCEPT_STALE_TERM] = "accept_stale_term",
    [RAFT_BUG_LEADER_NO_STEPDOWN] = "leader_no_stepdown",
    [RAFT_BUG_DOUBLE_VOTE] = "double_vote",
    [RAFT_BUG_PREMATURE_COMMIT] = "premature_commit",
};

const char *raft_bug_name(enum raft_bug b)
{
    return (unsigned)b < RAFT_BUG_COUNT ? bug_names[b] : "?";
}

int raft_bug_parse(const char *name, enum raft_bug *out)
{
    if (!name)
        return -1;
    for (unsigned i = 0; i < RAFT_BUG_COUNT; i++) {
        if (!strcmp(name, bug_names[i])) {
            *out = (enum raft_bug)i;
            return 0;
        }
    }
    return -1;
}

static const char *const check_messages[RAFT_CHECK_COUNT] = {
    [RAFT_CHECK_ELECTION_SAFETY] = RAFT_MSG_ELECTION_SAFETY,
    [RAFT_CHECK_LOG_MATCHING] = RAFT_MSG_LOG_MATCHING,
    [RAFT_CHECK_LEADER_COMPLETENESS] = RAFT_MSG_LEADER_COMPLETENESS,
    [RAFT_CHECK_SM_APPLIED] = RAFT_MSG_SM_APPLIED,
    [RAFT_CHECK_SM_COMMITTED] = RAFT_MSG_SM_COMMITTED,
    [RAFT_CHECK_SM_DURABLE] = RAFT_MSG_SM_DURABLE,
};

static const char *const check_names[RAFT_CHECK_COUNT] = {
    [RAFT_CHECK_ELECTION_SAFETY] = "election_safety",
    [RAFT_CHECK_LOG_MATCHING] = "log_matching",
    [RAFT_CHECK_LEADER_COMPLETENESS] = "leader_completeness",
    [RAFT_CHECK_SM_APPLIED] = "sm_applied",
    [RAFT_CHECK_SM_COMMITTED] = "sm_committed",
    [RAFT_CHECK_SM_DURABLE] = "sm_durable",
};

const char *raft_check_message(enum raft_check c)
{
    return (unsigned)c < RAFT_CHECK_COUNT ? check_messages[c] : "?";
}

const char *raft_check_name(enum raft_check c)
{
    return (unsigned)c < RAFT_CHECK_COUNT ? check_names[c] : "?";
}

const char *raft_role_name(enum raft_role r)
{
    switch (r) {
    case RAFT_FOLLOWER: return "follower";
    case RAFT_CANDIDATE: return "candidate";
    case RAFT_LEADER: return "leader";
    }
    return "?";
}

static const char *const event_names[RAFT_EV_COUNT] = {
    [RAFT_EV_BECAME_FOLLOWER] = "became_follower",
    [RAFT_EV_BECAME_CANDIDATE] = "became_candidate",
    [RAFT_EV_BECAME_LEADER] = "became_leader",
    [RAFT_EV_LEADER_OLD_TAIL] = "leader_old_tail",
    [RAFT_EV_STEPPED_DOWN] = "stepped_down",
    [RAFT_EV_COMMITTED] = "committed",
    [RAFT_EV_COMMITTED_OLD_TERM] = "committed_old_term",
    [RAFT_EV_TRUNCATED] = "truncated",
    [RAFT_EV_REJECTED_STALE] = "rejected_stale",
    [RAFT_EV_VOTE_REFUSED_VOTED] = "vote_refused_voted",
    [RAFT_EV_PROPOSED] = "proposed",
    [RAFT_EV_FORWARDED] = "forwarded",
    [RAFT_EV_HALTED] = "halted",
};

const char *raft_event_name(enum raft_event ev)
{
    return (unsigned)ev < RAFT_EV_COUNT ? event_names[ev] : "?";
}

/* ---- hashing ---- */

#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull

static uint64_t fnv_bytes(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= FNV_PRIME;
    }
    return h;
}

static uint64_t fnv_u64(uint64_t h, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        h ^= (uint8_t)(v >> (8 * i));
        h *= FNV_PRIME;
    }
    return h;
}

/* splitmix64's finalizer: FNV's low bits avalanche poorly on their own */
static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t raft_hash_step(uint64_t prev, uint64_t term, const char *value, size_t len)
{
    uint64_t h = fnv_u64(FNV_OFFSET, prev);
    h = fnv_u64(h, term);
    h = fnv_u64(h, len);
    h = fnv_bytes(h, value, len);
    return mix64(h);
}

/* ---- wire format ----
 *
 * All integers little-endian.
 *   u32 magic "RAFT" (0x54464152), u8 version (1), u8 type, u8 from, u8 to,
 *   u64 term,
 *   u64 last_index, last_term, last_hash, commit_index, commit_hash,
 *       applied_index, applied_hash,
 *   u8 n_claims (<= 4), n x { u64 term, u8 leader },
 *   then by type:
 *     VOTE_REQ     nothing (last_index/last_term above are lastLogIndex/Term)
 *     VOTE_RESP    u8 granted
 *     APPEND_REQ   u64 prev_index, prev_term, prev_hash, leader_commit,
 *                  u8 n_entries (<= 8), n x { u64 term, u64 hash, u8 len (<= 24), len bytes }
 *     APPEND_RESP  u8 success, u64 match_index
 *     PROPOSE      u8 len (1..24), len bytes
 *   u64 checksum: mix64(FNV-1a 64 of every byte before it).
 * Anything else (trailing bytes included) is rejected. */

#define WIRE_MAGIC 0x54464152u
#define WIRE_VERSION 1

struct wbuf {
    uint8_t *p;
    size_t len, cap;
    int bad;
};

static void w_u8(struct wbuf *w, uint8_t v)
{
    if (w->len + 1 > w->cap) {
        w->bad = 1;
        return;
    }
    w->p[w->len++] = v;
}

static void w_u64(struct wbuf *w, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        w_u8(w, (uint8_t)(v >> (8 * i)));
}

static void w_u32(struct wbuf *w, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        w_u8(w, (uint8_t)(v >> (8 * i)));
}

static void w_bytes(struct wbuf *w, const void *p, size_t n)
{
    if (w->len + n > w->cap) {
        w->bad = 1;
        return;
    }
    memcpy(w->p + w->len, p, n);
    w->len += n;
}

struct rbuf {
    const uint8_t *p;
    size_t len, off;
    int bad;
};

static uint8_t r_u8(struct rbuf *r)
{
    if (r->off + 1 > r->len) {
        r->bad = 1;
        return 0;
    }
    return r->p[r->off++];
}

static uint64_t r_u64(struct rbuf *r)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)r_u8(r) << (8 * i);
    return v;
}

static uint32_t r_u32(struct rbuf *r)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)r_u8(r) << (8 * i);
    return v;
}

static void r_bytes(struct rbuf *r, void *p, size_t n)
{
    if (r->off + n > r->len) {
        r->bad = 1;
        memset(p, 0, n);
        return;
    }
    memcpy(p, r->p + r->off, n);
    r->off += n;
}

static uint64_t wire_checksum(const uint8_t *p, size_t n)
{
    return mix64(fnv_bytes(FNV_OFFSET, p, n));
}

size_t raft_msg_encode(const struct raft_msg *m, uint8_t *buf, size_t cap)
{
    struct wbuf w = {.p = buf, .cap = cap};
    if (m->n_claims > RAFT_MSG_CLAIMS || m->n_entries > RAFT_BATCH_MAX ||
        m->value_len > RAFT_VALUE_MAX)
        return 0;
    w_u32(&w, WIRE_MAGIC);
    w_u8(&w, WIRE_VERSION);
    w_u8(&w, m->type);
    w_u8(&w, m->from);
    w_u8(&w, m->to);
    w_u64(&w, m->term);
    w_u64(&w, m->last_index);
    w_u64(&w, m->last_term);
    w_u64(&w, m->last_hash);
    w_u64(&w, m->commit_index);
    w_u64(&w, m->commit_hash);
    w_u64(&w, m->applied_index);
    w_u64(&w, m->applied_hash);
    w_u8(&w, m->n_claims);
    for (unsigned i = 0; i < m->n_claims; i++) {
        w_u64(&w, m->claims[i].term);
        w_u8(&w, m->claims[i].leader);
    }
    switch (m->type) {
    case RAFT_MSG_VOTE_REQ:
        break;
    case RAFT_MSG_VOTE_RESP:
        w_u8(&w, m->ok ? 1 : 0);
        break;
    case RAFT_MSG_APPEND_REQ:
        w_u64(&w, m->prev_index);
        w_u64(&w, m->prev_term);
        w_u64(&w, m->prev_hash);
        w_u64(&w, m->leader_commit);
        w_u8(&w, m->n_entries);
        for (unsigned i = 0; i < m->n_entries; i++) {
            const struct raft_entry *e = &m->entries[i];
            if (e->len > RAFT_VALUE_MAX)
                return 0;
            w_u64(&w, e->term);
            w_u64(&w, e->hash);
            w_u8(&w, e->len);
            w_bytes(&w, e->value, e->len);
        }
        break;
    case RAFT_MSG_APPEND_RESP:
        w_u8(&w, m->ok ? 1 : 0);
        w_u64(&w, m->match_index);
        break;
    case RAFT_MSG_PROPOSE:
        w_u8(&w, m->value_len);
        w_bytes(&w, m->value, m->value_len);
        break;
    default:
        return 0;
    }
    if (w.bad)
        return 0;
    w_u64(&w, wire_checksum(buf, w.len));
    return w.bad ? 0 : w.len;
}

int raft_msg_decode(const uint8_t *buf, size_t len, struct raft_msg *m)
{
    memset(m, 0, sizeof(*m));
    if (len < 8 || len > RAFT_MSG_WIRE_MAX)
        return -1;
    struct rbuf r = {.p = buf, .len = len - 8};
    struct rbuf tail = {.p = buf, .len = len, .off = len - 8};
    if (r_u64(&tail) != wire_checksum(buf, len - 8))
        return -1;
    if (r_u32(&r) != WIRE_MAGIC || r_u8(&r) != WIRE_VERSION)
        return -1;
    m->type = r_u8(&r);
    m->from = r_u8(&r);
    m->to = r_u8(&r);
    if (m->from >= RAFT_MAX_NODES || m->to >= RAFT_MAX_NODES)
        return -1;
    m->term = r_u64(&r);
    m->last_index = r_u64(&r);
    m->last_term = r_u64(&r);
    m->last_hash = r_u64(&r);
    m->commit_index = r_u64(&r);
    m->commit_hash = r_u64(&r);
    m->applied_index = r_u64(&r);
    m->applied_hash = r_u64(&r);
    m->n_claims = r_u8(&r);
    if (m->n_claims > RAFT_MSG_CLAIMS)
        return -1;
    for (unsigned i = 0; i < m->n_claims; i++) {
        m->claims[i].term = r_u64(&r);
        m->claims[i].leader = r_u8(&r);
        if (m->claims[i].leader >= RAFT_MAX_NODES)
            return -1;
    }
    switch (m->type) {
    case RAFT_MSG_VOTE_REQ:
        break;
    case RAFT_MSG_VOTE_RESP:
        m->ok = r_u8(&r);
        if (m->ok > 1)
            return -1;
        break;
    case RAFT_MSG_APPEND_REQ:
        m->prev_index = r_u64(&r);
        m->prev_term = r_u64(&r);
        m->prev_hash = r_u64(&r);
        m->leader_commit = r_u64(&r);
        m->n_entries = r_u8(&r);
        if (m->n_entries > RAFT_BATCH_MAX)
            return -1;
        for (unsigned i = 0; i < m->n_entries; i++) {
            struct raft_entry *e = &m->entries[i];
            e->term = r_u64(&r);
            e->hash = r_u64(&r);
            e->len = r_u8(&r);
            if (e->len > RAFT_VALUE_MAX)
                return -1;
            r_bytes(&r, e->value, e->len);
            e->value[e->len] = 0;
        }
        break;
    case RAFT_MSG_APPEND_RESP:
        m->ok = r_u8(&r);
        if (m->ok > 1)
            return -1;
        m->match_index = r_u64(&r);
        break;
    case RAFT_MSG_PROPOSE:
        m->value_len = r_u8(&r);
        if (m->value_len == 0 || m->value_len > RAFT_VALUE_MAX)
            return -1;
        r_bytes(&r, m->value, m->value_len);
        m->value[m->value_len] = 0;
        break;
    default:
        return -1;
    }
    if (r.bad || r.off != r.len)
        return -1;
    return 0;
}

/* ---- node helpers ---- */

static int majority(const struct raft_node *n, unsigned count)
{
    return 2 * count > n->cfg.n_nodes;
}

static void emit(struct raft_node *n, enum raft_event ev, uint64_t arg)
{
    if (n->ops.event)
        n->ops.event(n->ops.ctx, ev, arg);
}

static void check_pass(struct raft_node *n, enum raft_check c)
{
    n->ops.check(n->ops.ctx, c, 1, NULL);
}

/* A failed check: details are {"node":..,"term":..,"role":..,<fields>}. */
static void check_fail(struct raft_node *n, enum raft_check c, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void check_fail(struct raft_node *n, enum raft_check c, const char *fmt, ...)
{
    char details[512];
    int k = snprintf(details, sizeof(details), "{\"node\":%u,\"term\":%llu,\"role\":\"%s\",",
                     n->cfg.id, (unsigned long long)n->term, raft_role_name(n->role));
    if (k < 0 || (size_t)k >= sizeof(details) - 2)
        k = 0;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(details + k, sizeof(details) - (size_t)k - 1, fmt, ap);
    va_end(ap);
    if (m < 0 || (size_t)(k + m) >= sizeof(details) - 2) {
        /* truncated: fall back to something that is still JSON */
        snprintf(details, sizeof(details), "{\"node\":%u,\"term\":%llu,\"truncated\":true}",
                 n->cfg.id, (unsigned long long)n->term);
    } else {
        details[k + m] = '}';
        details[k + m + 1] = 0;
    }
    n->check_failures[c]++;
    n->ops.check(n->ops.ctx, c, 0, details);
}

#define H(x) ((unsigned long long)(x))

/* The randomized election timeout is drawn once per term (at start-up, when
 * campaigning and when adopting a newer term) rather than on every
 * heartbeat: each draw is an explorer branch point and a VM exit, and one
 * per node per term is what steering elections needs. */
static void draw_election_timeout(struct raft_node *n)
{
    uint64_t span = n->cfg.election_choices > 1 ?
        n->ops.choice(n->ops.ctx, n->cfg.election_choices) : 0;
    if (span >= n->cfg.election_choices && n->cfg.election_choices)
        span = n->cfg.election_choices - 1;
    n->election_timeout = n->cfg.election_min_ms + span * n->cfg.election_step_ms;
}

static void reset_election_timer(struct raft_node *n)
{
    n->election_deadline = n->now + n->election_timeout;
}

static void reset_client_timer(struct raft_node *n)
{
    if (!n->cfg.client_choices) {
        n->client_deadline = UINT64_MAX;
        return;
    }
    uint64_t span = n->cfg.client_choices > 1 ?
        n->ops.choice(n->ops.ctx, n->cfg.client_choices) : 0;
    if (span >= n->cfg.client_choices)
        span = n->cfg.client_choices - 1;
    n->client_deadline = n->now + n->cfg.client_min_ms + span * n->cfg.client_step_ms;
}

static void set_now(struct raft_node *n, uint64_t now)
{
    if (now > n->now)
        n->now = now;     /* never backwards */
}

static void mark_dirty(struct raft_node *n, uint64_t index)
{
    if (!n->dirty_from || index < n->dirty_from)
        n->dirty_from = index;
}

/* A message to peer `to` with the metadata filled in; NULL when the outbox
 * is full (the message is lost, as the network may lose it anyway). */
static struct raft_msg *new_msg(struct raft_node *n, uint8_t type, unsigned to)
{
    if (n->n_out >= RAFT_OUTBOX_MAX)
        return NULL;
    struct raft_msg *m = &n->outbox[n->n_out++];
    memset(m, 0, sizeof(*m));
    m->type = type;
    m->from = n->cfg.id;
    m->to = (uint8_t)to;
    m->term = n->term;
    m->last_index = n->log_len;
    m->last_term = n->log[n->log_len].term;
    m->last_hash = n->log[n->log_len].hash;
    m->commit_index = n->commit_index;
    m->commit_hash = n->log[n->commit_index].hash;
    m->applied_index = n->applied_index;
    m->applied_hash = n->applied_hash[n->applied_index];
    unsigned k = n->n_claims < RAFT_MSG_CLAIMS ? n->n_claims : RAFT_MSG_CLAIMS;
    for (unsigned i = 0; i < k; i++)
        m->claims[i] = n->claims[i];        /* newest first */
    m->n_claims = (uint8_t)k;
    return m;
}

static void halt(struct raft_node *n)
{
    if (n->halted)
        return;
    n->halted = 1;
    n->n_out = 0;
    emit(n, RAFT_EV_HALTED, 0);
}

/* Persist, then send: the end of every public entry point. */
static void flush(struct raft_node *n)
{
    if (n->halted) {
        n->n_out = 0;
        return;
    }
    if (n->hard_dirty || n->dirty_from) {
        uint64_t from = n->dirty_from;
        if (from > n->log_len + 1)
            from = n->log_len + 1;
        if (n->ops.persist(n->ops.ctx, n, from) != 0) {
            halt(n);
            return;
        }
        n->hard_dirty = 0;
        n->dirty_from = 0;
    }
    for (unsigned i = 0; i < n->n_out; i++) {
        n->msgs_sent++;
        n->ops.send(n->ops.ctx, &n->outbox[i]);
    }
    n->n_out = 0;
}

/* ---- what the node knows: leaders per term ---- */

/* Learn that `leader` led `term`; two different leaders for one term is an
 * election safety violation. claims[] is sorted by term, newest first. */
static void note_leader(struct raft_node *n, uint64_t term, unsigned leader, unsigned from,
                        const char *how)
{
    if (term == 0 || leader >= n->cfg.n_nodes)
        return;
    unsigned i;
    for (i = 0; i < n->n_claims && n->claims[i].term >= term; i++) {
        if (n->claims[i].term == term) {
            if (n->claims[i].leader == leader)
                check_pass(n, RAFT_CHECK_ELECTION_SAFETY);
            else
                check_fail(n, RAFT_CHECK_ELECTION_SAFETY,
                           "\"leader_term\":%llu,\"known_leader\":%u,\"other_leader\":%u,"
                           "\"source\":\"%s\",\"from\":%u",
                           H(term), n->claims[i].leader, leader, how, from);
            return;
        }
    }
    if (i >= RAFT_CLAIM_HIST)
        return;                                 /* older than everything remembered */
    unsigned last = n->n_claims < RAFT_CLAIM_HIST ? n->n_claims : RAFT_CLAIM_HIST - 1;
    memmove(&n->claims[i + 1], &n->claims[i], (last - i) * sizeof(n->claims[0]));
    n->claims[i].term = term;
    n->claims[i].leader = (uint8_t)leader;
    if (n->n_claims < RAFT_CLAIM_HIST)
        n->n_claims++;
    check_pass(n, RAFT_CHECK_ELECTION_SAFETY);
}

/* Log matching: if our entry at index has this term, its chained hash must
 * be theirs. */
static void check_log_matching(struct raft_node *n, uint64_t index, uint64_t term, uint64_t hash,
                               unsigned from, const char *what)
{
    if (index == 0 || index > n->log_len || n->log[index].term != term)
        return;
    if (n->log[index].hash == hash)
        check_pass(n, RAFT_CHECK_LOG_MATCHING);
    else
        check_fail(n, RAFT_CHECK_LOG_MATCHING,
                   "\"index\":%llu,\"entry_term\":%llu,\"mine\":\"%016llx\",\"theirs\":\"%016llx\","
                   "\"from\":%u,\"what\":\"%s\"",
                   H(index), H(term), H(n->log[index].hash), H(hash), from, what);
}

/* Leader completeness against one commit point (index, hash). */
static void check_leader_complete(struct raft_node *n, uint64_t index, uint64_t hash,
                                  int from, const char *when)
{
    if (index == 0)
        return;
    if (index <= n->log_len && n->log[index].hash == hash)
        check_pass(n, RAFT_CHECK_LEADER_COMPLETENESS);
    else
        check_fail(n, RAFT_CHECK_LEADER_COMPLETENESS,
                   "\"committed_index\":%llu,\"committed_hash\":\"%016llx\",\"log_len\":%llu,"
                   "\"mine\":\"%016llx\",\"from\":%d,\"when\":\"%s\"",
                   H(index), H(hash), H(n->log_len),
                   H(index <= n->log_len ? n->log[index].hash : 0), from, when);
}

/* Everything a message's metadata lets us check, before it is acted on. */
static void check_metadata(struct raft_node *n, const struct raft_msg *m)
{
    for (unsigned i = 0; i < m->n_claims; i++)
        note_leader(n, m->claims[i].term, m->claims[i].leader, m->from, "claim");

    check_log_matching(n, m->last_index, m->last_term, m->last_hash, m->from, "last_entry");
    if (m->type == RAFT_MSG_APPEND_REQ)
        check_log_matching(n, m->prev_index, m->prev_term, m->prev_hash, m->from, "prev_entry");

    /* committed entries agree */
    uint64_t c = m->commit_index;
    if (c > 0 && c <= n->commit_index) {
        if (n->log[c].hash == m->commit_hash)
            check_pass(n, RAFT_CHECK_SM_COMMITTED);
        else
            check_fail(n, RAFT_CHECK_SM_COMMITTED,
                       "\"index\":%llu,\"mine\":\"%016llx\",\"theirs\":\"%016llx\",\"from\":%u",
                       H(c), H(n->log[c].hash), H(m->commit_hash), m->from);
    }
    if (c > 0 && c == n->known_commit_index && m->commit_hash != n->known_commit_hash)
        check_fail(n, RAFT_CHECK_SM_COMMITTED,
                   "\"index\":%llu,\"heard\":\"%016llx\",\"theirs\":\"%016llx\",\"from\":%u",
                   H(c), H(n->known_commit_hash), H(m->commit_hash), m->from);
    if (c > n->known_commit_index) {
        n->known_commit_index = c;
        n->known_commit_hash = m->commit_hash;
    }

    /* applied entries agree */
    uint64_t a = m->applied_index;
    if (a > 0 && a <= n->applied_index) {
        if (n->applied_hash[a] == m->applied_hash)
            check_pass(n, RAFT_CHECK_SM_APPLIED);
        else
            check_fail(n, RAFT_CHECK_SM_APPLIED,
                       "\"index\":%llu,\"mine\":\"%016llx\",\"theirs\":\"%016llx\",\"from\":%u",
                       H(a), H(n->applied_hash[a]), H(m->applied_hash), m->from);
    }
}

/* ---- state machine ---- */

static void apply_committed(struct raft_node *n)
{
    uint64_t before = n->applied_index;
    while (n->applied_index < n->commit_index && n->applied_index < RAFT_LOG_MAX) {
        uint64_t i = ++n->applied_index;
        const struct raft_entry *e = &n->log[i];
        n->applied_hash[i] = raft_hash_step(n->applied_hash[i - 1], e->term, e->value, e->len);
        if (n->ops.apply)
            n->ops.apply(n->ops.ctx, i, e);
    }
    if (n->applied_index > before)
        emit(n, RAFT_EV_COMMITTED, n->commit_index);
}

static void set_commit(struct raft_node *n, uint64_t c)
{
    if (c > n->log_len)
        c = n->log_len;
    if (c <= n->commit_index)
        return;
    n->commit_index = c;
    apply_committed(n);
}

/* ---- roles ---- */

static void become_follower(struct raft_node *n)
{
    if (n->role == RAFT_FOLLOWER)
        return;
    int was_leader = n->role == RAFT_LEADER;
    n->role = RAFT_FOLLOWER;
    if (was_leader)
        reset_election_timer(n);      /* the leader's timer was not running */
    emit(n, RAFT_EV_BECAME_FOLLOWER, n->term);
}

static void send_append(struct raft_node *n, unsigned peer)
{
    uint64_t next = n->next_index[peer];
    if (next < 1)
        next = 1;
    if (next > n->log_len + 1)
        next = n->log_len + 1;
    n->next_index[peer] = next;
    struct raft_msg *m = new_msg(n, RAFT_MSG_APPEND_REQ, peer);
    if (!m)
        return;
    uint64_t prev = next - 1;
    m->prev_index = prev;
    m->prev_term = n->log[prev].term;
    m->prev_hash = n->log[prev].hash;
    m->leader_commit = n->commit_index;
    uint64_t k = n->log_len - prev;
    if (k > RAFT_BATCH_MAX)
        k = RAFT_BATCH_MAX;
    for (uint64_t i = 0; i < k; i++)
        m->entries[i] = n->log[next + i];
    m->n_entries = (uint8_t)k;
}

static void broadcast_append(struct raft_node *n)
{
    for (unsigned p = 0; p < n->cfg.n_nodes; p++)
        if (p != n->cfg.id)
            send_append(n, p);
    n->heartbeat_deadline = n->now + n->cfg.heartbeat_ms;
}

static void leader_advance_commit(struct raft_node *n)
{
    for (uint64_t N = n->log_len; N > n->commit_index; N--) {
        if (n->log[N].term != n->term) {
            /* Raft commits only entries of the leader's own term by
             * counting; older ones follow (figure 8). The bug counts
             * replicas of older-term entries too. */
            if (n->cfg.bug != RAFT_BUG_FIG8_COMMIT)
                break;
        }
        unsigned count = 1;
        for (unsigned p = 0; p < n->cfg.n_nodes; p++)
            if (p != n->cfg.id && n->match_index[p] >= N)
                count++;
        if (majority(n, count)) {
            uint64_t old = n->commit_index;
            if (n->log[old + 1].term < n->term)
                emit(n, RAFT_EV_COMMITTED_OLD_TERM, old + 1);
            set_commit(n, N);
            return;
        }
    }
}

static void become_leader(struct raft_node *n)
{
    n->role = RAFT_LEADER;
    n->leader = n->cfg.id;
    note_leader(n, n->term, n->cfg.id, n->cfg.id, "elected");
    check_leader_complete(n, n->known_commit_index, n->known_commit_hash, -1, "elected");
    for (unsigned p = 0; p < n->cfg.n_nodes; p++) {
        n->next_index[p] = n->log_len + 1;
        n->match_index[p] = 0;
    }
    n->match_index[n->cfg.id] = n->log_len;
    emit(n, RAFT_EV_BECAME_LEADER, n->term);
    if (n->log_len > n->commit_index && n->log[n->log_len].term < n->term)
        emit(n, RAFT_EV_LEADER_OLD_TAIL, n->log_len);
    broadcast_append(n);
    if (n->cfg.n_nodes == 1)
        leader_advance_commit(n);
}

static void start_election(struct raft_node *n)
{
    n->term++;
    n->voted_for = n->cfg.id;
    n->hard_dirty = 1;
    n->role = RAFT_CANDIDATE;
    n->leader = -1;
    n->votes = 1u << n->cfg.id;
    draw_election_timeout(n);
    reset_election_timer(n);
    emit(n, RAFT_EV_BECAME_CANDIDATE, n->term);
    if (majority(n, 1)) {
        become_leader(n);
        return;
    }
    for (unsigned p = 0; p < n->cfg.n_nodes; p++)
        if (p != n->cfg.id)
            new_msg(n, RAFT_MSG_VOTE_REQ, p);
}

/* ---- log ---- */

static int append_local(struct raft_node *n, const char *value, size_t len)
{
    if (n->log_len >= n->cfg.log_capacity)
        return 0;
    if (len > RAFT_VALUE_MAX)
        len = RAFT_VALUE_MAX;
    uint64_t i = ++n->log_len;
    struct raft_entry *e = &n->log[i];
    memset(e, 0, sizeof(*e));
    e->term = n->term;
    e->len = (uint8_t)len;
    memcpy(e->value, value, len);
    e->hash = raft_hash_step(n->log[i - 1].hash, e->term, e->value, e->len);
    mark_dirty(n, i);
    n->match_index[n->cfg.id] = n->log_len;
    emit(n, RAFT_EV_PROPOSED, i);
    if (n->cfg.n_nodes == 1)
        leader_advance_commit(n);
    return 1;
}

static void truncate_log(struct raft_node *n, uint64_t from)
{
    /* from >= 1: entries from..log_len go */
    if (from <= n->commit_index)
        check_fail(n, RAFT_CHECK_SM_DURABLE,
                   "\"truncate_from\":%llu,\"commit_index\":%llu,\"log_len\":%llu,"
                   "\"removed_term\":%llu",
                   H(from), H(n->commit_index), H(n->log_len), H(n->log[from].term));
    else
        check_pass(n, RAFT_CHECK_SM_DURABLE);
    n->log_len = from - 1;
    if (n->commit_index > n->log_len)
        n->commit_index = n->log_len;
    mark_dirty(n, from);
    emit(n, RAFT_EV_TRUNCATED, from);
}

/* ---- message handlers ---- */

static void on_vote_req(struct raft_node *n, const struct raft_msg *m)
{
    int granted = 0;
    if (m->term >= n->term) {
        uint64_t my_last_term = n->log[n->log_len].term;
        int up_to_date = m->last_term > my_last_term ||
                         (m->last_term == my_last_term && m->last_index >= n->log_len);
        int free = n->voted_for < 0 || n->voted_for == m->from;
        if (!free && up_to_date && n->role != RAFT_LEADER &&
            n->cfg.bug == RAFT_BUG_DOUBLE_VOTE)
            free = 1;
        if (up_to_date && free && n->role != RAFT_LEADER) {
            granted = 1;
            if (n->voted_for != m->from) {
                n->voted_for = m->from;
                n->hard_dirty = 1;
            }
            if (!n->n_granted || n->granted[0].term != n->term) {
                unsigned k = n->n_granted < RAFT_GRANTED_HIST ? n->n_granted : RAFT_GRANTED_HIST - 1;
                memmove(&n->granted[1], &n->granted[0], k * sizeof(n->granted[0]));
                n->n_granted = k + 1;
            }
            n->granted[0].term = n->term;
            n->granted[0].leader = (uint8_t)m->from;
            reset_election_timer(n);
        } else if (up_to_date && !free) {
            emit(n, RAFT_EV_VOTE_REFUSED_VOTED, n->term);
        }
    }
    struct raft_msg *r = new_msg(n, RAFT_MSG_VOTE_RESP, m->from);
    if (r)
        r->ok = (uint8_t)granted;
}

static void on_vote_resp(struct raft_node *n, const struct raft_msg *m)
{
    if (n->role != RAFT_CANDIDATE || m->term != n->term || !m->ok)
        return;
    n->votes |= 1u << m->from;
    if (majority(n, (unsigned)__builtin_popcount(n->votes)))
        become_leader(n);
}

static void append_reply(struct raft_node *n, const struct raft_msg *m, int ok, uint64_t match)
{
    struct raft_msg *r = new_msg(n, RAFT_MSG_APPEND_RESP, m->from);
    if (r) {
        r->ok = (uint8_t)ok;
        r->match_index = match;
    }
}

/* Does n know of an election won, or voted for, by someone other than
 * leader in a term strictly between lo and hi? */
static int knows_election_between(const struct raft_node *n, uint64_t lo, uint64_t hi,
                                  unsigned leader)
{
    for (unsigned i = 0; i < n->n_granted; i++)
        if (n->granted[i].term > lo && n->granted[i].term < hi && n->granted[i].leader != leader)
            return 1;
    for (unsigned i = 0; i < n->n_claims; i++)
        if (n->claims[i].term > lo && n->claims[i].term < hi && n->claims[i].leader != leader)
            return 1;
    return 0;
}

static void on_append_req(struct raft_node *n, const struct raft_msg *m)
{
    if (m->term < n->term) {
        if (!(n->cfg.bug == RAFT_BUG_ACCEPT_STALE_TERM && n->role == RAFT_FOLLOWER)) {
            emit(n, RAFT_EV_REJECTED_STALE, m->term);
            append_reply(n, m, 0, 0);
            return;
        }
        /* the bug: go on as if it came from the current leader (but
         * without changing term, leader or timer) */
        note_leader(n, m->term, m->from, m->from, "append");
    } else {
        /* m->term == n->term after the term rules */
        note_leader(n, m->term, m->from, m->from, "append");
        if (n->role == RAFT_LEADER)
            return;               /* another leader of our term: reported above */
        become_follower(n);
        n->leader = m->from;
        reset_election_timer(n);
    }

    if (n->cfg.bug == RAFT_BUG_PREMATURE_COMMIT) {
        /* the bug: trust leaderCommit against our own log, before checking
         * that our log matches the leader's */
        uint64_t c = m->leader_commit < n->log_len ? m->leader_commit : n->log_len;
        set_commit(n, c);
    }

    /* consistency check */
    if (m->prev_index > n->log_len || n->log[m->prev_index].term != m->prev_term) {
        append_reply(n, m, 0, 0);
        return;
    }

    uint64_t match = m->prev_index;
    for (unsigned k = 0; k < m->n_entries; k++) {
        const struct raft_entry *e = &m->entries[k];
        uint64_t i = m->prev_index + 1 + k;
        if (i <= n->log_len) {
            if (n->log[i].term == e->term) {
                check_log_matching(n, i, e->term, e->hash, m->from, "entry");
                match = i;
                continue;
            }
            if (n->cfg.bug == RAFT_BUG_SKIP_TRUNCATE) {
                /* the bug: keep our conflicting entry and carry on */
                match = i;
                continue;
            }
            truncate_log(n, i);
        }
        if (n->log_len >= n->cfg.log_capacity)
            break;
        uint64_t j = ++n->log_len;
        struct raft_entry *d = &n->log[j];
        *d = *e;
        d->value[d->len] = 0;
        d->hash = raft_hash_step(n->log[j - 1].hash, d->term, d->value, d->len);
        mark_dirty(n, j);
        /* the leader's hash for the same index and term must be ours */
        check_log_matching(n, j, e->term, e->hash, m->from, "appended");
        if (e->term < m->term && knows_election_between(n, e->term, m->term, m->from))
            emit(n, RAFT_EV_OLD_ENTRY_AFTER_ELECTION, j);
        match = j;
    }
    if (m->leader_commit > n->commit_index)
        set_commit(n, m->leader_commit < match ? m->leader_commit : match);
    append_reply(n, m, 1, match);
}

static void on_append_resp(struct raft_node *n, const struct raft_msg *m)
{
    if (n->role != RAFT_LEADER || m->term != n->term)
        return;
    unsigned p = m->from;
    if (m->ok) {
        uint64_t match = m->match_index < n->log_len ? m->match_index : n->log_len;
        if (match <= n->match_index[p])
            return;                 /* old or duplicate news */
        n->match_index[p] = match;
        if (n->next_index[p] < match + 1)
            n->next_index[p] = match + 1;
        leader_advance_commit(n);
        if (n->next_index[p] <= n->log_len)
            send_append(n, p);      /* catching up: next batch now */
    } else {
        uint64_t next = n->next_index[p];
        uint64_t want = next > 1 ? next - 1 : 1;
        if (m->last_index + 1 < want)
            want = m->last_index + 1;
        if (want < n->match_index[p] + 1)
            want = n->match_index[p] + 1;
        if (want < next) {
            n->next_index[p] = want;
            send_append(n, p);
        }
    }
}

static void on_propose(struct raft_node *n, const struct raft_msg *m)
{
    if (n->role == RAFT_LEADER)
        append_local(n, m->value, m->value_len);
    /* else dropped: the client is not told, and proposes new values later */
}

/* ---- public entry points ---- */

void raft_config_default(struct raft_config *cfg, uint8_t id, uint8_t n_nodes)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->id = id;
    cfg->n_nodes = n_nodes;
    cfg->bug = RAFT_BUG_NONE;
    cfg->heartbeat_ms = 50;
    cfg->election_min_ms = 150;
    cfg->election_step_ms = 10;
    cfg->election_choices = 16;
    cfg->client_min_ms = 100;
    cfg->client_step_ms = 50;
    cfg->client_choices = 10;
    cfg->log_capacity = RAFT_LOG_MAX;
}

int raft_init(struct raft_node *n, const struct raft_config *cfg, const struct raft_ops *ops,
              uint64_t now_ms)
{
    if (!cfg || !ops || !ops->choice || !ops->send || !ops->persist || !ops->check)
        return -1;
    if (cfg->n_nodes < 1 || cfg->n_nodes > RAFT_MAX_NODES || cfg->id >= cfg->n_nodes ||
        cfg->log_capacity > RAFT_LOG_MAX || (unsigned)cfg->bug >= RAFT_BUG_COUNT ||
        cfg->heartbeat_ms == 0)
        return -1;
    memset(n, 0, sizeof(*n));
    n->cfg = *cfg;
    n->ops = *ops;
    n->voted_for = -1;
    n->leader = -1;
    n->role = RAFT_FOLLOWER;
    n->log[0].hash = RAFT_HASH_INIT;
    n->applied_hash[0] = RAFT_HASH_INIT;
    n->now = now_ms;
    for (unsigned p = 0; p < RAFT_MAX_NODES; p++)
        n->next_index[p] = 1;
    draw_election_timeout(n);
    reset_election_timer(n);
    reset_client_timer(n);
    n->heartbeat_deadline = UINT64_MAX;
    return 0;
}

int raft_restore(struct raft_node *n, uint64_t term, int voted_for,
                 const struct raft_entry *entries, uint64_t n_entries)
{
    if (n_entries > n->cfg.log_capacity || voted_for < -1 || voted_for >= n->cfg.n_nodes)
        return -1;
    for (uint64_t i = 0; i < n_entries; i++)
        if (entries[i].len > RAFT_VALUE_MAX || entries[i].term > term)
            return -1;
    n->term = term;
    n->voted_for = voted_for;
    n->log_len = n_entries;
    for (uint64_t i = 1; i <= n_entries; i++) {
        struct raft_entry *e = &n->log[i];
        *e = entries[i - 1];
        e->value[e->len] = 0;
        e->hash = raft_hash_step(n->log[i - 1].hash, e->term, e->value, e->len);
    }
    n->restored = term > 0 || n_entries > 0;
    return 0;
}

void raft_tick(struct raft_node *n, uint64_t now_ms)
{
    if (n->halted)
        return;
    set_now(n, now_ms);
    if (n->role == RAFT_LEADER) {
        if (n->now >= n->heartbeat_deadline)
            broadcast_append(n);
    } else if (n->now >= n->election_deadline) {
        start_election(n);
    }
    if (n->now >= n->client_deadline) {
        char v[RAFT_VALUE_MAX + 1];
        snprintf(v, sizeof(v), "n%u-s%llu", n->cfg.id, H(n->client_seq));
        n->client_seq++;
        flush(n);   /* keep the order: election output first */
        raft_propose(n, now_ms, v);
        reset_client_timer(n);
    }
    flush(n);
}

int raft_propose(struct raft_node *n, uint64_t now_ms, const char *value)
{
    if (n->halted)
        return 0;
    set_now(n, now_ms);
    size_t len = strlen(value);
    if (len == 0)
        return 0;
    if (len > RAFT_VALUE_MAX)
        len = RAFT_VALUE_MAX;
    int rc = 0;
    if (n->role == RAFT_LEADER) {
        rc = append_local(n, value, len);
    } else if (n->leader >= 0 && n->leader != n->cfg.id) {
        struct raft_msg *m = new_msg(n, RAFT_MSG_PROPOSE, (unsigned)n->leader);
        if (m) {
            m->value_len = (uint8_t)len;
            memcpy(m->value, value, len);
            emit(n, RAFT_EV_FORWARDED, (uint64_t)n->leader);
            rc = 2;
        }
    }
    flush(n);
    return rc;
}

void raft_recv(struct raft_node *n, uint64_t now_ms, const struct raft_msg *m)
{
    if (n->halted)
        return;
    if (m->to != n->cfg.id || m->from >= n->cfg.n_nodes || m->from == n->cfg.id)
        return;
    set_now(n, now_ms);
    n->msgs_recv++;

    check_metadata(n, m);

    /* term rules: a higher term makes us a follower of that term */
    int ignore = 0;
    if (m->term > n->term) {
        if (n->role == RAFT_LEADER && n->cfg.bug == RAFT_BUG_LEADER_NO_STEPDOWN) {
            ignore = 1;             /* the bug: a leader does not step down */
        } else {
            int was_leader = n->role == RAFT_LEADER;
            n->term = m->term;
            n->voted_for = -1;
            n->hard_dirty = 1;
            n->leader = -1;
            draw_election_timeout(n);
            become_follower(n);
            if (was_leader)
                emit(n, RAFT_EV_STEPPED_DOWN, n->term);
        }
    }

    /* a leader (still one after the term rules) holds everything the
     * sender knows to be committed */
    if (n->role == RAFT_LEADER)
        check_leader_complete(n, m->commit_index, m->commit_hash, m->from, "message");

    if (!ignore) {
        switch (m->type) {
        case RAFT_MSG_VOTE_REQ: on_vote_req(n, m); break;
        case RAFT_MSG_VOTE_RESP: on_vote_resp(n, m); break;
        case RAFT_MSG_APPEND_REQ: on_append_req(n, m); break;
        case RAFT_MSG_APPEND_RESP: on_append_resp(n, m); break;
        case RAFT_MSG_PROPOSE: on_propose(n, m); break;
        default: break;
        }
    }
    flush(n);
}

uint64_t raft_next_deadline(const struct raft_node *n)
{
    if (n->halted)
        return UINT64_MAX;
    uint64_t d = n->client_deadline;
    if (n->role == RAFT_LEADER) {
        if (n->heartbeat_deadline < d)
            d = n->heartbeat_deadline;
    } else if (n->election_deadline < d) {
        d = n->election_deadline;
    }
    return d;
}

void raft_campaign(struct raft_node *n, uint64_t now_ms)
{
    if (n->halted)
        return;
    set_now(n, now_ms);
    if (n->role != RAFT_LEADER)
        start_election(n);
    flush(n);
}

void raft_heartbeat(struct raft_node *n, uint64_t now_ms)
{
    if (n->halted)
        return;
    set_now(n, now_ms);
    if (n->role == RAFT_LEADER)
        broadcast_append(n);
    flush(n);
}
