/* Exit trace: every userspace-visible exit (and every interrupt injection)
 * is folded into a running hash (h = XXH3_64(record, seed = h), so the
 * whole state is one number that snapshots carry); optionally kept in memory (for
 * `verify` to find the first divergence) and written as text lines to a file
 * (for diffing two runs with ordinary tools). */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "vm_internal.h"

static const char *const kind_names[] = {
    [CC_TR_PIO_IN] = "pio-in",
    [CC_TR_PIO_OUT] = "pio-out",
    [CC_TR_MMIO_READ] = "mmio-read",
    [CC_TR_MMIO_WRITE] = "mmio-write",
    [CC_TR_HLT] = "hlt",
    [CC_TR_IRQ_WINDOW] = "irq-window",
    [CC_TR_INJECT] = "inject",
    [CC_TR_SHUTDOWN] = "shutdown",
    [CC_TR_OTHER] = "other",
    [CC_TR_HYPERCALL] = "hypercall",
};

const char *cc_trace_kind_name(uint32_t kind)
{
    if (kind < sizeof(kind_names) / sizeof(kind_names[0]) && kind_names[kind])
        return kind_names[kind];
    return "?";
}

void cc_trace_format(const struct cc_trace_rec *r, char *buf, size_t len)
{
    char cpu[16] = "";
    if (r->cpu)
        snprintf(cpu, sizeof(cpu), " cpu=%u", r->cpu);
    snprintf(buf, len, "#%" PRIu64 " t=%" PRIu64 " %s addr=0x%" PRIx64 " size=%u data=0x%" PRIx64
             " rip=0x%" PRIx64 "%s",
             r->seq, r->vtime, cc_trace_kind_name(r->kind), r->addr, r->size, r->data, r->rip, cpu);
}

int trace_open(struct cc_trace *t, bool keep, const char *path, struct cc_err *err)
{
    memset(t, 0, sizeof(*t));
    t->keep = keep;
    t->hash = 0;
    if (path) {
        t->file = fopen(path, "w");
        if (!t->file) {
            int e = errno;
            return cc_err_set(err, e, "cannot write trace file '%s': %s", path, strerror(e));
        }
    }
    return 0;
}

void trace_close(struct cc_trace *t)
{
    if (t->file)
        fclose(t->file);
    free(t->recs);
    memset(t, 0, sizeof(*t));
}

void trace_add(struct cc_trace *t, const struct cc_trace_rec *r)
{
    /* Hash a packed little-endian encoding, not the struct (no padding). */
    /* The vCPU goes with the kind (0 with one vCPU: the one-vCPU hashes
     * stay what they were). */
    uint64_t w[7] = {r->seq, r->vtime, r->rip, r->addr, r->data, r->size,
                     r->kind | (uint64_t)r->cpu << 32};
    t->hash = XXH3_64bits_withSeed(w, sizeof(w), t->hash);
    if (t->keep) {
        if (t->n == t->cap) {
            size_t cap = t->cap ? t->cap * 2 : 4096;
            struct cc_trace_rec *n = realloc(t->recs, cap * sizeof(*n));
            if (n) {
                t->recs = n;
                t->cap = cap;
            } else {
                t->keep = false;    /* out of memory: keep hashing only */
            }
        }
        if (t->keep)
            t->recs[t->n++] = *r;
    }
    if (t->file) {
        char line[256];
        cc_trace_format(r, line, sizeof(line));
        fprintf(t->file, "%s\n", line);
    }
}

uint64_t trace_digest(const struct cc_trace *t)
{
    return t->hash;
}
