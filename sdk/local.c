/* Guest SDK, local mode: JSON lines in the Antithesis event vocabulary
 * (antithesis_sdk, antithesis_assert, antithesis_setup,
 * antithesis_guidance, plain {"name": details} events) written to the file
 * named by CHAOSCONTROL_SDK_OUTPUT, and randomness from getrandom().
 *
 * Nothing here may crash or block forever: allocation failures truncate,
 * write errors are ignored, bad caller JSON is quoted as a string. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "sdk_internal.h"

/* ---- growable strings ---- */

void ccsdk_str_init(struct ccsdk_str *s)
{
    s->p = s->small;
    s->len = 0;
    s->cap = sizeof(s->small);
    s->ok = true;
    s->small[0] = 0;
}

void ccsdk_str_free(struct ccsdk_str *s)
{
    if (s->p != s->small)
        free(s->p);
    ccsdk_str_init(s);
}

static bool str_reserve(struct ccsdk_str *s, size_t more)
{
    if (!s->ok)
        return false;
    if (s->len + more + 1 <= s->cap)
        return true;
    size_t cap = s->cap;
    while (cap < s->len + more + 1) {
        if (cap > ((size_t)1 << 30)) {
            s->ok = false;
            return false;
        }
        cap *= 2;
    }
    char *n = s->p == s->small ? malloc(cap) : realloc(s->p, cap);
    if (!n) {
        s->ok = false;
        return false;
    }
    if (s->p == s->small)
        memcpy(n, s->small, s->len + 1);
    s->p = n;
    s->cap = cap;
    return true;
}

void ccsdk_str_add(struct ccsdk_str *s, const char *p, size_t n)
{
    if (!n || !str_reserve(s, n))
        return;
    memcpy(s->p + s->len, p, n);
    s->len += n;
    s->p[s->len] = 0;
}

void ccsdk_str_cstr(struct ccsdk_str *s, const char *p)
{
    if (p)
        ccsdk_str_add(s, p, strlen(p));
}

void ccsdk_str_fmt(struct ccsdk_str *s, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n > 0)
        ccsdk_str_add(s, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

void ccsdk_str_json(struct ccsdk_str *s, const char *text)
{
    static const char hex[] = "0123456789abcdef";
    ccsdk_str_add(s, "\"", 1);
    if (text) {
        const unsigned char *p = (const unsigned char *)text;
        const unsigned char *run = p;
        for (; *p; p++) {
            unsigned char c = *p;
            if (c >= 0x20 && c != '"' && c != '\\')
                continue;
            ccsdk_str_add(s, (const char *)run, (size_t)(p - run));
            run = p + 1;
            char esc[6] = {'\\', 0, 0, 0, 0, 0};
            size_t n = 2;
            switch (c) {
            case '"': esc[1] = '"'; break;
            case '\\': esc[1] = '\\'; break;
            case '\n': esc[1] = 'n'; break;
            case '\r': esc[1] = 'r'; break;
            case '\t': esc[1] = 't'; break;
            case '\b': esc[1] = 'b'; break;
            case '\f': esc[1] = 'f'; break;
            default:
                esc[1] = 'u';
                esc[2] = '0';
                esc[3] = '0';
                esc[4] = hex[c >> 4];
                esc[5] = hex[c & 15];
                n = 6;
            }
            ccsdk_str_add(s, esc, n);
        }
        ccsdk_str_add(s, (const char *)run, (size_t)(p - run));
    }
    ccsdk_str_add(s, "\"", 1);
}

/* ---- a small JSON validator (RFC 8259 syntax; depth-limited) ---- */

struct jp {
    const char *p, *end;
    int depth;
};

static void jp_ws(struct jp *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static bool jp_lit(struct jp *j, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, lit, n))
        return false;
    j->p += n;
    return true;
}

static bool jp_string(struct jp *j)
{
    if (j->p >= j->end || *j->p != '"')
        return false;
    j->p++;
    while (j->p < j->end) {
        unsigned char c = (unsigned char)*j->p++;
        if (c == '"')
            return true;
        if (c < 0x20)
            return false;
        if (c == '\\') {
            if (j->p >= j->end)
                return false;
            char e = *j->p++;
            if (e == 'u') {
                for (int i = 0; i < 4; i++, j->p++) {
                    if (j->p >= j->end)
                        return false;
                    char h = *j->p;
                    if (!((h >= '0' && h <= '9') || (h >= 'a' && h <= 'f') ||
                          (h >= 'A' && h <= 'F')))
                        return false;
                }
            } else if (!e || !strchr("\"\\/bfnrt", e)) {
                return false;
            }
        }
    }
    return false;
}

static bool jp_digits(struct jp *j)
{
    const char *s = j->p;
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
        j->p++;
    return j->p > s;
}

static bool jp_number(struct jp *j)
{
    if (j->p < j->end && *j->p == '-')
        j->p++;
    if (j->p < j->end && *j->p == '0')
        j->p++;
    else if (!jp_digits(j))
        return false;
    if (j->p < j->end && *j->p == '.') {
        j->p++;
        if (!jp_digits(j))
            return false;
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
            j->p++;
        if (!jp_digits(j))
            return false;
    }
    return true;
}

static bool jp_value(struct jp *j)
{
    jp_ws(j);
    if (j->p >= j->end || ++j->depth > 64)
        return false;
    bool ok;
    char c = *j->p;
    if (c == '{' || c == '[') {
        char close = c == '{' ? '}' : ']';
        j->p++;
        jp_ws(j);
        if (j->p < j->end && *j->p == close) {
            j->p++;
            ok = true;
        } else {
            for (;;) {
                if (c == '{') {
                    jp_ws(j);
                    if (!jp_string(j))
                        return false;
                    jp_ws(j);
                    if (j->p >= j->end || *j->p++ != ':')
                        return false;
                }
                if (!jp_value(j))
                    return false;
                jp_ws(j);
                if (j->p >= j->end)
                    return false;
                if (*j->p == ',') {
                    j->p++;
                    continue;
                }
                if (*j->p++ != close)
                    return false;
                break;
            }
            ok = true;
        }
    } else if (c == '"') {
        ok = jp_string(j);
    } else if (c == 't') {
        ok = jp_lit(j, "true");
    } else if (c == 'f') {
        ok = jp_lit(j, "false");
    } else if (c == 'n') {
        ok = jp_lit(j, "null");
    } else {
        ok = jp_number(j);
    }
    j->depth--;
    return ok;
}

bool ccsdk_json_valid(const char *text, size_t n)
{
    if (!text)
        return false;
    struct jp j = {text, text + n, 0};
    if (!jp_value(&j))
        return false;
    jp_ws(&j);
    return j.p == j.end;
}

void ccsdk_str_json_value(struct ccsdk_str *s, const char *text)
{
    if (!text) {
        ccsdk_str_cstr(s, "null");
        return;
    }
    size_t n = strlen(text);
    const char *a = text, *b = text + n;
    while (a < b && (*a == ' ' || *a == '\t' || *a == '\n' || *a == '\r'))
        a++;
    while (b > a && (b[-1] == ' ' || b[-1] == '\t' || b[-1] == '\n' || b[-1] == '\r'))
        b--;
    if (a == b)
        ccsdk_str_cstr(s, "null");
    else if (ccsdk_json_valid(a, (size_t)(b - a)))
        ccsdk_str_add(s, a, (size_t)(b - a));
    else
        ccsdk_str_json(s, text);
}

/* ---- output ---- */

static int out_fd = -1;
static bool out_tried;

void ccsdk_local_open(void)
{
    if (out_tried)
        return;
    out_tried = true;
    const char *path = getenv("CHAOSCONTROL_SDK_OUTPUT");
    if (!path || !*path)
        return;
    out_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
}

bool ccsdk_local_enabled(void)
{
    return out_fd >= 0;
}

void ccsdk_local_line(const char *json, size_t len)
{
    if (out_fd < 0 || !json)
        return;
    /* One write per line (O_APPEND keeps lines from several processes
     * whole); the newline goes with it. */
    char small[1024];
    char *buf = len + 1 <= sizeof(small) ? small : malloc(len + 1);
    if (!buf)
        return;
    memcpy(buf, json, len);
    buf[len] = '\n';
    size_t off = 0;
    while (off < len + 1) {
        ssize_t k = write(out_fd, buf + off, len + 1 - off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        off += (size_t)k;
    }
    if (buf != small)
        free(buf);
}

void ccsdk_local_sdk_info(const char *language)
{
    if (out_fd < 0)
        return;
    struct ccsdk_str s;
    ccsdk_str_init(&s);
    ccsdk_str_cstr(&s, "{\"antithesis_sdk\":{\"language\":{\"name\":");
    ccsdk_str_json(&s, language);
    ccsdk_str_cstr(&s, ",\"version\":\"" __VERSION__ "\"},\"sdk_version\":\"chaoscontrol-0.1.0\","
                       "\"protocol_version\":\"1.0.0\"}}");
    if (s.ok)
        ccsdk_local_line(s.p, s.len);
    ccsdk_str_free(&s);
}

void ccsdk_local_assert(const struct cc_catalog_entry *e, bool hit, bool cond,
                        const char *details)
{
    if (out_fd < 0)
        return;
    struct ccsdk_str s;
    ccsdk_str_init(&s);
    ccsdk_str_cstr(&s, "{\"antithesis_assert\":{\"assert_type\":");
    ccsdk_str_json(&s, ccsdk_kind_type(e->kind));
    ccsdk_str_cstr(&s, ",\"display_type\":");
    ccsdk_str_json(&s, ccsdk_kind_display(e->kind));
    ccsdk_str_cstr(&s, cond ? ",\"condition\":true" : ",\"condition\":false");
    ccsdk_str_cstr(&s, ",\"message\":");
    ccsdk_str_json(&s, e->message);
    ccsdk_str_cstr(&s, ",\"location\":{\"class\":\"\",\"function\":");
    ccsdk_str_json(&s, e->function);
    ccsdk_str_cstr(&s, ",\"file\":");
    ccsdk_str_json(&s, e->file);
    ccsdk_str_fmt(&s, ",\"begin_line\":%u,\"begin_column\":0}", e->line);
    ccsdk_str_cstr(&s, hit ? ",\"hit\":true" : ",\"hit\":false");
    ccsdk_str_cstr(&s, ccsdk_kind_must_hit(e->kind) ? ",\"must_hit\":true" : ",\"must_hit\":false");
    ccsdk_str_cstr(&s, ",\"id\":");
    ccsdk_str_json(&s, e->message);
    ccsdk_str_cstr(&s, ",\"details\":");
    ccsdk_str_json_value(&s, details);
    ccsdk_str_cstr(&s, "}}");
    if (s.ok)
        ccsdk_local_line(s.p, s.len);
    ccsdk_str_free(&s);
}

/* ---- randomness ---- */

void ccsdk_local_random(void *buf, size_t len)
{
    uint8_t *p = buf;
    size_t got = 0;
    int failures = 0;
    while (got < len && failures < 3) {
        ssize_t k = getrandom(p + got, len - got, 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            failures++;
            break;
        }
        got += (size_t)k;
    }
    if (got < len) {
        int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            while (got < len) {
                ssize_t k = read(fd, p + got, len - got);
                if (k < 0 && errno == EINTR)
                    continue;
                if (k <= 0)
                    break;
                got += (size_t)k;
            }
            close(fd);
        }
    }
    if (got < len) {
        /* Last resort: splitmix64 seeded from the address space and pid. */
        static uint64_t state;
        if (!state)
            state = (uint64_t)(uintptr_t)&state ^ ((uint64_t)getpid() << 32) ^ 0x9e3779b97f4a7c15ull;
        while (got < len) {
            uint64_t z = (state += 0x9e3779b97f4a7c15ull);
            z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
            z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
            z ^= z >> 31;
            size_t n = len - got < 8 ? len - got : 8;
            memcpy(p + got, &z, n);
            got += n;
        }
    }
}
