/* The shared store of a distributed exploration on Redis (store.h). Every
 * change is one Lua script, so Redis applies it whole or not at all; the
 * scripts use Redis's clock (TIME), never a worker's, for leases. */
#include <ctype.h>
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

#include "chaoscontrol/sdk_host.h"
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


/* merge(key, tag, records, setkey): chunks of a map into key. A record:
 * 4-byte offset, 2-byte length, 8-byte version the worker's view had,
 * the chunk's bytes (the view's ORed with the branch's) and, with setkey,
 * the chunk's bits of setkey (one per nonzero byte); big-endian. When the
 * chunk's version is still the one the worker saw, the bytes are written as
 * they are (no byte loop in Lua); else they are ORed in byte by byte. The
 * chunk's version (cov:seq, one per call) goes to cov:ver as TAG:OFFSET,
 * for views. Back: the new bits of key and of setkey (new edges);
 * apply_asserts(d): the assertion table's catalog entries and counts, and
 * guidance maxima, of a delta (docs/distributed.md). */
#define LUA_APPLY                                                                  \
    "local function list(x) if type(x) == 'table' then return x end return {} end\n" \
    "local seq = nil\n"                                                            \
    "local function merge(key, tag, recs, setkey)\n"                               \
    "  if #recs == 0 then return 0, 0 end\n"                                       \
    "  seq = seq or redis.call('INCR', p..'cov:seq')\n"                            \
    "  local b0 = redis.call('BITCOUNT', key)\n"                                   \
    "  local s0 = setkey and redis.call('BITCOUNT', setkey) or 0\n"                \
    "  local pos = 1\n"                                                            \
    "  while pos + 13 <= #recs do\n"                                               \
    "    local o1, o2, o3, o4, l1, l2 = string.byte(recs, pos, pos + 5)\n"         \
    "    local off = ((o1 * 256 + o2) * 256 + o3) * 256 + o4\n"                    \
    "    local len = l1 * 256 + l2\n"                                              \
    "    local seen = 0\n"                                                         \
    "    for i = pos + 6, pos + 13 do seen = seen * 256 + string.byte(recs, i) end\n" \
    "    local data = string.sub(recs, pos + 14, pos + 13 + len)\n"                \
    "    local nset = setkey and math.floor((len + 7) / 8) or 0\n"                 \
    "    local sbits = string.sub(recs, pos + 14 + len, pos + 13 + len + nset)\n"  \
    "    pos = pos + 14 + len + nset\n"                                            \
    "    local vk = tag..':'..off\n"                                               \
    "    local ver = tonumber(redis.call('HGET', p..'cov:ver', vk) or '0')\n"      \
    "    if ver == seen then\n"                                                    \
    /* nobody wrote the chunk since the worker's view: its merged bytes go   \
     * in as they are */                                                       \
    "      redis.call('SETRANGE', key, off, data)\n"                               \
    "      if setkey then redis.call('SETRANGE', setkey, math.floor(off / 8), sbits) end\n" \
    "    else\n"                                                                   \
    "      local cur = redis.call('GETRANGE', key, off, off + len - 1)\n"          \
    "      local out = {}\n"                                                       \
    "      for i = 1, #data do\n"                                                  \
    "        local a, b = string.byte(cur, i) or 0, string.byte(data, i)\n"        \
    "        if setkey and a == 0 and b ~= 0 then\n"                               \
    "          redis.call('SETBIT', setkey, off + i - 1, 1)\n"                     \
    "        end\n"                                                                \
    "        out[i] = string.char(bit.bor(a, b))\n"                                \
    "      end\n"                                                                  \
    "      redis.call('SETRANGE', key, off, table.concat(out))\n"                  \
    "    end\n"                                                                    \
    "    redis.call('HSET', p..'cov:ver', vk, seq)\n"                              \
    "  end\n"                                                                      \
    "  local s1 = setkey and redis.call('BITCOUNT', setkey) or 0\n"                \
    "  return redis.call('BITCOUNT', key) - b0, s1 - s0\n"                         \
    "end\n"                                                                        \
    "local function apply_asserts(d)\n"                                            \
    "  for _, a in ipairs(list(d.asserts)) do\n"                                   \
    "    local k = p..'as:'..a.id\n"                                               \
    "    if redis.call('SADD', p..'asserts', a.id) == 1 then\n"                    \
    "      redis.call('HSET', k, 'kind', I(a.kind), 'line', I(a.line), 'message',\n" \
    "        a.message, 'file', a.file, 'function', a.func, 'vms', 0)\n"           \
    "    end\n"                                                                    \
    "    redis.call('HINCRBY', k, 'hits', I(a.hits))\n"                            \
    "    redis.call('HINCRBY', k, 'passes', I(a.passes))\n"                        \
    "    redis.call('HINCRBY', k, 'fails', I(a.fails))\n"                          \
    "    redis.call('HINCRBY', k, 'branches_hit', I(a.hit))\n"                     \
    "    redis.call('HINCRBY', k, 'branches_failed', I(a.failed))\n"               \
    "    local v = tonumber(redis.call('HGET', k, 'vms') or '0')\n"                \
    "    redis.call('HSET', k, 'vms', I(bit.bor(v, tonumber(a.vms))))\n"          \
    "  end\n"                                                                      \
    "  for _, x in ipairs(list(d.guidance)) do\n"                                  \
    "    local cur = redis.call('HGET', p..'guidance', x[1])\n"                    \
    "    if not cur or tonumber(cur) < tonumber(x[2]) then\n"                      \
    "      redis.call('HSET', p..'guidance', x[1], I(x[2])) end\n"                 \
    "  end\n"                                                                      \
    "end\n"

/* ARGV: p, target_hash, budget, per_round, stop_after, meta */
static const char lua_create[] = LUA_PRELUDE
    "local cur = redis.call('HGET', p..'meta', 'target_hash')\n"
    "if cur then return {0, cur} end\n"
    "redis.call('HSET', p..'meta', 'target_hash', ARGV[2], 'budget', ARGV[3],\n"
    "  'per_round', ARGV[4], 'stop_after', ARGV[5], 'meta', ARGV[6], 'created_ms', I(ms))\n"
    "return {1, ARGV[2]}\n";

/* The root point and what setup reached, once: ARGV: p, root id, root
 * JSON, setup_ns, catalog delta (asserts, guidance), edge chunks, assertion
 * chunks. {1} when this call made it, {0, root JSON, setup_ns} when it was
 * there already. */
static const char lua_root[] = LUA_PRELUDE LUA_APPLY
    "if not redis.call('HGET', p..'meta', 'budget') then\n"
    "  return redis.error_reply('ENOENT no such exploration') end\n"
    "local cur = redis.call('GET', p..'pt:'..ARGV[2])\n"
    "if cur then return {0, cur, redis.call('HGET', p..'meta', 'setup_ns') or '0'} end\n"
    "redis.call('SET', p..'next_point', ARGV[2])\n"
    "redis.call('SET', p..'pt:'..ARGV[2], ARGV[3])\n"
    "redis.call('HSET', p..'ptparent', ARGV[2], 0)\n"
    "redis.call('ZADD', p..'frontier', 0, ARGV[2])\n"
    "redis.call('HSET', p..'meta', 'setup_ns', ARGV[4])\n"
    "merge(p..'cov:edges', 'e', ARGV[6], p..'cov:edgeset')\n"
    "merge(p..'cov:asserts', 'a', ARGV[7], nil)\n"
    "apply_asserts(cjson.decode(ARGV[5]))\n"
    "return {1}\n";

/* ARGV: p, worker, lease_ms. {0, g, attempt} | {1} | {2, wait_ms} */
static const char lua_claim[] = LUA_PRELUDE
    "local w, lease = ARGV[2], tonumber(ARGV[3])\n"
    "local budget = redis.call('HGET', p..'meta', 'budget')\n"
    "if not budget then return redis.error_reply('ENOENT no such exploration') end\n"
    "redis.call('HSET', p..'workers', w, I(ms))\n"
    "local stop = tonumber(redis.call('HGET', p..'meta', 'stop_after') or '0')\n"
    "if stop > 0 and tonumber(redis.call('GET', p..'nbug') or '0') >= stop then return {1} end\n"
    "if redis.call('HEXISTS', p..'meta', 'stopped') == 1 then return {1} end\n"
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

/* ARGV: p, worker, g, delta JSON, edge chunks, assertion chunks, wall_ms.
 * {0} when g was done already; else {1, new_buckets, new_edges,
 * new_assert_bits, bug number or 0, point ids...} */
static const char lua_complete[] = LUA_PRELUDE LUA_APPLY
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
    "local nb, ne = merge(p..'cov:edges', 'e', ARGV[5], p..'cov:edgeset')\n"
    "local na = merge(p..'cov:asserts', 'a', ARGV[6], nil)\n"
    "for _, slot in ipairs(list(d.ahits)) do redis.call('HINCRBY', p..'cov:ahits', I(slot), 1) end\n"
    "apply_asserts(d)\n"
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
    "  elseif #b.json > 0 then\n"
    "    n = redis.call('INCR', p..'nbug')\n"
    "    redis.call('HSET', p..'bugs:by', b.assertion, n)\n"
    "    redis.call('SET', p..'bug:'..n, b.json)\n"
    "    if type(b.history) == 'string' then redis.call('SET', p..'bug:'..n..':history', b.history) end\n"
    "    if type(b.dlog) == 'string' then redis.call('SET', p..'bug:'..n..':dlog', b.dlog) end\n"
    "    redis.call('HSET', p..'bugmeta:'..n, 'assertion', b.assertion, 'vm', I(b.vm),\n"
    "      'message', b.message, 'where', b.where, 'round', I(round), 'branch', I(g + 1),\n"
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

    "redis.call('HINCRBY', rk, 'branches', 1)\n"
    "redis.call('HINCRBY', rk, 'new_edges', ne)\n"
    "redis.call('HINCRBY', rk, 'new_assert_bits', na)\n"
    "redis.call('HINCRBY', rk, 'new_points', #ids)\n"
    "for _, k in ipairs({'materialized', 'diverged', 'new_maxima'}) do\n"
    "  if d[k] then redis.call('HINCRBY', rk, k, I(d[k])) end\n"
    "end\n"
    "local start = ms - tonumber(ARGV[7])\n"
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


/* ARGV: p, have (next_point the caller has seen), seq (the coverage
 * version it has), the rounds it has (complete: later ones are sent). {meta, stats, frontier, ptparent, picks, wins, new
 * points [id, json, ...], edge chunks [off, bytes, ...] and assertion
 * chunks changed since seq, ahits, asserts [id, {hash}, ...], bugs
 * [{hash}...], rounds [{hash}...], faults, links, guidance, {next, ndone,
 * next_point, buckets, abits, now_ms, seq}} */
static const char lua_view[] = LUA_PRELUDE
    "local function flat(k) return redis.call('HGETALL', k) end\n"
    "local meta = flat(p..'meta')\n"
    "if #meta == 0 then return redis.error_reply('ENOENT no such exploration') end\n"
    "local per = tonumber(redis.call('HGET', p..'meta', 'per_round'))\n"
    "local nxt = tonumber(redis.call('GET', p..'next') or '0')\n"
    "local fr = redis.call('ZRANGE', p..'frontier', 0, -1, 'WITHSCORES')\n"
    "local have = tonumber(ARGV[2])\n"
    "local pts = {}\n"
    "for i = 1, #fr, 2 do\n"
    "  if tonumber(fr[i]) > have then\n"
    "    pts[#pts + 1] = fr[i]\n"
    "    pts[#pts + 1] = redis.call('GET', p..'pt:'..fr[i]) or ''\n"
    "  end\n"
    "end\n"
    "local buckets = redis.call('BITCOUNT', p..'cov:edges')\n"
    "local abits = redis.call('BITCOUNT', p..'cov:asserts')\n"
    "local seen = tonumber(ARGV[3])\n"
    "local ce, ca = {}, {}\n"
    "local ver = redis.call('HGETALL', p..'cov:ver')\n"
    "for i = 1, #ver, 2 do\n"
    "  if tonumber(ver[i + 1]) > seen then\n"
    "    local tag, off = string.match(ver[i], '^(%a):(%d+)$')\n"
    "    local key = tag == 'e' and p..'cov:edges' or p..'cov:asserts'\n"
    "    local t = tag == 'e' and ce or ca\n"
    "    off = tonumber(off)\n"
    "    t[#t + 1] = off\n"
    "    t[#t + 1] = redis.call('GETRANGE', key, off, off + 255)\n"
    "    t[#t + 1] = tonumber(ver[i + 1])\n"
    "  end\n"
    "end\n"
    "local cseq = tonumber(redis.call('GET', p..'cov:seq') or '0')\n"
    "local as = {}\n"
    "for _, id in ipairs(redis.call('SMEMBERS', p..'asserts')) do\n"
    "  as[#as + 1] = id\n"
    "  as[#as + 1] = flat(p..'as:'..id)\n"
    "end\n"
    "local nbug = tonumber(redis.call('GET', p..'nbug') or '0')\n"
    "local bugs = {}\n"
    "for n = 1, nbug do bugs[#bugs + 1] = flat(p..'bugmeta:'..n) end\n"
    "local nr = 0\n"
    "if nxt > 0 then nr = math.floor((nxt - 1) / per) + 1 end\n"
    "local rounds = {}\n"
    "for r = tonumber(ARGV[4]) + 1, nr do rounds[#rounds + 1] = flat(p..'round:'..r) end\n"
    "return {meta, flat(p..'stats'), fr, flat(p..'ptparent'), flat(p..'picks'),\n"
    "  flat(p..'wins'), pts, ce, ca, flat(p..'cov:ahits'), as, bugs, rounds,\n"
    "  flat(p..'faults'), flat(p..'links'), flat(p..'guidance'),\n"
    "  {nxt, tonumber(redis.call('GET', p..'ndone') or '0'),\n"
    "   tonumber(redis.call('GET', p..'next_point') or '0'), buckets, abits, ms, cseq}}\n";

/* ARGV: p, more rounds, stop_after (0: none; else that many more bugs).
 * The budget grows by that many rounds past the rounds begun so far, a
 * 'stopped' mark goes. {budget, bugs so far} */
static const char lua_extend[] = LUA_PRELUDE
    "local budget = redis.call('HGET', p..'meta', 'budget')\n"
    "if not budget then return redis.error_reply('ENOENT no such exploration') end\n"
    "local per = tonumber(redis.call('HGET', p..'meta', 'per_round') or '1')\n"
    "local nxt = tonumber(redis.call('GET', p..'next') or '0')\n"
    "local base = math.ceil(nxt / per) * per\n"
    "local nb = tonumber(redis.call('GET', p..'nbug') or '0')\n"
    "local more, stop = tonumber(ARGV[2]), tonumber(ARGV[3])\n"
    "budget = base + more * per\n"
    "redis.call('HSET', p..'meta', 'budget', I(budget), 'stop_after', I(stop > 0 and nb + stop or 0))\n"
    "redis.call('HDEL', p..'meta', 'stopped')\n"
    "return {budget, nb}\n";

enum { S_CREATE, S_ROOT, S_CLAIM, S_RENEW, S_COMPLETE, S_STATUS, S_VIEW, S_EXTEND, S_N };
static const char *const scripts[S_N] = {lua_create, lua_root,   lua_claim, lua_renew,
                                         lua_complete, lua_status, lua_view, lua_extend};

struct cc_store {
    redisContext *c;
    char *url;
    char prefix[80];
    char sha[S_N][48];              /* SCRIPT LOAD's answers; "" until loaded */
    struct cc_store_cost cost;
    /* where to (re)connect; url is the URL as given with its password as
     * "***" (it goes into messages) */
    char *host, *path;
    int port, db;
    char *user, *pass;              /* AUTH [user] pass, or NULL */
};

/* ---- connection ---- */

/* %XX in a URL's user or password. */
static char *url_decode(const char *p, size_t n)
{
    char *r = malloc(n + 1), *o = r;
    if (!r)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '%' && i + 2 < n && isxdigit((unsigned char)p[i + 1]) &&
            isxdigit((unsigned char)p[i + 2])) {
            char hex[3] = {p[i + 1], p[i + 2], 0};
            *o++ = (char)strtol(hex, NULL, 16);
            i += 2;
        } else {
            *o++ = p[i];
        }
    }
    *o = 0;
    return r;
}

/* The '@' that ends a URL's USER[:PASSWORD] (h: after "://"), or NULL. */
static const char *userinfo_end(const char *h)
{
    const char *at = NULL;
    for (const char *p = h; *p && *p != '/'; p++)
        if (*p == '@')
            at = p;
    return at;
}

/* The URL for messages: redis://USER:***@HOST... (no password shown; a
 * URL with only USER@ keeps it). */
static char *url_redacted(const char *url)
{
    const char *h = strstr(url, "://");
    if (!h)
        return strdup(url);
    h += 3;
    const char *at = userinfo_end(h);
    if (!at)
        return strdup(url);
    const char *colon = memchr(h, ':', (size_t)(at - h));
    if (!colon)
        return strdup(url);
    char *r;
    if (asprintf(&r, "%.*s%.*s***%s", (int)(h - url), url, (int)(colon - h + 1), h, at) < 0)
        return NULL;
    return r;
}

static int parse_url(struct cc_store *s, const char *url, struct cc_err *err)
{
    s->port = 6379;
    s->db = 0;
    const char *env = getenv("CC_REDIS_PASSWORD");
    if (env && *env && !(s->pass = strdup(env)))
        return cc_err_set(err, ENOMEM, "out of memory");
    if (!strncmp(url, "unix://", 7)) {
        const char *path = url + 7;
        const char *q = strchr(path, '?');
        size_t len = q ? (size_t)(q - path) : strlen(path);
        if (!len || path[0] != '/')
            return cc_err_set(err, EINVAL, "redis URL '%s': unix:// needs an absolute path "
                              "(unix:///run/redis.sock)", s->url);
        s->path = strndup(path, len);
        if (q) {
            char *end;
            if (strncmp(q, "?db=", 4) || (s->db = (int)strtol(q + 4, &end, 10), *end) ||
                s->db < 0)
                return cc_err_set(err, EINVAL, "redis URL '%s': after the path only ?db=N",
                                  s->url);
        }
        return s->path ? 0 : cc_err_set(err, ENOMEM, "out of memory");
    }
    if (strncmp(url, "redis://", 8))
        return cc_err_set(err, EINVAL, "redis URL '%s': expected redis://HOST[:PORT][/DB] "
                          "or unix:///PATH", s->url);
    const char *h = url + 8;
    const char *at = userinfo_end(h);
    if (at) {
        /* [USER]:PASSWORD@, or USER@ with the password in CC_REDIS_PASSWORD */
        const char *colon = memchr(h, ':', (size_t)(at - h));
        const char *ue = colon ? colon : at;
        if (ue > h && !(s->user = url_decode(h, (size_t)(ue - h))))
            return cc_err_set(err, ENOMEM, "out of memory");
        if (colon) {
            free(s->pass);
            if (!(s->pass = url_decode(colon + 1, (size_t)(at - colon - 1))))
                return cc_err_set(err, ENOMEM, "out of memory");
            if (!*s->pass)
                return cc_err_set(err, EINVAL, "redis URL '%s': an empty password", s->url);
        }
        h = at + 1;
    }
    size_t hl = strcspn(h, ":/");
    if (!hl)
        return cc_err_set(err, EINVAL, "redis URL '%s': no host", s->url);
    s->host = strndup(h, hl);
    if (!s->host)
        return cc_err_set(err, ENOMEM, "out of memory");
    const char *r = h + hl;
    char *end;
    if (*r == ':') {
        long port = strtol(r + 1, &end, 10);
        if (end == r + 1 || port <= 0 || port > 65535)
            return cc_err_set(err, EINVAL, "redis URL '%s': bad port", s->url);
        s->port = (int)port;
        r = end;
    }
    if (*r == '/' && r[1]) {
        long db = strtol(r + 1, &end, 10);
        if (end == r + 1 || *end || db < 0 || db > 1000)
            return cc_err_set(err, EINVAL, "redis URL '%s': bad database number", s->url);
        s->db = (int)db;
    } else if (*r && strcmp(r, "/")) {
        return cc_err_set(err, EINVAL, "redis URL '%s': unexpected '%s'", s->url, r);
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
    if (s->pass) {
        redisReply *r = s->user ? redisCommand(s->c, "AUTH %s %s", s->user, s->pass)
                                : redisCommand(s->c, "AUTH %s", s->pass);
        bool bad = !r || r->type == REDIS_REPLY_ERROR;
        int rc = bad ? cc_err_set(err, EACCES, "redis %s: AUTH%s%s failed: %s", s->url,
                                  s->user ? " as " : "", s->user ? s->user : "",
                                  r ? r->str : s->c->errstr)
                     : 0;
        freeReplyObject(r);
        if (rc < 0)
            return rc;
    }
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
    if (!s || !(s->url = url_redacted(url))) {
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
    free(s->user);
    if (s->pass)
        memset(s->pass, 0, strlen(s->pass));
    free(s->pass);
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
    char budget[24], per[16], stop[16];
    snprintf(budget, sizeof(budget), "%" PRIu64, m->budget);
    snprintf(per, sizeof(per), "%u", m->per_round ? m->per_round : 1);
    snprintf(stop, sizeof(stop), "%u", m->stop_after);
    const char *a[] = {m->target_hash, budget, per, stop, m->meta_json ? m->meta_json : "{}"};
    redisReply *r = script(s, S_CREATE, 5, a, NULL, err);
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

/* The chunks of map with bits base lacks (base NULL: any bit), as merge()
 * reads them: offset, length, the version the view had (ver[chunk], or
 * 0), base | map, and with set, one bit per nonzero byte of that (Redis's
 * bit order: the first byte's is 0x80 of the first). malloc'd; *len 0 and
 * a valid empty string when none. */
static char *chunks(const uint8_t *map, const uint8_t *base, const uint64_t *ver, size_t n_ver,
                    size_t n, bool set, size_t *len)
{
    *len = 0;
    char *out = malloc(n + n / 8 + (n / CC_STORE_CHUNK + 1) * 14 + 1);
    if (!out)
        return NULL;
    for (size_t off = 0; map && off < n; off += CC_STORE_CHUNK) {
        size_t l = n - off < CC_STORE_CHUNK ? n - off : CC_STORE_CHUNK;
        bool fresh = false;
        for (size_t i = 0; i < l && !fresh; i++)
            fresh = map[off + i] & (uint8_t)~(base ? base[off + i] : 0);
        if (!fresh)
            continue;
        uint8_t *h = (uint8_t *)out + *len;
        uint64_t v = ver && off / CC_STORE_CHUNK < n_ver ? ver[off / CC_STORE_CHUNK] : 0;
        for (int k = 0; k < 4; k++)
            h[k] = (uint8_t)(off >> (24 - 8 * k));
        h[4] = (uint8_t)(l >> 8);
        h[5] = (uint8_t)l;
        for (int k = 0; k < 8; k++)
            h[6 + k] = (uint8_t)(v >> (56 - 8 * k));
        uint8_t *d = h + 14;
        for (size_t i = 0; i < l; i++)
            d[i] = map[off + i] | (base ? base[off + i] : 0);
        *len += 14 + l;
        if (set) {
            uint8_t *b = d + l;
            size_t nb = (l + 7) / 8;
            memset(b, 0, nb);
            for (size_t i = 0; i < l; i++)
                if (d[i])
                    b[i / 8] |= (uint8_t)(0x80u >> (i % 8));
            *len += nb;
        }
    }
    out[*len] = 0;
    return out;
}

int cc_store_root(struct cc_store *s, uint64_t root_id, const char *root_json,
                  uint64_t setup_ns, const struct cc_store_result *setup, char **existing,
                  uint64_t *existing_setup_ns, struct cc_err *err)
{
    *existing = NULL;
    char id[24], sn[24];
    snprintf(id, sizeof(id), "%" PRIu64, root_id);
    snprintf(sn, sizeof(sn), "%" PRIu64, setup_ns);
    const char *delta = setup && setup->delta ? setup->delta : "{}";
    size_t le, la;
    char *ce = chunks(setup ? setup->edges : NULL, NULL, NULL, 0, setup ? setup->n_edges : 0,
                      true, &le);
    char *ca = chunks(setup ? setup->asserts : NULL, NULL, NULL, 0,
                      setup ? setup->n_asserts : 0, false, &la);
    if (!ce || !ca) {
        free(ce);
        free(ca);
        return cc_err_set(err, ENOMEM, "out of memory");
    }
    const char *a[] = {id, root_json, sn, delta, ce, ca};
    size_t l[] = {strlen(id), strlen(root_json), strlen(sn), strlen(delta), le, la};
    redisReply *r = script(s, S_ROOT, 6, a, l, err);
    free(ce);
    free(ca);
    if (!r)
        return -err->code;
    if (!is_array(r, 1))
        return bad_reply(s, r, "root", err);
    int rc = 0;
    if (el_int(r, 0) == 0) {
        if (r->elements < 3 || r->element[1]->type != REDIS_REPLY_STRING)
            return bad_reply(s, r, "root", err);
        *existing = strdup(r->element[1]->str);
        *existing_setup_ns = (uint64_t)el_int(r, 2);
        if (!*existing)
            rc = cc_err_set(err, ENOMEM, "out of memory");
    }
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
    size_t le, la;
    char *ce = chunks(res->edges, res->edges_base, res->edges_ver, res->n_ver_e, res->n_edges,
                      true, &le);
    char *ca = chunks(res->asserts, res->asserts_base, res->asserts_ver, res->n_ver_a,
                      res->n_asserts, false, &la);
    if (!ce || !ca) {
        free(ce);
        free(ca);
        return cc_err_set(err, ENOMEM, "out of memory");
    }
    const char *a[] = {worker, gs, delta, ce, ca, wall};
    size_t l[] = {strlen(worker), strlen(gs), strlen(delta), le, la, strlen(wall)};
    redisReply *r = script(s, S_COMPLETE, 6, a, l, err);
    free(ce);
    free(ca);
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

int cc_store_stop(struct cc_store *s, struct cc_err *err)
{
    char k[128], ms[32];
    snprintf(k, sizeof(k), "%smeta", s->prefix);
    snprintf(ms, sizeof(ms), "%lld", (long long)time(NULL));
    const char *a[] = {"HSET", k, "stopped", ms};
    size_t l[] = {4, strlen(k), 7, strlen(ms)};
    redisReply *r = cmd(s, 4, a, l, err);
    if (!r)
        return -err->code;
    int rc = r->type == REDIS_REPLY_ERROR ? bad_reply(s, r, "stop", err) : 0;
    if (rc == 0)
        freeReplyObject(r);
    return rc;
}

int cc_store_extend(struct cc_store *s, unsigned rounds, unsigned stop_after,
                    uint64_t *budget, uint64_t *bugs, struct cc_err *err)
{
    char more[16], stop[16];
    snprintf(more, sizeof(more), "%u", rounds);
    snprintf(stop, sizeof(stop), "%u", stop_after);
    const char *a[] = {more, stop};
    redisReply *r = script(s, S_EXTEND, 2, a, NULL, err);
    if (!r)
        return -err->code;
    if (!is_array(r, 2))
        return bad_reply(s, r, "extend", err);
    *budget = (uint64_t)el_int(r, 0);
    *bugs = (uint64_t)el_int(r, 1);
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


/* ---- the view: the shared state as a checkpoint ---- */

void cc_store_cache_free(struct cc_store_cache *c)
{
    json_decref(c->pts);
    json_decref(c->history);
    free(c->edges);
    free(c->asserts);
    free(c->edges_ver);
    free(c->asserts_ver);
    memset(c, 0, sizeof(*c));
}

/* A field of a flat HGETALL reply (NULL: none). */
static const char *fget(const redisReply *h, const char *f)
{
    for (size_t i = 0; h && h->type == REDIS_REPLY_ARRAY && i + 1 < h->elements; i += 2)
        if (h->element[i]->type == REDIS_REPLY_STRING && !strcmp(h->element[i]->str, f) &&
            h->element[i + 1]->type == REDIS_REPLY_STRING)
            return h->element[i + 1]->str;
    return NULL;
}

static uint64_t fu64(const redisReply *h, const char *f)
{
    const char *v = fget(h, f);
    return v ? strtoull(v, NULL, 10) : 0;
}

/* A decimal string as a JSON integer (a string above INT64_MAX). */
static json_t *ju64(uint64_t v)
{
    if (v <= (uint64_t)INT64_MAX)
        return json_integer((json_int_t)v);
    char b[24];
    snprintf(b, sizeof(b), "%" PRIu64, v);
    return json_string(b);
}

static bool is_flat(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_ARRAY && r->elements % 2 == 0;
}

/* Chunks [off, bytes, version, ...] copied into the cached map and its
 * versions (both grown to fit). */
static int keep_chunks(uint8_t **dst, size_t *n, uint64_t **ver, size_t *n_ver,
                       const redisReply *r)
{
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i + 2 < r->elements; i += 3) {
        const redisReply *b = r->element[i + 1];
        if (r->element[i]->type != REDIS_REPLY_INTEGER || b->type != REDIS_REPLY_STRING ||
            r->element[i + 2]->type != REDIS_REPLY_INTEGER || r->element[i]->integer < 0 ||
            r->element[i]->integer > (1 << 26) || r->element[i]->integer % CC_STORE_CHUNK)
            return -EINVAL;
        size_t off = (size_t)r->element[i]->integer;
        if (off + b->len > *n) {
            uint8_t *m = realloc(*dst, off + b->len);
            if (!m)
                return -ENOMEM;
            memset(m + *n, 0, off + b->len - *n);
            *dst = m;
            *n = off + b->len;
        }
        memcpy(*dst + off, b->str, b->len);
        size_t k = off / CC_STORE_CHUNK;
        if (k >= *n_ver) {
            uint64_t *v = realloc(*ver, (k + 1) * sizeof(*v));
            if (!v)
                return -ENOMEM;
            memset(v + *n_ver, 0, (k + 1 - *n_ver) * sizeof(*v));
            *ver = v;
            *n_ver = k + 1;
        }
        (*ver)[k] = (uint64_t)r->element[i + 2]->integer;
    }
    return 0;
}

static json_t *view_coverage(const struct cc_store_cache *c, const redisReply *ahits)
{
    json_t *cov = json_object(), *edges = json_array(), *as = json_array();
    for (size_t i = 0; i < c->n_edges; i++) {
        if (!c->edges[i])
            continue;
        json_t *e = json_array();
        json_array_append_new(e, json_integer((json_int_t)i));
        json_array_append_new(e, json_integer(c->edges[i]));
        json_array_append_new(edges, e);
    }
    size_t n = c->n_asserts;
    for (size_t i = 0; i + 1 < ahits->elements; i += 2) {
        size_t slot = strtoull(ahits->element[i]->str, NULL, 10);
        if (slot + 1 > n)
            n = slot + 1;
    }
    for (size_t i = 0; i < n && i < 1u << 20; i++) {
        char k[24];
        snprintf(k, sizeof(k), "%zu", i);
        unsigned bits = i < c->n_asserts ? c->asserts[i] : 0;
        uint64_t hits = fu64(ahits, k);
        if (!bits && !hits)
            continue;
        json_t *e = json_array();
        json_array_append_new(e, json_integer((json_int_t)i));
        json_array_append_new(e, json_integer(bits));
        json_array_append_new(e, ju64(hits));
        json_array_append_new(as, e);
    }
    json_object_set_new(cov, "edges", edges);
    json_object_set_new(cov, "asserts", as);
    return cov;
}

static json_t *view_points(struct cc_store_cache *c, const redisReply *fr,
                           const redisReply *parent, const redisReply *picks,
                           const redisReply *wins, json_t **lineage, const char **bad)
{
    json_t *pts = json_array();
    *lineage = json_array();
    json_t *in = json_object();     /* frontier ids */
    for (size_t i = 0; i + 1 < fr->elements; i += 2) {
        const char *id = fr->element[i]->str;
        json_object_set_new(in, id, json_true());
        const char *text = json_string_value(json_object_get(c->pts, id));
        json_t *pj = text ? json_loads(text, 0, NULL) : NULL;
        if (!json_is_object(pj)) {
            json_decref(pj);
            *bad = id;
            break;
        }
        uint64_t v = strtoull(id, NULL, 10);
        json_object_set_new(pj, "id", ju64(v));
        json_object_set_new(pj, "parent", ju64(fu64(parent, id)));
        json_object_set_new(pj, "picks", ju64(fu64(picks, id)));
        json_object_set_new(pj, "wins", ju64(fu64(wins, id)));
        json_array_append_new(pts, pj);
    }
    for (size_t i = 0; !*bad && i + 1 < parent->elements; i += 2) {
        const char *id = parent->element[i]->str;
        if (json_object_get(in, id))
            continue;
        json_t *e = json_array();
        json_array_append_new(e, ju64(strtoull(id, NULL, 10)));
        json_array_append_new(e, ju64(strtoull(parent->element[i + 1]->str, NULL, 10)));
        json_array_append_new(*lineage, e);
    }
    json_decref(in);
    return pts;
}

static json_t *view_asserts(const redisReply *as)
{
    json_t *tab = json_array();
    for (size_t i = 0; i + 1 < as->elements; i += 2) {
        const redisReply *h = as->element[i + 1];
        json_t *e = json_object();
        json_object_set_new(e, "id", json_string(as->element[i]->str));
        json_object_set_new(e, "kind", json_string(cc_kind_name((uint32_t)fu64(h, "kind"))));
        json_object_set_new(e, "message", json_string(fget(h, "message") ?: ""));
        json_object_set_new(e, "file", json_string(fget(h, "file") ?: ""));
        json_object_set_new(e, "line", ju64(fu64(h, "line")));
        json_object_set_new(e, "function", json_string(fget(h, "function") ?: ""));
        static const char *const counts[] = {"hits", "passes", "fails", "branches_hit",
                                             "branches_failed"};
        for (size_t k = 0; k < sizeof(counts) / sizeof(counts[0]); k++)
            json_object_set_new(e, counts[k], ju64(fu64(h, counts[k])));
        json_t *vms = json_array();
        uint64_t mask = fu64(h, "vms");
        for (unsigned v = 0; v < 64; v++)
            if (mask >> v & 1)
                json_array_append_new(vms, json_integer(v));
        json_object_set_new(e, "vms", vms);
        json_array_append_new(tab, e);
    }
    return tab;
}

static json_t *view_bugs(const redisReply *bugs)
{
    json_t *a = json_array();
    for (size_t i = 0; i < bugs->elements; i++) {
        const redisReply *h = bugs->element[i];
        json_t *e = json_object();
        json_object_set_new(e, "number", json_integer((json_int_t)i + 1));
        char file[32];
        snprintf(file, sizeof(file), "bug_%zu.json", i + 1);
        json_object_set_new(e, "file", json_string(file));
        json_object_set_new(e, "assertion_id", json_string(fget(h, "assertion") ?: "0"));
        json_object_set_new(e, "vm", ju64(fu64(h, "vm")));
        json_object_set_new(e, "message", json_string(fget(h, "message") ?: ""));
        json_object_set_new(e, "where", json_string(fget(h, "where") ?: ""));
        json_object_set_new(e, "round", ju64(fu64(h, "round")));
        json_object_set_new(e, "branch", ju64(fu64(h, "branch")));
        json_object_set_new(e, "wall_s", json_real((double)fu64(h, "wall_ms") / 1000));
        json_object_set_new(e, "sim_ns", ju64(fu64(h, "sim_ns")));
        json_object_set_new(e, "dups", ju64(fu64(h, "dups")));
        json_object_set_new(e, "size", ju64(fu64(h, "size")));
        json_object_set_new(e, "worker", json_string(fget(h, "worker") ?: ""));
        json_array_append_new(a, e);
    }
    return a;
}

/* The rounds complete so far, in order, up to the first incomplete one:
 * the cache's, then those of rounds (the rounds after the cache's), which
 * join the cache. */
static void view_history(json_t *a, const redisReply *rounds, unsigned per)
{
    size_t first = json_array_size(a);
    for (size_t i = 0; i < rounds->elements; i++) {
        const redisReply *h = rounds->element[i];
        if (fu64(h, "branches") < per)
            break;
        json_t *e = json_object();
        json_object_set_new(e, "round", json_integer((json_int_t)(first + i + 1)));
        json_object_set_new(e, "branches", ju64(fu64(h, "branches")));
        json_object_set_new(e, "wall_s",
                            json_real((double)(fu64(h, "end_ms") - fu64(h, "start_ms")) / 1000));
        static const char *const keys[] = {"edges", "new_edges", "assert_bits",
                                           "new_assert_bits", "frontier", "bugs", "new_points",
                                           "materialized", "diverged"};
        for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
            json_object_set_new(e, keys[k], ju64(fu64(h, keys[k])));
        if (fu64(h, "new_maxima"))
            json_object_set_new(e, "new_maxima", ju64(fu64(h, "new_maxima")));
        json_array_append_new(a, e);
    }
}

static json_t *view_links(const redisReply *ls)
{
    static const char *const keys[] = {"sent", "delivered", "dropped_partition",
                                       "dropped_loss", "dropped_queue", "dropped_down",
                                       "dropped_rx", "duplicated"};
    json_t *by = json_object();     /* "f:t" -> entry */
    for (size_t i = 0; i + 1 < ls->elements; i += 2) {
        unsigned f, t;
        char field[32];
        if (sscanf(ls->element[i]->str, "%u:%u:%31s", &f, &t, field) != 3)
            continue;
        char k[24];
        snprintf(k, sizeof(k), "%u:%u", f, t);
        json_t *e = json_object_get(by, k);
        if (!e) {
            e = json_object();
            json_object_set_new(e, "from", json_integer(f));
            json_object_set_new(e, "to", json_integer(t));
            for (size_t q = 0; q < 8; q++)
                json_object_set_new(e, keys[q], json_integer(0));
            json_object_set_new(by, k, e);
        }
        for (size_t q = 0; q < 8; q++)
            if (!strcmp(field, keys[q]))
                json_object_set_new(e, keys[q],
                                    ju64(strtoull(ls->element[i + 1]->str, NULL, 10)));
    }
    json_t *a = json_array();
    const char *k;
    json_t *v;
    json_object_foreach(by, k, v)
        json_array_append(a, v);
    json_decref(by);
    return a;
}

int cc_store_view(struct cc_store *s, struct cc_store_cache *c, json_t **out,
                  struct cc_store_progress *pg, struct cc_err *err)
{
    *out = NULL;
    if (!c->init) {
        c->pts = json_object();
        c->init = true;
        if (!c->pts)
            return cc_err_set(err, ENOMEM, "out of memory");
    }
    if (!c->history && !(c->history = json_array()))
        return cc_err_set(err, ENOMEM, "out of memory");
    char have[24], seq[24], nr[24];
    snprintf(have, sizeof(have), "%" PRIu64, c->have);
    snprintf(seq, sizeof(seq), "%" PRIu64, c->seq);
    snprintf(nr, sizeof(nr), "%zu", json_array_size(c->history));
    const char *a[] = {have, seq, nr};
    redisReply *r = script(s, S_VIEW, 3, a, NULL, err);
    if (!r)
        return -err->code;
    if (!is_array(r, 17) || !is_array(r->element[16], 7))
        return bad_reply(s, r, "view", err);
    for (int i = 0; i < 16; i++)
        if (i != 7 && i != 8 && i != 10 && i != 11 && i != 12 && !is_flat(r->element[i]))
            return bad_reply(s, r, "view", err);
    const redisReply *meta = r->element[0], *stats = r->element[1], *np = r->element[6],
                     *n = r->element[16];
    for (size_t i = 0; i + 1 < np->elements; i += 2)
        json_object_set_new(c->pts, np->element[i]->str,
                            json_stringn(np->element[i + 1]->str, np->element[i + 1]->len));
    if (keep_chunks(&c->edges, &c->n_edges, &c->edges_ver, &c->n_edges_ver, r->element[7]) < 0 ||
        keep_chunks(&c->asserts, &c->n_asserts, &c->asserts_ver, &c->n_asserts_ver,
                    r->element[8]) < 0)
        return bad_reply(s, r, "view (coverage chunks)", err);
    c->have = (uint64_t)el_int(n, 2);
    c->seq = (uint64_t)el_int(n, 6);
    uint64_t now_ms = (uint64_t)el_int(n, 5);

    json_t *m = json_loads(fget(meta, "meta") ?: "", 0, NULL);
    if (!json_is_object(m)) {
        json_decref(m);
        freeReplyObject(r);
        return cc_err_set(err, EINVAL, "redis %s: the exploration's meta JSON is malformed",
                          s->url);
    }
    unsigned per = (unsigned)fu64(meta, "per_round"), rounds_done;
    const char *bad = NULL;
    json_t *lineage;
    json_t *pts = view_points(c, r->element[2], r->element[3], r->element[4], r->element[5],
                              &lineage, &bad);
    json_t *o = json_object();
    json_object_set_new(o, "format", json_string("chaoscontrol-explore-checkpoint"));
    json_object_set_new(o, "version", json_integer(1));
    json_object_set(o, "target", json_object_get(m, "target"));
    json_object_set(o, "options", json_object_get(m, "options"));
    view_history(c->history, r->element[12], per ? per : 1);
    json_t *hist = json_deep_copy(c->history);
    rounds_done = (unsigned)json_array_size(c->history);
    json_object_set_new(o, "rounds_done", json_integer(rounds_done));
    json_object_set_new(o, "branches_done", ju64(fu64(stats, "branches_done")));
    json_object_set_new(o, "react_branches", ju64(fu64(stats, "react_branches")));
    json_object_set_new(o, "react_faults", ju64(fu64(stats, "react_faults")));
    json_object_set_new(o, "mid_points", ju64(fu64(stats, "mid_points")));
    uint64_t created = fu64(meta, "created_ms");
    double wall = now_ms > created ? (double)(now_ms - created) / 1000 : 0;
    json_object_set_new(o, "wall_s", json_real(wall));
    json_object_set_new(o, "setup_ns", ju64(fu64(meta, "setup_ns")));
    json_object_set_new(o, "next_point_id", ju64(c->have + 1));
    json_object_set_new(o, "max_bug_number", json_integer((json_int_t)r->element[11]->elements));
    json_object_set_new(o, "plateau_since", json_integer(0));
    json_object_set_new(o, "coverage", view_coverage(c, r->element[9]));
    json_object_set_new(o, "points", pts);
    json_object_set_new(o, "lineage", lineage);
    json_object_set_new(o, "history", hist);
    json_object_set_new(o, "bugs", view_bugs(r->element[11]));
    json_object_set_new(o, "assertions", view_asserts(r->element[10]));
    json_t *gd = json_array();
    const redisReply *g = r->element[15];
    for (size_t i = 0; i + 1 < g->elements; i += 2) {
        json_t *e = json_object();
        json_object_set_new(e, "message", json_string(g->element[i]->str));
        json_object_set_new(e, "max", json_integer(strtoll(g->element[i + 1]->str, NULL, 10)));
        json_array_append_new(gd, e);
    }
    json_object_set_new(o, "guidance", gd);
    json_t *fa = json_object();
    const redisReply *f = r->element[13];
    for (size_t i = 0; i + 1 < f->elements; i += 2)
        json_object_set_new(fa, f->element[i]->str,
                            ju64(strtoull(f->element[i + 1]->str, NULL, 10)));
    json_object_set_new(o, "faults", fa);
    json_object_set_new(o, "links", view_links(r->element[14]));
    if (pg)
        *pg = (struct cc_store_progress){
            .next = (uint64_t)el_int(n, 0), .done = (uint64_t)el_int(n, 1),
            .budget = fu64(meta, "budget"), .bugs = r->element[11]->elements,
            .per_round = per, .wall_s = wall,
        };
    int rc = 0;
    if (bad)
        rc = cc_err_set(err, EIO, "redis %s: frontier point %s has no JSON (pt:%s)", s->url,
                        bad, bad);
    json_decref(m);
    freeReplyObject(r);
    if (rc < 0) {
        json_decref(o);
        return rc;
    }
    *out = o;
    return 0;
}

/* ---- a private server ---- */

int cc_store_local_start(const char *dir, char **url, int *pid, struct cc_err *err)
{
    *pid = -1;
    /* the socket in a directory of its own under $TMPDIR: dir may be on a
     * file system without sockets (9p, some FUSE) or too deep for one; a
     * restarted server takes its predecessor's (*url given) */
    char sdir[200], sock[240], logf[4200];
    const char *tmp = getenv("TMPDIR");
    if (*url && !strncmp(*url, "unix://", 7) && strlen(*url) < sizeof(sdir) + 7) {
        snprintf(sdir, sizeof(sdir), "%s", *url + 7);
        char *slash = strrchr(sdir, '/');
        if (slash)
            *slash = 0;
        if (mkdir(sdir, 0700) < 0 && errno != EEXIST)
            return cc_err_set(err, errno, "%s: %s", sdir, strerror(errno));
    } else {
        snprintf(sdir, sizeof(sdir), "%s/cc-redis-XXXXXX",
                 tmp && strlen(tmp) < 80 ? tmp : "/tmp");
        if (!mkdtemp(sdir))
            return cc_err_set(err, errno, "cannot make a directory for Redis's socket (%s): %s",
                              sdir, strerror(errno));
    }
    free(*url);
    *url = NULL;
    snprintf(sock, sizeof(sock), "%s/redis.sock", sdir);
    snprintf(logf, sizeof(logf), "%s/redis.log", dir);
    const char *exe = "redis-server";
    const char *argv[] = {exe, "--port", "0", "--unixsocket", sock, "--unixsocketperm", "700",
                          "--dir", dir, "--appendonly", "yes", "--appendfsync", "everysec",
                          "--save", "", "--logfile", logf, "--daemonize", "no", NULL};
    pid_t p;
    int rc = posix_spawnp(&p, exe, NULL, NULL, (char *const *)argv, environ);
    if (rc) {
        rmdir(sdir);
        return cc_err_set(err, rc, "cannot start redis-server (%s): install Debian's "
                          "redis-server, or give --redis URL", strerror(rc));
    }
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
                cc_store_local_stop(p, NULL);
                return cc_err_set(err, ENOMEM, "out of memory");
            }
            *pid = p;
            return 0;
        }
        int st;
        if (waitpid(p, &st, WNOHANG) == p) {
            rmdir(sdir);
            return cc_err_set(err, EIO, "redis-server exited at start (status %d); see %s",
                              WIFEXITED(st) ? WEXITSTATUS(st) : -1, logf);
        }
        usleep(50 * 1000);
    }
    cc_store_local_stop(p, NULL);
    rmdir(sdir);
    return cc_err_set(err, ETIMEDOUT, "redis-server did not answer on %s within 10 s; see %s",
                      sock, logf);
}

/* Stop it; with its URL, also remove the socket's directory. */
static void local_kill(int pid);
void cc_store_local_stop(int pid, const char *url)
{
    local_kill(pid);
    if (url && !strncmp(url, "unix://", 7) && strstr(url, "/cc-redis-")) {
        char d[300];
        snprintf(d, sizeof(d), "%s", url + 7);
        char *slash = strrchr(d, '/');
        if (slash) {
            unlink(d);
            *slash = 0;
            rmdir(d);
        }
    }
}

static void local_kill(int pid)
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
