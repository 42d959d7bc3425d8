/* chaoscontrol-history: one operation of a test's history, as an SDK event.
 *
 *   chaoscontrol-history [--process N] TYPE F [KEY [VALUE]]
 *   chaoscontrol-history --json '{"process":1,"type":"invoke","f":"read",...}'
 *
 * TYPE is invoke, ok, fail or info; F is read, write, cas or add (the
 * operations of Jepsen-style histories). KEY and VALUE are integers when
 * they look like one, else strings; VALUE "-" or absent is null, and for
 * cas VALUE is "OLD,NEW" (a two-element array). The event is named
 * chaoscontrol.history and its details are one JSON object
 *
 *   {"process":N,"type":"ok","f":"write","key":"x","value":3}
 *
 * with no time: the VMM stamps the virtual time when the event arrives
 * (the call is synchronous, so that time is the time of the operation).
 * --process defaults to the parent's pid, which tells apart the test
 * commands (shell scripts) that run at the same time.
 *
 * Under the VMM it prints nothing; outside it (SDK local mode) it prints
 * the JSON object on stdout, and the SDK writes the event to
 * CHAOSCONTROL_SDK_OUTPUT if set. Exit status 0, or 2 with a usage message
 * for bad arguments. `chaoscontrol pack` puts it in every image as
 * /usr/bin/chaoscontrol-history. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sdk_internal.h"

static int usage(FILE *f, const char *why)
{
    if (why)
        fprintf(f, "chaoscontrol-history: %s\n", why);
    fprintf(f, "usage: chaoscontrol-history [--process N] invoke|ok|fail|info read|write|cas|add "
               "[KEY [VALUE]]\n"
               "       chaoscontrol-history --json '{\"process\":N,\"type\":...,\"f\":...,"
               "\"key\":...,\"value\":...}'\n"
               "Sends one chaoscontrol.history event (an operation of the test's history).\n"
               "KEY and VALUE are integers or strings; VALUE - or absent is null; for cas\n"
               "VALUE is OLD,NEW. --process defaults to the parent's pid.\n");
    return f == stdout ? 0 : 2;
}

static bool one_of(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (!strcmp(s, *list))
            return true;
    return false;
}

/* A decimal integer that fits in int64 (no sign but '-', no leading
 * zeros, which JSON forbids). */
static bool is_int(const char *s)
{
    const char *p = s + (*s == '-');
    if (!*p || (p[0] == '0' && p[1]) || strlen(p) > 19)
        return false;
    for (const char *q = p; *q; q++)
        if (*q < '0' || *q > '9')
            return false;
    errno = 0;
    (void)strtoll(s, NULL, 10);
    return errno == 0;
}

/* s (n bytes) as an integer or a JSON string. */
static void add_scalar(struct ccsdk_str *o, const char *s, size_t n)
{
    char buf[4096];
    if (n >= sizeof(buf))
        n = sizeof(buf) - 1;
    memcpy(buf, s, n);
    buf[n] = 0;
    if (is_int(buf))
        ccsdk_str_cstr(o, buf);
    else
        ccsdk_str_json(o, buf);
}

int main(int argc, char **argv)
{
    static const char *const types[] = {"invoke", "ok", "fail", "info", NULL};
    static const char *const fs[] = {"read", "write", "cas", "add", NULL};
    const char *json = NULL, *process = NULL;
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i++) {
        if (!strcmp(argv[i], "--help"))
            return usage(stdout, NULL);
        if (!strcmp(argv[i], "--")) {
            i++;
            break;
        }
        if (i + 1 >= argc)
            return usage(stderr, "an option needs a value");
        if (!strcmp(argv[i], "--process"))
            process = argv[++i];
        else if (!strcmp(argv[i], "--json"))
            json = argv[++i];
        else
            return usage(stderr, "unknown option");
    }
    struct ccsdk_str o;
    ccsdk_str_init(&o);
    if (json) {
        const char *p = json + strspn(json, " \t\r\n");
        if (process || i < argc)
            return usage(stderr, "--json takes the whole line: no other arguments");
        if (*p != '{' || !ccsdk_json_valid(json, strlen(json)))
            return usage(stderr, "--json needs one JSON object");
        ccsdk_str_cstr(&o, p);
        while (o.len && strchr(" \t\r\n", o.p[o.len - 1]))
            o.p[--o.len] = 0;
    } else {
        int n = argc - i;
        if (n < 2 || n > 4)
            return usage(stderr, n < 2 ? "TYPE and F are needed" : "too many arguments");
        const char *type = argv[i], *f = argv[i + 1];
        const char *key = n > 2 ? argv[i + 2] : NULL, *value = n > 3 ? argv[i + 3] : NULL;
        if (!one_of(type, types))
            return usage(stderr, "TYPE is invoke, ok, fail or info");
        if (!one_of(f, fs))
            return usage(stderr, "F is read, write, cas or add");
        if (process && !is_int(process))
            return usage(stderr, "--process needs an integer");
        char pid[24];
        snprintf(pid, sizeof(pid), "%d", (int)getppid());
        ccsdk_str_cstr(&o, "{\"process\":");
        ccsdk_str_cstr(&o, process ? process : pid);
        ccsdk_str_cstr(&o, ",\"type\":");
        ccsdk_str_json(&o, type);
        ccsdk_str_cstr(&o, ",\"f\":");
        ccsdk_str_json(&o, f);
        ccsdk_str_cstr(&o, ",\"key\":");
        if (key)
            add_scalar(&o, key, strlen(key));
        else
            ccsdk_str_cstr(&o, "null");
        ccsdk_str_cstr(&o, ",\"value\":");
        const char *comma = value ? strchr(value, ',') : NULL;
        if (!value || !strcmp(value, "-")) {
            ccsdk_str_cstr(&o, "null");
        } else if (!strcmp(f, "cas")) {
            if (!comma || strchr(comma + 1, ','))
                return usage(stderr, "a cas VALUE is OLD,NEW");
            ccsdk_str_cstr(&o, "[");
            add_scalar(&o, value, (size_t)(comma - value));
            ccsdk_str_cstr(&o, ",");
            add_scalar(&o, comma + 1, strlen(comma + 1));
            ccsdk_str_cstr(&o, "]");
        } else {
            add_scalar(&o, value, strlen(value));
        }
        ccsdk_str_cstr(&o, "}");
    }
    if (!o.ok) {
        fprintf(stderr, "chaoscontrol-history: out of memory\n");
        return 1;
    }
    if (cc_sdk_mode() == CC_SDK_LOCAL)
        printf("%s\n", o.p);
    cc_send_event("chaoscontrol.history", o.p);
    ccsdk_str_free(&o);
    return 0;
}
