/* chaoscontrol check: judge an operation history (chaoscontrol/history.h,
 * chaoscontrol/check.h; docs/history.md).
 *
 *   chaoscontrol check --history h.jsonl                  # registers: linearizable?
 *   chaoscontrol check --history h.jsonl --model set      # sets: lost adds?
 *   chaoscontrol check --history h.jsonl --witness w.jsonl --json
 *
 * Exit status: 0 linearizable (nothing lost), 1 a violation, 2 bad input or
 * usage, 3 no verdict within the limits. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "chaoscontrol/check.h"
#include "chaoscontrol/file.h"
#include "chaoscontrol/history.h"
#include "chaoscontrol/schedule.h"
#include "cli.h"

enum { OPT_HISTORY = 256, OPT_MODEL, OPT_WITNESS, OPT_JSON, OPT_MAX_STEPS, OPT_TIMEOUT,
       OPT_NO_WITNESS, OPT_HELP };

static const struct option opts[] = {
    {"history", required_argument, NULL, OPT_HISTORY},
    {"model", required_argument, NULL, OPT_MODEL},
    {"witness", required_argument, NULL, OPT_WITNESS},
    {"json", no_argument, NULL, OPT_JSON},
    {"max-steps", required_argument, NULL, OPT_MAX_STEPS},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"no-witness", no_argument, NULL, OPT_NO_WITNESS},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: chaoscontrol check --history FILE [--model kv|set] [--witness OUT.jsonl]\n"
            "                          [--json] [--max-steps N] [--timeout T] [--no-witness]\n\n"
            "Checks a history of operations, one JSON object a line (invoke, then ok, fail\n"
            "or info, per process; docs/history.md has the format).\n\n"
            "  --model kv         (default) every key is a register (read, write, cas): is\n"
            "                     the history linearizable? When not, prints why and the\n"
            "                     smallest failing sub-history found (the witness)\n"
            "  --model set        every key is a set (add, read): is every acknowledged add\n"
            "                     in the key's final read, and nothing else?\n"
            "  --witness OUT      also write the witness to OUT as JSON lines (atomically)\n"
            "  --json             print the result as one JSON object\n"
            "  --max-steps N      search steps per key before giving up (default %llu)\n"
            "  --timeout T        give up after T of wall-clock time (e.g. 30s)\n"
            "  --no-witness       report the failing key without shrinking it\n"
            "Exit status: 0 linearizable (set: nothing lost), 1 a violation, 2 bad input or\n"
            "usage, 3 no verdict within the limits.\n",
            (unsigned long long)CC_CHECK_DEFAULT_STEPS);
}

static double now_s(void)
{
    /* Wall time only bounds this command's own search, never a VM. */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool past_deadline(void *opaque)
{
    return now_s() >= *(double *)opaque;
}

static json_t *witness_json(const struct cc_history *w)
{
    json_t *arr = json_array();
    char *text = w ? cc_history_to_jsonl(w) : NULL;
    for (char *line = text; arr && line && *line;) {
        char *nl = strchr(line, '\n');
        json_t *o = json_loadb(line, nl ? (size_t)(nl - line) : strlen(line), 0, NULL);
        if (o)
            json_array_append_new(arr, o);
        line = nl ? nl + 1 : line + strlen(line);
    }
    free(text);
    return arr;
}

static json_t *str_array(char **v, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++) {
        json_t *e = json_loads(v[i], JSON_DECODE_ANY, NULL);
        json_array_append_new(arr, e ? e : json_string(v[i]));
    }
    return arr;
}

static void print_json(const char *file, const char *model, const struct cc_check_result *r)
{
    json_t *o = json_object();
    json_object_set_new(o, "history", json_string(file));
    json_object_set_new(o, "model", json_string(model));
    json_object_set_new(o, "ok", json_boolean(r->ok));
    json_object_set_new(o, "unknown", json_boolean(r->unknown));
    json_object_set_new(o, "key", r->key ? json_string(r->key) : json_null());
    json_object_set_new(o, "operations", json_integer((json_int_t)r->n_ops));
    json_object_set_new(o, "keys", json_integer((json_int_t)r->n_keys));
    json_object_set_new(o, "failed_keys", json_integer((json_int_t)r->n_failed_keys));
    json_object_set_new(o, "unknown_keys", json_integer((json_int_t)r->n_unknown_keys));
    json_object_set_new(o, "steps", json_integer((json_int_t)r->steps));
    json_object_set_new(o, "explain", json_string(r->explain));
    json_object_set_new(o, "witness", r->witness ? witness_json(r->witness) : json_null());
    if (r->witness) {
        json_object_set_new(o, "witness_minimal", json_boolean(r->witness_minimal));
        json_object_set_new(o, "key_operations", json_integer((json_int_t)r->key_ops));
    }
    if (!strcmp(model, "set")) {
        json_object_set_new(o, "lost", str_array(r->lost, r->n_lost));
        json_object_set_new(o, "unexpected", str_array(r->unexpected, r->n_unexpected));
    }
    char *text = json_dumps(o, JSON_INDENT(2));
    if (text)
        printf("%s\n", text);
    free(text);
    json_decref(o);
}

static void print_text(const char *file, const struct cc_check_result *r, const char *out)
{
    printf("%s: %s\n", file, r->explain);
    if (!r->witness)
        return;
    char *text = cc_history_to_jsonl(r->witness);
    printf("\nwitness: %zu of key \"%s\"'s %zu operations%s:\n%s", cc_history_count(r->witness),
           r->key, r->key_ops, r->witness_minimal ? " (no single one can be dropped)" : "",
           text ? text : "");
    free(text);
    if (out)
        printf("(written to %s)\n", out);
}

static int bad(const char *fmt, const char *arg)
{
    fprintf(stderr, "chaoscontrol check: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n");
    usage(stderr);
    return 2;
}

int cmd_check(int argc, char **argv)
{
    const char *file = NULL, *model = "kv", *witness = NULL;
    bool json = false;
    struct cc_check_opts co = {0};
    double deadline = 0;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case OPT_HISTORY: file = optarg; break;
        case OPT_WITNESS: witness = optarg; break;
        case OPT_JSON: json = true; break;
        case OPT_NO_WITNESS: co.no_witness = true; break;
        case OPT_MODEL:
            if (strcmp(optarg, "kv") && strcmp(optarg, "set"))
                return bad("--model '%s' is not kv or set", optarg);
            model = optarg;
            break;
        case OPT_MAX_STEPS:
            if (!cli_parse_u64(optarg, &co.max_steps) || !co.max_steps)
                return bad("--max-steps '%s' is not a positive number", optarg);
            break;
        case OPT_TIMEOUT: {
            uint64_t ns;
            if (!cc_time_parse(optarg, &ns) || !ns)
                return bad("--timeout '%s' is not a positive time (e.g. 30s)", optarg);
            deadline = (double)ns / 1e9;
            break;
        }
        case OPT_HELP: usage(stdout); return 0;
        default:
            return bad(optopt >= OPT_HISTORY ? "option needs a value: '%s'" : "unknown option '%s'",
                       argv[optind - 1]);
        }
    }
    if (optind < argc)
        return bad("unexpected argument '%s'", argv[optind]);
    if (!file)
        return bad("%s", "--history FILE is required");
    if (deadline > 0) {
        deadline += now_s();
        co.stop = past_deadline;
        co.stop_opaque = &deadline;
    }
    struct cc_err err = {0};
    struct cc_history *h;
    if (cc_history_load(file, &h, &err) < 0) {
        fprintf(stderr, "chaoscontrol check: %s\n", err.msg);
        return 2;
    }
    struct cc_check_result r;
    int rc = !strcmp(model, "set") ? cc_check_set(h, &co, &r, &err)
                                   : cc_check_linearizable(h, &co, &r, &err);
    if (rc < 0) {
        fprintf(stderr, "chaoscontrol check: %s\n", err.msg);
        cc_history_free(h);
        return 2;
    }
    int status = r.ok ? 0 : r.unknown ? 3 : 1;
    if (witness && r.witness) {
        char *text = cc_history_to_jsonl(r.witness);
        if (!text || cc_file_write_atomic(witness, text, strlen(text), &err) < 0) {
            fprintf(stderr, "chaoscontrol check: %s\n", text ? err.msg : "out of memory");
            status = 2;
        }
        free(text);
    }
    if (json)
        print_json(file, model, &r);
    else
        print_text(file, &r, witness);
    if (witness && !r.witness && !json)
        printf("(no witness: %s not written)\n", witness);
    cc_check_result_free(&r);
    cc_history_free(h);
    return status;
}
