/* The determinism log's file format and tools (src/replay, docs/dlog.md),
 * without KVM: a writer/reader round trip of every record type across
 * several blocks; truncated, corrupt, newer-version and wrong-magic files,
 * each refused with a message naming the file and the problem; dump, stats
 * and diff on synthetic logs (diff finds the first divergent record, the
 * structural mode ignores a data difference). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include "../tap.h"
#include "chaoscontrol/dlog.h"
#include "chaoscontrol/sdk_host.h"
#include "chaoscontrol/sim.h"
#include "chaoscontrol/vm.h"

static char dir[] = "/tmp/test_dlog.XXXXXX";

static const char *path_of(const char *name)
{
    static char p[8][512];
    static int k;
    k = (k + 1) % 8;
    snprintf(p[k], sizeof(p[k]), "%s/%s", dir, name);
    return p[k];
}

/* The i-th record of the synthetic log (every type; 2 VMs). data_bump
 * changes one exit's data, rip_bump one exit's RIP. */
static void make_rec(uint64_t i, struct cc_dlog_rec *r, uint64_t data_bump_at,
                     uint64_t rip_bump_at)
{
    memset(r, 0, sizeof(*r));
    r->vm = (uint32_t)(i % 2);
    r->exit = i / 2 + 1;
    r->vtime = (i / 2 + 1) * 1000 + (i % 7 == 0 ? 123456789 : 0) * (i / 50000);
    switch (i % 97) {
    case 10:
        r->type = CC_DLOG_INJECT;
        r->addr = 0x30 + i % 16;
        break;
    case 20:
        r->type = CC_DLOG_REGS;
        r->nregs = 32;
        for (unsigned k = 0; k < 32; k++)
            r->regs[k] = XXH3_64bits_withSeed(&i, sizeof(i), k);
        break;
    case 30:
        r->type = CC_DLOG_SDK;
        r->kind = CC_SDK_EV_EVENT;
        r->value = -(int64_t)i;
        snprintf(r->text, sizeof(r->text), "event %llu", (unsigned long long)i);
        break;
    case 40:
        r->type = CC_DLOG_SIM;
        r->vm = i % 3 ? (uint32_t)(i % 2) : CC_DLOG_NO_VM;
        r->exit = 0;
        r->kind = CC_SIM_LOG_FAULT;
        r->value = (int64_t)(i % 5) - 1;
        r->size = CC_FAULT_PARTITION;
        snprintf(r->text, sizeof(r->text), "partition %llu", (unsigned long long)i);
        break;
    case 50:
        r->type = CC_DLOG_MARK;
        r->kind = CC_DLOG_MARK_SNAPSHOT;
        r->data = XXH3_64bits(&i, sizeof(i));
        r->addr = ~r->data;
        break;
    default:
        r->type = CC_DLOG_EXIT;
        r->kind = CC_TR_PIO_OUT + (uint32_t)(i % 4);
        r->rip = 0xffffffff81000000ull + (i * 7919) % 65536 + (i == rip_bump_at ? 1 : 0);
        r->addr = i % 3 ? 0x3f8 : 0xd0000000ull + (i % 8) * 4;
        r->size = 1 + (uint32_t)(i % 4);
        r->data = (i * 2654435761u) & 0xffff;
        if (i == data_bump_at)
            r->data ^= 1;
        break;
    }
}

#define N_RECS 60000    /* several 128 KiB blocks */

static int write_log(const char *path, uint64_t seed, uint64_t n, uint64_t data_bump_at,
                     uint64_t rip_bump_at)
{
    struct cc_dlog_opts o = {.n_vms = 2, .seed = seed, .regs_every = 5000, .source = "test"};
    struct cc_dlog *d;
    struct cc_err err = {0};
    if (cc_dlog_create(path, &o, &d, &err) < 0) {
        tap_diag("create: %s", err.msg);
        return -1;
    }
    struct cc_dlog_rec r;
    for (uint64_t i = 0; i < n; i++) {
        make_rec(i, &r, data_bump_at, rip_bump_at);
        cc_dlog_add(d, &r);
    }
    if (cc_dlog_close(d, &err) < 0) {
        tap_diag("close: %s", err.msg);
        return -1;
    }
    return 0;
}

static bool rec_eq(const struct cc_dlog_rec *a, const struct cc_dlog_rec *b)
{
    if (a->type != b->type || a->vm != b->vm || a->vtime != b->vtime || a->kind != b->kind ||
        a->size != b->size || a->rip != b->rip || a->addr != b->addr || a->data != b->data ||
        a->value != b->value || a->nregs != b->nregs || strcmp(a->text, b->text))
        return false;
    if (a->type != CC_DLOG_SIM && a->exit != b->exit)
        return false;
    return !memcmp(a->regs, b->regs, a->nregs * sizeof(a->regs[0]));
}

static void round_trip(void)
{
    const char *p = path_of("a.dlog");
    ok(write_log(p, 7, N_RECS, UINT64_MAX, UINT64_MAX) == 0, "write %d records", N_RECS);
    struct cc_dlog_reader *rd;
    struct cc_err err = {0};
    if (cc_dlog_open(p, &rd, &err) < 0) {
        ok(0, "open: %s", err.msg);
        return;
    }
    const struct cc_dlog_info *in = cc_dlog_reader_info(rd);
    ok(in->version == CC_DLOG_FORMAT_VERSION && in->n_vms == 2 && in->seed == 7 &&
       in->regs_every == 5000 && !strcmp(in->source, "test"), "the header reads back");
    struct cc_dlog_rec r, want;
    uint64_t n = 0, bad = UINT64_MAX, types[8] = {0};
    int rc;
    while ((rc = cc_dlog_next(rd, &r, &err)) > 0) {
        make_rec(n, &want, UINT64_MAX, UINT64_MAX);
        if (bad == UINT64_MAX && !rec_eq(&r, &want))
            bad = n;
        types[r.type & 7]++;
        n++;
    }
    ok(rc == 0, "read to the checked end (%s)", rc < 0 ? err.msg : "ok");
    is_u64(n, N_RECS, "every record read back");
    ok(bad == UINT64_MAX, "every record equal to what was written (first bad: %lld)",
       (long long)(bad == UINT64_MAX ? -1 : (long long)bad));
    ok(types[CC_DLOG_EXIT] && types[CC_DLOG_INJECT] && types[CC_DLOG_REGS] && types[CC_DLOG_SDK] &&
       types[CC_DLOG_SIM] && types[CC_DLOG_MARK], "all six record types were in it");
    cc_dlog_reader_close(rd);
    struct stat st;
    int src = stat(p, &st);
    ok(src == 0 && st.st_size > 0, "%d records in %lld bytes (%.2f bytes each)", N_RECS,
       (long long)st.st_size, (double)st.st_size / N_RECS);
}

static uint8_t *slurp(const char *p, size_t *len)
{
    FILE *f = fopen(p, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *d = malloc(*len + 1);
    if (d && fread(d, 1, *len, f) != *len) {
        free(d);
        d = NULL;
    }
    fclose(f);
    return d;
}

static void spit(const char *p, const uint8_t *d, size_t len)
{
    FILE *f = fopen(p, "wb");
    if (f) {
        fwrite(d, 1, len, f);
        fclose(f);
    }
}

/* Read a whole file; the error, or "" when it reads. */
static const char *read_all(const char *p)
{
    static struct cc_err err;
    memset(&err, 0, sizeof(err));
    struct cc_dlog_reader *rd;
    if (cc_dlog_open(p, &rd, &err) < 0)
        return err.msg;
    struct cc_dlog_rec r;
    int rc;
    while ((rc = cc_dlog_next(rd, &r, &err)) > 0)
        ;
    cc_dlog_reader_close(rd);
    return rc < 0 ? err.msg : "";
}

static void refused(const char *name, const uint8_t *d, size_t len, const char *want)
{
    const char *p = path_of(name);
    spit(p, d, len);
    const char *msg = read_all(p);
    ok(*msg && strstr(msg, want) && strstr(msg, p), "%s refused naming the file: %s", name, msg);
}

static void bad_files(void)
{
    size_t len;
    uint8_t *d = slurp(path_of("a.dlog"), &len);
    if (!d) {
        ok(0, "read a.dlog");
        return;
    }
    refused("truncated-mid.dlog", d, len / 2, "truncated");
    refused("truncated-end.dlog", d, len - 32, "no end marker");
    refused("truncated-header.dlog", d, 20, "truncated");
    refused("empty.dlog", d, 0, "not a ChaosControl dlog");
    uint8_t *c = malloc(len);
    memcpy(c, d, len);
    c[len / 2] ^= 0x40;
    refused("corrupt-block.dlog", c, len, "checksum mismatch");
    memcpy(c, d, len);
    c[30] ^= 1;
    refused("corrupt-header.dlog", c, len, "corrupt header");
    memcpy(c, d, len);
    c[8] = CC_DLOG_FORMAT_VERSION + 1;
    refused("newer.dlog", c, len, "newer than this chaoscontrol reads");
    memcpy(c, d, len);
    c[0] = 'X';
    refused("magic.dlog", c, len, "not a ChaosControl dlog (bad magic)");
    memcpy(c, d, len);
    c[len - 10] ^= 1;
    refused("corrupt-end.dlog", c, len, "corrupt end marker");
    free(c);
    free(d);
    struct cc_err err = {0};
    struct cc_dlog_reader *rd;
    int rc = cc_dlog_open(path_of("missing.dlog"), &rd, &err);
    ok(rc == -ENOENT && strstr(err.msg, "missing.dlog"), "a missing file: %s", err.msg);
}

/* Output of a tool into a string. */
static char *capture(int (*fn)(void *), void *arg, int *rc)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    struct { FILE *f; void *arg; } *a = arg;
    a->f = f;
    *rc = fn(arg);
    fclose(f);
    return buf;
}

struct targ {
    FILE *f;
    const char *a, *b;
    struct cc_dlog_dump_opts dump;
    struct cc_dlog_diff_opts diff;
    bool json;
    struct cc_err err;
};

static int do_dump(void *p) { struct targ *t = p; return cc_dlog_dump(t->a, &t->dump, t->f, &t->err); }
static int do_stats(void *p) { struct targ *t = p; return cc_dlog_stats(t->a, t->json, t->f, &t->err); }
static int do_diff(void *p) { struct targ *t = p; return cc_dlog_diff(t->a, t->b, &t->diff, t->f, &t->err); }

static void tools(void)
{
    const char *a = path_of("a.dlog"), *same = path_of("same.dlog"), *data = path_of("data.dlog"),
               *rip = path_of("rip.dlog"), *shortl = path_of("short.dlog");
    /* record 1001 (vm 1, exit 501) is an exit; 3001 also */
    write_log(same, 8, N_RECS, UINT64_MAX, UINT64_MAX);
    write_log(data, 7, N_RECS, 1001, UINT64_MAX);
    write_log(rip, 7, N_RECS, UINT64_MAX, 3001);
    write_log(shortl, 7, N_RECS - 10, UINT64_MAX, UINT64_MAX);

    struct targ t = {.a = a, .dump = {.vm = 1, .from = 100, .count = 3}};
    int rc;
    char *out = capture(do_dump, &t, &rc);
    ok(rc == 0 && out && strstr(out, "vm1 #100 ") && !strstr(out, "vm0 #") &&
       !strstr(out, "vm1 #99 "), "dump --vm 1 --from 100 --count 3");
    int lines = 0;
    for (char *s = out; s && *s; s++)
        lines += *s == '\n';
    is_int(lines, 4, "the header line and 3 records");
    free(out);

    t = (struct targ){.a = a, .dump = {.vm = -1, .json = true, .count = 200}};
    out = capture(do_dump, &t, &rc);
    ok(rc == 0 && out && strstr(out, "{\"type\": \"exit\"") == NULL &&
       strstr(out, "\"type\":\"exit\"") && strstr(out, "\"type\":\"inject\""),
       "dump --json: compact JSON lines");
    free(out);

    t = (struct targ){.a = a, .json = true};
    out = capture(do_stats, &t, &rc);
    ok(rc == 0 && out && strstr(out, "\"by_reason\"") && strstr(out, "\"by_port\"") &&
       strstr(out, "\"by_vm\"") && strstr(out, "\"per_second\""), "stats --json has every table");
    free(out);
    t = (struct targ){.a = a};
    out = capture(do_stats, &t, &rc);
    ok(rc == 0 && out && strstr(out, "exits by reason:") && strstr(out, "pio  0x3f8") &&
       strstr(out, "exits per virtual second"), "stats as text");
    free(out);

    t = (struct targ){.a = a, .b = same, .diff = {.context = 2}};
    out = capture(do_diff, &t, &rc);
    ok(rc == 0 && out && strstr(out, "same: 60000 records") && strstr(out, "seeds differ"),
       "diff of equal records (other seed in the header): same, exit 0");
    free(out);

    t = (struct targ){.a = a, .b = data, .diff = {.context = 2}};
    out = capture(do_diff, &t, &rc);
    ok(rc == 1 && out && strstr(out, "first divergence at record #1001: vm 1, exit #501") &&
       strstr(out, "before (the same in both):"), "diff finds the data difference at #1001");
    if (out)
        tap_diag("%s", out);
    free(out);

    t = (struct targ){.a = a, .b = data, .diff = {.context = 2, .structural = true}};
    out = capture(do_diff, &t, &rc);
    ok(rc == 0 && out && strstr(out, "same: "), "diff --structural ignores the data difference");
    free(out);

    t = (struct targ){.a = a, .b = rip, .diff = {.context = 1, .structural = true}};
    out = capture(do_diff, &t, &rc);
    ok(rc == 1 && out && strstr(out, "first divergence at record #3001"),
       "diff --structural still finds a RIP difference at #3001");
    free(out);

    t = (struct targ){.a = a, .b = shortl, .diff = {.context = 1}};
    out = capture(do_diff, &t, &rc);
    ok(rc == 1 && out && strstr(out, "first divergence at record #59990") &&
       strstr(out, "(end of log after 59990 records)"), "diff: one log ends early");
    free(out);

    t = (struct targ){.a = a, .b = path_of("newer.dlog"), .diff = {.context = 1}};
    out = capture(do_diff, &t, &rc);
    ok(rc < 0 && strstr(t.err.msg, "newer.dlog"), "diff of a bad file: an error (%s)", t.err.msg);
    free(out);
}

int main(void)
{
    tap_plan(0);
    if (!mkdtemp(dir))
        tap_bail("mkdtemp: %s", strerror(errno));
    round_trip();
    bad_files();
    tools();
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        tap_diag("could not remove %s", dir);
    return tap_exit();
}
