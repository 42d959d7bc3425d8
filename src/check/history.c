/* Operation histories as JSON lines (include/chaoscontrol/history.h):
 * parsing one line at a time into events, pairing invokes with their
 * completions per process, interned keys and values, and the way back to
 * JSON lines.
 *
 * Values are kept as compact JSON text ("1", "\"a\"", "[1,2]"), interned,
 * so the checkers compare values by id: 1 and "1" differ, and id 0 is
 * null, the value of an absent key. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chaoscontrol/file.h"
#include "check/check_internal.h"
#include "util/buf.h"
#include "util/cjson.h"
#include "util/timefmt.h"

static const char *const type_names[] = {"invoke", "ok", "fail", "info"};
static const char *const f_names[] = {"read", "write", "cas", "add"};

/* ---- interned strings ---- */

static uint64_t str_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;         /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

static int strtab_grow_slots(struct strtab *t)
{
    size_t n = t->n_slot ? t->n_slot * 2 : 64;
    uint32_t *slot = calloc(n, sizeof(*slot));
    if (!slot)
        return -ENOMEM;
    for (size_t i = 0; i < t->n; i++) {
        size_t j = str_hash(t->s[i]) & (n - 1);
        while (slot[j])
            j = (j + 1) & (n - 1);
        slot[j] = (uint32_t)i + 1;
    }
    free(t->slot);
    t->slot = slot;
    t->n_slot = n;
    return 0;
}

/* The id of s, adding a copy when new; HIST_NONE when out of memory. */
static uint32_t strtab_intern(struct strtab *t, const char *s)
{
    if ((t->n + 1) * 2 > t->n_slot && strtab_grow_slots(t) < 0)
        return HIST_NONE;
    size_t j = str_hash(s) & (t->n_slot - 1);
    for (; t->slot[j]; j = (j + 1) & (t->n_slot - 1))
        if (!strcmp(t->s[t->slot[j] - 1], s))
            return t->slot[j] - 1;
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 32;
        char **ns = realloc(t->s, cap * sizeof(*ns));
        if (!ns)
            return HIST_NONE;
        t->s = ns;
        t->cap = cap;
    }
    char *copy = strdup(s);
    if (!copy)
        return HIST_NONE;
    t->s[t->n] = copy;
    t->slot[j] = (uint32_t)t->n + 1;
    return (uint32_t)t->n++;
}

static void strtab_free(struct strtab *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->s[i]);
    free(t->s);
    free(t->slot);
    memset(t, 0, sizeof(*t));
}

static int strtab_copy(struct strtab *dst, const struct strtab *src)
{
    for (size_t i = 0; i < src->n; i++)
        if (strtab_intern(dst, src->s[i]) != i)
            return -ENOMEM;
    return 0;
}

const char *history_value(const struct cc_history *h, uint32_t id)
{
    return id < h->values.n ? h->values.s[id] : NULL;
}

const char *history_key(const struct cc_history *h, uint32_t id)
{
    return id < h->keys.n ? h->keys.s[id] : "";
}

/* ---- processes ---- */

static uint32_t proc_hash(uint32_t p)
{
    return (p * 0x9e3779b1u) ^ (p >> 16);
}

/* The slot of process p (a fresh one when create), NULL when absent or
 * out of memory. */
static struct proc_slot *proc_get(struct cc_history *h, uint32_t p, bool create)
{
    if (create && (h->n_proc + 1) * 2 > h->cap_proc) {
        size_t cap = h->cap_proc ? h->cap_proc * 2 : 16;
        struct proc_slot *ns = calloc(cap, sizeof(*ns));
        if (!ns)
            return NULL;
        for (size_t i = 0; i < h->cap_proc; i++) {
            if (!h->proc[i].used)
                continue;
            size_t j = proc_hash(h->proc[i].process) & (cap - 1);
            while (ns[j].used)
                j = (j + 1) & (cap - 1);
            ns[j] = h->proc[i];
        }
        free(h->proc);
        h->proc = ns;
        h->cap_proc = cap;
    }
    if (!h->cap_proc)
        return NULL;
    size_t j = proc_hash(p) & (h->cap_proc - 1);
    for (; h->proc[j].used; j = (j + 1) & (h->cap_proc - 1))
        if (h->proc[j].process == p)
            return &h->proc[j];
    if (!create)
        return NULL;
    h->proc[j] = (struct proc_slot){.process = p, .open = HIST_NONE, .used = true};
    h->n_proc++;
    return &h->proc[j];
}

/* ---- building ---- */

struct cc_history *cc_history_new(void)
{
    struct cc_history *h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    if (strtab_intern(&h->values, "null") != HIST_NULL) {
        cc_history_free(h);
        return NULL;
    }
    return h;
}

void cc_history_free(struct cc_history *h)
{
    if (!h)
        return;
    for (size_t i = 0; i < h->n_ev; i++)
        json_decref(h->ev[i].extra);
    free(h->ev);
    free(h->op);
    strtab_free(&h->keys);
    strtab_free(&h->values);
    free(h->proc);
    free(h->src);
    free(h);
}

static int reserve(void **p, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : 64;
    void *np = realloc(*p, c * size);
    if (!np)
        return -ENOMEM;
    *p = np;
    *cap = c;
    return 0;
}

/* One line, decoded and checked on its own. */
struct parsed {
    uint64_t time;
    uint32_t process;
    int type, f;                    /* f: -1 when absent */
    const char *key;                /* NULL when absent */
    json_t *value;                  /* borrowed; NULL when absent */
    json_t *extra;                  /* owned; NULL when none */
};

static bool is_scalar(const json_t *v)
{
    return json_is_null(v) || json_is_integer(v) || json_is_string(v);
}

static int name_index(const char *s, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(s, names[i]))
            return i;
    return -1;
}

/* "SRC: line N" or "line N". */
static void where(const struct cc_history *h, unsigned line, char *buf, size_t len)
{
    if (h->src)
        snprintf(buf, len, "%s: line %u", h->src, line);
    else
        snprintf(buf, len, "line %u", line);
}

#define BAD(...) do { \
        char w_[600]; \
        where(h, lineno, w_, sizeof(w_)); \
        char m_[400]; \
        snprintf(m_, sizeof(m_), __VA_ARGS__); \
        return cc_err_set(err, EINVAL, "%s: %s", w_, m_); \
    } while (0)

/* Check the value of a line against its f and type. */
static int check_value(const struct cc_history *h, unsigned lineno, const struct parsed *p,
                       struct cc_err *err)
{
    const json_t *v = p->value;
    if (v && !is_scalar(v)) {
        if (!json_is_array(v))
            BAD("\"value\" is %s: values are integers, strings, null or arrays of them",
                cj_kind(v));
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e)
            if (!is_scalar(e))
                BAD("\"value\"[%zu] is %s: elements are integers, strings or null", i,
                    cj_kind(e));
    }
    if (p->type == CC_HIST_OK && p->f == CC_HIST_READ && !v)
        BAD("an ok read needs the \"value\" it read (null: the key is absent)");
    if (p->type != CC_HIST_INVOKE)
        return 0;
    switch (p->f) {
    case CC_HIST_WRITE:
        if (!v || !is_scalar(v))
            BAD("a write needs a \"value\" (an integer, a string or null), not %s",
                v ? cj_kind(v) : "none");
        break;
    case CC_HIST_CAS:
        if (!json_is_array(v) || json_array_size(v) != 2)
            BAD("a cas needs a \"value\" [old, new], not %s",
                !v ? "none" : json_is_array(v) ? "an array of another length" : cj_kind(v));
        break;
    case CC_HIST_ADD:
        if (!json_is_integer(v) && !json_is_string(v))
            BAD("an add needs a \"value\" (an integer or a string), not %s",
                v ? cj_kind(v) : "none");
        break;
    default:
        break;
    }
    return 0;
}

static int decode_field(const struct cc_history *h, unsigned lineno, const char *name,
                        json_t *v, struct parsed *p, bool *seen_time, bool *seen_proc,
                        struct cc_err *err)
{
    if (!strcmp(name, "process")) {
        if (!json_is_integer(v))
            BAD("\"process\" must be an integer from 0 to 4294967295, not %s", cj_kind(v));
        if (json_integer_value(v) < 0 || json_integer_value(v) > (json_int_t)UINT32_MAX)
            BAD("\"process\": %" JSON_INTEGER_FORMAT " is out of range (0 to 4294967295)",
                json_integer_value(v));
        p->process = (uint32_t)json_integer_value(v);
        *seen_proc = true;
    } else if (!strcmp(name, "type")) {
        if (!json_is_string(v))
            BAD("\"type\" must be a string, not %s", cj_kind(v));
        p->type = name_index(json_string_value(v), type_names, 4);
        if (p->type < 0)
            BAD("\"type\": '%.100s' is not invoke, ok, fail or info", json_string_value(v));
    } else if (!strcmp(name, "f")) {
        if (!json_is_string(v))
            BAD("\"f\" must be a string, not %s", cj_kind(v));
        p->f = name_index(json_string_value(v), f_names, 4);
        if (p->f < 0)
            BAD("\"f\": '%.100s' is not read, write, cas or add", json_string_value(v));
    } else if (!strcmp(name, "key")) {
        if (!json_is_string(v))
            BAD("\"key\" must be a string, not %s", cj_kind(v));
        p->key = json_string_value(v);
    } else if (!strcmp(name, "value")) {
        p->value = v;
    } else if (!strcmp(name, "time")) {
        uint64_t t;
        if (json_is_integer(v) && json_integer_value(v) < 0)
            BAD("\"time\": %" JSON_INTEGER_FORMAT " is negative", json_integer_value(v));
        if (json_is_string(v) && cj_get_time(v, &t) < 0)
            BAD("\"time\": '%.100s' is not a time (nanoseconds, or a number and a unit "
                "such as \"1500ms\")", json_string_value(v));
        if (cj_get_time(v, &t) < 0)
            BAD("\"time\" must be nanoseconds of virtual time (an integer, or a string "
                "such as \"1500ms\"), not %s", cj_kind(v));
        if (t > TIMEFMT_MAX)
            BAD("\"time\": %" PRIu64 " ns is too large (more than 2^62)", t);
        p->time = t;
        *seen_time = true;
    } else {
        if (!p->extra && !(p->extra = json_object()))
            return cc_err_set(err, ENOMEM, "out of memory");
        if (json_object_set(p->extra, name, v) < 0)
            return cc_err_set(err, ENOMEM, "out of memory");
    }
    return 0;
}

/* Decode the object of a line into p (p->extra owned by the caller). */
static int decode(const struct cc_history *h, unsigned lineno, json_t *obj, bool has_time,
                  uint64_t def_time, bool has_proc, uint32_t def_proc, struct parsed *p,
                  struct cc_err *err)
{
    *p = (struct parsed){.type = -1, .f = -1};
    bool seen_time = false, seen_proc = false;
    const char *name;
    json_t *v;
    json_object_foreach(obj, name, v) {
        int rc = decode_field(h, lineno, name, v, p, &seen_time, &seen_proc, err);
        if (rc < 0)
            return rc;
    }
    if (p->type < 0)
        BAD("\"type\" is missing (invoke, ok, fail or info)");
    if (!seen_proc) {
        if (!has_proc)
            BAD("\"process\" is missing");
        p->process = def_proc;
    }
    if (!seen_time) {
        if (!has_time)
            BAD("\"time\" is missing");
        p->time = def_time;
    }
    if (p->type == CC_HIST_INVOKE && p->f < 0)
        BAD("\"f\" is missing (read, write, cas or add)");
    return 0;
}

void fmt_time(uint64_t ns, char *buf, size_t len)
{
    static const struct { uint64_t div; const char *unit; } u[] = {
        {1000000000u, "s"}, {1000000u, "ms"}, {1000u, "us"}, {1, "ns"},
    };
    size_t i = 0;
    while (i < 3 && ns < u[i].div && ns)
        i++;
    uint64_t whole = ns / u[i].div, frac = ns % u[i].div;
    if (!frac) {
        snprintf(buf, len, "%" PRIu64 " %s", whole, u[i].unit);
        return;
    }
    char f[24];
    snprintf(f, sizeof(f), "%0*" PRIu64, i == 0 ? 9 : i == 1 ? 6 : 3, frac);
    for (size_t n = strlen(f); n > 1 && f[n - 1] == '0'; n--)
        f[n - 1] = 0;
    snprintf(buf, len, "%" PRIu64 ".%s %s", whole, f, u[i].unit);
}

char *str_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    return s;
}

static void tfmt(uint64_t ns, char *b, size_t n)
{
    fmt_time(ns, b, n);
}

/* Pairing rules; p->f and p->key are completed from the invoke. */
static int check_pairing(struct cc_history *h, unsigned lineno, struct parsed *p,
                         struct cc_err *err)
{
    struct proc_slot *s = proc_get(h, p->process, false);
    char t1[48], t2[48];
    if (p->type == CC_HIST_INVOKE) {
        if (s && s->open != HIST_NONE)
            BAD("process %" PRIu32 " invokes again while its operation from line %" PRIu32
                " is still open", p->process, h->ev[h->op[s->open].inv].line);
        if (s && p->time < s->last_done) {
            tfmt(p->time, t1, sizeof(t1));
            tfmt(s->last_done, t2, sizeof(t2));
            BAD("process %" PRIu32 " invokes at %s, before its previous operation "
                "completed (at %s)", p->process, t1, t2);
        }
        return 0;
    }
    if (!s || s->open == HIST_NONE)
        BAD("%s for process %" PRIu32 ", which has no operation in progress (no open "
            "invoke)", type_names[p->type], p->process);
    const struct hist_op *op = &h->op[s->open];
    uint32_t inv_line = h->ev[op->inv].line;
    if (p->f >= 0 && p->f != op->f)
        BAD("\"f\": '%s' does not match its invoke's '%s' (line %" PRIu32 ")", f_names[p->f],
            f_names[op->f], inv_line);
    const char *ikey = history_key(h, op->key);
    if (p->key && strcmp(p->key, ikey))
        BAD("\"key\": '%.100s' does not match its invoke's '%.100s' (line %" PRIu32 ")",
            p->key, ikey, inv_line);
    if (p->time < op->call) {
        tfmt(p->time, t1, sizeof(t1));
        tfmt(op->call, t2, sizeof(t2));
        BAD("completes at %s, before its invoke at %s (line %" PRIu32 ")", t1, t2, inv_line);
    }
    p->f = op->f;
    p->key = ikey;
    return 0;
}

static uint32_t intern_json(struct cc_history *h, const json_t *v)
{
    char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    if (!text)
        return HIST_NONE;
    uint32_t id = strtab_intern(&h->values, text);
    free(text);
    return id;
}

/* Append the checked line. */
static int commit(struct cc_history *h, unsigned lineno, struct parsed *p, struct cc_err *err)
{
    if (reserve((void **)&h->ev, &h->cap_ev, h->n_ev, sizeof(*h->ev)) < 0 ||
        reserve((void **)&h->op, &h->cap_op, h->n_op, sizeof(*h->op)) < 0)
        return cc_err_set(err, ENOMEM, "out of memory");
    uint32_t key = strtab_intern(&h->keys, p->key ? p->key : "");
    uint32_t val = p->value ? intern_json(h, p->value) : HIST_NONE;
    uint32_t a = HIST_NONE, b = HIST_NONE;
    if (p->type == CC_HIST_INVOKE && p->f == CC_HIST_CAS) {
        a = intern_json(h, json_array_get(p->value, 0));
        b = intern_json(h, json_array_get(p->value, 1));
    } else if (p->type == CC_HIST_INVOKE && p->f != CC_HIST_READ) {
        a = val;
    }
    struct proc_slot *s = proc_get(h, p->process, true);
    if (key == HIST_NONE || (p->value && val == HIST_NONE) ||
        (p->f == CC_HIST_CAS && p->type == CC_HIST_INVOKE && (a == HIST_NONE || b == HIST_NONE))
        || !s)
        return cc_err_set(err, ENOMEM, "out of memory");
    uint32_t ev = (uint32_t)h->n_ev++;
    h->ev[ev] = (struct hist_event){
        .time = p->time, .process = p->process, .key = key, .value = val, .line = lineno,
        .type = (uint8_t)p->type, .f = (uint8_t)p->f, .extra = p->extra,
    };
    p->extra = NULL;
    if (p->type == CC_HIST_INVOKE) {
        s->open = (uint32_t)h->n_op++;
        h->op[s->open] = (struct hist_op){
            .call = p->time, .ret = CC_HIST_NEVER, .inv = ev, .done = HIST_NONE,
            .process = p->process, .key = key, .arg = a, .arg2 = b, .f = (uint8_t)p->f,
            .status = CC_HIST_INVOKE,
        };
        h->ev[ev].op = s->open;
        return 0;
    }
    struct hist_op *op = &h->op[s->open];
    h->ev[ev].op = s->open;
    op->done = ev;
    op->status = (uint8_t)p->type;
    if (p->type != CC_HIST_INFO)
        op->ret = p->time;
    if (p->type == CC_HIST_OK && op->f == CC_HIST_READ)
        op->arg = val;
    s->open = HIST_NONE;
    s->last_done = p->time;
    return 0;
}

static int add_line(struct cc_history *h, const char *line, size_t len, unsigned lineno,
                    bool has_time, uint64_t def_time, bool has_proc, uint32_t def_proc,
                    struct cc_err *err)
{
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
    size_t i = 0;
    while (i < len && (line[i] == ' ' || line[i] == '\t'))
        i++;
    if (i == len)
        return 0;                               /* blank */
    json_error_t je;
    json_t *obj = json_loadb(line, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
    if (!obj) {
        char w[600];
        where(h, lineno, w, sizeof(w));
        return cc_err_set(err, EINVAL, "%s, column %d: invalid JSON: %s", w, je.column, je.text);
    }
    int rc = 0;
    struct parsed p = {0};
    if (!json_is_object(obj)) {
        char w[600];
        where(h, lineno, w, sizeof(w));
        rc = cc_err_set(err, EINVAL, "%s: not a JSON object but %s", w, cj_kind(obj));
    }
    if (rc == 0)
        rc = decode(h, lineno, obj, has_time, def_time, has_proc, def_proc, &p, err);
    if (rc == 0)
        rc = check_pairing(h, lineno, &p, err);
    if (rc == 0)
        rc = check_value(h, lineno, &p, err);
    if (rc == 0)
        rc = commit(h, lineno, &p, err);
    json_decref(p.extra);
    json_decref(obj);
    return rc;
}

int cc_history_add_line(struct cc_history *h, const char *line, size_t len,
                        uint64_t default_time_ns, unsigned default_process, struct cc_err *err)
{
    if (default_time_ns > TIMEFMT_MAX)
        return cc_err_set(err, EINVAL, "line %u: default time %" PRIu64 " ns is too large",
                          h->n_lines + 1, default_time_ns);
    int rc = add_line(h, line, len, h->n_lines + 1, true, default_time_ns, true,
                      default_process, err);
    if (rc == 0)
        h->n_lines++;
    return rc;
}

int cc_history_parse(const char *text, size_t len, const char *src, struct cc_history **out,
                     struct cc_err *err)
{
    *out = NULL;
    struct cc_history *h = cc_history_new();
    if (!h || (src && !(h->src = strdup(src)))) {
        cc_history_free(h);
        return cc_err_set(err, ENOMEM, "out of memory");
    }
    unsigned lineno = 0;
    for (size_t pos = 0; pos < len;) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;
        int rc = add_line(h, text + pos, end - pos, ++lineno, false, 0, false, 0, err);
        if (rc < 0) {
            cc_history_free(h);
            return rc;
        }
        pos = end + 1;
    }
    h->n_lines = lineno;
    *out = h;
    return 0;
}

int cc_history_load(const char *path, struct cc_history **out, struct cc_err *err)
{
    *out = NULL;
    char *text;
    size_t len;
    int rc = cc_file_read(path, "history", (size_t)1 << 32, &text, &len, err);
    if (rc == 0)
        rc = cc_history_parse(text, len, path, out, err);
    free(text);
    return rc;
}

/* ---- reading ---- */

size_t cc_history_count(const struct cc_history *h)
{
    return h->n_op;
}

size_t cc_history_events(const struct cc_history *h)
{
    return h->n_ev;
}

int cc_history_op(const struct cc_history *h, size_t i, struct cc_history_op *out)
{
    if (i >= h->n_op)
        return -EINVAL;
    const struct hist_op *op = &h->op[i];
    const struct hist_event *inv = &h->ev[op->inv];
    const struct hist_event *done = op->done != HIST_NONE ? &h->ev[op->done] : NULL;
    *out = (struct cc_history_op){
        .process = op->process,
        .f = (enum cc_hist_f)op->f,
        .status = op->status == CC_HIST_INVOKE ? CC_HIST_INFO : (enum cc_hist_type)op->status,
        .key = history_key(h, op->key),
        .value = inv->value != HIST_NONE ? history_value(h, inv->value) : NULL,
        .result = done && done->value != HIST_NONE ? history_value(h, done->value) : NULL,
        .invoke_ns = op->call,
        .complete_ns = op->ret,
        .line = inv->line,
        .complete_line = done ? done->line : 0,
    };
    return 0;
}

char *cc_history_to_jsonl(const struct cc_history *h)
{
    struct cc_buf b;
    buf_init(&b);
    char **qkey = calloc(h->keys.n + 1, sizeof(*qkey));
    bool ok = qkey != NULL;
    for (size_t i = 0; ok && i < h->keys.n; i++) {
        json_t *s = json_string(h->keys.s[i]);
        qkey[i] = s ? json_dumps(s, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
        json_decref(s);
        ok = qkey[i] != NULL;
    }
    for (size_t i = 0; ok && i < h->n_ev; i++) {
        const struct hist_event *e = &h->ev[i];
        char head[160];
        snprintf(head, sizeof(head), "{\"process\":%" PRIu32 ",\"type\":\"%s\",\"f\":\"%s\"",
                 e->process, type_names[e->type], f_names[e->f]);
        buf_put(&b, head, strlen(head));
        if (h->keys.s[e->key][0]) {
            buf_put(&b, ",\"key\":", 7);
            buf_put(&b, qkey[e->key], strlen(qkey[e->key]));
        }
        if (e->value != HIST_NONE) {
            buf_put(&b, ",\"value\":", 9);
            buf_put(&b, h->values.s[e->value], strlen(h->values.s[e->value]));
        }
        if (e->time <= CJ_EXACT_MAX)
            snprintf(head, sizeof(head), ",\"time\":%" PRIu64, e->time);
        else
            snprintf(head, sizeof(head), ",\"time\":\"%" PRIu64 "\"", e->time);
        buf_put(&b, head, strlen(head));
        if (e->extra) {
            char *x = json_dumps(e->extra, JSON_COMPACT | JSON_EMBED);
            if (!x) {
                ok = false;
                break;
            }
            if (*x) {
                buf_put(&b, ",", 1);
                buf_put(&b, x, strlen(x));
            }
            free(x);
        }
        buf_put(&b, "}\n", 2);
    }
    buf_put(&b, "", 1);
    for (size_t i = 0; qkey && i < h->keys.n; i++)
        free(qkey[i]);
    free(qkey);
    if (!ok || !buf_ok(&b)) {
        buf_free(&b);
        return NULL;
    }
    return (char *)b.data;
}

/* ---- sub-histories ---- */

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

struct cc_history *history_subset(const struct cc_history *h, const uint32_t *ops, size_t n)
{
    struct cc_history *s = calloc(1, sizeof(*s));
    uint32_t *evs = malloc((2 * n + 1) * sizeof(*evs));
    uint32_t *map = malloc((h->n_op + 1) * sizeof(*map));
    if (!s || !evs || !map || strtab_copy(&s->keys, &h->keys) < 0 ||
        strtab_copy(&s->values, &h->values) < 0 || (h->src && !(s->src = strdup(h->src))))
        goto fail;
    size_t ne = 0;
    for (size_t i = 0; i < n; i++) {
        evs[ne++] = h->op[ops[i]].inv;
        if (h->op[ops[i]].done != HIST_NONE)
            evs[ne++] = h->op[ops[i]].done;
    }
    qsort(evs, ne, sizeof(*evs), cmp_u32);
    s->ev = malloc((ne + 1) * sizeof(*s->ev));
    s->op = malloc((n + 1) * sizeof(*s->op));
    if (!s->ev || !s->op)
        goto fail;
    s->cap_ev = ne + 1;
    s->cap_op = n + 1;
    s->n_lines = h->n_lines;
    for (size_t i = 0; i < ne; i++) {
        if (i && evs[i] == evs[i - 1])
            continue;                           /* an op listed twice */
        struct hist_event e = h->ev[evs[i]];
        const struct hist_op *op = &h->op[e.op];
        if (e.type == CC_HIST_INVOKE) {
            map[e.op] = (uint32_t)s->n_op;
            s->op[s->n_op] = *op;
            s->op[s->n_op].done = HIST_NONE;
            s->op[s->n_op++].inv = (uint32_t)s->n_ev;
        } else {
            s->op[map[e.op]].done = (uint32_t)s->n_ev;
        }
        struct proc_slot *ps = proc_get(s, e.process, true);
        if (!ps)
            goto fail;
        ps->open = e.type == CC_HIST_INVOKE ? map[e.op] : HIST_NONE;
        if (e.type != CC_HIST_INVOKE)
            ps->last_done = e.time;
        e.op = map[e.op];
        if (e.extra)
            json_incref(e.extra);
        s->ev[s->n_ev++] = e;
    }
    free(evs);
    free(map);
    return s;
fail:
    free(evs);
    free(map);
    cc_history_free(s);
    return NULL;
}
