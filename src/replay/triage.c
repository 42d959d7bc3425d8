/* Triage of a bug file (chaoscontrol/replay.h): one boot, one replay of
 * the bug for its consoles, traffic and run log, then one replay without
 * each fault of its schedule to tell the faults the failure needs from
 * the incidental ones; rendered as Markdown, JSON and an SVG timeline. The
 * renderers only read struct cc_triage, so they are unit-tested without
 * KVM on a made-up report. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>

#include "chaoscontrol/file.h"
#include "chaoscontrol/replay.h"
#include "chaoscontrol/sdk_host.h"
#include "explore/explore_internal.h"

const char *cc_triage_verdict_name(enum cc_triage_verdict v)
{
    switch (v) {
    case CC_TRIAGE_NECESSARY: return "necessary";
    case CC_TRIAGE_INCIDENTAL: return "incidental";
    case CC_TRIAGE_UNKNOWN: break;
    }
    return "unknown";
}

void cc_triage_opts_default(struct cc_triage_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->tail_lines = 40;
    o->test_faults = true;
}

void cc_triage_free(struct cc_triage *t)
{
    if (!t)
        return;
    for (unsigned i = 0; i < CC_SIM_MAX_VMS; i++)
        free(t->vm[i].console_tail);
    free(t->links);
    free(t->log);
    free(t->faults);
    free(t->bug_path);
    free(t);
}

static double wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void progress(const struct cc_triage_opts *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void progress(const struct cc_triage_opts *o, const char *fmt, ...)
{
    if (!o->progress)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    o->progress(o->opaque, msg);
}

/* What the run left: consoles, VM states, link counters, the run log. */
static int collect(struct cc_triage *t, struct cc_sim *sim, unsigned tail_lines)
{
    for (unsigned i = 0; i < t->n_vms; i++) {
        struct cc_triage_vm *v = &t->vm[i];
        size_t len;
        const uint8_t *s = cc_vm_serial(cc_sim_vm(sim, i), &len);
        size_t from = cc_text_tail(s, len, tail_lines);
        v->console_bytes = len;
        v->tail_lines = tail_lines;
        v->console_tail = cc_text_clean(s ? s + from : NULL, s ? len - from : 0);
        if (!v->console_tail)
            return -ENOMEM;
        struct cc_sim_vm_status st;
        cc_sim_vm_status(sim, i, &st);
        snprintf(v->state, sizeof(v->state), "%s", cc_sim_vm_state_name(st.state));
        v->vtime = st.vtime;
        v->exits = st.exits;
        v->restarts = st.restarts;
    }
    t->links = calloc((size_t)t->n_vms * t->n_vms, sizeof(*t->links));
    if (!t->links)
        return -ENOMEM;
    for (unsigned a = 0; a < t->n_vms; a++)
        for (unsigned b = 0; b < t->n_vms; b++) {
            struct cc_link_stats ls;
            if (a == b || cc_sim_link_stats(sim, a, b, &ls) < 0 || !ls.sent)
                continue;
            t->links[t->n_links++] = (struct cc_triage_link){a, b, ls};
        }
    size_t n;
    const struct cc_sim_log_entry *log = cc_sim_log(sim, &n);
    if (n) {
        t->log = malloc(n * sizeof(*t->log));
        if (!t->log)
            return -ENOMEM;
        memcpy(t->log, log, n * sizeof(*t->log));
        t->n_log = n;
    }
    return 0;
}

static void outcome_text(const struct cc_bug *b, const struct cc_xrun_result *res, char *out,
                         size_t len)
{
    const struct cc_xfailure *g = &res->fail;
    if (!g->failed)
        snprintf(out, len, "no failure: the run %s at %.6f s", res->all_down ?
                 "lost every VM" : "ended", res->end_ns / 1e9);
    else if (g->id == b->fail.id)
        snprintf(out, len, "still fails: \"%.150s\" in vm %u at %.6f s", g->message, g->vm,
                 g->sim_ns / 1e9);
    else
        snprintf(out, len, "another failure instead: \"%.150s\" in vm %u at %.6f s", g->message,
                 g->vm, g->sim_ns / 1e9);
}

int cc_triage_run(const struct cc_bug *b, const char *bug_path, const struct cc_xrun_opts *ro,
                  const struct cc_triage_opts *o, struct cc_triage **out, struct cc_err *err)
{
    *out = NULL;
    struct cc_triage_opts def;
    if (!o) {
        cc_triage_opts_default(&def);
        o = &def;
    }
    double t0 = wall();
    struct cc_triage *t = calloc(1, sizeof(*t));
    if (!t || !(t->bug_path = strdup(bug_path ? bug_path : "bug.json"))) {
        free(t);
        return cc_err_set(err, ENOMEM, "out of memory");
    }
    t->bug = b;
    t->n_vms = b->target.n_vms;
    size_t nf = cc_schedule_count(b->recipe->sched);
    if (nf && !(t->faults = calloc(nf, sizeof(*t->faults)))) {
        cc_triage_free(t);
        return cc_err_set(err, ENOMEM, "out of memory");
    }
    t->n_faults = nf;
    for (size_t i = 0; i < nf; i++) {
        t->faults[i].f = *cc_schedule_get(b->recipe->sched, i);
        cc_fault_describe(&t->faults[i].f, t->faults[i].text, sizeof(t->faults[i].text));
    }

    progress(o, "booting the target (%u VMs) to setup", t->n_vms);
    struct cc_xrun *x;
    int rc = cc_xrun_boot(&b->target, ro, &x, err);
    if (rc < 0) {
        cc_triage_free(t);
        return rc;
    }
    t->setup_ns = cc_sim_now(cc_xrun_sim(x));
    progress(o, "replaying the bug (%zu faults, to %.3f s)", nf, b->recipe->end_ns / 1e9);
    struct cc_xrun_result res;
    rc = cc_xrun_replay(x, b->recipe, &res, err);
    if (rc == 0) {
        struct cc_repro rp;
        cc_bug_compare(b, &res, &rp);
        t->reproduced = rp.same;
        snprintf(t->repro_diff, sizeof(t->repro_diff), "%s", rp.diff);
        t->replayed = res.fail;
        t->end_ns = res.end_ns;
        if (collect(t, cc_xrun_sim(x), o->tail_lines ? o->tail_lines : 40) < 0)
            rc = cc_err_set(err, ENOMEM, "out of memory");
    }
    for (size_t i = 0; rc == 0 && o->test_faults && i < nf; i++) {
        struct cc_triage_fault *tf = &t->faults[i];
        progress(o, "replay %zu/%zu: without fault #%zu (%s at %.3f s)", i + 1, nf, i,
                 cc_fault_type_name(tf->f.type), tf->f.at_ns / 1e9);
        struct cc_recipe *r = cc_recipe_clone(b->recipe);
        if (!r || cc_schedule_remove(r->sched, i) < 0) {
            cc_recipe_free(r);
            rc = cc_err_set(err, ENOMEM, "out of memory");
            break;
        }
        double w0 = wall();
        struct cc_xrun_result fr;
        rc = cc_xrun_replay(x, r, &fr, err);
        cc_recipe_free(r);
        if (rc < 0) {
            cc_err_prefix(err, "replay without fault #%zu", i);
            break;
        }
        tf->wall_s = wall() - w0;
        tf->verdict = fr.fail.failed && fr.fail.id == b->fail.id ? CC_TRIAGE_INCIDENTAL
                                                                  : CC_TRIAGE_NECESSARY;
        outcome_text(b, &fr, tf->outcome, sizeof(tf->outcome));
    }
    t->faults_tested = rc == 0 && o->test_faults;
    cc_xrun_free(x);
    if (rc < 0) {
        cc_triage_free(t);
        return rc;
    }
    t->wall_s = wall() - t0;
    *out = t;
    return 0;
}

/* ---- Markdown ---- */

/* A table cell: no newlines, '|' escaped. */
static void md_cell(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '|')
            fputs("\\|", f);
        else if (*s == '\n' || *s == '\r')
            fputc(' ', f);
        else
            fputc(*s, f);
    }
}

/* A fenced block that no backtick run inside it can close. */
static void md_fence(FILE *f, const char *lang, const char *text)
{
    size_t run = 0, max = 0;
    for (const char *p = text; p && *p; p++) {
        run = *p == '`' ? run + 1 : 0;
        if (run > max)
            max = run;
    }
    size_t n = max >= 3 ? max + 1 : 3;
    for (size_t i = 0; i < n; i++)
        fputc('`', f);
    fprintf(f, "%s\n", lang);
    for (const char *p = text; p && *p; p++)
        fputc((*p >= 32 || *p == '\n' || *p == '\t') && *p != 127 ? *p : '.', f);
    if (text && *text && text[strlen(text) - 1] != '\n')
        fputc('\n', f);
    for (size_t i = 0; i < n; i++)
        fputc('`', f);
    fputc('\n', f);
}

static uint64_t fault_end(const struct cc_fault *f)
{
    return f->duration_ns ? f->at_ns + f->duration_ns : 0;
}

static void md_list(FILE *f, const struct cc_triage *t, enum cc_triage_verdict v)
{
    bool any = false;
    for (size_t i = 0; i < t->n_faults; i++)
        if (t->faults[i].verdict == v) {
            fprintf(f, "%s#%zu %s", any ? ", " : "", i, cc_fault_type_name(t->faults[i].f.type));
            any = true;
        }
    if (!any)
        fputs("none", f);
}

char *cc_triage_markdown(const struct cc_triage *t, const char *svg_name)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    const struct cc_bug *b = t->bug;
    const struct cc_xfailure *x = &b->fail;
    fprintf(f, "# Triage of `%s`\n\n", t->bug_path);
    fprintf(f, "## Failing property\n\n");
    bool checker = !strcmp(x->file, "chaoscontrol:checker");
    if (checker) {
        fprintf(f, "**%s** `%s` failed: the history checker (`%s`) judged the run's operation "
                "history at its end, %.6f s of simulation time.\n\n", cc_kind_name(x->kind),
                x->message, x->function[0] ? x->function : "?", x->sim_ns / 1e9);
    } else {
        fprintf(f, "**%s** `%s` failed in **vm %u** at %s:%u", cc_kind_name(x->kind),
                x->message, x->vm, x->file, x->line);
        if (x->function[0])
            fprintf(f, " (`%s`)", x->function);
        fprintf(f, ", at %.6f s of simulation time (the VM's clock: %.6f s, its exit %" PRIu64
                ").\n\n", x->sim_ns / 1e9, x->vm_ns / 1e9, x->exit);
    }
    if (x->details[0] && !(b->history_explain && !strcmp(x->details, b->history_explain))) {
        fprintf(f, "Details:\n\n");
        md_fence(f, "", x->details);
        fputc('\n', f);
    }
    fprintf(f, "Replayed from a fresh boot: %s%s%s.\n\n", t->reproduced ? "**reproduced** (the "
            "same failure at the same virtual time)" : "**not reproduced**: ",
            t->reproduced ? "" : t->repro_diff, "");
    if (b->history_explain || b->history_witness) {
        fprintf(f, "### The history checker\n\n");
        if (b->history_explain)
            fprintf(f, "%s\n\n", b->history_explain);
        if (b->history_witness) {
            fprintf(f, "The smallest failing sub-history (JSON lines, times in ns of virtual "
                    "time):\n\n");
            md_fence(f, "json", b->history_witness);
            fputc('\n', f);
        }
        if (b->history_ops)
            fprintf(f, "The run's whole history: %zu operations%s%s%s.\n\n", b->history_ops,
                    b->history_file ? " in `" : "", b->history_file ? b->history_file : "",
                    b->history_file ? "`" : "");
    }

    fprintf(f, "## Fault schedule\n\n");
    if (!t->n_faults) {
        fprintf(f, "No faults: the failure needs none.\n\n");
    } else {
        if (svg_name)
            fprintf(f, "![timeline](%s)\n\n", svg_name);
        fprintf(f, "| # | at (s) | until (s) | fault | verdict | without it |\n");
        fprintf(f, "|---|---|---|---|---|---|\n");
        for (size_t i = 0; i < t->n_faults; i++) {
            const struct cc_triage_fault *tf = &t->faults[i];
            uint64_t end = fault_end(&tf->f);
            fprintf(f, "| %zu | %.6f | ", i, tf->f.at_ns / 1e9);
            if (end)
                fprintf(f, "%.6f", end / 1e9);
            else
                fputs(cc_fault_is_instant(tf->f.type) ? "(instant)" : "(to the end)", f);
            fputs(" | ", f);
            md_cell(f, tf->text);
            fprintf(f, " | %s | ", tf->verdict == CC_TRIAGE_NECESSARY ? "**necessary**" :
                    cc_triage_verdict_name(tf->verdict));
            md_cell(f, tf->outcome[0] ? tf->outcome : "not tested");
            fputs(" |\n", f);
        }
        fputc('\n', f);
        if (t->faults_tested) {
            fprintf(f, "Each fault was removed in turn and the rest replayed from the setup "
                    "snapshot: **necessary** means the failure disappeared without it (or "
                    "another one took its place), incidental that the same assertion still "
                    "failed.\n\n");
            fprintf(f, "- necessary: ");
            md_list(f, t, CC_TRIAGE_NECESSARY);
            fprintf(f, "\n- incidental: ");
            md_list(f, t, CC_TRIAGE_INCIDENTAL);
            fprintf(f, "\n\n");
        }
    }
    if (b->recipe && b->recipe->n_ov)
        fprintf(f, "The recipe also sets %zu random choice%s (`cc_random_choice` overrides); "
                "they stay in every replay.\n\n", b->recipe->n_ov, b->recipe->n_ov == 1 ? "" : "s");

    if (t->n_log) {
        fprintf(f, "## Run log\n\n| time (s) | vm | event |\n|---|---|---|\n");
        for (size_t i = 0; i < t->n_log; i++) {
            const struct cc_sim_log_entry *e = &t->log[i];
            if (e->vm < 0)
                fprintf(f, "| %.6f | - | %s: ", e->vtime / 1e9, cc_sim_log_kind_name(e->kind));
            else
                fprintf(f, "| %.6f | %d | %s: ", e->vtime / 1e9, e->vm,
                        cc_sim_log_kind_name(e->kind));
            md_cell(f, e->text);
            fputs(" |\n", f);
        }
        fputc('\n', f);
    }

    fprintf(f, "## Network traffic per link\n\n");
    if (!t->n_links) {
        fprintf(f, "No frames were sent.\n\n");
    } else {
        fprintf(f, "| link | sent | bytes | delivered | dropped: partition | loss | queue | "
                "down | rx full | duplicated | corrupted | reordered | in flight |\n");
        fprintf(f, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for (size_t i = 0; i < t->n_links; i++) {
            const struct cc_link_stats *s = &t->links[i].st;
            fprintf(f, "| %u → %u | %" PRIu64 " | %" PRIu64 " | %" PRIu64 " | %" PRIu64
                    " | %" PRIu64 " | %" PRIu64 " | %" PRIu64 " | %" PRIu64 " | %" PRIu64
                    " | %" PRIu64 " | %" PRIu64 " | %" PRIu64 " |\n", t->links[i].from,
                    t->links[i].to, s->sent, s->sent_bytes, s->delivered, s->dropped_partition,
                    s->dropped_loss, s->dropped_queue, s->dropped_down, s->dropped_rx,
                    s->duplicated, s->corrupted, s->reordered, s->in_flight);
        }
        fputc('\n', f);
    }

    fprintf(f, "## Consoles up to the failure\n\n");
    for (unsigned i = 0; i < t->n_vms; i++) {
        const struct cc_triage_vm *v = &t->vm[i];
        fprintf(f, "### vm %u%s\n\n", i, i == x->vm && !checker ? " (the failing VM)" : "");
        fprintf(f, "%s at %.6f s of its clock, %" PRIu64 " exits, %" PRIu64 " restart%s; the "
                "last %u lines of %zu bytes:\n\n", v->state[0] ? v->state : "?", v->vtime / 1e9,
                v->exits, v->restarts, v->restarts == 1 ? "" : "s", v->tail_lines,
                v->console_bytes);
        md_fence(f, "", v->console_tail ? v->console_tail : "");
        fputc('\n', f);
    }

    fprintf(f, "## Commands\n\n");
    fprintf(f, "```sh\nchaoscontrol reproduce --bug '%s' --serial\n", t->bug_path);
    if (checker)
        fprintf(f, "chaoscontrol replay --bug '%s' --vm 0   # registers, task, console at the "
                "end\n```\n", t->bug_path);
    else
        fprintf(f, "chaoscontrol replay --bug '%s' --vm %u --exit %" PRIu64 "   # registers, "
                "task, console there\n```\n", t->bug_path, x->vm, x->exit);
    if (t->wall_s > 0)
        fprintf(f, "\nTriage took %.1f s of wall time.\n", t->wall_s);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* ---- JSON ---- */

static json_t *u64j(uint64_t v)
{
    return v <= INT64_MAX ? json_integer((json_int_t)v) : json_real((double)v);
}

char *cc_triage_json(const struct cc_triage *t)
{
    const struct cc_bug *b = t->bug;
    json_t *o = json_object();
    json_object_set_new(o, "bug", json_string(t->bug_path));
    json_object_set_new(o, "failure", xfailure_to_json(&b->fail));
    json_object_set_new(o, "reproduced", json_boolean(t->reproduced));
    if (!t->reproduced)
        json_object_set_new(o, "reproduce_diff", json_string(t->repro_diff));
    if (b->history_explain || b->history_witness) {
        json_t *h = json_object();
        json_object_set_new(h, "operations", u64j(b->history_ops));
        if (b->history_file)
            json_object_set_new(h, "file", json_string(b->history_file));
        if (b->history_explain)
            json_object_set_new(h, "explain", json_string(b->history_explain));
        if (b->history_witness)
            json_object_set_new(h, "witness", json_string(b->history_witness));
        json_object_set_new(o, "history", h);
    }
    json_object_set_new(o, "setup_ns", u64j(t->setup_ns));
    json_object_set_new(o, "end_ns", u64j(t->end_ns));
    json_object_set_new(o, "faults_tested", json_boolean(t->faults_tested));
    json_t *fa = json_array();
    for (size_t i = 0; i < t->n_faults; i++) {
        const struct cc_triage_fault *tf = &t->faults[i];
        json_t *e = json_object();
        json_object_set_new(e, "index", json_integer((json_int_t)i));
        json_object_set_new(e, "type", json_string(cc_fault_type_name(tf->f.type)));
        json_object_set_new(e, "at_ns", u64j(tf->f.at_ns));
        json_object_set_new(e, "duration_ns", u64j(tf->f.duration_ns));
        json_object_set_new(e, "text", json_string(tf->text));
        char *fj = cc_fault_to_json(&tf->f);
        json_t *fv = fj ? json_loads(fj, 0, NULL) : NULL;
        free(fj);
        if (fv)
            json_object_set_new(e, "fault", fv);
        json_object_set_new(e, "verdict", json_string(cc_triage_verdict_name(tf->verdict)));
        if (tf->outcome[0])
            json_object_set_new(e, "without_it", json_string(tf->outcome));
        json_object_set_new(e, "replay_wall_s", json_real(tf->wall_s));
        json_array_append_new(fa, e);
    }
    json_object_set_new(o, "faults", fa);
    json_t *la = json_array();
    for (size_t i = 0; i < t->n_links; i++) {
        const struct cc_link_stats *s = &t->links[i].st;
        json_t *e = json_object();
        json_object_set_new(e, "from", json_integer(t->links[i].from));
        json_object_set_new(e, "to", json_integer(t->links[i].to));
        struct {
            const char *k;
            uint64_t v;
        } kv[] = {
            {"sent", s->sent}, {"sent_bytes", s->sent_bytes}, {"delivered", s->delivered},
            {"delivered_bytes", s->delivered_bytes},
            {"dropped_partition", s->dropped_partition}, {"dropped_loss", s->dropped_loss},
            {"dropped_queue", s->dropped_queue}, {"dropped_down", s->dropped_down},
            {"dropped_rx", s->dropped_rx}, {"duplicated", s->duplicated},
            {"corrupted", s->corrupted}, {"reordered", s->reordered},
            {"in_flight", s->in_flight},
        };
        for (size_t k = 0; k < sizeof(kv) / sizeof(kv[0]); k++)
            json_object_set_new(e, kv[k].k, u64j(kv[k].v));
        json_array_append_new(la, e);
    }
    json_object_set_new(o, "links", la);
    json_t *va = json_array();
    for (unsigned i = 0; i < t->n_vms; i++) {
        const struct cc_triage_vm *v = &t->vm[i];
        json_t *e = json_object();
        json_object_set_new(e, "vm", json_integer(i));
        json_object_set_new(e, "state", json_string(v->state));
        json_object_set_new(e, "vtime_ns", u64j(v->vtime));
        json_object_set_new(e, "exits", u64j(v->exits));
        json_object_set_new(e, "restarts", u64j(v->restarts));
        json_object_set_new(e, "console_bytes", u64j(v->console_bytes));
        json_object_set_new(e, "console_tail",
                            json_string(v->console_tail ? v->console_tail : ""));
        json_array_append_new(va, e);
    }
    json_object_set_new(o, "vms", va);
    json_t *lg = json_array();
    for (size_t i = 0; i < t->n_log; i++) {
        const struct cc_sim_log_entry *l = &t->log[i];
        json_t *e = json_object();
        json_object_set_new(e, "vtime_ns", u64j(l->vtime));
        json_object_set_new(e, "kind", json_string(cc_sim_log_kind_name(l->kind)));
        json_object_set_new(e, "vm", json_integer(l->vm));
        json_object_set_new(e, "fault", json_integer(l->fault));
        json_object_set_new(e, "text", json_string(l->text));
        json_array_append_new(lg, e);
    }
    json_object_set_new(o, "log", lg);
    json_object_set_new(o, "wall_s", json_real(t->wall_s));
    char *s = json_dumps(o, JSON_INDENT(2) | JSON_ENSURE_ASCII);
    json_decref(o);
    if (!s)
        return NULL;
    size_t n = strlen(s);
    char *r = realloc(s, n + 2);
    if (!r) {
        free(s);
        return NULL;
    }
    r[n] = '\n';
    r[n + 1] = 0;
    return r;
}

/* ---- SVG timeline ---- */

/* The VMs a fault concerns (a mask; every VM for network-wide ones). */
static uint64_t fault_vms(const struct cc_fault *f, unsigned n)
{
    uint64_t all = n >= 64 ? ~0ull : (1ull << n) - 1;
    if (cc_fault_has_vm(f->type))
        return 1ull << f->vm;
    if (f->type == CC_FAULT_PARTITION) {
        uint64_t m = 0;
        for (unsigned i = 0; i < f->n_sides; i++)
            m |= f->sides[i];
        /* a partition with one side cuts that side off from the rest */
        return f->n_sides == 1 ? m : m & all;
    }
    if (cc_fault_is_link(f->type)) {
        uint64_t m = (f->from ? f->from : all) | (f->to ? f->to : all);
        return m & all;
    }
    return all;
}

static void svg_text(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s >= 32 ? *s : ' ', f);
        }
    }
}

char *cc_triage_svg(const struct cc_triage *t)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    const unsigned left = 70, width = 760, lane = 34, top = 40;
    unsigned n = t->n_vms ? t->n_vms : 1;
    unsigned height = top + n * lane + 40;
    uint64_t t0 = t->setup_ns, t1 = t->end_ns;
    if (t->bug->fail.sim_ns > t1)
        t1 = t->bug->fail.sim_ns;
    for (size_t i = 0; i < t->n_faults; i++) {
        if (t->faults[i].f.at_ns < t0)
            t0 = t->faults[i].f.at_ns;
        if (t->faults[i].f.at_ns > t1)
            t1 = t->faults[i].f.at_ns;
    }
    if (t1 <= t0)
        t1 = t0 + 1;
#define X(ns) (left + (double)((ns) - t0) * width / (double)(t1 - t0))
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%u\" height=\"%u\" "
            "font-family=\"monospace\" font-size=\"11\">\n", left + width + 20, height);
    fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    fprintf(f, "<text x=\"%u\" y=\"16\" font-size=\"13\">faults from setup (%.3f s) to the "
            "failure (%.3f s); red: necessary, grey: incidental, blue: not tested</text>\n",
            left, t0 / 1e9, t1 / 1e9);
    for (unsigned i = 0; i < n; i++) {
        unsigned y = top + i * lane;
        fprintf(f, "<text x=\"8\" y=\"%u\">vm %u</text>\n", y + lane / 2 + 4, i);
        fprintf(f, "<line x1=\"%u\" y1=\"%u\" x2=\"%u\" y2=\"%u\" stroke=\"#ccc\"/>\n", left,
                y + lane / 2, left + width, y + lane / 2);
    }
    for (size_t k = 0; k < t->n_faults; k++) {
        const struct cc_triage_fault *tf = &t->faults[k];
        uint64_t end = fault_end(&tf->f);
        if (!end || end > t1)
            end = cc_fault_is_instant(tf->f.type) ? tf->f.at_ns : t1;
        double x0 = X(tf->f.at_ns), x1 = X(end);
        if (x1 - x0 < 3)
            x1 = x0 + 3;
        const char *col = tf->verdict == CC_TRIAGE_NECESSARY ? "#d62728" :
                          tf->verdict == CC_TRIAGE_INCIDENTAL ? "#999999" : "#1f77b4";
        uint64_t m = fault_vms(&tf->f, n);
        for (unsigned i = 0; i < n; i++) {
            if (!(m >> i & 1))
                continue;
            unsigned y = top + i * lane + 6;
            fprintf(f, "<rect x=\"%.1f\" y=\"%u\" width=\"%.1f\" height=\"%u\" fill=\"%s\" "
                    "fill-opacity=\"0.6\"><title>#%zu ", x0, y, x1 - x0, lane - 12, col, k);
            svg_text(f, tf->text);
            fprintf(f, " (%s)</title></rect>\n", cc_triage_verdict_name(tf->verdict));
            fprintf(f, "<text x=\"%.1f\" y=\"%u\" font-size=\"9\">#%zu %s</text>\n", x0 + 2,
                    y + 9, k, cc_fault_type_name(tf->f.type));
        }
    }
    const struct cc_xfailure *x = &t->bug->fail;
    if (x->failed || x->message[0]) {
        double fx = X(x->sim_ns);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%u\" x2=\"%.1f\" y2=\"%u\" stroke=\"#d62728\" "
                "stroke-width=\"2\" stroke-dasharray=\"4 2\"/>\n", fx, top - 6, fx,
                top + n * lane);
        if (x->vm < n && strcmp(x->file, "chaoscontrol:checker"))
            fprintf(f, "<circle cx=\"%.1f\" cy=\"%u\" r=\"5\" fill=\"#d62728\"><title>",
                    fx, top + x->vm * lane + lane / 2);
        else
            fprintf(f, "<circle cx=\"%.1f\" cy=\"%u\" r=\"5\" fill=\"#d62728\"><title>", fx, top);
        svg_text(f, x->message);
        fprintf(f, "</title></circle>\n");
    }
    unsigned ay = top + n * lane + 14;
    fprintf(f, "<line x1=\"%u\" y1=\"%u\" x2=\"%u\" y2=\"%u\" stroke=\"black\"/>\n", left,
            ay - 10, left + width, ay - 10);
    for (int i = 0; i <= 4; i++) {
        uint64_t tt = t0 + (t1 - t0) / 4 * (uint64_t)i;
        fprintf(f, "<text x=\"%.1f\" y=\"%u\" text-anchor=\"middle\">%.3f s</text>\n", X(tt),
                ay + 6, tt / 1e9);
    }
#undef X
    fprintf(f, "</svg>\n");
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

int cc_triage_write(const struct cc_triage *t, const char *dir, struct cc_err *err)
{
    if (mkdir(dir, 0777) < 0 && errno != EEXIST)
        return cc_err_set(err, errno, "cannot create '%s': %s", dir, strerror(errno));
    struct {
        const char *name;
        char *text;
    } files[] = {
        {"timeline.svg", cc_triage_svg(t)},
        {"triage.json", cc_triage_json(t)},
        {"triage.md", cc_triage_markdown(t, "timeline.svg")},
    };
    int rc = 0;
    for (size_t i = 0; i < 3; i++) {
        if (rc == 0 && !files[i].text)
            rc = cc_err_set(err, ENOMEM, "out of memory");
        char path[4096];
        if (rc == 0 && snprintf(path, sizeof(path), "%s/%s", dir, files[i].name) >=
                           (int)sizeof(path))
            rc = cc_err_set(err, ENAMETOOLONG, "'%s': path too long", dir);
        if (rc == 0)
            rc = cc_file_write_atomic(path, files[i].text, strlen(files[i].text), err);
    }
    for (size_t i = 0; i < 3; i++)
        free(files[i].text);
    return rc;
}
