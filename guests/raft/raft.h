/* raft: the pure, deterministic core of the Raft guest (guests/raft).
 *
 * No I/O, no clock, no randomness of its own, no globals: a node is a
 * struct raft_node that the caller allocates, and everything it does to the
 * outside world goes through struct raft_ops callbacks. guests/raft/main.c
 * wraps it with UDP, poll, CLOCK_MONOTONIC, the disk (store.c) and the SDK;
 * tests/unit/test_raft.c drives three of them through a scripted network.
 * The same source builds with gcc/glibc and musl (and clang).
 *
 *   struct raft_config cfg;
 *   raft_config_default(&cfg, id, 3);
 *   raft_init(node, &cfg, &ops, now_ms);
 *   raft_restore(node, term, voted_for, entries, n);  // persisted state, if any
 *   for (;;) {
 *       raft_tick(node, now_ms);                       // timers
 *       ... wait until raft_next_deadline(node) or a message ...
 *       raft_recv(node, now_ms, &msg);                 // a decoded message
 *   }
 *
 * Output order inside each call (raft_tick, raft_recv, raft_propose, ...):
 * assertion checks and events as they happen; then, once at the end,
 * ops.persist (when term, vote or log changed) and only after it returns
 * ops.send for every queued message, so nothing that depends on new state
 * leaves the node before that state is durable (Raft's rule). When persist
 * reports failure the node stops for good (crash-stop): it sends nothing and
 * ignores all input from then on.
 *
 * Safety assertions are checked from local knowledge plus metadata that
 * every message carries (struct raft_msg): see enum raft_check. Each
 * evaluation is reported through ops.check (ok = 1 or 0).
 *
 * Planted bugs (enum raft_bug, raft_bug=NAME on the guest's command line)
 * change one rule each; RAFT_BUG_NONE is correct Raft (the paper's, without
 * a no-op entry at the start of a term: entries of older terms are committed
 * when the leader commits an entry of its own term). */
#ifndef GUESTS_RAFT_RAFT_H
#define GUESTS_RAFT_RAFT_H

#include <stddef.h>
#include <stdint.h>

#define RAFT_MAX_NODES 5
#define RAFT_VALUE_MAX 24       /* bytes of a proposed value (no NUL on the wire) */
#define RAFT_LOG_MAX 4096       /* entries; a full log refuses proposals */
#define RAFT_BATCH_MAX 8        /* entries per AppendEntries */
#define RAFT_MSG_CLAIMS 4       /* (term, leader) claims piggybacked per message */
#define RAFT_CLAIM_HIST 32      /* (term, leader) pairs a node remembers */
#define RAFT_GRANTED_HIST 8     /* votes a node remembers granting */
#define RAFT_OUTBOX_MAX 32      /* messages queued in one call */
#define RAFT_MSG_WIRE_MAX 1024  /* encoded size bound (see raft_msg_encode) */
#define RAFT_HASH_INIT 0x52414654c0ffee01ull    /* h_0 of every hash chain */

enum raft_role { RAFT_FOLLOWER = 0, RAFT_CANDIDATE = 1, RAFT_LEADER = 2 };

enum raft_bug {
    RAFT_BUG_NONE = 0,
    RAFT_BUG_FIG8_COMMIT,           /* leader commits older-term entries by counting replicas */
    RAFT_BUG_SKIP_TRUNCATE,         /* follower keeps its entry on a conflict (no truncation) */
    RAFT_BUG_ACCEPT_STALE_TERM,     /* follower accepts AppendEntries from lower terms */
    RAFT_BUG_LEADER_NO_STEPDOWN,    /* leader ignores higher terms */
    RAFT_BUG_DOUBLE_VOTE,           /* votes for any up-to-date candidate, even twice a term */
    RAFT_BUG_PREMATURE_COMMIT,      /* follower advances commitIndex before the consistency check */
    RAFT_BUG_COUNT
};

/* Names as on the command line ("none", "fig8_commit", ...). */
const char *raft_bug_name(enum raft_bug b);
/* 0 and *out set, or -1 for an unknown name. */
int raft_bug_parse(const char *name, enum raft_bug *out);

/* The safety assertions. Messages (stable: the SDK catalog and reports use
 * them; main.c passes these literals to CC_ALWAYS). */
enum raft_check {
    /* at most one leader per term: a node that learns two different leaders
     * for one term (itself included) fails; learned from being elected,
     * from AppendEntries senders and from (term, leader) claims that every
     * message carries */
    RAFT_CHECK_ELECTION_SAFETY = 0,
    /* two logs with an entry of the same index and term hold the same
     * entries up to it: the chained hashes h_i = H(h_i-1, term_i, value_i)
     * must be equal; checked against every message's last entry, an
     * AppendEntries' prev entry and each entry it carries */
    RAFT_CHECK_LOG_MATCHING,
    /* a leader's log holds every entry known to be committed: on election
     * against the highest commit point the node has heard of, and while
     * leader against each message's commit point */
    RAFT_CHECK_LEADER_COMPLETENESS,
    /* state machine safety, three local views of it */
    RAFT_CHECK_SM_APPLIED,          /* same applied-chain hash at each applied index */
    RAFT_CHECK_SM_COMMITTED,        /* same log hash at each index both know committed */
    RAFT_CHECK_SM_DURABLE,          /* a committed entry is never truncated */
    RAFT_CHECK_COUNT
};

#define RAFT_MSG_ELECTION_SAFETY "election safety: at most one leader per term"
#define RAFT_MSG_LOG_MATCHING "log matching: entries with equal index and term have equal histories"
#define RAFT_MSG_LEADER_COMPLETENESS "leader completeness: a leader holds every committed entry"
#define RAFT_MSG_SM_APPLIED "state machine safety: nodes apply the same entry at each index"
#define RAFT_MSG_SM_COMMITTED "state machine safety: nodes agree on committed entries"
#define RAFT_MSG_SM_DURABLE "state machine safety: a committed entry is never overwritten"

const char *raft_check_message(enum raft_check c);
/* Short name ("election_safety", ...), for logs and tests. */
const char *raft_check_name(enum raft_check c);

/* Things that happened, for logs and SOMETIMES/REACHABLE (arg in brackets). */
enum raft_event {
    RAFT_EV_BECAME_FOLLOWER = 0,    /* [term] */
    RAFT_EV_BECAME_CANDIDATE,       /* [term] */
    RAFT_EV_BECAME_LEADER,          /* [term] */
    RAFT_EV_LEADER_OLD_TAIL,        /* [index] elected holding uncommitted entries of an
                                       earlier term (what figure 8 starts from) */
    RAFT_EV_STEPPED_DOWN,           /* [term] a leader saw a higher term and stepped down */
    RAFT_EV_COMMITTED,              /* [new commitIndex] (after the entries were applied) */
    RAFT_EV_COMMITTED_OLD_TERM,     /* [index] a leader's commit covered earlier-term entries */
    RAFT_EV_TRUNCATED,              /* [first removed index] a follower dropped a conflicting suffix */
    RAFT_EV_REJECTED_STALE,         /* [their term] an AppendEntries from a lower term was refused */
    RAFT_EV_VOTE_REFUSED_VOTED,     /* [term] a vote refused because the node already voted */
    RAFT_EV_PROPOSED,               /* [index] the leader appended a client value */
    RAFT_EV_FORWARDED,              /* [leader id] a client value was forwarded to the leader */
    RAFT_EV_HALTED,                 /* [0] persist failed: the node stopped */
    RAFT_EV_OLD_ENTRY_AFTER_ELECTION, /* [index] a follower took an entry of term a from the
                                       leader of term T while it knows of another
                                       election in a term between (a leader it heard of,
                                       or its own vote for another node): figure 8's
                                       middle, where the other winner may hold a
                                       conflicting entry of that term */
    RAFT_EV_COUNT
};

struct raft_entry {
    uint64_t term;
    uint64_t hash;                  /* chained: H(hash of previous, term, value) */
    uint8_t len;
    char value[RAFT_VALUE_MAX + 1]; /* NUL-terminated in memory */
};

enum raft_msg_type {
    RAFT_MSG_VOTE_REQ = 1,
    RAFT_MSG_VOTE_RESP = 2,
    RAFT_MSG_APPEND_REQ = 3,
    RAFT_MSG_APPEND_RESP = 4,
    RAFT_MSG_PROPOSE = 5,
};

struct raft_claim {
    uint64_t term;
    uint8_t leader;
};

struct raft_msg {
    uint8_t type, from, to;
    uint64_t term;                  /* sender's currentTerm */
    /* metadata every message carries, for the assertions: the sender's
     * last log entry (RequestVote's lastLogIndex/lastLogTerm too), its
     * commit point and its applied point, and the newest leader claims it
     * knows */
    uint64_t last_index, last_term, last_hash;
    uint64_t commit_index, commit_hash;
    uint64_t applied_index, applied_hash;
    uint8_t n_claims;
    struct raft_claim claims[RAFT_MSG_CLAIMS];
    /* VOTE_RESP: granted; APPEND_RESP: success */
    uint8_t ok;
    /* APPEND_REQ */
    uint64_t prev_index, prev_term, prev_hash, leader_commit;
    uint8_t n_entries;
    struct raft_entry entries[RAFT_BATCH_MAX];
    /* APPEND_RESP: the index up to which the follower's log now matches
     * the leader's (when ok) */
    uint64_t match_index;
    /* PROPOSE */
    uint8_t value_len;
    char value[RAFT_VALUE_MAX + 1];
};

/* Wire format (little-endian, see raft.c): encode returns the length (at
 * most RAFT_MSG_WIRE_MAX) or 0 if cap is too small; decode returns 0, or -1
 * for anything malformed (bad magic/version/type/ids/lengths/checksum), so
 * corrupted packets are dropped, never interpreted. */
size_t raft_msg_encode(const struct raft_msg *m, uint8_t *buf, size_t cap);
int raft_msg_decode(const uint8_t *buf, size_t len, struct raft_msg *m);

/* The chain step: H(prev, term, value). */
uint64_t raft_hash_step(uint64_t prev, uint64_t term, const char *value, size_t len);

struct raft_config {
    uint8_t id, n_nodes;            /* 0 <= id < n_nodes <= RAFT_MAX_NODES */
    enum raft_bug bug;
    uint32_t heartbeat_ms;          /* 50 */
    /* election timeout = election_min_ms + election_step_ms * choice(election_choices) */
    uint32_t election_min_ms, election_step_ms, election_choices;     /* 150, 10, 16 */
    /* client: propose "n<id>-s<seq>" every client_min_ms + client_step_ms *
     * choice(client_choices); client_choices 0 turns the client off */
    uint32_t client_min_ms, client_step_ms, client_choices;           /* 100, 50, 10 */
    uint32_t log_capacity;          /* <= RAFT_LOG_MAX */
};

struct raft_node;

struct raft_ops {
    void *ctx;
    /* uniform in [0, n): main.c uses cc_random_choice (an explorer branch point) */
    uint64_t (*choice)(void *ctx, uint64_t n);
    void (*send)(void *ctx, const struct raft_msg *m);
    /* Make term, voted_for and the log durable. Entries below first_dirty
     * (1-based) are unchanged since the last successful call; first_dirty
     * is 0 when only term/vote changed. The log is n->log[1..n->log_len].
     * Return 0, or -1 on failure (the node halts). */
    int (*persist)(void *ctx, const struct raft_node *n, uint64_t first_dirty);
    /* An assertion evaluation; details is JSON object text when !ok, else NULL. */
    void (*check)(void *ctx, enum raft_check c, int ok, const char *details);
    /* optional */
    void (*event)(void *ctx, enum raft_event ev, uint64_t arg);
    /* optional: entry index was applied to the state machine */
    void (*apply)(void *ctx, uint64_t index, const struct raft_entry *e);
};

struct raft_node {
    struct raft_config cfg;
    struct raft_ops ops;
    /* persistent */
    uint64_t term;
    int voted_for;                  /* -1: none */
    uint64_t log_len;
    struct raft_entry log[RAFT_LOG_MAX + 1];    /* [0]: term 0, hash RAFT_HASH_INIT */
    /* volatile */
    enum raft_role role;
    int leader;                     /* known leader of term, -1 unknown */
    uint64_t commit_index;
    uint64_t applied_index;
    uint64_t applied_hash[RAFT_LOG_MAX + 1];    /* the state machine's chain */
    uint64_t next_index[RAFT_MAX_NODES], match_index[RAFT_MAX_NODES];
    uint32_t votes;                 /* bit per voter, candidate */
    uint64_t now;
    uint64_t election_timeout;      /* drawn once per term */
    uint64_t election_deadline, heartbeat_deadline, client_deadline;
    uint64_t client_seq;
    int halted;
    int restored;                   /* raft_restore found persisted state */
    /* what the node knows for the assertions */
    struct raft_claim claims[RAFT_CLAIM_HIST];
    unsigned n_claims;
    uint64_t known_commit_index, known_commit_hash;
    struct raft_claim granted[RAFT_GRANTED_HIST];  /* votes it granted (term, candidate),
                                                      newest first; memory only */
    unsigned n_granted;
    /* output */
    uint64_t dirty_from;            /* lowest changed log index, 0 none */
    int hard_dirty;
    struct raft_msg outbox[RAFT_OUTBOX_MAX];
    unsigned n_out;
    /* counters */
    uint64_t check_failures[RAFT_CHECK_COUNT];
    uint64_t msgs_sent, msgs_recv;
};

void raft_config_default(struct raft_config *cfg, uint8_t id, uint8_t n_nodes);
/* 0, or -1 for a bad config (ids, capacity, missing ops). */
int raft_init(struct raft_node *n, const struct raft_config *cfg, const struct raft_ops *ops,
              uint64_t now_ms);
/* Persisted state, right after raft_init. Hashes are recomputed. Returns 0,
 * or -1 when n_entries exceeds the capacity or voted_for is out of range. */
int raft_restore(struct raft_node *n, uint64_t term, int voted_for,
                 const struct raft_entry *entries, uint64_t n_entries);

void raft_tick(struct raft_node *n, uint64_t now_ms);
void raft_recv(struct raft_node *n, uint64_t now_ms, const struct raft_msg *m);
/* A client value: appended when leader, forwarded to the known leader,
 * else dropped. Returns 1 appended, 2 forwarded, 0 dropped. */
int raft_propose(struct raft_node *n, uint64_t now_ms, const char *value);
/* The earliest time raft_tick has work to do. */
uint64_t raft_next_deadline(const struct raft_node *n);

/* For scripted tests (each is what a timer would do): start an election
 * now; (leader) send AppendEntries to every peer now. */
void raft_campaign(struct raft_node *n, uint64_t now_ms);
void raft_heartbeat(struct raft_node *n, uint64_t now_ms);

const char *raft_role_name(enum raft_role r);
const char *raft_event_name(enum raft_event ev);

#endif
