/* Triage reports (chaoscontrol/replay.h) rendered from a made-up bug,
 * without KVM: the Markdown names the failing property, the checker's
 * explanation and failing sub-history, every fault with its verdict, the
 * per-link traffic and each VM's console tail (fenced so that backticks in
 * it cannot end the block; '|' escaped in table cells); the JSON parses
 * and carries the same facts; the SVG timeline has a lane per VM and a
 * bar per fault and VM it concerns; cc_triage_write writes the three
 * files; cc_text_tail finds the last lines. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "../tap.h"
#include "chaoscontrol/explore.h"
#include "chaoscontrol/replay.h"
#include "chaoscontrol/sdk_host.h"

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; p && (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static struct cc_bug *make_bug(void)
{
    struct cc_bug *b = calloc(1, sizeof(*b));
    b->number = 3;
    b->recipe = cc_recipe_new();
    b->target.n_vms = 3;
    struct cc_err err = {0};
    struct cc_fault f;
    cc_fault_init(&f, CC_FAULT_PARTITION, 2500000000ull);
    f.sides[0] = 1;                     /* vm 0 alone */
    f.n_sides = 1;
    f.duration_ns = 1000000000ull;
    cc_schedule_add(b->recipe->sched, &f, &err);
    cc_fault_init(&f, CC_FAULT_KILL, 3000000000ull);
    f.vm = 2;
    cc_schedule_add(b->recipe->sched, &f, &err);
    cc_fault_init(&f, CC_FAULT_LOSS, 2000000000ull);
    f.ppm = 200000;
    f.from = 2;
    cc_schedule_add(b->recipe->sched, &f, &err);
    b->recipe->end_ns = 4200000000ull;
    struct cc_xfailure *x = &b->fail;
    x->failed = true;
    x->vm = 1;
    x->id = 0x1234;
    x->kind = CC_ASSERT_ALWAYS;
    x->line = 77;
    snprintf(x->message, sizeof(x->message), "at most one leader per term");
    snprintf(x->file, sizeof(x->file), "raft.c");
    snprintf(x->function, sizeof(x->function), "become_leader");
    snprintf(x->details, sizeof(x->details), "{\"term\": 4}");
    x->sim_ns = 4100000000ull;
    x->vm_ns = 4100000123ull;
    x->exit = 54321;
    b->history_explain = strdup("no linearization: read of x returned 2 after 3 was written");
    b->history_witness = strdup("{\"process\":1,\"type\":\"invoke\",\"f\":\"read\"}\n");
    b->history_ops = 12;
    return b;
}

static struct cc_triage *make_triage(const struct cc_bug *b)
{
    struct cc_triage *t = calloc(1, sizeof(*t));
    t->bug = b;
    t->bug_path = strdup("out/bug_3.json");
    t->reproduced = true;
    t->n_vms = 3;
    t->setup_ns = 1500000000ull;
    t->end_ns = 4100000000ull;
    t->n_faults = cc_schedule_count(b->recipe->sched);
    t->faults = calloc(t->n_faults, sizeof(*t->faults));
    for (size_t i = 0; i < t->n_faults; i++) {
        t->faults[i].f = *cc_schedule_get(b->recipe->sched, i);
        cc_fault_describe(&t->faults[i].f, t->faults[i].text, sizeof(t->faults[i].text));
        t->faults[i].verdict = i == 1 ? CC_TRIAGE_NECESSARY : CC_TRIAGE_INCIDENTAL;
        snprintf(t->faults[i].outcome, sizeof(t->faults[i].outcome), i == 1 ?
                 "no failure: the run ended at 4.2 s" : "still fails | same");
    }
    t->faults_tested = true;
    /* counterfactuals (shifts: -1 s, -100 ms, -10 ms, +10 ms, +100 ms, +1 s):
     * #0 loss at 2.0 s: incidental, -1 s would be before setup;
     * #1 partition at 2.5 s: the cause, still failing only within 10 ms,
     *    1 s later another assertion fails;
     * #2 kill at 3.0 s: incidental, but 100 ms later the failure is gone */
    struct cc_err e = {0};
    cc_triage_parse_shifts(CC_TRIAGE_DEFAULT_SHIFTS, t->shifts, &t->n_shifts, &e);
    t->shifts_tested = true;
    t->from_snapshots = true;
    t->snapshots = 7;
    t->snapshot_wall_s = 3.5;
    t->cf_wall_s = 12.5;
    static const enum cc_triage_cf_result R[3][7] = {
        /* without, -1s, -100ms, -10ms, +10ms, +100ms, +1s */
        {CC_TRIAGE_CF_FAILS, CC_TRIAGE_CF_NOT_RUN, CC_TRIAGE_CF_FAILS, CC_TRIAGE_CF_FAILS,
         CC_TRIAGE_CF_FAILS, CC_TRIAGE_CF_FAILS, CC_TRIAGE_CF_FAILS},
        {CC_TRIAGE_CF_GONE, CC_TRIAGE_CF_GONE, CC_TRIAGE_CF_GONE, CC_TRIAGE_CF_FAILS,
         CC_TRIAGE_CF_FAILS, CC_TRIAGE_CF_GONE, CC_TRIAGE_CF_OTHER},
        {CC_TRIAGE_CF_FAILS, CC_TRIAGE_CF_FAILS, CC_TRIAGE_CF_FAILS, CC_TRIAGE_CF_FAILS,
         CC_TRIAGE_CF_FAILS, CC_TRIAGE_CF_GONE, CC_TRIAGE_CF_NOT_RUN},
    };
    for (size_t i = 0; i < t->n_faults; i++) {
        struct cc_triage_fault *tf = &t->faults[i];
        tf->partner = -1;
        tf->without.removed = true;
        tf->without.result = R[i][0];
        tf->without.from_ns = tf->f.at_ns - 5000000;
        tf->without.sim_hash = 0xabcdef0123456789ull;
        snprintf(tf->without.outcome, sizeof(tf->without.outcome), "%s", tf->outcome);
        for (size_t k = 0; k < t->n_shifts; k++) {
            struct cc_triage_cf *cf = &tf->shifts[k];
            cf->shift_ns = t->shifts[k];
            cf->result = R[i][k + 1];
            cf->at_ns = tf->f.at_ns + (uint64_t)cf->shift_ns;
            if (cf->result == CC_TRIAGE_CF_NOT_RUN)
                snprintf(cf->why_not, sizeof(cf->why_not), "out of range");
            else
                snprintf(cf->outcome, sizeof(cf->outcome), "%s", cf->result ==
                         CC_TRIAGE_CF_FAILS ? "still fails" : "no failure");
        }
    }
    cc_triage_summarize(t);
    const char *consoles[3] = {"boot\nnode 0 up\n", "x ```` y\nleader term 4\n",
                               "last line without newline"};
    for (unsigned i = 0; i < 3; i++) {
        t->vm[i].console_tail = strdup(consoles[i]);
        t->vm[i].console_bytes = 1000 + i;
        t->vm[i].tail_lines = 40;
        snprintf(t->vm[i].state, sizeof(t->vm[i].state), "%s", i == 2 ? "killed" : "running");
        t->vm[i].exits = 100 * (i + 1);
    }
    t->links = calloc(2, sizeof(*t->links));
    t->links[0] = (struct cc_triage_link){0, 1, {.sent = 10, .sent_bytes = 1000, .delivered = 7,
                                                 .dropped_partition = 3}};
    t->links[1] = (struct cc_triage_link){2, 0, {.sent = 5, .dropped_loss = 1, .delivered = 4}};
    t->n_links = 2;
    t->log = calloc(2, sizeof(*t->log));
    t->log[0] = (struct cc_sim_log_entry){.vtime = 2500000000ull, .kind = CC_SIM_LOG_FAULT,
                                          .vm = -1, .fault = 0, .type = CC_FAULT_PARTITION};
    snprintf(t->log[0].text, sizeof(t->log[0].text), "partition [0] | rest");
    t->log[1] = (struct cc_sim_log_entry){.vtime = 4100000000ull, .kind = CC_SIM_LOG_FAILURE,
                                          .vm = 1, .fault = -1};
    snprintf(t->log[1].text, sizeof(t->log[1].text), "assertion failed");
    t->n_log = 2;
    return t;
}

static void test_shifts(void)
{
    int64_t sh[CC_TRIAGE_MAX_SHIFTS];
    size_t n;
    struct cc_err err = {0};
    ok(cc_triage_parse_shifts(CC_TRIAGE_DEFAULT_SHIFTS, sh, &n, &err) == 0 && n == 6 &&
       sh[0] == -1000000000 && sh[1] == -100000000 && sh[2] == -10000000 && sh[3] == 10000000 &&
       sh[4] == 100000000 && sh[5] == 1000000000, "shifts: the default list, ascending");
    ok(cc_triage_parse_shifts("+5ms,-2ms,1s", sh, &n, &err) == 0 && n == 3 && sh[0] == -2000000 &&
       sh[1] == 5000000 && sh[2] == 1000000000, "shifts: signs, sorted");
    ok(cc_triage_parse_shifts("none", sh, &n, &err) == 0 && n == 0, "shifts: none");
    ok(cc_triage_parse_shifts("10ms,0", sh, &n, &err) == -EINVAL && strstr(err.msg, "'0'"),
       "shifts: 0 refused, named (%s)", err.msg);
    ok(cc_triage_parse_shifts("10ms,+10ms", sh, &n, &err) == -EINVAL && strstr(err.msg, "twice"),
       "shifts: a repeat refused (%s)", err.msg);
    ok(cc_triage_parse_shifts("10ms,,1s", sh, &n, &err) == -EINVAL, "shifts: empty item refused");
    ok(cc_triage_parse_shifts("-1x", sh, &n, &err) == -EINVAL && strstr(err.msg, "'-1x'"),
       "shifts: junk refused (%s)", err.msg);
    ok(cc_triage_parse_shifts("1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17", sh, &n, &err) == -EINVAL,
       "shifts: at most %d", CC_TRIAGE_MAX_SHIFTS);

    char b[32];
    cc_triage_shift_text(-10000000, b, sizeof(b));
    ok(!strcmp(b, "10 ms"), "shift text: 10 ms (%s)", b);
    cc_triage_shift_text(1000000000, b, sizeof(b));
    ok(!strcmp(b, "1 s"), "shift text: 1 s (%s)", b);
    cc_triage_shift_text(1500000000, b, sizeof(b));
    ok(!strcmp(b, "1.5 s"), "shift text: 1.5 s (%s)", b);
    cc_triage_shift_text(250000, b, sizeof(b));
    ok(!strcmp(b, "250 us"), "shift text: 250 us (%s)", b);
    cc_triage_shift_text(7, b, sizeof(b));
    ok(!strcmp(b, "7 ns"), "shift text: 7 ns (%s)", b);

    /* #0 partition without a duration at 1 s, #1 loss at 1.5 s, #2 heal at
     * 2 s (ends #0), #3 partition for 1 s at 3 s, #4 heal at 5 s (no
     * partition of its own: #3 ends by itself), #5 pause vm 1 at 6 s */
    struct cc_schedule *s = cc_schedule_new();
    struct cc_fault f;
    cc_fault_init(&f, CC_FAULT_PARTITION, 1000000000);
    f.sides[0] = 1;
    f.n_sides = 1;
    cc_schedule_add(s, &f, &err);
    cc_fault_init(&f, CC_FAULT_LOSS, 1500000000);
    f.ppm = 100000;
    cc_schedule_add(s, &f, &err);
    cc_fault_init(&f, CC_FAULT_HEAL, 2000000000);
    cc_schedule_add(s, &f, &err);
    cc_fault_init(&f, CC_FAULT_PARTITION, 3000000000);
    f.sides[0] = 2;
    f.n_sides = 1;
    f.duration_ns = 1000000000;
    cc_schedule_add(s, &f, &err);
    cc_fault_init(&f, CC_FAULT_HEAL, 5000000000);
    cc_schedule_add(s, &f, &err);
    cc_fault_init(&f, CC_FAULT_PAUSE, 6000000000);
    f.vm = 1;
    f.duration_ns = 300000000;
    cc_schedule_add(s, &f, &err);
    ok(cc_triage_partner(s, 0) == 2 && cc_triage_partner(s, 2) == 0 &&
       cc_triage_partner(s, 1) == -1 && cc_triage_partner(s, 3) == -1 &&
       cc_triage_partner(s, 4) == -1 && cc_triage_partner(s, 5) == -1,
       "partner: a partition without a duration and the heal that ends it");

    struct cc_schedule *m = NULL;
    uint64_t first = 0;
    const uint64_t lo = 900000000, hi = 7000000000;
    ok(cc_triage_shift_schedule(s, 0, 100000000, lo, hi, &m, &first, &err) == 0 &&
       first == 1000000000 && cc_schedule_count(m) == 6 &&
       cc_schedule_get(m, 0)->type == CC_FAULT_PARTITION &&
       cc_schedule_get(m, 0)->at_ns == 1100000000 &&
       cc_schedule_get(m, 1)->type == CC_FAULT_LOSS &&
       cc_schedule_get(m, 2)->type == CC_FAULT_HEAL && cc_schedule_get(m, 2)->at_ns == 2100000000,
       "shift: a partition moves 100 ms later with its heal; the change starts at 1 s");
    cc_schedule_free(m);
    ok(cc_triage_shift_schedule(s, 0, -100000000, lo, hi, &m, &first, &err) == 0 &&
       first == 900000000 && cc_schedule_get(m, 0)->at_ns == 900000000 &&
       cc_schedule_get(m, 2)->at_ns == 1900000000,
       "shift: 100 ms earlier, the change starts at 0.9 s");
    cc_schedule_free(m);
    ok(cc_triage_shift_schedule(s, 0, -200000000, lo, hi, &m, &first, &err) == -ERANGE && !m &&
       strstr(err.msg, "before setup"), "shift: not before setup (%s)", err.msg);
    ok(cc_triage_shift_schedule(s, 0, 5000000000, lo, hi, &m, &first, &err) == -ERANGE &&
       strstr(err.msg, "end"), "shift: the heal too must come before the end (%s)", err.msg);
    ok(cc_triage_shift_schedule(s, 2, -1000000000, lo, hi, &m, &first, &err) == -ERANGE &&
       strstr(err.msg, "before its partition"), "shift: a heal stays after its partition (%s)",
       err.msg);
    ok(cc_triage_shift_schedule(s, 2, -500000000, lo, hi, &m, &first, &err) == 0 &&
       first == 1500000000 && cc_schedule_get(m, 0)->at_ns == 1000000000 &&
       cc_schedule_get(m, 2)->type == CC_FAULT_HEAL && cc_schedule_get(m, 2)->at_ns == 1500000000,
       "shift: a heal moves alone (its partition stays; after the loss at the same time)");
    cc_schedule_free(m);
    ok(cc_triage_shift_schedule(s, 5, -10000000, lo, hi, &m, &first, &err) == 0 &&
       cc_schedule_get(m, 5)->at_ns == 5990000000 &&
       cc_schedule_get(m, 5)->duration_ns == 300000000 && first == 5990000000,
       "shift: a pause moves with its duration");
    cc_schedule_free(m);
    ok(cc_triage_shift_schedule(s, 1, 10000000, lo, hi, &m, &first, &err) == 0 &&
       cc_schedule_get(m, 1)->at_ns == 1510000000 && cc_schedule_count(m) == 6,
       "shift: a lone fault moves alone");
    cc_schedule_free(m);
    ok(cc_triage_shift_schedule(s, 9, 10000000, lo, hi, &m, &first, &err) == -ENOENT,
       "shift: no such fault");
    cc_schedule_free(s);
}

int main(void)
{
    tap_plan(0);
    test_shifts();

    /* cc_text_tail */
    const char *txt = "a\nb\nc\nd\n";
    ok(!strcmp(txt + cc_text_tail((const uint8_t *)txt, strlen(txt), 2), "c\nd\n"),
       "text tail: the last 2 lines of 4");
    ok(cc_text_tail((const uint8_t *)txt, strlen(txt), 10) == 0, "text tail: more than there is");
    const char *nonl = "a\nb\nc";
    ok(!strcmp(nonl + cc_text_tail((const uint8_t *)nonl, strlen(nonl), 2), "b\nc"),
       "text tail: a final line without newline counts");
    ok(cc_text_tail(NULL, 0, 3) == 0, "text tail: empty");
    static const char dirty[] = "a\r\n\x1b[0m\xff\tb";
    char *clean = cc_text_clean((const uint8_t *)dirty, sizeof(dirty) - 1);
    ok(clean && !strcmp(clean, "a\n.[0m.\tb"), "text clean: control bytes and non-ASCII become '.', CR goes");
    free(clean);

    struct cc_bug *b = make_bug();
    struct cc_triage *t = make_triage(b);

    char *md = cc_triage_markdown(t, "timeline.svg");
    if (getenv("TRIAGE_DUMP"))
        fputs(md, stderr);
    ok(md != NULL, "markdown rendered");
    if (!md)
        return tap_exit();
    ok(strstr(md, "# Triage of `out/bug_3.json`") != NULL, "markdown: title names the bug");
    ok(strstr(md, "**ALWAYS** `at most one leader per term` failed in **vm 1** at raft.c:77") != NULL,
       "markdown: the failing property, VM and place");
    ok(strstr(md, "no linearization: read of x returned 2") != NULL &&
       strstr(md, "```json\n{\"process\":1") != NULL,
       "markdown: the checker's explanation and failing sub-history");
    ok(strstr(md, "![timeline](timeline.svg)") != NULL, "markdown: links the timeline");
    ok(strstr(md, "| 2 | 3.000000 | (instant) | kill vm 2 |") != NULL,
       "markdown: the schedule in time order, the kill instant");
    ok(strstr(md, "| 0 | 2.000000 | (to the end) | loss") != NULL,
       "markdown: a fault without a duration lasts to the end");
    ok(strstr(md, "| **necessary** | no failure") != NULL, "markdown: the necessary fault");
    ok(strstr(md, "still fails \\| same") != NULL, "markdown: '|' escaped in a table cell");
    ok(strstr(md, "- necessary: #1 partition") != NULL &&
       strstr(md, "- incidental: #0 loss, #2 kill") != NULL,
       "markdown: necessary and incidental lists");
    ok(strstr(md, "| 0 → 1 | 10 | 1000 | 7 | 3 |") != NULL, "markdown: link traffic row");
    ok(strstr(md, "`````\nx ```` y\nleader term 4\n`````") != NULL,
       "markdown: a console with backticks gets a longer fence");
    ok(strstr(md, "```\nlast line without newline\n```") != NULL,
       "markdown: a console without a final newline is closed");
    ok(strstr(md, "### vm 1 (the failing VM)") != NULL, "markdown: the failing VM's console");
    ok(strstr(md, "| 2.500000 | - | fault: partition [0] \\| rest |") != NULL,
       "markdown: run log row");
    ok(strstr(md, "chaoscontrol replay --bug 'out/bug_3.json' --vm 1 --exit 54321") != NULL,
       "markdown: the replay command to the failure");

    char *js = cc_triage_json(t);
    json_error_t je;
    json_t *j = js ? json_loads(js, 0, &je) : NULL;
    ok(j != NULL, "json parses");
    if (j) {
        json_t *fa = json_object_get(j, "faults");
        ok(json_array_size(fa) == 3, "json: 3 faults");
        ok(!strcmp(json_string_value(json_object_get(json_array_get(fa, 1), "verdict")),
                   "necessary"), "json: fault 1 necessary");
        ok(!strcmp(json_string_value(json_object_get(json_array_get(fa, 1), "type")),
                   "partition") &&
           json_is_object(json_object_get(json_array_get(fa, 1), "fault")),
           "json: fault 1 is the partition, with its schedule form");
        ok(json_integer_value(json_object_get(json_object_get(j, "failure"), "vm")) == 1 &&
           !strcmp(json_string_value(json_object_get(json_object_get(j, "failure"), "message")),
                   "at most one leader per term"), "json: the failure");
        ok(json_is_string(json_object_get(json_object_get(j, "history"), "witness")),
           "json: the history witness");
        ok(json_array_size(json_object_get(j, "links")) == 2 &&
           json_integer_value(json_object_get(json_array_get(json_object_get(j, "links"), 1),
                                              "dropped_loss")) == 1, "json: links");
        ok(!strcmp(json_string_value(json_object_get(json_array_get(json_object_get(j, "vms"),
                                                                    1), "console_tail")),
                   "x ```` y\nleader term 4\n"), "json: console tail");
        ok(json_array_size(json_object_get(j, "log")) == 2, "json: run log");
        json_decref(j);
    }

    /* counterfactuals in the Markdown and the JSON */
    ok(strstr(md, "## Counterfactuals") != NULL &&
       strstr(md, "| # | fault | at (s) | without it | −1 s | −100 ms | −10 ms | +10 ms | +100 ms "
              "| +1 s |") != NULL, "markdown: the counterfactual table's header");
    ok(strstr(md, "| 2.500000 | **gone** | **gone** | **gone** | fails | fails | **gone** | "
              "**other** |") != NULL, "markdown: the partition's row");
    ok(strstr(md, "| 2.000000 | fails | n/a | fails |") != NULL, "markdown: a move not run is n/a");
    ok(strstr(md, "7 snapshots, 3.5 s") != NULL && strstr(md, "took 12.5 s") != NULL,
       "markdown: snapshots and wall time");
    ok(strstr(md, "- fault #1 (partition") != NULL, "markdown: a sentence per fault");
    if (js) {
        json_t *j2 = json_loads(js, 0, &je);
        json_t *f1 = json_array_get(json_object_get(j2, "faults"), 1);
        json_t *ca = json_object_get(f1, "counterfactuals");
        ok(json_array_size(ca) == 7 &&
           !strcmp(json_string_value(json_object_get(json_array_get(ca, 0), "change")), "removed") &&
           !strcmp(json_string_value(json_object_get(json_array_get(ca, 0), "result")),
                   "disappears") &&
           json_integer_value(json_object_get(json_array_get(ca, 3), "shift_ns")) == -10000000 &&
           !strcmp(json_string_value(json_object_get(json_array_get(ca, 3), "result")),
                   "still_fails") &&
           !strcmp(json_string_value(json_object_get(json_array_get(ca, 6), "result")),
                   "other_failure") &&
           !strcmp(json_string_value(json_object_get(json_array_get(ca, 0), "sim_hash")),
                   "abcdef0123456789"),
           "json: the partition's counterfactuals (removed, moved, results, hash)");
        json_t *w = json_object_get(f1, "window");
        ok(json_integer_value(json_object_get(w, "earliest_shift_ns")) == -10000000 &&
           json_integer_value(json_object_get(w, "latest_shift_ns")) == 10000000 &&
           json_integer_value(json_object_get(w, "earliest_ns")) == 2490000000 &&
           json_is_true(json_object_get(w, "bounded_before")) &&
           json_is_true(json_object_get(w, "bounded_after")), "json: the partition's window");
        ok(json_is_string(json_object_get(f1, "summary")) &&
           json_array_size(json_object_get(j2, "shifts_ns")) == 6 &&
           json_is_true(json_object_get(j2, "from_snapshots")) &&
           json_integer_value(json_object_get(j2, "snapshots")) == 7,
           "json: summary, shifts, snapshots");
        json_t *c0 = json_array_get(json_object_get(json_array_get(json_object_get(j2, "faults"), 0),
                                                    "counterfactuals"), 1);
        ok(!strcmp(json_string_value(json_object_get(c0, "result")), "not_run") &&
           !strcmp(json_string_value(json_object_get(c0, "why_not")), "out of range") &&
           !json_object_get(c0, "sim_hash"), "json: a move not run says why, and has no result");
        json_decref(j2);
    }

    char *svg = cc_triage_svg(t);
    ok(svg && !strncmp(svg, "<svg ", 5) && strstr(svg, "</svg>\n") != NULL, "svg: one svg element");
    /* the schedule is kept in time order: #0 loss from vm 1 (mask 2) to
     * every VM: 3 bars; #1 partition of vm 0 alone: 1 bar; #2 kill vm 2:
     * 1 bar */
    ok(svg && count(svg, "<rect x=") == 5, "svg: a bar per fault and VM it concerns (%zu)",
       svg ? count(svg, "<rect x=") : 0);
    ok(svg && count(svg, "fill=\"#d62728\" fill-opacity") == 1, "svg: one necessary bar");
    ok(svg && count(svg, ">vm ") == 3, "svg: a lane per VM");
    ok(svg && strstr(svg, "<circle") != NULL, "svg: the failure is marked");
    ok(svg && count(svg, "still fails from 2.490 s to 2.510 s") == 1 &&
       count(svg, "still fails from") == 2,
       "svg: the windows of the bounded faults (partition, kill)");

    char dir[] = "/tmp/test_triage.XXXXXX";
    ok(mkdtemp(dir) != NULL, "temp dir");
    char out[600];
    snprintf(out, sizeof(out), "%s/report", dir);
    struct cc_err err = {0};
    ok(cc_triage_write(t, out, &err) == 0, "cc_triage_write: %s", err.msg[0] ? err.msg : "ok");
    const char *names[] = {"triage.md", "triage.json", "timeline.svg"};
    for (int i = 0; i < 3; i++) {
        char p[700];
        snprintf(p, sizeof(p), "%s/%s", out, names[i]);
        struct stat st;
        ok(stat(p, &st) == 0 && st.st_size > 100, "%s written", names[i]);
        unlink(p);
    }
    rmdir(out);
    rmdir(dir);

    /* a history checker's failure: no VM, file or exit to name */
    snprintf(b->fail.file, sizeof(b->fail.file), "chaoscontrol:checker");
    snprintf(b->fail.function, sizeof(b->fail.function), "linearizable");
    snprintf(b->fail.details, sizeof(b->fail.details), "%s", b->history_explain);
    char *mdc = cc_triage_markdown(t, NULL);
    ok(mdc && strstr(mdc, "the history checker (`linearizable`) judged the run's operation "
                     "history at its end") != NULL && !strstr(mdc, "(the failing VM)") &&
       !strstr(mdc, "Details:") && !strstr(mdc, "--exit"),
       "markdown: a checker failure names the checker, not a VM, exit or details twice");
    free(mdc);

    /* no faults, no links */
    struct cc_triage empty = {.bug = b, .bug_path = (char *)"b.json", .n_vms = 1};
    char *md2 = cc_triage_markdown(&empty, NULL);
    ok(md2 && strstr(md2, "No faults: the failure needs none.") != NULL &&
       strstr(md2, "No frames were sent.") != NULL, "markdown without faults or traffic");
    char *svg2 = cc_triage_svg(&empty);
    ok(svg2 && strstr(svg2, "</svg>") != NULL, "svg without faults");

    free(md);
    free(md2);
    free(js);
    free(svg);
    free(svg2);
    cc_triage_free(t);
    cc_bug_free(b);
    return tap_exit();
}
