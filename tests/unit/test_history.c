/* Histories as JSON lines (src/check/history.c): what a line means, the
 * pairing of invokes and completions, the builder, the round trip through
 * cc_history_to_jsonl, and an error naming the source and line for every
 * kind of malformed input. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chaoscontrol/history.h"
#include "../tap.h"

static struct cc_history *parse(const char *text, struct cc_err *err)
{
    struct cc_history *h = NULL;
    memset(err, 0, sizeof(*err));
    if (cc_history_parse(text, strlen(text), "h.jsonl", &h, err) < 0)
        return NULL;
    return h;
}

static void test_good(void)
{
    const char *text =
        "{\"process\": 0, \"type\": \"invoke\", \"f\": \"write\", \"key\": \"x\", \"value\": 1, \"time\": 1000}\n"
        "\n"
        "{\"process\": 1, \"type\": \"invoke\", \"f\": \"read\", \"key\": \"x\", \"time\": \"1500ns\", \"vm\": 2}\r\n"
        "{\"process\": 0, \"type\": \"ok\", \"f\": \"write\", \"key\": \"x\", \"value\": 1, \"time\": 2000}\n"
        "{\"process\": 1, \"type\": \"ok\", \"value\": 1, \"time\": 2500, \"index\": 7}\n"
        "{\"process\": 2, \"type\": \"invoke\", \"f\": \"cas\", \"value\": [1, \"two\"], \"time\": 3000}\n"
        "{\"process\": 3, \"type\": \"invoke\", \"f\": \"write\", \"key\": \"y\", \"value\": null, \"time\": 3000}\n"
        "{\"process\": 3, \"type\": \"fail\", \"f\": \"write\", \"key\": \"y\", \"time\": 3100}\n"
        "{\"process\": 4, \"type\": \"invoke\", \"f\": \"add\", \"key\": \"s\", \"value\": \"e\", \"time\": 4000}\n"
        "{\"process\": 4, \"type\": \"info\", \"time\": 9000}\n";
    struct cc_err err;
    struct cc_history *h = parse(text, &err);
    ok(h != NULL, "a good history parses");
    if (!h) {
        tap_diag("%s", err.msg);
        return;
    }
    is_int(cc_history_count(h), 5, "5 operations");
    is_int(cc_history_events(h), 9, "9 events (blank line skipped)");
    struct cc_history_op op;
    is_int(cc_history_op(h, 1, &op), 0, "operation 1");
    ok(op.process == 1 && op.f == CC_HIST_READ && op.status == CC_HIST_OK && !strcmp(op.key, "x"),
       "the read: process 1, ok, key x");
    ok(op.invoke_ns == 1500 && op.complete_ns == 2500, "time strings and integers");
    ok(op.value == NULL && op.result && !strcmp(op.result, "1"), "the read returned 1");
    ok(op.line == 3 && op.complete_line == 5, "lines counted from 1 with the blank one");
    cc_history_op(h, 2, &op);
    ok(op.status == CC_HIST_INFO && op.complete_ns == CC_HIST_NEVER && op.complete_line == 0,
       "an invoke never completed counts as info");
    ok(op.f == CC_HIST_CAS && op.value && !strcmp(op.value, "[1,\"two\"]") && !strcmp(op.key, ""),
       "cas [old, new] in compact JSON, key defaults to \"\"");
    cc_history_op(h, 3, &op);
    ok(op.status == CC_HIST_FAIL && op.value && !strcmp(op.value, "null"), "fail; null value");
    cc_history_op(h, 4, &op);
    ok(op.status == CC_HIST_INFO && op.complete_ns == CC_HIST_NEVER && op.complete_line == 10,
       "info: completion time is never");
    ok(cc_history_op(h, 5, &op) == -EINVAL, "out of range");

    char *j1 = cc_history_to_jsonl(h);
    ok(j1 && strstr(j1, "\"vm\":2") && strstr(j1, "\"index\":7"), "extra fields are kept");
    ok(j1 && strstr(j1, "{\"process\":1,\"type\":\"ok\",\"f\":\"read\",\"key\":\"x\",\"value\":1,"
                        "\"time\":2500,\"index\":7}\n"), "a completion gets its invoke's f and key");
    struct cc_history *h2 = j1 ? parse(j1, &err) : NULL;
    char *j2 = h2 ? cc_history_to_jsonl(h2) : NULL;
    ok(j2 && !strcmp(j1, j2), "to_jsonl, parse, to_jsonl: the same text");
    ok(h2 && cc_history_count(h2) == 5, "and the same operations");
    free(j1);
    free(j2);
    cc_history_free(h2);
    cc_history_free(h);
}

struct bad_case {
    const char *name, *text, *want;
};

static const struct bad_case bad_cases[] = {
    {"bad JSON names line and column", "{\"process\": 0, \"type\": \"invoke\", \"f\": \"read\", \"time\": 0}\n{\"process\": 1,",
     "h.jsonl: line 2, column"},
    {"not an object", "[1, 2]\n", "h.jsonl: line 1: not a JSON object but an array"},
    {"type missing", "{\"process\": 0, \"f\": \"read\", \"time\": 0}\n", "line 1: \"type\" is missing"},
    {"type unknown", "{\"process\": 0, \"type\": \"done\", \"f\": \"read\", \"time\": 0}",
     "line 1: \"type\": 'done' is not invoke, ok, fail or info"},
    {"process missing", "{\"type\": \"invoke\", \"f\": \"read\", \"time\": 0}", "line 1: \"process\" is missing"},
    {"process negative", "{\"process\": -1, \"type\": \"invoke\", \"f\": \"read\", \"time\": 0}",
     "line 1: \"process\": -1 is out of range (0 to 4294967295)"},
    {"process a string", "{\"process\": \"p1\", \"type\": \"invoke\", \"f\": \"read\", \"time\": 0}",
     "\"process\" must be an integer from 0 to 4294967295, not a string"},
    {"time missing", "{\"process\": 0, \"type\": \"invoke\", \"f\": \"read\"}", "line 1: \"time\" is missing"},
    {"time negative", "{\"process\": 0, \"type\": \"invoke\", \"f\": \"read\", \"time\": -5}",
     "line 1: \"time\": -5 is negative"},
    {"time a fraction", "{\"process\": 0, \"type\": \"invoke\", \"f\": \"read\", \"time\": 1.5}",
     "\"time\" must be nanoseconds of virtual time"},
    {"time a bad string", "{\"process\": 0, \"type\": \"invoke\", \"f\": \"read\", \"time\": \"soon\"}",
     "\"time\": 'soon' is not a time"},
    {"f unknown", "{\"process\": 0, \"type\": \"invoke\", \"f\": \"incr\", \"time\": 0}",
     "\"f\": 'incr' is not read, write, cas or add"},
    {"f missing on an invoke", "{\"process\": 0, \"type\": \"invoke\", \"time\": 0}", "\"f\" is missing"},
    {"key not a string", "{\"process\": 0, \"type\": \"invoke\", \"f\": \"read\", \"key\": 3, \"time\": 0}",
     "\"key\" must be a string, not an integer"},
    {"completion without invoke", "{\"process\": 0, \"type\": \"invoke\", \"f\": \"read\", \"time\": 0}\n"
     "{\"process\": 0, \"type\": \"ok\", \"value\": null, \"time\": 1}\n"
     "{\"process\": 0, \"type\": \"ok\", \"value\": null, \"time\": 2}\n",
     "h.jsonl: line 3: ok for process 0, which has no operation in progress"},
    {"invoke while open names both lines", "{\"process\": 5, \"type\": \"invoke\", \"f\": \"read\", \"time\": 0}\n"
     "{\"process\": 5, \"type\": \"invoke\", \"f\": \"read\", \"time\": 1}\n",
     "h.jsonl: line 2: process 5 invokes again while its operation from line 1 is still open"},
    {"completion f differs", "{\"process\": 0, \"type\": \"invoke\", \"f\": \"read\", \"time\": 0}\n"
     "{\"process\": 0, \"type\": \"ok\", \"f\": \"write\", \"time\": 1}\n",
     "line 2: \"f\": 'write' does not match its invoke's 'read' (line 1)"},
    {"completion key differs", "{\"process\": 0, \"type\": \"invoke\", \"f\": \"read\", \"key\": \"a\", \"time\": 0}\n"
     "{\"process\": 0, \"type\": \"ok\", \"key\": \"b\", \"value\": 1, \"time\": 1}\n",
     "line 2: \"key\": 'b' does not match its invoke's 'a' (line 1)"},
    {"completion before its invoke", "{\"process\": 0, \"type\": \"invoke\", \"f\": \"read\", \"time\": 2000000}\n"
     "{\"process\": 0, \"type\": \"ok\", \"value\": 1, \"time\": 1000000}\n",
     "line 2: completes at 1 ms, before its invoke at 2 ms (line 1)"},
    {"invoke before the previous completion",
     "{\"process\": 0, \"type\": \"invoke\", \"f\": \"read\", \"time\": 0}\n"
     "{\"process\": 0, \"type\": \"fail\", \"time\": 50}\n"
     "{\"process\": 0, \"type\": \"invoke\", \"f\": \"read\", \"time\": 40}\n",
     "line 3: process 0 invokes at 40 ns, before its previous operation completed (at 50 ns)"},
    {"write without a value", "{\"process\": 0, \"type\": \"invoke\", \"f\": \"write\", \"time\": 0}",
     "line 1: a write needs a \"value\" (an integer, a string or null), not none"},
    {"write of an array", "{\"process\": 0, \"type\": \"invoke\", \"f\": \"write\", \"value\": [1], \"time\": 0}",
     "a write needs a \"value\" (an integer, a string or null), not an array"},
    {"cas with one value", "{\"process\": 0, \"type\": \"invoke\", \"f\": \"cas\", \"value\": [1], \"time\": 0}",
     "a cas needs a \"value\" [old, new], not an array of another length"},
    {"add of null", "{\"process\": 0, \"type\": \"invoke\", \"f\": \"add\", \"value\": null, \"time\": 0}",
     "an add needs a \"value\" (an integer or a string), not null"},
    {"ok read without a value", "{\"process\": 0, \"type\": \"invoke\", \"f\": \"read\", \"time\": 0}\n"
     "{\"process\": 0, \"type\": \"ok\", \"time\": 1}\n",
     "line 2: an ok read needs the \"value\" it read (null: the key is absent)"},
    {"a real number as value", "{\"process\": 0, \"type\": \"invoke\", \"f\": \"write\", \"value\": 1.5, \"time\": 0}",
     "\"value\" is a number: values are integers, strings, null or arrays of them"},
    {"an object as value", "{\"process\": 0, \"type\": \"invoke\", \"f\": \"write\", \"value\": {}, \"time\": 0}",
     "\"value\" is an object"},
    {"nested arrays", "{\"process\": 0, \"type\": \"invoke\", \"f\": \"cas\", \"value\": [[1], 2], \"time\": 0}",
     "\"value\"[0] is an array: elements are integers, strings or null"},
    {"a duplicate field", "{\"process\": 0, \"process\": 1, \"type\": \"invoke\", \"f\": \"read\", \"time\": 0}",
     "h.jsonl: line 1, column"},
    {"a boolean", "{\"process\": 0, \"type\": \"invoke\", \"f\": \"write\", \"value\": true, \"time\": 0}",
     "\"value\" is a boolean"},
};

static void test_bad(void)
{
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const struct bad_case *c = &bad_cases[i];
        struct cc_err err;
        struct cc_history *h = parse(c->text, &err);
        if (!ok(!h && err.code == EINVAL && strstr(err.msg, c->want), "refused: %s", c->name))
            tap_diag("got \"%s\", want \"%s\"", h ? "(parsed)" : err.msg, c->want);
        else
            tap_diag("%s", err.msg);
        cc_history_free(h);
    }
}

static void test_builder(void)
{
    struct cc_history *h = cc_history_new();
    struct cc_err err = {0};
    const char *l1 = "{\"type\": \"invoke\", \"f\": \"write\", \"key\": \"k\", \"value\": \"v\"}\n";
    const char *l2 = "{\"type\": \"ok\"}";
    const char *l3 = "{\"type\": \"ok\", \"process\": 9}";
    is_int(cc_history_add_line(h, l1, strlen(l1), 700, 3, &err), 0, "builder: invoke with defaults");
    is_int(cc_history_add_line(h, l3, strlen(l3), 800, 3, &err), -EINVAL,
           "builder: a completion for another process is refused");
    ok(strstr(err.msg, "line 2: ok for process 9, which has no operation in progress") != NULL,
       "builder errors name the line (%s)", err.msg);
    is_int(cc_history_count(h), 1, "and the history is unchanged");
    is_int(cc_history_add_line(h, "", 0, 800, 3, &err), 0, "a blank line is fine");
    is_int(cc_history_add_line(h, l2, strlen(l2), 900, 3, &err), 0, "builder: completion");
    struct cc_history_op op;
    cc_history_op(h, 0, &op);
    ok(op.process == 3 && op.invoke_ns == 700 && op.complete_ns == 900 && op.line == 1 &&
       op.complete_line == 3, "default process and times; the refused line still counted");
    ok(op.status == CC_HIST_OK && !strcmp(op.value, "\"v\""), "string value in JSON form");
    char *text = cc_history_to_jsonl(h);
    is_str(text, "{\"process\":3,\"type\":\"invoke\",\"f\":\"write\",\"key\":\"k\",\"value\":\"v\",\"time\":700}\n"
                 "{\"process\":3,\"type\":\"ok\",\"f\":\"write\",\"key\":\"k\",\"time\":900}\n",
           "builder history back as JSON lines");
    free(text);
    cc_history_free(h);

    h = cc_history_new();
    is_int(cc_history_add_line(h, "{\"type\": \"invoke\", \"f\": \"read\"}", 31, (uint64_t)1 << 63, 0, &err),
           -EINVAL, "a default time past 2^62 is refused");
    cc_history_free(h);
}

static void test_load(void)
{
    struct cc_err err = {0};
    struct cc_history *h;
    ok(cc_history_load("/nonexistent/h.jsonl", &h, &err) < 0 && !h &&
       strstr(err.msg, "/nonexistent/h.jsonl: cannot read the history"),
       "a missing file: %s", err.msg);
    char path[] = "/tmp/test_history.XXXXXX";
    int fd = mkstemp(path);
    const char *text = "{\"process\": 0, \"type\": \"invoke\", \"f\": \"read\", \"time\": 0}\n"
                       "{\"process\": 0, \"type\": \"ok\", \"value\": \"x\", \"time\": 10}\n"
                       "{\"process\": 0, \"type\": \"ok\", \"value\": \"x\", \"time\": 10}\n";
    ok(fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text), "temporary file");
    close(fd);
    ok(cc_history_load(path, &h, &err) < 0 && strstr(err.msg, path) && strstr(err.msg, ": line 3: "),
       "load errors name the file and line: %s", err.msg);
    ok(cc_history_parse("a\0b", 3, "nul", &h, &err) < 0 && strstr(err.msg, "nul: line 1, column"),
       "a NUL byte is invalid JSON");
    ok(cc_history_parse("", 0, "empty", &h, &err) == 0 && h && cc_history_count(h) == 0,
       "an empty history is a history");
    char *t = h ? cc_history_to_jsonl(h) : NULL;
    is_str(t, "", "with no lines");
    free(t);
    cc_history_free(h);
    unlink(path);
}

int main(void)
{
    test_good();
    test_bad();
    test_builder();
    test_load();
    return tap_exit();
}
