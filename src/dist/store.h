/* The shared store of a distributed exploration (issue 19,
 * docs/distributed.md): one Redis (Debian's redis-server, client
 * libhiredis) holds what every `explore worker` shares. Not public.
 *
 * Keys are under "cc:NAME:" (NAME: the exploration's name):
 *   meta            hash: target_hash, budget (branches), per_round,
 *                   stop_after (bugs), meta (the creator's JSON: target and
 *                   settings), created_ms
 *   next            the next branch number never handed out
 *   leases          zset: branch number -> lease deadline (ms, Redis TIME)
 *   lease           hash: branch -> worker holding it;  attempts: hash
 *                   branch -> times handed out
 *   done            bitmap: bit g set once branch g's results are in;
 *                   ndone: their count
 *   cov:edges       the merged bucketed edge map (BITOP OR, server side);
 *   cov:edgeset     one bit per edge ever reached (its BITCOUNT: edges);
 *   cov:asserts     the merged assertion-state bits; cov:ahits: hash slot
 *                   -> branches that set it
 *   pt:ID           a point's JSON (opaque to Redis; id and parent kept in
 *                   ptparent), next_point, frontier (zset id -> score),
 *                   picks / wins (hash id -> count)
 *   as:ID           one assertion's catalog entry and summed counters;
 *                   asserts: set of ids
 *   bugs:by         hash assertion id -> bug number (one bug per property);
 *   bugs:sched      set of schedule hashes seen; bug:N the bug file's JSON;
 *                   bugmeta:N hash (vm, message, where, round, branch, ...,
 *                   dups); nbug
 *   round:R         hash of round R's counters (R = g / per_round + 1)
 *   stats, faults, links, guidance   hashes of counters / maxima
 *   workers         hash worker -> last report (JSON with ms)
 * A branch's results go in with one script (cc_store_complete) that
 * applies them at most once: the first completion of branch g wins, so a
 * branch run again after its lease expired is not counted twice. */
#ifndef CC_DIST_STORE_H
#define CC_DIST_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "chaoscontrol/err.h"

struct cc_store;

/* Connect to url (redis://[[USER]:PASSWORD@]HOST[:PORT][/DB] or
 * unix:///PATH[?db=N]) for the exploration `name` ([A-Za-z0-9._-], at most
 * 64). The password (%XX-decoded) may come from CC_REDIS_PASSWORD instead,
 * which keeps it out of command lines; a URL's wins. Errors name the URL
 * with the password as ***. */
int cc_store_open(const char *url, const char *name, struct cc_store **out,
                  struct cc_err *err);
void cc_store_close(struct cc_store *s);
const char *cc_store_url(const struct cc_store *s);

/* Create the exploration if it does not exist (*created = true), else
 * check that it is the same target: a different target_hash is refused
 * with a message naming both. meta_json is stored as given (the target
 * and settings, for workers that join); budget in branches. */
struct cc_store_meta {
    const char *target_hash;
    uint64_t budget;
    unsigned per_round;
    unsigned stop_after;            /* stop once this many bugs (0: never) */
    const char *meta_json;
};
int cc_store_create(struct cc_store *s, const struct cc_store_meta *m, bool *created,
                    struct cc_err *err);
/* Join: the stored meta JSON (malloc'd) after checking target_hash (NULL:
 * no check). ENOENT: no such exploration. */
int cc_store_join(struct cc_store *s, const char *target_hash, char **meta_json,
                  struct cc_err *err);

/* The root point (the setup snapshot's; its JSON as pt:ID holds points)
 * and what setup reached (setup: its coverage maps, and a delta with the
 * assertion catalog and guidance), made by the first worker to boot. When
 * it exists already, *existing gets the stored root JSON (malloc'd) and
 * *existing_setup_ns the stored setup time, for the caller to compare with
 * its own boot (a different one: not deterministic across machines). */
struct cc_store_result;
int cc_store_root(struct cc_store *s, uint64_t root_id, const char *root_json,
                  uint64_t setup_ns, const struct cc_store_result *setup, char **existing,
                  uint64_t *existing_setup_ns, struct cc_err *err);

/* A branch to run. */
struct cc_store_job {
    uint64_t branch;                /* its number g, from 0 */
    unsigned attempt;               /* 1 the first time; more when re-leased */
};
/* 0: a job (leased for lease_ms); 1: no more work (the budget is done, or
 * stop_after bugs were found); 2: none free now: others hold the last
 * leases (*wait_ms: until the first of them expires). */
int cc_store_claim(struct cc_store *s, const char *worker, uint64_t lease_ms,
                   struct cc_store_job *job, uint64_t *wait_ms, struct cc_err *err);
/* Extend the lease of branch g: 0 done, 1 it is no longer this worker's. */
int cc_store_renew(struct cc_store *s, const char *worker, uint64_t g, uint64_t lease_ms,
                   struct cc_err *err);

/* A branch's results. edges: the branch's bucketed edge map (n_edges
 * bytes, or NULL), asserts: its assertion-state bytes; only the 256-byte
 * chunks with bits the base maps (what the worker's view had; NULL: none)
 * lack are sent. delta: JSON (docs/distributed.md, "results"). */
#define CC_STORE_CHUNK 256
struct cc_store_result {
    const uint8_t *edges, *asserts;
    const uint8_t *edges_base, *asserts_base;
    /* the base chunks' versions (a view's cache; NULL: 0, never written):
     * a chunk nobody changed since is written whole, without a merge */
    const uint64_t *edges_ver, *asserts_ver;
    size_t n_ver_e, n_ver_a;
    size_t n_edges, n_asserts;
    const char *delta;
    uint64_t wall_ms;               /* the branch's run time */
};
struct cc_store_reply {
    bool applied;                   /* false: g was done already (nothing changed) */
    uint64_t new_buckets, new_edges, new_assert_bits;
    unsigned bug;                   /* its number when the branch's bug is new, else 0 */
    uint64_t point_ids[8];          /* ids given to the branch's new points, in order */
    size_t n_points;
};
int cc_store_complete(struct cc_store *s, const char *worker, uint64_t g,
                      const struct cc_store_result *r, struct cc_store_reply *reply,
                      struct cc_err *err);

/* Progress: branches handed out, done, budget, bugs, live leases. */
struct cc_store_status {
    uint64_t next, done, budget, leased, bugs, points, frontier;
    uint64_t edges, buckets, assert_bits;
    unsigned per_round;
};
int cc_store_status(struct cc_store *s, struct cc_store_status *st, struct cc_err *err);

/* What a worker (or an export) has already fetched, so that a view sends
 * only what changed: point JSON by id (immutable once written), the
 * coverage maps as of version seq (each merge bumps the version of the
 * chunks it changed), the rounds complete (they change no more). A view's
 * size so grows with the frontier and the bugs, not with the rounds run.
 * Zero-initialize; cc_store_cache_free. */
struct cc_store_cache {
    json_t *pts;                    /* "id" -> the point's JSON text */
    uint64_t have;                  /* next_point as of the last view */
    uint8_t *edges, *asserts;       /* the merged maps */
    size_t n_edges, n_asserts;
    uint64_t *edges_ver, *asserts_ver;  /* each chunk's version */
    size_t n_edges_ver, n_asserts_ver;
    uint64_t seq;                   /* their version (chunks newer are sent) */
    json_t *history;                /* the rounds complete so far (only later ones are sent) */
    bool init;
};
void cc_store_cache_free(struct cc_store_cache *c);

/* The exploration as a checkpoint JSON object (format
 * chaoscontrol-explore-checkpoint, what checkpoint.json holds, so
 * xstate_from_json validates it): the frontier with recipes, the lineage,
 * merged coverage, the assertion table, bugs, faults, links, guidance and
 * the history of the rounds complete so far (rounds_done counts those
 * before the first incomplete one). One script, one round trip. */
struct cc_store_progress {
    uint64_t next, done, budget, bugs;
    unsigned per_round;
    double wall_s;                  /* from creation to the last completion */
};
int cc_store_view(struct cc_store *s, struct cc_store_cache *c, json_t **out,
                  struct cc_store_progress *pg, struct cc_err *err);

/* No new branches from now on (a time limit, an interrupt): claims answer
 * "done"; the branches running finish and count. */
int cc_store_stop(struct cc_store *s, struct cc_err *err);

/* More rounds (explore resume): the budget becomes the rounds begun so
 * far plus rounds; stop_after > 0 stops after that many more bugs, 0
 * never; a stop mark goes. *budget gets the new budget in branches, *bugs
 * the bugs so far. */
int cc_store_extend(struct cc_store *s, unsigned rounds, unsigned stop_after,
                    uint64_t *budget, uint64_t *bugs, struct cc_err *err);

/* Raw reads for export and for a worker's view (the caller owns the
 * result): a bug file's JSON; one key's hash as a JSON object of strings;
 * a string key's bytes. ENOENT when missing. */
int cc_store_get(struct cc_store *s, const char *key, char **val, size_t *len,
                 struct cc_err *err);
int cc_store_hgetall(struct cc_store *s, const char *key, json_t **obj, struct cc_err *err);

/* What this connection cost: commands sent (round trips) and bytes each
 * way (arguments and replies, not counting the protocol's framing). */
struct cc_store_cost {
    uint64_t round_trips, bytes_out, bytes_in;
};
void cc_store_cost(const struct cc_store *s, struct cc_store_cost *c);

/* A private redis-server for one machine (`explore run --workers N`,
 * tests): its data (append-only file, fsync every second) and log in dir,
 * its Unix socket in a new directory $TMPDIR/cc-redis-XXXXXX; *url gets
 * "unix://.../redis.sock" (malloc'd), *pid the server. *url must be NULL,
 * or the URL of a server of dir stopped since, whose socket this one takes
 * (so that clients reconnect to the same URL).
 * cc_store_local_stop: SIGTERM and wait (then SIGKILL); with the URL, the
 * socket's directory goes too. */
int cc_store_local_start(const char *dir, char **url, int *pid, struct cc_err *err);
void cc_store_local_stop(int pid, const char *url);

#endif
