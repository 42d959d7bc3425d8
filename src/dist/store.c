/* The shared store of a distributed exploration on Redis (store.h). Every
 * change is one Lua script, so Redis applies it whole or not at all; the
 * scripts use Redis's clock (TIME), never a worker's, for leases. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "dist/store.h"

extern char **environ;

#define STORE_TIMEOUT_S 30          /* one command's reply */
#define STORE_RECONNECT_S 60        /* a restarting Redis (AOF load) */

/* ---- scripts ---- */

/* Shared by every script: the prefix is ARGV[1]; now in ms from Redis. */
#define LUA_PRELUDE                                                                \
    "local p = ARGV[1]\n"                                                          \
    "local t = redis.call('TIME')\n"                                               \
    "local ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"       \
    "local function I(x) return string.format('%.0f', tonumber(x) or 0) end\n"

/* ARGV: p, target_hash, budget, per_round, stop_after, meta, root_id, root_json */
static const char lua_create[] = LUA_PRELUDE
    "local cur = redis.call('HGET', p..'meta', 'target_hash')\n"
    "if cur then return {0, cur} end\n"
    "redis.call('HSET', p..'meta', 'target_hash', ARGV[2], 'budget', ARGV[3],\n"
    "  'per_round', ARGV[4], 'stop_after', ARGV[5], 'meta', ARGV[6], 'created_ms', I(ms))\n"
    "redis.call('SET', p..'next_point', ARGV[7])\n"
    "redis.call('SET', p..'pt:'..ARGV[7], ARGV[8])\n"
    "redis.call('HSET', p..'ptparent', ARGV[7], 0)\n"
    "redis.call('ZADD', p..'frontier', 0, ARGV[7])\n"
    "return {1, ARGV[2]}\n";

/* ARGV: p, worker, lease_ms. {0, g, attempt} | {1} | {2, wait_ms} */
static const char lua_claim[] = LUA_PRELUDE
    "local w, lease = ARGV[2], tonumber(ARGV[3])\n"
    "local budget = redis.call('HGET', p..'meta', 'budget')\n"
    "if not budget then return redis.error_reply('ENOENT no such exploration') end\n"
    "redis.call('HSET', p..'workers', w, I(ms))\n"
    "local stop = tonumber(redis.call('HGET', p..'meta', 'stop_after') or '0')\n"
    "if stop > 0 and tonumber(redis.call('GET', p..'nbug') or '0') >= stop then return {1} end\n"
    "local exp = redis.call('ZRANGEBYSCORE', p..'leases', '-inf', I(ms), 'LIMIT', 0, 1)\n"
    "if #exp > 0 then\n"
    "  local g = exp[1]\n"
    "  redis.call('ZADD', p..'leases', I(ms + lease), g)\n"
    "  redis.call('HSET', p..'lease', g, w)\n"
    "  return {0, tonumber(g), redis.call('HINCRBY', p..'attempts', g, 1)}\n"
    "end\n"
    "local n = tonumber(redis.call('GET', p..'next') or '0')\n"
    "if n < tonumber(budget) then\n"
    "  redis.call('SET', p..'next', I(n + 1))\n"
    "  redis.call('ZADD', p..'leases', I(ms + lease), I(n))\n"
    "  redis.call('HSET', p..'lease', I(n), w)\n"
    "  redis.call('HSET', p..'attempts', I(n), 1)\n"
    "  return {0, n, 1}\n"
    "end\n"
    "local first = redis.call('ZRANGE', p..'leases', 0, 0, 'WITHSCORES')\n"
    "if #first > 0 then return {2, math.max(0, tonumber(first[2]) - ms)} end\n"
    "return {1}\n";

/* ARGV: p, worker, g, lease_ms. 1 renewed, 0 not this worker's lease */
static const char lua_renew[] = LUA_PRELUDE
    "if redis.call('HGET', p..'lease', ARGV[3]) ~= ARGV[2] then return 0 end\n"
    "redis.call('ZADD', p..'leases', 'XX', I(ms + tonumber(ARGV[4])), ARGV[3])\n"
    "redis.call('HSET', p..'workers', ARGV[2], I(ms))\n"
    "return 1\n";

/* ARGV: p, worker, g, delta JSON, edges, edgeset, asserts, wall_ms.
 * {0} when g was done already; else {1, new_buckets, new_edges,
 * new_assert_bits, bug number or 0, point ids...} */
static const char lua_complete[] = LUA_PRELUDE
    "local w, g = ARGV[2], tonumber(ARGV[3])\n"
    "if redis.call('GETBIT', p..'done', g) == 1 then return {0} end\n"
    "if not redis.call('HGET', p..'meta', 'budget') then\n"
    "  return redis.error_reply('ENOENT no such exploration') end\n"
    "local d = cjson.decode(ARGV[4])\n"
    "local per = tonumber(redis.call('HGET', p..'meta', 'per_round') or '1')\n"
    "local created = tonumber(redis.call('HGET', p..'meta', 'created_ms') or '0')\n"
    "redis.call('SETBIT', p..'done', g, 1)\n"
    "redis.call('INCR', p..'ndone')\n"
    "redis.call('ZREM', p..'leases', ARGV[3])\n"
    "redis.call('HDEL', p..'lease', ARGV[3])\n"
    "redis.call('HSET', p..'workers', w, I(ms))\n"
    "local function merge(key, val)\n"
    "  if #val == 0 then return 0 end\n"
    "  local b0 = redis.call('BITCOUNT', key)\n"
    "  redis.call('SET', p..'tmp', val)\n"
    "  redis.call('BITOP', 'OR', key, key, p..'tmp')\n"
    "  redis.call('DEL', p..'tmp')\n"
    "  return redis.call('BITCOUNT', key) - b0\n"
    "end\n"
    "local nb = merge(p..'cov:edges', ARGV[5])\n"
    "local ne = merge(p..'cov:edgeset', ARGV[6])\n"
    "local na = merge(p..'cov:asserts', ARGV[7])\n"
    "local function list(x) if type(x) == 'table' then return x end return {} end\n"
    "for _, slot in ipairs(list(d.ahits)) do redis.call('HINCRBY', p..'cov:ahits', I(slot), 1) end\n"
    "for _, a in ipairs(list(d.asserts)) do\n"
    "  local k = p..'as:'..a.id\n"
    "  if redis.call('SADD', p..'asserts', a.id) == 1 then\n"
    "    redis.call('HSET', k, 'kind', I(a.kind), 'line', I(a.line), 'message', a.message,\n"
    "      'file', a.file, 'function', a.func, 'vms', 0)\n"
    "  end\n"
    "  redis.call('HINCRBY', k, 'hits', I(a.hits))\n"
    "  redis.call('HINCRBY', k, 'passes', I(a.passes))\n"
    "  redis.call('HINCRBY', k, 'fails', I(a.fails))\n"
    "  redis.call('HINCRBY', k, 'branches_hit', I(a.hit))\n"
    "  redis.call('HINCRBY', k, 'branches_failed', I(a.failed))\n"
    "  local v = tonumber(redis.call('HGET', k, 'vms') or '0')\n"
    "  redis.call('HSET', k, 'vms', I(bit.bor(v, tonumber(a.vms))))\n"
    "end\n"
    "local ids = {}\n"
    "for i, pt in ipairs(list(d.points)) do\n"
    "  local id = redis.call('INCR', p..'next_point')\n"
    "  ids[i] = id\n"
    "  local parent = tonumber(pt.parent)\n"
    "  if parent < 0 then parent = ids[-parent] or 0 end\n"
    "  redis.call('SET', p..'pt:'..id, pt.json)\n"
    "  redis.call('HSET', p..'ptparent', id, I(parent))\n"
    "  redis.call('ZADD', p..'frontier', tonumber(pt.score) or 0, id)\n"
    "end\n"
    "for _, x in ipairs(list(d.picks)) do redis.call('HINCRBY', p..'picks', I(x[1]), I(x[2])) end\n"
    "for _, x in ipairs(list(d.wins)) do redis.call('HINCRBY', p..'wins', I(x[1]), I(x[2])) end\n"
    "for _, x in ipairs(list(d.evict)) do redis.call('ZREM', p..'frontier', I(x)) end\n"
    "local round = math.floor(g / per) + 1\n"
    "local rk = p..'round:'..round\n"
    "local bugno = 0\n"
    "local b = d.bug\n"
    "if type(b) == 'table' and redis.call('SADD', p..'bugs:sched', b.sched) == 1 then\n"
    "  local n = redis.call('HGET', p..'bugs:by', b.assertion)\n"
    "  if n then\n"
    "    redis.call('HINCRBY', p..'bugmeta:'..n, 'dups', 1)\n"
    "  else\n"
    "    n = redis.call('INCR', p..'nbug')\n"
    "    redis.call('HSET', p..'bugs:by', b.assertion, n)\n"
    "    redis.call('SET', p..'bug:'..n, b.json)\n"
    "    redis.call('HSET', p..'bugmeta:'..n, 'assertion', b.assertion, 'vm', I(b.vm),\n"
    "      'message', b.message, 'where', b.where, 'round', I(round), 'branch', I(g),\n"
    "      'wall_ms', I(ms - created), 'sim_ns', b.sim_ns, 'size', I(b.size), 'dups', 0,\n"
    "      'worker', w)\n"
    "    redis.call('HINCRBY', rk, 'bugs', 1)\n"
    "    bugno = n\n"
    "  end\n"
    "end\n"
    "redis.call('HINCRBY', p..'stats', 'branches_done', 1)\n"
    "for _, k in ipairs({'react_branches', 'react_faults', 'mid_points'}) do\n"
    "  if d[k] then redis.call('HINCRBY', p..'stats', k, I(d[k])) end\n"
    "end\n"
    "if type(d.faults) == 'table' then\n"
    "  for k, v in pairs(d.faults) do redis.call('HINCRBY', p..'faults', k, I(v)) end\n"
    "end\n"
    "for _, x in ipairs(list(d.links)) do redis.call('HINCRBY', p..'links', x[1], I(x[2])) end\n"
    "for _, x in ipairs(list(d.guidance)) do\n"
    "  local cur = redis.call('HGET', p..'guidance', x[1])\n"
    "  if not cur or tonumber(cur) < tonumber(x[2]) then\n"
    "    redis.call('HSET', p..'guidance', x[1], x[2]) end\n"
    "end\n"
    "redis.call('HINCRBY', rk, 'branches', 1)\n"
    "redis.call('HINCRBY', rk, 'new_edges', ne)\n"
    "redis.call('HINCRBY', rk, 'new_assert_bits', na)\n"
    "redis.call('HINCRBY', rk, 'new_points', #ids)\n"
    "for _, k in ipairs({'materialized', 'diverged', 'new_maxima'}) do\n"
    "  if d[k] then redis.call('HINCRBY', rk, k, I(d[k])) end\n"
    "end\n"
    "local start = ms - tonumber(ARGV[8])\n"
    "local s0 = redis.call('HGET', rk, 'start_ms')\n"
    "if not s0 or start < tonumber(s0) then redis.call('HSET', rk, 'start_ms', I(start)) end\n"
    "redis.call('HSET', rk, 'end_ms', I(ms))\n"
    "redis.call('HSET', rk, 'edges', redis.call('BITCOUNT', p..'cov:edgeset'),\n"
    "  'assert_bits', redis.call('BITCOUNT', p..'cov:asserts'),\n"
    "  'frontier', redis.call('ZCARD', p..'frontier'))\n"
    "local r = {1, nb, ne, na, bugno}\n"
    "for _, id in ipairs(ids) do r[#r + 1] = id end\n"
    "return r\n";

/* ARGV: p. {next, done, budget, leased, bugs, points, frontier, edges,
 * buckets, assert_bits, per_round} */
static const char lua_status[] = LUA_PRELUDE
    "local function n(x) return tonumber(x or '0') or 0 end\n"
    "return {n(redis.call('GET', p..'next')), n(redis.call('GET', p..'ndone')),\n"
    "  n(redis.call('HGET', p..'meta', 'budget')), redis.call('ZCARD', p..'leases'),\n"
    "  n(redis.call('GET', p..'nbug')), n(redis.call('GET', p..'next_point')),\n"
    "  redis.call('ZCARD', p..'frontier'), redis.call('BITCOUNT', p..'cov:edgeset'),\n"
    "  redis.call('BITCOUNT', p..'cov:edges'), redis.call('BITCOUNT', p..'cov:asserts'),\n"
    "  n(redis.call('HGET', p..'meta', 'per_round'))}\n";

enum { S_CREATE, S_CLAIM, S_RENEW, S_COMPLETE, S_STATUS, S_N };
static const char *const scripts[S_N] = {lua_create, lua_claim, lua_renew, lua_complete,
                                         lua_status};

struct cc_store {
    redisContext *c;
    char *url;
    char prefix[80];
    char sha[S_N][48];              /* SCRIPT LOAD's answers; "" until loaded */
    struct cc_store_cost cost;
    /* where to (re)connect */
    char *host, *path;
    int port, db;
};

/* ---- connection ---- */

static int parse_url(struct cc_store *s, const char *url, struct cc_err *err)
{
    s->port = 6379;
    s->db = 0;
    if (!strncmp(url, "unix://", 7)) {
        const char *path = url + 7;
        const char *q = strchr(path, '?');
        size_t len = q ? (size_t)(q - path) : strlen(path);
        if (!len || path[0] != '/')
            return cc_err_set(err, EINVAL, "redis URL '%s': unix:// needs an absolute path "
                              "(unix:///run/redis.sock)", url);
        s->path = strndup(path, len);
        if (q) {
            char *end;
            if (strncmp(q, "?db=", 4) || (s->db = (int)strtol(q + 4, &end, 10), *end) ||
                s->db < 0)
                return cc_err_set(err, EINVAL, "redis URL '%s': after the path only ?db=N", url);
        }
        return s->path ? 0 : cc_err_set(err, ENOMEM, "out of memory");
    }
    if (strncmp(url, "redis://", 8))
        return cc_err_set(err, EINVAL, "redis URL '%s': expected redis://HOST[:PORT][/DB] "
                          "or unix:///PATH", url);
    const char *h = url + 8;
    if (strchr(h, '@'))
        return cc_err_set(err, EINVAL, "redis URL '%s': passwords in the URL are not "
                          "supported (use a Unix socket or a private network)", url);
    size_t hl = strcspn(h, ":/");
    if (!hl)
        return cc_err_set(err, EINVAL, "redis URL '%s': no host", url);
    s->host = strndup(h, hl);
    if (!s->host)
        return cc_err_set(err, ENOMEM, "out of memory");
    const char *r = h + hl;
    char *end;
    if (*r == ':') {
        long port = strtol(r + 1, &end, 10);
        if (end == r + 1 || port <= 0 || port > 65535)
            return cc_err_set(err, EINVAL, "redis URL '%s': bad port", url);
        s->port = (int)port;
        r = end;
    }
    if (*r == '/' && r[1]) {
        long db = strtol(r + 1, &end, 10);
        if (end == r + 1 || *end || db < 0 || db > 1000)
            return cc_err_set(err, EINVAL, "redis URL '%s': bad database number", url);
        s->db = (int)db;
    } else if (*r && strcmp(r, "/")) {
        return cc_err_set(err, EINVAL, "redis URL '%s': unexpected '%s'", url, r);
    }
    return 0;
}

static void account(struct cc_store *s, const redisReply *r)
{
    if (!r)
        return;
    switch (r->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
        s->cost.bytes_in += r->len;
        break;
    case REDIS_REPLY_INTEGER:
        s->cost.bytes_in += 8;
        break;
    case REDIS_REPLY_ARRAY:
        for (size_t i = 0; i < r->elements; i++)
            account(s, r->element[i]);
        break;
    default:
        break;
    }
}

static int connect_once(struct cc_store *s, struct cc_err *err)
{
    struct timeval tv = {.tv_sec = 5};
    if (s->c)
        redisFree(s->c);
    s->c = s->path ? redisConnectUnixWithTimeout(s->path, tv)
                   : redisConnectWithTimeout(s->host, s->port, tv);
    if (!s->c)
        return cc_err_set(err, ENOMEM, "out of memory");
    if (s->c->err)
        return cc_err_set(err, ECONNREFUSED, "redis %s: %s", s->url, s->c->errstr);
    struct timeval rt = {.tv_sec = STORE_TIMEOUT_S};
    redisSetTimeout(s->c, rt);
    if (s->db) {
        redisReply *r = redisCommand(s->c, "SELECT %d", s->db);
        bool bad = !r || r->type == REDIS_REPLY_ERROR;
        int rc = bad ? cc_err_set(err, EIO, "redis %s: SELECT %d: %s", s->url, s->db,
                                  r ? r->str : s->c->errstr)
                     : 0;
        freeReplyObject(r);
        if (rc < 0)
            return rc;
    }
    memset(s->sha, 0, sizeof(s->sha));     /* a new server may not have them */
    return 0;
}

/* One command; on a lost connection, reconnect (Redis restarting, loading
 * its AOF) for up to STORE_RECONNECT_S and send it again. Commands are
 * only sent again where that is safe: every script checks what it changes
 * (a completion twice is refused by the done bit). */
static redisReply *cmd(struct cc_store *s, int argc, const char **argv, const size_t *lens,
                       struct cc_err *err)
{
    for (int tries = 0;; tries++) {
        if (s->c && !s->c->err) {
            s->cost.round_trips++;
            for (int i = 0; i < argc; i++)
                s->cost.bytes_out += lens[i];
            redisReply *r = redisCommandArgv(s->c, argc, argv, lens);
            if (r) {
                account(s, r);
                if (r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "LOADING", 7) &&
                    tries < STORE_RECONNECT_S * 2) {
                    freeReplyObject(r);
                    usleep(500 * 1000);
                    continue;
                }
                return r;
            }
        }
        if (tries >= STORE_RECONNECT_S * 2) {
            cc_err_set(err, EIO, "redis %s: %s (gave up after %d s)", s->url,
                       s->c ? s->c->errstr : "not connected", STORE_RECONNECT_S);
            return NULL;
        }
        usleep(500 * 1000);
        struct cc_err e2 = {0};
        (void)connect_once(s, &e2);
    }
}

int cc_store_open(const char *url, const char *name, struct cc_store **out, struct cc_err *err)
{
    *out = NULL;
    size_t nl = strlen(name);
    if (!nl || nl > 64 || strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                       "0123456789._-") != nl)
        return cc_err_set(err, EINVAL, "exploration name '%s': use 1-64 of [A-Za-z0-9._-]",
                          name);
    /* hiredis writes with write(2): a server gone away must be an error
     * to retry, not SIGPIPE ending the worker */
    struct sigaction sa;
    if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL)
        signal(SIGPIPE, SIG_IGN);
    struct cc_store *s = calloc(1, sizeof(*s));
    if (!s || !(s->url = strdup(url))) {
        free(s);
        return cc_err_set(err, ENOMEM, "out of memory");
    }
    snprintf(s->prefix, sizeof(s->prefix), "cc:%s:", name);
    int rc = parse_url(s, url, err);
    if (rc == 0)
        rc = connect_once(s, err);
    if (rc < 0) {
        cc_store_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

void cc_store_close(struct cc_store *s)
{
    if (!s)
        return;
    if (s->c)
        redisFree(s->c);
    free(s->url);
    free(s->host);
    free(s->path);
    free(s);
}

const char *cc_store_url(const struct cc_store *s)
{
    return s->url;
}

void cc_store_cost(const struct cc_store *s, struct cc_store_cost *c)
{
    *c = s->cost;
}

/* Run script k with args (after the prefix): EVALSHA, loading it first
 * (and again after a server restart: NOSCRIPT). */
static redisReply *script(struct cc_store *s, int k, int n, const char **args,
                          const size_t *lens, struct cc_err *err)
{
    const char *argv[16];
    size_t argl[16];
    if (n + 4 > 16) {
        cc_err_set(err, EINVAL, "too many script arguments");
        return NULL;
    }
    for (int tries = 0; tries < 3; tries++) {
        if (!s->sha[k][0]) {
            const char *la[] = {"SCRIPT", "LOAD", scripts[k]};
            size_t ll[] = {6, 4, strlen(scripts[k])};
            redisReply *r = cmd(s, 3, la, ll, err);
            if (!r)
                return NULL;
            if (r->type != REDIS_REPLY_STRING || r->len >= sizeof(s->sha[k])) {
                cc_err_set(err, EIO, "redis %s: SCRIPT LOAD: %s", s->url,
                           r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
                freeReplyObject(r);
                return NULL;
            }
            memcpy(s->sha[k], r->str, r->len + 1);
            freeReplyObject(r);
        }
        argv[0] = "EVALSHA";
        argl[0] = 7;
        argv[1] = s->sha[k];
        argl[1] = strlen(s->sha[k]);
        argv[2] = "0";
        argl[2] = 1;
        argv[3] = s->prefix;
        argl[3] = strlen(s->prefix);
        for (int i = 0; i < n; i++) {
            argv[4 + i] = args[i];
            argl[4 + i] = lens ? lens[i] : strlen(args[i]);
        }
        redisReply *r = cmd(s, 4 + n, argv, argl, err);
        if (!r)
            return NULL;
        if (r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "NOSCRIPT", 8)) {
            freeReplyObject(r);
            s->sha[k][0] = 0;
            continue;
        }
        if (r->type == REDIS_REPLY_ERROR) {
            const char *m = strstr(r->str, "ENOENT ");
            int code = m ? ENOENT : EIO;
            cc_err_set(err, code, "redis %s: %s", s->url, m ? m + 7 : r->str);
            freeReplyObject(r);
            return NULL;
        }
        return r;
    }
    cc_err_set(err, EIO, "redis %s: the server keeps forgetting our scripts", s->url);
    return NULL;
}

static long long el_int(const redisReply *r, size_t i)
{
    if (i >= r->elements)
        return 0;
    const redisReply *e = r->element[i];
    if (e->type == REDIS_REPLY_INTEGER)
        return e->integer;
    if (e->type == REDIS_REPLY_STRING)
        return strtoll(e->str, NULL, 10);
    return 0;
}

static bool is_array(const redisReply *r, size_t min)
{
    return r && r->type == REDIS_REPLY_ARRAY && r->elements >= min;
}

static int bad_reply(struct cc_store *s, redisReply *r, const char *what, struct cc_err *err)
{
    freeReplyObject(r);
    return cc_err_set(err, EIO, "redis %s: unexpected reply to %s", s->url, what);
}

/* ---- the exploration ---- */

int cc_store_create(struct cc_store *s, const struct cc_store_meta *m, bool *created,
                    struct cc_err *err)
{
    char budget[24], per[16], stop[16], root[24];
    snprintf(budget, sizeof(budget), "%" PRIu64, m->budget);
    snprintf(per, sizeof(per), "%u", m->per_round ? m->per_round : 1);
    snprintf(stop, sizeof(stop), "%u", m->stop_after);
    snprintf(root, sizeof(root), "%" PRIu64, m->root_id);
    const char *a[] = {m->target_hash, budget, per, stop, m->meta_json ? m->meta_json : "{}",
                       root, m->root_json ? m->root_json : "{}"};
    redisReply *r = script(s, S_CREATE, 7, a, NULL, err);
    if (!r)
        return -err->code;
    if (!is_array(r, 2) || r->element[1]->type != REDIS_REPLY_STRING)
        return bad_reply(s, r, "create", err);
    *created = el_int(r, 0) == 1;
    int rc = 0;
    if (!*created && strcmp(r->element[1]->str, m->target_hash))
        rc = cc_err_set(err, EEXIST, "redis %s: exploration '%.*s' exists with another "
                        "target (target hash %.16s..., this one %.16s...): use another --name",
                        s->url, (int)strlen(s->prefix) - 4, s->prefix + 3,
                        r->element[1]->str, m->target_hash);
    freeReplyObject(r);
    return rc;
}

int cc_store_join(struct cc_store *s, const char *target_hash, char **meta_json,
                  struct cc_err *err)
{
    *meta_json = NULL;
    char key[128];
    snprintf(key, sizeof(key), "%smeta", s->prefix);
    const char *a[] = {"HMGET", key, "target_hash", "meta"};
    redisReply *r = cmd(s, 4, a, (size_t[]){5, strlen(key), 11, 4}, err);
    if (!r)
        return -err->code;
    if (!is_array(r, 2))
        return bad_reply(s, r, "HMGET meta", err);
    int rc = 0;
    const redisReply *h = r->element[0], *mj = r->element[1];
    if (h->type != REDIS_REPLY_STRING || mj->type != REDIS_REPLY_STRING)
        rc = cc_err_set(err, ENOENT, "redis %s: no exploration '%.*s' there (create it with "
                        "'explore run ... --redis URL --name NAME --workers 0')", s->url,
                        (int)strlen(s->prefix) - 4, s->prefix + 3);
    else if (target_hash && strcmp(h->str, target_hash))
        rc = cc_err_set(err, EINVAL, "this worker's kernel, initrd or disk image differ from "
                        "the exploration's: target hash %.16s... here, %.16s... in %s; give "
                        "the same files (--kernel, --initrd, --disk-image)", target_hash,
                        h->str, s->url);
    else if (!(*meta_json = strdup(mj->str)))
        rc = cc_err_set(err, ENOMEM, "out of memory");
    freeReplyObject(r);
    return rc;
}

int cc_store_claim(struct cc_store *s, const char *worker, uint64_t lease_ms,
                   struct cc_store_job *job, uint64_t *wait_ms, struct cc_err *err)
{
    char lease[24];
    snprintf(lease, sizeof(lease), "%" PRIu64, lease_ms);
    const char *a[] = {worker, lease};
    redisReply *r = script(s, S_CLAIM, 2, a, NULL, err);
    if (!r)
        return -err->code;
    if (!is_array(r, 1))
        return bad_reply(s, r, "claim", err);
    int rc = (int)el_int(r, 0);
    if (rc == 0 && r->elements >= 3) {
        job->branch = (uint64_t)el_int(r, 1);
        job->attempt = (unsigned)el_int(r, 2);
    } else if (rc == 2 && r->elements >= 2) {
        *wait_ms = (uint64_t)el_int(r, 1);
    } else if (rc != 1) {
        return bad_reply(s, r, "claim", err);
    }
    freeReplyObject(r);
    return rc;
}

int cc_store_renew(struct cc_store *s, const char *worker, uint64_t g, uint64_t lease_ms,
                   struct cc_err *err)
{
    char gs[24], lease[24];
    snprintf(gs, sizeof(gs), "%" PRIu64, g);
    snprintf(lease, sizeof(lease), "%" PRIu64, lease_ms);
    const char *a[] = {worker, gs, lease};
    redisReply *r = script(s, S_RENEW, 3, a, NULL, err);
    if (!r)
        return -err->code;
    if (r->type != REDIS_REPLY_INTEGER)
        return bad_reply(s, r, "renew", err);
    int rc = r->integer == 1 ? 0 : 1;
    freeReplyObject(r);
    return rc;
}

int cc_store_complete(struct cc_store *s, const char *worker, uint64_t g,
                      const struct cc_store_result *res, struct cc_store_reply *reply,
                      struct cc_err *err)
{
    memset(reply, 0, sizeof(*reply));
    char gs[24], wall[24];
    snprintf(gs, sizeof(gs), "%" PRIu64, g);
    snprintf(wall, sizeof(wall), "%" PRIu64, res->wall_ms);
    const char *delta = res->delta ? res->delta : "{}";
    const char *a[] = {worker, gs, delta, (const char *)res->edges,
                       (const char *)res->edgeset, (const char *)res->asserts, wall};
    size_t l[] = {strlen(worker), strlen(gs), strlen(delta), res->edges ? res->n_edges : 0,
                  res->edgeset ? res->n_edgeset : 0, res->asserts ? res->n_asserts : 0,
                  strlen(wall)};
    for (int i = 3; i < 6; i++)
        if (!a[i])
            a[i] = "";
    redisReply *r = script(s, S_COMPLETE, 7, a, l, err);
    if (!r)
        return -err->code;
    if (!is_array(r, 1))
        return bad_reply(s, r, "complete", err);
    reply->applied = el_int(r, 0) == 1;
    if (reply->applied) {
        if (r->elements < 5)
            return bad_reply(s, r, "complete", err);
        reply->new_buckets = (uint64_t)el_int(r, 1);
        reply->new_edges = (uint64_t)el_int(r, 2);
        reply->new_assert_bits = (uint64_t)el_int(r, 3);
        reply->bug = (unsigned)el_int(r, 4);
        for (size_t i = 5; i < r->elements && reply->n_points < 8; i++)
            reply->point_ids[reply->n_points++] = (uint64_t)el_int(r, i);
    }
    freeReplyObject(r);
    return 0;
}

int cc_store_status(struct cc_store *s, struct cc_store_status *st, struct cc_err *err)
{
    redisReply *r = script(s, S_STATUS, 0, NULL, NULL, err);
    if (!r)
        return -err->code;
    if (!is_array(r, 11))
        return bad_reply(s, r, "status", err);
    *st = (struct cc_store_status){
        .next = (uint64_t)el_int(r, 0), .done = (uint64_t)el_int(r, 1),
        .budget = (uint64_t)el_int(r, 2), .leased = (uint64_t)el_int(r, 3),
        .bugs = (uint64_t)el_int(r, 4), .points = (uint64_t)el_int(r, 5),
        .frontier = (uint64_t)el_int(r, 6), .edges = (uint64_t)el_int(r, 7),
        .buckets = (uint64_t)el_int(r, 8), .assert_bits = (uint64_t)el_int(r, 9),
        .per_round = (unsigned)el_int(r, 10),
    };
    freeReplyObject(r);
    return 0;
}

int cc_store_get(struct cc_store *s, const char *key, char **val, size_t *len,
                 struct cc_err *err)
{
    *val = NULL;
    char k[256];
    snprintf(k, sizeof(k), "%s%s", s->prefix, key);
    const char *a[] = {"GET", k};
    redisReply *r = cmd(s, 2, a, (size_t[]){3, strlen(k)}, err);
    if (!r)
        return -err->code;
    int rc = 0;
    if (r->type == REDIS_REPLY_NIL) {
        rc = cc_err_set(err, ENOENT, "redis %s: no key %s", s->url, k);
    } else if (r->type != REDIS_REPLY_STRING) {
        return bad_reply(s, r, "GET", err);
    } else if (!(*val = malloc(r->len + 1))) {
        rc = cc_err_set(err, ENOMEM, "out of memory");
    } else {
        memcpy(*val, r->str, r->len);
        (*val)[r->len] = 0;
        if (len)
            *len = r->len;
    }
    freeReplyObject(r);
    return rc;
}

int cc_store_hgetall(struct cc_store *s, const char *key, json_t **obj, struct cc_err *err)
{
    *obj = NULL;
    char k[256];
    snprintf(k, sizeof(k), "%s%s", s->prefix, key);
    const char *a[] = {"HGETALL", k};
    redisReply *r = cmd(s, 2, a, (size_t[]){7, strlen(k)}, err);
    if (!r)
        return -err->code;
    if (r->type != REDIS_REPLY_ARRAY || r->elements % 2)
        return bad_reply(s, r, "HGETALL", err);
    json_t *o = json_object();
    for (size_t i = 0; o && i + 1 < r->elements; i += 2) {
        const redisReply *f = r->element[i], *v = r->element[i + 1];
        if (f->type == REDIS_REPLY_STRING && v->type == REDIS_REPLY_STRING)
            json_object_set_new(o, f->str, json_stringn(v->str, v->len));
    }
    freeReplyObject(r);
    if (!o)
        return cc_err_set(err, ENOMEM, "out of memory");
    *obj = o;
    return 0;
}

/* ---- a private server ---- */

int cc_store_local_start(const char *dir, char **url, int *pid, struct cc_err *err)
{
    *url = NULL;
    *pid = -1;
    char sock[4200], logf[4200];
    snprintf(sock, sizeof(sock), "%s/redis.sock", dir);
    snprintf(logf, sizeof(logf), "%s/redis.log", dir);
    if (strlen(sock) >= 100)
        return cc_err_set(err, ENAMETOOLONG, "%s: too long a path for a Unix socket (at most "
                          "about 100 bytes): use a shorter directory", sock);
    const char *exe = "redis-server";
    const char *argv[] = {exe, "--port", "0", "--unixsocket", sock, "--unixsocketperm", "700",
                          "--dir", dir, "--appendonly", "yes", "--appendfsync", "everysec",
                          "--save", "", "--logfile", logf, "--daemonize", "no", NULL};
    unlink(sock);
    pid_t p;
    int rc = posix_spawnp(&p, exe, NULL, NULL, (char *const *)argv, environ);
    if (rc)
        return cc_err_set(err, rc, "cannot start redis-server (%s): install Debian's "
                          "redis-server, or give --redis URL", strerror(rc));
    /* up when its socket answers */
    for (int i = 0; i < 200; i++) {
        struct timeval tv = {.tv_sec = 1};
        redisContext *c = redisConnectUnixWithTimeout(sock, tv);
        bool up = c && !c->err;
        if (up) {
            redisReply *r = redisCommand(c, "PING");
            up = r && r->type == REDIS_REPLY_STATUS;
            freeReplyObject(r);
        }
        if (c)
            redisFree(c);
        if (up) {
            if (asprintf(url, "unix://%s", sock) < 0) {
                cc_store_local_stop(p);
                return cc_err_set(err, ENOMEM, "out of memory");
            }
            *pid = p;
            return 0;
        }
        int st;
        if (waitpid(p, &st, WNOHANG) == p)
            return cc_err_set(err, EIO, "redis-server exited at start (status %d); see %s",
                              WIFEXITED(st) ? WEXITSTATUS(st) : -1, logf);
        usleep(50 * 1000);
    }
    cc_store_local_stop(p);
    return cc_err_set(err, ETIMEDOUT, "redis-server did not answer on %s within 10 s; see %s",
                      sock, logf);
}

void cc_store_local_stop(int pid)
{
    if (pid <= 0)
        return;
    kill(pid, SIGTERM);
    int st;
    for (int i = 0; i < 100; i++) {
        if (waitpid(pid, &st, WNOHANG) == pid)
            return;
        usleep(50 * 1000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
}
