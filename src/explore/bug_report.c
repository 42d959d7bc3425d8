/* A bug in words (chaoscontrol/explore.h): the failure, the history
 * checker's verdict with the failing sub-history, the fault schedule as a
 * timeline, the determinism log beside it (when the explorer wrote one),
 * the target, and the commands that reproduce and minimize it.
 * The CLI prints the same parts; cc_bug_save writes the whole of it beside
 * the bug file (bug_3.json -> bug_3.txt). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chaoscontrol/explore.h"
#include "chaoscontrol/sdk_host.h"
#include "explore/explore_internal.h"

void cc_bug_print_failure(FILE *f, const char *label, const struct cc_xfailure *x)
{
    fprintf(f, "%s: vm %u: %s \"%s\" at %s:%u (%s)%s%s, simulation time %.9f s, vm time "
            "%.9f s, exit #%" PRIu64 "\n", label, x->vm, cc_kind_name(x->kind), x->message,
            x->file, x->line, x->function, *x->details ? ", details " : "", x->details,
            x->sim_ns / 1e9, x->vm_ns / 1e9, x->exit);
}

void cc_bug_print_recipe(FILE *f, const struct cc_recipe *r)
{
    size_t nf = cc_schedule_count(r->sched);
    fprintf(f, "recipe: %zu fault%s, %zu choice override%s, ends at %.6f s\n", nf,
            nf == 1 ? "" : "s", r->n_ov, r->n_ov == 1 ? "" : "s", r->end_ns / 1e9);
    for (size_t i = 0; i < nf; i++) {
        const struct cc_fault *ft = cc_schedule_get(r->sched, i);
        char line[512];
        cc_fault_describe(ft, line, sizeof(line));
        fprintf(f, "  fault    at %.6f s: %s\n", ft->at_ns / 1e9, line);
    }
    for (size_t i = 0; i < r->n_ov; i++)
        fprintf(f, "  override vm %u life %" PRIu64 " choice #%" PRIu64 " = %" PRIu64 "\n",
                r->ov[i].vm, r->ov[i].life, r->ov[i].index, r->ov[i].value);
}

void cc_bug_print_witness(FILE *f, const char *explain, const char *witness)
{
    if (explain)
        fprintf(f, "history: %s\n", explain);
    if (witness) {
        fprintf(f, "failing sub-history (JSON lines, times in ns of virtual time):\n");
        for (const char *l = witness; *l;) {
            const char *e = strchr(l, '\n');
            int n = e ? (int)(e - l) : (int)strlen(l);
            fprintf(f, "  %.*s\n", n, l);
            l += n + (e != NULL);
        }
    }
}

/* A shell word: as is when safe, else in single quotes. */
static void shell_word(FILE *f, const char *s)
{
    if (*s && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                        "_-./=:,+@%") == strlen(s)) {
        fputs(s, f);
        return;
    }
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'')
            fputs("'\\''", f);
        else
            fputc(*s, f);
    }
    fputc('\'', f);
}

char *cc_bug_report(const struct cc_bug *b, const char *path)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return NULL;
    fprintf(f, "bug %u: %s \"%s\"\n\n", b->number, cc_kind_name(b->fail.kind), b->fail.message);
    struct cc_xfailure fl = b->fail;
    if (b->history_explain && !strcmp(fl.details, b->history_explain))
        fl.details[0] = 0;          /* said below, with the sub-history */
    cc_bug_print_failure(f, "failure", &fl);
    fprintf(f, "found in round %" PRIu64 ", branch %" PRIu64 " (%s mode), %.1f s into the "
            "exploration\n", b->round, b->branch, cc_xmode_name(b->mode), b->wall_s);
    if (b->minimized_from)
        fprintf(f, "minimized from %s (%zu faults and overrides before)\n", b->minimized_from,
                b->original_size);
    if (b->history_ops || b->history_explain) {
        fprintf(f, "\noperation history: %zu operations%s%s%s\n", b->history_ops,
                b->history_file ? " in " : "", b->history_file ? b->history_file : "",
                b->target.checker ? "" : " (no checker)");
        if (b->target.checker)
            fprintf(f, "checker: %s\n", cc_xchecker_name(b->target.checker));
        cc_bug_print_witness(f, b->history_explain, b->history_witness);
    }
    if (b->dlog_file)
        fprintf(f, "\ndeterminism log: %s beside this file, every exit of the recipe replayed "
                "from setup\n  to the failure ('chaoscontrol dlog dump|stats' read it; "
                "'chaoscontrol reproduce --dlog F'\n  logs the same records, 'chaoscontrol dlog "
                "diff' compares them; docs/dlog.md)\n", b->dlog_file);
    fprintf(f, "\nschedule (virtual time from power-on; the run replays from setup):\n");
    cc_bug_print_recipe(f, b->recipe);
    const struct cc_xtarget *t = &b->target;
    fprintf(f, "\ntarget: %u VMs, kernel %s, initrd %s", t->n_vms,
            t->kernel ? t->kernel : "(factory)", t->initrd ? t->initrd : "(factory)");
    if (t->factory)
        fprintf(f, ", factory %s", t->factory);
    if (t->append)
        fprintf(f, ",\n  kernel command line + %s", t->append);
    fprintf(f, "\n\nreproduce: chaoscontrol reproduce --bug ");
    shell_word(f, path);
    fprintf(f, "\n");
    if (!b->minimized_from) {
        size_t n = xbug_stem(path);
        char *min = NULL;
        if (asprintf(&min, "%.*s.min.json", (int)n, path) > 0) {
            fprintf(f, "minimize:  chaoscontrol minimize --bug ");
            shell_word(f, path);
            fprintf(f, " --output ");
            shell_word(f, min);
            fprintf(f, "\n");
            free(min);
        }
    }
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
}
