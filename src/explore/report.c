/* The exploration's human-facing files, rendered from its state alone
 * (state_internal.h) and rewritten (atomically) after every round:
 * report.txt (configuration, per-round history, plateau, bug timeline,
 * assertion verdicts), coverage.svg (edges and assertion states over
 * rounds, bugs marked) and assertions.json (the merged table). */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "explore/state_internal.h"
#include "util/afile.h"

struct sb {
    char *p;
    size_t len, cap;
    bool oom;
};

static void sb_printf(struct sb *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sb *s, const char *fmt, ...)
{
    if (s->oom)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if (s->len + (size_t)n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (s->len + (size_t)n + 1 > cap)
            cap *= 2;
        char *q = realloc(s->p, cap);
        if (!q) {
            s->oom = true;
            return;
        }
        s->p = q;
        s->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(s->p + s->len, s->cap - s->len, fmt, ap);
    va_end(ap);
    s->len += (size_t)n;
}

/* The text built (malloc'd), or NULL when out of memory. */
static char *sb_take(struct sb *s)
{
    if (s->oom || !s->p) {
        free(s->p);
        return s->oom ? NULL : strdup("");
    }
    return s->p;
}

static int write_named(const char *dir, const char *name, char *text, struct cc_err *err)
{
    if (!text)
        return cc_err_set(err, ENOMEM, "out of memory writing %s", name);
    char path[4200];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int rc = cc_file_write_atomic(path, text, strlen(text), err);
    free(text);
    return rc;
}

static void time_str(uint64_t ns, char *b, size_t n)
{
    cc_time_format((int64_t)ns, b, n);
}

static void write_svg(const struct cc_xstate *x, struct sb *s)
{
    const double W = 720, H = 360, L = 60, R = 60, T = 40, B = 50;
    size_t n = x->n_hist;
    size_t emax = 1, amax = 1;
    for (size_t i = 0; i < n; i++) {
        if (x->hist[i].edges > emax)
            emax = x->hist[i].edges;
        if (x->hist[i].assert_bits > amax)
            amax = x->hist[i].assert_bits;
    }
    double pw = W - L - R, ph = H - T - B;
    unsigned rmax = n ? x->hist[n - 1].round : 1;
    unsigned rmin = n ? x->hist[0].round - 1 : 0;
    double span = rmax > rmin ? (double)(rmax - rmin) : 1;
#define XR(r) (L + pw * ((double)(r) - rmin) / span)
#define YE(v) (T + ph * (1 - (double)(v) / (double)emax))
#define YA(v) (T + ph * (1 - (double)(v) / (double)amax))
    sb_printf(s, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
              "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" font-size=\"12\">\n",
              W, H, W, H);
    sb_printf(s, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    sb_printf(s, "<text x=\"%.0f\" y=\"22\" font-size=\"15\">Coverage over rounds "
              "(%zu branches, %zu bugs)</text>\n", L, (size_t)x->branches_done, x->n_bugs);
    sb_printf(s, "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" "
              "stroke=\"#999\"/>\n", L, T, pw, ph);
    for (int k = 0; k <= 4; k++) {
        double y = T + ph * k / 4.0;
        sb_printf(s, "<line x1=\"%.0f\" x2=\"%.0f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>\n",
                  L, L + pw, y, y);
        sb_printf(s, "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\" fill=\"#1f77b4\">%zu</text>\n",
                  L - 6, y + 4, (size_t)(emax * (4 - k) / 4));
        sb_printf(s, "<text x=\"%.0f\" y=\"%.1f\" fill=\"#2ca02c\">%zu</text>\n", L + pw + 6,
                  y + 4, (size_t)(amax * (4 - k) / 4));
    }
    unsigned step = rmax - rmin > 10 ? (rmax - rmin + 9) / 10 : 1;
    for (unsigned r = rmin; r <= rmax; r += step)
        sb_printf(s, "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">%u</text>\n", XR(r),
                  T + ph + 16, r);
    sb_printf(s, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">round</text>\n", L + pw / 2,
              H - 12);
    /* bugs */
    for (size_t i = 0; i < x->n_bugs; i++) {
        unsigned r = x->bugs[i].round;
        if (r < rmin || r > rmax)
            r = r < rmin ? rmin : rmax;
        sb_printf(s, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.0f\" y2=\"%.0f\" stroke=\"#d62728\" "
                  "stroke-dasharray=\"4 3\"/><text x=\"%.1f\" y=\"%.0f\" fill=\"#d62728\" "
                  "text-anchor=\"middle\">bug %u</text>\n", XR(r), XR(r), T, T + ph, XR(r),
                  T - 4 + (i % 2) * 0, x->bugs[i].number);
    }
    if (n) {
        sb_printf(s, "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2\" points=\"");
        sb_printf(s, "%.1f,%.1f ", XR(rmin), YE(x->hist[0].edges - x->hist[0].new_edges));
        for (size_t i = 0; i < n; i++)
            sb_printf(s, "%.1f,%.1f ", XR(x->hist[i].round), YE(x->hist[i].edges));
        sb_printf(s, "\"/>\n<polyline fill=\"none\" stroke=\"#2ca02c\" stroke-width=\"2\" "
                  "points=\"");
        sb_printf(s, "%.1f,%.1f ", XR(rmin),
                  YA(x->hist[0].assert_bits - x->hist[0].new_assert_bits));
        for (size_t i = 0; i < n; i++)
            sb_printf(s, "%.1f,%.1f ", XR(x->hist[i].round), YA(x->hist[i].assert_bits));
        sb_printf(s, "\"/>\n");
    }
    sb_printf(s, "<text x=\"%.0f\" y=\"%.0f\" fill=\"#1f77b4\">edges (left)</text>\n", L + 8,
              T + 16);
    sb_printf(s, "<text x=\"%.0f\" y=\"%.0f\" fill=\"#2ca02c\">assertion states (right)</text>\n",
              L + 8, T + 32);
    sb_printf(s, "</svg>\n");
#undef XR
#undef YE
#undef YA
}

static void write_header(const struct cc_xstate *x, struct sb *s)
{
    const struct cc_xtarget *t = &x->target;
    const struct xsettings *o = &x->set;
    char bt[32], dk[32];
    time_str(o->branch_ns, bt, sizeof(bt));
    sb_printf(s, "ChaosControl exploration report\n===============================\n\n");
    if (t->factory)
        sb_printf(s, "target:   %u VMs, made by factory '%s' (code, not a kernel)\n", t->n_vms,
                  t->factory);
    else
        sb_printf(s, "target:   %u VMs, kernel %s (sha256 %.16s...)\n", t->n_vms, t->kernel,
                  t->kernel_sha256);
    if (t->initrd)
        sb_printf(s, "          initrd %s (sha256 %.16s...)\n", t->initrd, t->initrd_sha256);
    if (t->append)
        sb_printf(s, "          append \"%s\"\n", t->append);
    if (t->cmdline)
        sb_printf(s, "          cmdline \"%s\"\n", t->cmdline);
    if (t->disk_image)
        sb_printf(s, "          disk image %s (sha256 %.16s...)\n", t->disk_image,
                  t->disk_image_sha256);
    else if (t->disk_size) {
        snprintf(dk, sizeof(dk), "%" PRIu64 " KiB", t->disk_size >> 10);
        sb_printf(s, "          disk %s per VM (zero-filled, copy-on-write)\n", dk);
    }
    sb_printf(s, "          seed %" PRIu64 ", setup complete at %.6f s virtual, SDK doorbell: "
              "port\n", t->seed, x->setup_ns / 1e9);
    sb_printf(s, "explorer: mode %s, %u branches per round, %s of virtual time per branch, "
              "explorer seed %" PRIu64 "\n          frontier at most %u points (%u with live "
              "snapshots), up to %u new faults / %u overrides per branch\n",
              cc_xmode_name(o->mode), o->branches, bt, o->seed, o->frontier_max,
              o->hot_max, o->max_faults, o->choice_k);
    if (o->mode != CC_XMODE_INPUT)
        sb_printf(s, "          reactive rule (cut off or pause new hubs) in %u%% of fault "
                  "branches: %" PRIu64 " branches had one, it fired %" PRIu64 " faults\n",
                  o->react_percent, x->react_branches, x->react_faults);
}

static void write_status(const struct cc_xstate *x, struct sb *s)
{
    double wall = x->wall_s;
    sb_printf(s, "status:   %u rounds, %" PRIu64 " branches, %.1f s wall (%.2f branches/s), "
              "frontier %zu points\n", x->rounds_done, x->branches_done, wall,
              wall > 0 ? x->branches_done / wall : 0, xstate_frontier_size(x));
    sb_printf(s, "          %" PRIu64 " points made inside a window, where a branch first "
              "reached a new assertion state\n", x->mid_points);
    sb_printf(s, "coverage: %zu edges, %zu assertion states", covmap_edges(&x->cov),
              covmap_assert_bits(&x->cov));
    if (x->plateau_since && x->rounds_done + 1 - x->plateau_since >= x->set.plateau_rounds)
        sb_printf(s, "; PLATEAU since round %u (%u rounds without new coverage or bugs)\n",
                  x->plateau_since, x->rounds_done + 1 - x->plateau_since);
    else if (x->plateau_since)
        sb_printf(s, "; nothing new for %u round(s)\n", x->rounds_done + 1 - x->plateau_since);
    else
        sb_printf(s, "; still growing\n");
    for (size_t i = 0; i < x->n_gd; i++)
        sb_printf(s, "%s \"%s\": largest value %" PRId64 " (cc_guidance_maximize; a branch "
                  "that raises it is new coverage)\n", i ? "         " : "guidance:",
                  x->gd[i].message, x->gd[i].max);
    sb_printf(s, "plot:     coverage.svg\n\n");
}

static void write_rounds(const struct cc_xstate *x, struct sb *s)
{
    sb_printf(s, "Rounds\n------\n%5s %8s %8s %6s %7s %5s %7s %5s %8s %4s %4s %6s %8s\n",
              "round", "branches", "wall_s", "br/s", "edges", "+new", "asserts", "+new",
              "frontier", "+pts", "bugs", "remade", "diverged");
    for (size_t i = 0; i < x->n_hist; i++) {
        const struct xround *h = &x->hist[i];
        char maxima[48] = "";
        if (h->new_maxima)
            snprintf(maxima, sizeof(maxima), "  (%u new guidance maxima)", h->new_maxima);
        sb_printf(s, "%5u %8" PRIu64 " %8.1f %6.2f %7zu %5zu %7zu %5zu %8zu %4u %4u %6u %8u%s%s\n",
                  h->round, h->branches, h->wall_s, h->wall_s > 0 ? h->branches / h->wall_s : 0,
                  h->edges, h->new_edges, h->assert_bits, h->new_assert_bits, h->frontier,
                  h->new_points, h->bugs, h->materialized, h->diverged,
                  !h->new_edges && !h->new_assert_bits && !h->bugs && !h->new_maxima ?
                  "  (nothing new)" : "", maxima);
    }
}

static void write_bugs_and_asserts(const struct cc_xstate *x, struct sb *s)
{
    sb_printf(s, "\nBugs (in order of discovery)\n----------------------------\n");
    if (!x->n_bugs)
        sb_printf(s, "none\n");
    for (size_t i = 0; i < x->n_bugs; i++) {
        const struct xbug *b = &x->bugs[i];
        sb_printf(s, "bug %u: round %u, branch %" PRIu64 ", %.1f s wall, %.6f s virtual: "
                  "vm %u \"%s\" at %s; recipe of %zu faults+overrides; %" PRIu64
                  " later branch(es) failed the same way -> bug_%u.json\n", b->number, b->round,
                  b->branch, b->wall_s, b->sim_ns / 1e9, b->vm, b->message, b->where, b->size,
                  b->dups, b->number);
    }

    sb_printf(s, "\nAssertions (merged over every branch and VM; assertions.json)\n"
              "-------------------------------------------------------------\n");
    sb_printf(s, "%-22s %-12s %10s %9s  %s\n", "KIND", "VERDICT", "HITS", "BRANCHES",
              "MESSAGE (LOCATION)");
    for (size_t i = 0; i < x->n_as; i++) {
        const struct xassert *e = &x->as[i];
        struct cc_assertion a = {.kind = e->kind, .hits = e->hits, .passes = e->passes,
                                 .fails = e->fails};
        sb_printf(s, "%-22s %-12s %10" PRIu64 " %9" PRIu64 "  %s (%s:%u)\n",
                  cc_kind_name(e->kind), cc_verdict_name(cc_assertion_verdict(&a)), e->hits,
                  e->branches_hit, e->message, e->file, e->line);
    }
    sb_printf(s, "(counts are of branches after setup; every catalog entry is listed, an entry "
                 "no branch reached is unexercised)\n");
}

char *report_text(const struct cc_xstate *x)
{
    struct sb s = {0};
    write_header(x, &s);
    write_status(x, &s);
    write_rounds(x, &s);
    write_bugs_and_asserts(x, &s);
    return sb_take(&s);
}

char *report_svg(const struct cc_xstate *x)
{
    struct sb s = {0};
    write_svg(x, &s);
    return sb_take(&s);
}

int report_write(const struct cc_xstate *x, const char *dir, struct cc_err *err)
{
    int rc = write_named(dir, "report.txt", report_text(x), err);
    if (rc == 0)
        rc = write_named(dir, "coverage.svg", report_svg(x), err);
    if (rc < 0)
        return rc;
    json_t *o = json_object();
    json_object_set_new(o, "rounds", json_integer(x->rounds_done));
    json_object_set_new(o, "branches", xj_u64(x->branches_done));
    json_object_set_new(o, "assertions", xstate_asserts_json(x));
    char *text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(o);
    return write_named(dir, "assertions.json", text, err);
}
