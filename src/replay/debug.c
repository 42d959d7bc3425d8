/* The time-travel debugger (chaoscontrol/debug.h): positions, checkpoints,
 * forward and reverse execution, and the GDB commands.
 *
 * Control flow. The replay runs on this thread (cc_xrun_play). A stop is
 * a call of the VM's debug hook (vm.h) or of the boundary hook, in which
 * serve() talks to GDB. A forward command (c, s) returns from the hook and
 * the replay goes on. Anything that needs another part of the replay
 * (bc, bs, a goto) sets d->plan and aborts the run (cc_sim_abort); the
 * driver loop (cc_debugger_serve) then restores a checkpoint and replays
 * in the mode the plan says:
 *   GOTO     to a position with no traps but the position's own; serve there
 *   SCAN     to position P with GDB's breakpoints in, noting the last hit
 *            before P (reverse-continue)
 *   STEPSCAN from a position, single-stepping, to find how many
 *            instructions lead to P (reverse-step)
 *   LIVE     forward, as GDB asked; every trap is a stop */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <linux/kvm.h>

#include "chaoscontrol/debug.h"
#include "chaoscontrol/sim.h"
#include "chaoscontrol/snapshot.h"
#include "chaoscontrol/vm.h"
#include "gdbproto.h"

/* ---- positions ---- */

enum { ACT_STEP = 1, ACT_RUN = 2 };
struct act {
    uint32_t kind;
    uint32_t cfg;               /* ACT_RUN: index in d->cfgs */
    uint64_t count;             /* steps, or traps under the set */
};
struct pos {
    uint64_t life, exit;
    struct act *a;
    size_t n;
};

static void pos_free(struct pos *p)
{
    free(p->a);
    p->a = NULL;
    p->n = 0;
}

static int pos_copy(struct pos *dst, const struct pos *src, size_t n_acts)
{
    struct act *a = n_acts ? malloc(n_acts * sizeof(*a)) : NULL;
    if (n_acts && !a)
        return -ENOMEM;
    if (n_acts)
        memcpy(a, src->a, n_acts * sizeof(*a));
    free(dst->a);
    dst->life = src->life;
    dst->exit = src->exit;
    dst->a = a;
    dst->n = n_acts;
    return 0;
}

/* Append an action (consecutive steps merge). */
static int pos_push(struct pos *p, uint32_t kind, uint32_t cfg, uint64_t count)
{
    if (kind == ACT_STEP && p->n && p->a[p->n - 1].kind == ACT_STEP) {
        p->a[p->n - 1].count += count;
        return 0;
    }
    struct act *a = realloc(p->a, (p->n + 1) * sizeof(*a));
    if (!a)
        return -ENOMEM;
    p->a = a;
    p->a[p->n++] = (struct act){kind, cfg, count};
    return 0;
}

/* (life, exit) order; the actions after an exit come after it. */
static int pos_cmp_base(uint64_t l1, uint64_t e1, uint64_t l2, uint64_t e2)
{
    if (l1 != l2)
        return l1 < l2 ? -1 : 1;
    if (e1 != e2)
        return e1 < e2 ? -1 : 1;
    return 0;
}

/* ---- the debugger ---- */

enum mode { M_LIVE, M_GOTO, M_SCAN, M_STEPSCAN };
enum plan { P_NONE, P_SERVE, P_GOTO, P_RCONT, P_RSTEP, P_QUIT };
enum why { W_NONE, W_STEP, W_SWBREAK, W_HWBREAK, W_WATCH, W_AWATCH, W_INT, W_BEGIN, W_END,
           W_GOTO };

struct ck {
    struct cc_sim_snapshot *s;
    uint64_t t, life, exit;
};

struct dbg {
    struct cc_xrun *x;
    const struct cc_recipe *r;
    struct cc_sim *sim;
    unsigned k;
    struct cc_debugger_opts o;
    struct cc_debugger_stats *st;
    struct gdb_conn g;
    struct cc_err *err;
    int fatal;                  /* an error in a hook: -errno */

    struct cc_debug_cfg *cfgs;  /* interned breakpoint sets; 0 is empty */
    size_t n_cfgs;
    struct cc_debug_cfg bps;    /* GDB's breakpoints now */

    struct ck *ck;
    size_t n_ck;

    struct pos cur;             /* where the VM is stopped */
    enum why why;
    uint64_t why_addr;
    bool at_end;                /* the replay ended here */
    char end_msg[400];

    enum mode mode;
    enum plan plan;
    /* LIVE: the action being run and where it started */
    struct act live;
    struct pos live_base;
    /* GOTO / SCAN / STEPSCAN: the goal, the action being replayed, its
     * trap count */
    struct pos goal;
    size_t phase;               /* 0: before goal.exit; j+1: replaying goal.a[j] */
    uint64_t got;               /* traps of the action so far (all in SCAN) */
    uint64_t got_own;           /* SCAN: the action's own traps */
    uint32_t scan_b;            /* SCAN: GDB's set (cfg index) */
    uint32_t scan_u;            /* SCAN: the action's set merged with it */
    uint32_t scan_own, scan_other;  /* bits of scan_u: the action's, GDB's */
    uint64_t scan_life, scan_exit, scan_m;  /* SCAN before goal.exit: traps since an exit */
    struct pos hit;             /* SCAN: the last hit */
    bool have_hit;
    /* STEPSCAN: what it looks for */
    bool ss_to_exit;            /* until the goal's exit (else until ss_cfg's n-th trap) */
    uint32_t ss_cfg;
    uint64_t ss_need, ss_seen, ss_steps;
    bool ss_found;
    /* after a GOTO: what next */
    enum { AFTER_SERVE, AFTER_STEPSCAN } after;
    struct pos target;          /* the plan's position */
    /* STEPSCAN by registers: stop at the first step where they equal these
     * (the position a reverse-step leaves, read when GDB asked) */
    bool ss_by_regs;
    struct kvm_regs p_regs;
    bool p_regs_ok;
};

static void dlog_msg(struct dbg *d, const char *fmt, ...)
{
    if (!d->o.log)
        return;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    d->o.log(d->o.opaque, buf);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static struct cc_vm *vmk(struct dbg *d)
{
    return cc_sim_vm(d->sim, d->k);
}

static uint64_t life_now(struct dbg *d)
{
    struct cc_sim_vm_status st;
    cc_sim_vm_status(d->sim, d->k, &st);
    return st.restarts;
}

/* The index of an equal set in d->cfgs, added if new; UINT32_MAX when out
 * of memory. */
static uint32_t intern(struct dbg *d, const struct cc_debug_cfg *c)
{
    struct cc_debug_cfg z;
    memset(&z, 0, sizeof(z));
    z.step = c->step;
    z.n = c->n;
    memcpy(z.bp, c->bp, c->n * sizeof(c->bp[0]));
    for (size_t i = 0; i < d->n_cfgs; i++)
        if (!memcmp(&d->cfgs[i], &z, sizeof(z)))
            return (uint32_t)i;
    struct cc_debug_cfg *n = realloc(d->cfgs, (d->n_cfgs + 1) * sizeof(*n));
    if (!n)
        return UINT32_MAX;
    d->cfgs = n;
    d->cfgs[d->n_cfgs] = z;
    return (uint32_t)d->n_cfgs++;
}

static bool bp_same(const struct cc_bp *a, const struct cc_bp *b)
{
    return a->addr == b->addr && a->type == b->type && a->len == b->len;
}

/* a's breakpoints then those of b not in a; *own = bits of a's. */
static uint32_t merge(struct dbg *d, uint32_t a, uint32_t b, uint32_t *own, uint32_t *other)
{
    struct cc_debug_cfg u = d->cfgs[a];
    u.step = false;
    *own = u.n >= 32 ? UINT32_MAX : (1u << u.n) - 1;
    *other = 0;
    const struct cc_debug_cfg *B = &d->cfgs[b];
    for (unsigned i = 0; i < B->n; i++) {
        unsigned j;
        for (j = 0; j < u.n; j++)
            if (bp_same(&u.bp[j], &B->bp[i]))
                break;
        if (j == u.n) {
            if (u.n == CC_DEBUG_MAX_BP)
                continue;
            u.bp[u.n++] = B->bp[i];
        }
        *other |= 1u << j;
    }
    return intern(d, &u);
}

static void arm(struct dbg *d, const struct cc_debug_cfg *c)
{
    struct cc_err e = {0};
    if (cc_vm_debug_set(vmk(d), c, &e) < 0 && !d->fatal) {
        d->fatal = -EINVAL;
        cc_err_set(d->err, EINVAL, "arming breakpoints: %s", e.msg);
    }
}

static void arm_cfg(struct dbg *d, uint32_t i, bool step)
{
    struct cc_debug_cfg c = d->cfgs[i];
    c.step = step;
    arm(d, &c);
}

static void arm_step(struct dbg *d)
{
    struct cc_debug_cfg c = {.step = true};
    arm(d, &c);
}

static void arm_none(struct dbg *d)
{
    struct cc_debug_cfg c = {0};
    arm(d, &c);
}

/* ---- checkpoints ---- */

static size_t ck_before(struct dbg *d, uint64_t life, uint64_t exit)
{
    size_t best = 0;
    for (size_t i = 0; i < d->n_ck; i++)
        if (pos_cmp_base(d->ck[i].life, d->ck[i].exit, life, exit) <= 0)
            best = i;
    return best;
}

static void ck_thin(struct dbg *d)
{
    /* drop the checkpoint whose neighbours are closest (never the root) */
    size_t worst = 0;
    uint64_t gap = UINT64_MAX;
    for (size_t i = 1; i + 1 < d->n_ck; i++) {
        uint64_t g = d->ck[i + 1].t - d->ck[i - 1].t;
        if (g < gap) {
            gap = g;
            worst = i;
        }
    }
    if (!worst)
        return;
    d->st->checkpoint_bytes -= cc_sim_snapshot_bytes(d->ck[worst].s);
    cc_sim_snapshot_put(d->ck[worst].s);
    memmove(&d->ck[worst], &d->ck[worst + 1], (d->n_ck - worst - 1) * sizeof(d->ck[0]));
    d->n_ck--;
}

static void ck_maybe(struct dbg *d)
{
    uint64_t t = cc_sim_now(d->sim);
    size_t i = 0;
    while (i < d->n_ck && d->ck[i].t <= t)
        i++;
    /* i: where a new one goes; i - 1: the latest at or before t */
    if (i && t - d->ck[i - 1].t < d->o.checkpoint_ns)
        return;
    if (i < d->n_ck && d->ck[i].t - t < d->o.checkpoint_ns / 2)
        return;
    struct ck *n = realloc(d->ck, (d->n_ck + 1) * sizeof(*n));
    if (!n)
        return;
    d->ck = n;
    struct cc_sim_snapshot *s;
    struct cc_err e = {0};
    if (cc_sim_snapshot(d->sim, &s, &e) < 0) {
        dlog_msg(d, "checkpoint at %.6f s failed: %s", t / 1e9, e.msg);
        return;
    }
    memmove(&d->ck[i + 1], &d->ck[i], (d->n_ck - i) * sizeof(d->ck[0]));
    d->ck[i] = (struct ck){s, t, life_now(d), cc_vm_exit_count(vmk(d))};
    d->n_ck++;
    d->st->checkpoints++;
    d->st->checkpoint_bytes += cc_sim_snapshot_bytes(s);
    while (d->n_ck > d->o.max_checkpoints)
        ck_thin(d);
}

/* ---- stops and GDB ---- */

static int serve(struct dbg *d);

/* Where the VM is now, as a position with no actions. */
static void cur_base(struct dbg *d, struct pos *p)
{
    pos_free(p);
    p->life = life_now(d);
    p->exit = cc_vm_exit_count(vmk(d));
}

/* A stop in LIVE mode: serve; 0 go on, 1 abort the run. */
static int live_stop(struct dbg *d)
{
    int rc = serve(d);
    if (rc == 0)
        return 0;
    cc_sim_abort(d->sim);
    return 1;
}

/* The kind of stop a trap is, for the stop reply. */
static void trap_why(struct dbg *d, const struct cc_debug_cfg *c, const struct cc_debug_event *ev)
{
    d->why = W_STEP;
    d->why_addr = 0;
    for (unsigned i = 0; i < c->n; i++) {
        if (!(ev->hits & (1u << i)))
            continue;
        switch (c->bp[i].type) {
        case CC_BP_SW: d->why = W_SWBREAK; break;
        case CC_BP_HW: d->why = W_HWBREAK; break;
        case CC_WP_WRITE: d->why = W_WATCH; d->why_addr = c->bp[i].addr; break;
        default: d->why = W_AWATCH; d->why_addr = c->bp[i].addr; break;
        }
        return;
    }
}

static bool rip_in(const struct cc_debug_cfg *c, uint64_t rip)
{
    for (unsigned i = 0; i < c->n; i++)
        if ((c->bp[i].type == CC_BP_SW || c->bp[i].type == CC_BP_HW) && c->bp[i].addr == rip)
            return true;
    return false;
}

static int oom(struct dbg *d)
{
    if (!d->fatal) {
        d->fatal = -ENOMEM;
        cc_err_set(d->err, ENOMEM, "out of memory");
    }
    cc_sim_abort(d->sim);
    return 1;
}

/* GOTO reached its goal, or STEPSCAN's start. 0 go on, 1 abort. */
static int goal_reached(struct dbg *d)
{
    if (d->mode == M_GOTO && d->after == AFTER_SERVE) {
        if (pos_copy(&d->cur, &d->goal, d->goal.n) < 0)
            return oom(d);
        d->mode = M_LIVE;
        return live_stop(d);
    }
    /* STEPSCAN from here */
    d->mode = M_STEPSCAN;
    d->ss_steps = 0;
    d->ss_seen = 0;
    d->ss_found = false;
    if (d->ss_to_exit) {
        cc_vm_debug_at_exit(vmk(d), d->goal.exit + 1);
        arm_step(d);
    } else if (d->ss_by_regs) {
        arm_step(d);
    } else {
        /* the set's watchpoints trap with the steps; its execution
         * breakpoints are seen as the RIP after a step */
        struct cc_debug_cfg c = {.step = true};
        const struct cc_debug_cfg *s = &d->cfgs[d->ss_cfg];
        for (unsigned i = 0; i < s->n; i++)
            if (s->bp[i].type == CC_WP_WRITE || s->bp[i].type == CC_WP_ACCESS)
                c.bp[c.n++] = s->bp[i];
        arm(d, &c);
    }
    return 0;
}

/* Arm GOTO/SCAN for action j of the goal (phase j + 1); at the goal when
 * j == n. Returns as goal_reached. */
static int start_phase(struct dbg *d, size_t j)
{
    d->phase = j + 1;
    d->got = d->got_own = 0;
    if (j == d->goal.n) {
        if (d->mode == M_SCAN) {
            cc_sim_abort(d->sim);       /* P reached: the scan is done */
            return 1;
        }
        return goal_reached(d);
    }
    const struct act *a = &d->goal.a[j];
    if (a->kind == ACT_STEP) {
        arm_step(d);
    } else if (d->mode == M_SCAN) {
        d->scan_u = merge(d, a->cfg, d->scan_b, &d->scan_own, &d->scan_other);
        if (d->scan_u == UINT32_MAX)
            return oom(d);
        arm_cfg(d, d->scan_u, false);
    } else {
        arm_cfg(d, a->cfg, false);
    }
    return 0;
}

static int note_hit(struct dbg *d, const struct pos *base, size_t n_acts, uint32_t kind,
                    uint32_t cfg, uint64_t count)
{
    if (pos_copy(&d->hit, base, n_acts) < 0 || pos_push(&d->hit, kind, cfg, count) < 0)
        return oom(d);
    d->have_hit = true;
    return 0;
}

static int on_exit_goal(struct dbg *d)
{
    if (life_now(d) != d->goal.life)
        return 0;
    cc_vm_debug_at_exit(vmk(d), 0);
    if (d->mode == M_STEPSCAN) {
        /* the exit after the stepping start: found */
        d->ss_found = true;
        cc_sim_abort(d->sim);
        return 1;
    }
    return start_phase(d, 0);
}

static int on_trap_goto(struct dbg *d, const struct cc_debug_event *ev)
{
    if (d->phase == 0) {
        if (d->mode != M_SCAN)
            return 0;           /* (not armed) */
        /* SCAN before the goal's exit: every trap is a hit, counted from
         * the exit before it */
        uint64_t life = life_now(d);
        if (ev->exits != d->scan_exit || life != d->scan_life) {
            d->scan_m = 0;
            d->scan_exit = ev->exits;
            d->scan_life = life;
        }
        d->scan_m++;
        struct pos b = {.life = life, .exit = ev->exits};
        return note_hit(d, &b, 0, ACT_RUN, d->scan_b, d->scan_m);
    }
    if (ev->exits != d->goal.exit || life_now(d) != d->goal.life) {
        /* an exit inside the actions: the replay is not the recorded one */
        d->fatal = -EIO;
        cc_err_set(d->err, EIO, "replaying to a position: vm %u made exit %" PRIu64 " where the "
                   "debugger expected only traps after exit %" PRIu64 " (is the replay "
                   "deterministic? 'chaoscontrol reproduce' checks)", d->k, ev->exits,
                   d->goal.exit);
        cc_sim_abort(d->sim);
        return 1;
    }
    size_t j = d->phase - 1;
    const struct act *a = &d->goal.a[j];
    d->got++;
    if (d->mode == M_SCAN) {
        bool last = j + 1 == d->goal.n;
        if (a->kind == ACT_STEP) {
            d->got_own++;
            if (d->got_own < a->count || !last)
                if (rip_in(&d->cfgs[d->scan_b], ev->rip) &&
                    note_hit(d, &d->goal, j, ACT_STEP, 0, d->got_own))
                    return 1;
        } else {
            bool is_own = ev->hits & d->scan_own;
            d->got_own += is_own;
            bool done = d->got_own == a->count && is_own;
            if ((ev->hits & d->scan_other) && !(done && last) &&
                note_hit(d, &d->goal, j, ACT_RUN, d->scan_u, d->got))
                return 1;
        }
        if (d->got_own >= a->count)
            return start_phase(d, j + 1);
        return 0;
    }
    if (d->got >= a->count)
        return start_phase(d, j + 1);
    return 0;
}

static bool regs_equal(const struct kvm_regs *a, const struct kvm_regs *b)
{
    const uint64_t mask = ~((1ull << 8) | (1ull << 16));     /* TF, RF */
    return a->rax == b->rax && a->rbx == b->rbx && a->rcx == b->rcx && a->rdx == b->rdx &&
           a->rsi == b->rsi && a->rdi == b->rdi && a->rsp == b->rsp && a->rbp == b->rbp &&
           a->r8 == b->r8 && a->r9 == b->r9 && a->r10 == b->r10 && a->r11 == b->r11 &&
           a->r12 == b->r12 && a->r13 == b->r13 && a->r14 == b->r14 && a->r15 == b->r15 &&
           a->rip == b->rip && (a->rflags & mask) == (b->rflags & mask);
}

static int on_trap_stepscan(struct dbg *d, const struct cc_debug_event *ev)
{
    if (!ev->step && !ev->hits)
        return 0;
    d->ss_steps++;
    if (!d->ss_to_exit && ev->exits != d->goal.exit) {
        d->fatal = -EIO;
        cc_err_set(d->err, EIO, "reverse-step: single steps from exit %" PRIu64 " reached exit "
                   "%" PRIu64 " before the breakpoint's position", d->goal.exit, ev->exits);
        cc_sim_abort(d->sim);
        return 1;
    }
    if (d->ss_by_regs) {
        struct kvm_regs r;
        struct cc_err e = {0};
        if (cc_vm_get_regs(vmk(d), &r, &e) == 0 && regs_equal(&r, &d->p_regs)) {
            d->ss_found = true;
            cc_sim_abort(d->sim);
            return 1;
        }
    } else if (!d->ss_to_exit) {
        const struct cc_debug_cfg *s = &d->cfgs[d->ss_cfg];
        if (ev->hits || rip_in(s, ev->rip))
            d->ss_seen++;
        if (d->ss_seen >= d->ss_need) {
            d->ss_found = true;
            cc_sim_abort(d->sim);
            return 1;
        }
    }
    if (d->ss_steps >= d->o.max_steps) {
        d->fatal = -E2BIG;
        cc_err_set(d->err, E2BIG, "reverse-step: more than %" PRIu64 " instructions between "
                   "two exits of vm %u (--max-steps)", d->o.max_steps, d->k);
        cc_sim_abort(d->sim);
        return 1;
    }
    return 0;
}

static int on_trap_live(struct dbg *d, const struct cc_debug_event *ev)
{
    uint64_t life = life_now(d);
    struct pos *b = &d->live_base;
    if (life != b->life || ev->exits != b->exit) {
        pos_free(b);
        b->life = life;
        b->exit = ev->exits;
    }
    if (pos_copy(&d->cur, b, b->n) < 0 || pos_push(&d->cur, d->live.kind, d->live.cfg, 1) < 0)
        return oom(d);
    if (d->live.kind == ACT_STEP)
        d->why = W_STEP;
    else
        trap_why(d, &d->cfgs[d->live.cfg], ev);
    return live_stop(d);
}

static int hook(void *opaque, struct cc_vm *vm, const struct cc_debug_event *ev)
{
    (void)vm;
    struct dbg *d = opaque;
    if (d->fatal)
        return 1;
    if (ev->what == CC_DEBUG_TRAP)
        d->st->traps++;
    if (ev->what == CC_DEBUG_AT_EXIT)
        return on_exit_goal(d);
    switch (d->mode) {
    case M_LIVE: return on_trap_live(d, ev);
    case M_STEPSCAN: return on_trap_stepscan(d, ev);
    default: return on_trap_goto(d, ev);
    }
}

static void boundary(void *opaque, struct cc_sim *sim)
{
    (void)sim;
    struct dbg *d = opaque;
    if (d->fatal) {
        cc_sim_abort(d->sim);
        return;
    }
    bool stepping = d->mode == M_STEPSCAN || (d->mode == M_LIVE && d->live.kind == ACT_STEP) ||
                    ((d->mode == M_GOTO || d->mode == M_SCAN) && d->phase > 0);
    if (!stepping)
        ck_maybe(d);
    if (d->mode == M_LIVE && gdb_poll_interrupt(&d->g)) {
        d->g.interrupt = false;
        cur_base(d, &d->cur);
        d->why = W_INT;
        if (serve(d))
            cc_sim_abort(d->sim);
    }
}

/* ---- the driver ---- */

/* Restore checkpoint i (SIZE_MAX: the latest before goal) and set the
 * mode up; 1 when the goal
 * was reached at once and said to abort. */
static int restore_for(struct dbg *d, const struct pos *goal, enum mode mode, size_t i)
{
    if (i >= d->n_ck)
        i = ck_before(d, goal->life, goal->exit);
    struct cc_err e = {0};
    if (cc_sim_restore(d->sim, d->ck[i].s, &e) < 0) {
        d->fatal = -EIO;
        cc_err_set(d->err, EIO, "restoring a checkpoint: %s", e.msg);
        return 1;
    }
    d->st->restores++;
    struct cc_vm *vm = vmk(d);
    cc_vm_debug_attach(vm, hook, d);
    d->at_end = false;
    d->mode = mode;
    d->phase = 0;
    d->got = d->got_own = 0;
    d->scan_exit = UINT64_MAX;
    d->scan_m = 0;
    if (pos_copy(&d->goal, goal, goal->n) < 0)
        return oom(d);
    if (mode == M_SCAN)
        arm_cfg(d, d->scan_b, false);
    else
        arm_none(d);
    if (d->ck[i].life == goal->life && d->ck[i].exit == goal->exit)
        return start_phase(d, 0);
    cc_vm_debug_at_exit(vm, goal->exit);
    return 0;
}

/* Run the replay on from here until it ends or a hook aborts it. */
static int play(struct dbg *d)
{
    struct cc_xrun_result res;
    d->st->replay_runs++;
    int rc = cc_xrun_play(d->x, d->r, boundary, d, &res, d->err);
    if (rc < 0)
        return rc;
    if (d->fatal)
        return d->fatal;
    if (res.aborted)
        return 0;
    /* the replay's end */
    cc_vm_debug_at_exit(vmk(d), 0);
    if (d->mode == M_STEPSCAN && !d->ss_to_exit) {
        d->fatal = -EIO;
        cc_err_set(d->err, EIO, "reverse-step: single steps from exit %" PRIu64 " did not "
                   "reach the breakpoint's position", d->goal.exit);
        return d->fatal;
    }
    if (d->mode == M_LIVE)
        cur_base(d, &d->cur);
    d->at_end = true;
    if (res.fail.failed)
        snprintf(d->end_msg, sizeof(d->end_msg), "the replay ended at the failure: \"%.200s\" "
                 "in vm %u at %.6f s", res.fail.message, res.fail.vm, res.fail.sim_ns / 1e9);
    else
        snprintf(d->end_msg, sizeof(d->end_msg), "the replay ended at %.6f s%s",
                 res.end_ns / 1e9, res.all_down ? " (every VM down)" : "");
    if (d->mode == M_LIVE) {
        d->why = W_END;
        d->plan = P_SERVE;
    } else if (!d->fatal) {
        d->fatal = -EIO;
        cc_err_set(d->err, EIO, "the replay ended before reaching a position it had reached "
                   "before (vm %u, exit %" PRIu64 "): not deterministic?", d->k, d->goal.exit);
        return d->fatal;
    }
    return 0;
}

/* A reverse-continue from d->cur: sets d->target (or at the beginning). */
static int reverse_continue_with(struct dbg *d, const struct cc_debug_cfg *bps, bool *begin)
{
    d->scan_b = intern(d, bps);
    if (d->scan_b == UINT32_MAX)
        return -ENOMEM;
    struct pos p = {0};
    if (pos_copy(&p, &d->cur, d->cur.n) < 0)
        return -ENOMEM;
    *begin = false;
    size_t i = ck_before(d, p.life, p.exit);
    for (;;) {
        d->have_hit = false;
        pos_free(&d->hit);
        /* from checkpoint i to p, breakpoints in */
        if (p.n || pos_cmp_base(d->ck[i].life, d->ck[i].exit, p.life, p.exit) < 0) {
            if (restore_for(d, &p, M_SCAN, i) == 0) {
                int rc = play(d);
                if (rc < 0) {
                    pos_free(&p);
                    return rc;
                }
            }
            if (d->fatal) {
                pos_free(&p);
                return d->fatal;
            }
        }
        if (d->have_hit) {
            pos_free(&p);
            return pos_copy(&d->target, &d->hit, d->hit.n);
        }
        if (i == 0) {
            *begin = true;
            struct pos root = {.life = d->ck[0].life, .exit = d->ck[0].exit};
            pos_free(&p);
            return pos_copy(&d->target, &root, 0);
        }
        /* nothing between checkpoint i and p: from the one before to i */
        struct pos q = {.life = d->ck[i].life, .exit = d->ck[i].exit};
        if (pos_copy(&p, &q, 0) < 0)
            return -ENOMEM;
        i--;
    }
}

static int reverse_continue(struct dbg *d, bool *begin)
{
    return reverse_continue_with(d, &d->bps, begin);
}

/* Run a STEPSCAN from start: to the exit after it (to_exit) or to the
 * need-th trap of cfg; the steps it took in *steps. */
static int stepscan(struct dbg *d, const struct pos *start, bool to_exit, uint32_t cfg,
                    uint64_t need, uint64_t *steps, bool *found)
{
    d->ss_by_regs = !to_exit && cfg == UINT32_MAX;
    d->after = AFTER_STEPSCAN;
    d->ss_to_exit = to_exit;
    d->ss_cfg = cfg;
    d->ss_need = need;
    d->ss_found = false;
    d->ss_steps = 0;
    int rc = 0;
    if (restore_for(d, start, M_GOTO, SIZE_MAX) == 0)
        rc = play(d);
    d->after = AFTER_SERVE;
    if (rc < 0)
        return rc;
    if (d->fatal)
        return d->fatal;
    *steps = d->ss_steps;
    *found = d->ss_found;
    return 0;
}

/* HLT breakpoints where the kernel is entered without an exit: the
 * SYSCALL target (MSR LSTAR) and the exception handlers of the IDT. */
static void kernel_entries(struct dbg *d, struct cc_debug_cfg *c)
{
    memset(c, 0, sizeof(*c));
    struct cc_vm *vm = vmk(d);
    uint64_t lstar;
    if (cc_vm_get_msr(vm, 0xc0000082, &lstar) == 0 && (lstar >> 47) == 0x1ffff)
        c->bp[c->n++] = (struct cc_bp){.addr = lstar, .type = CC_BP_SW};
    struct kvm_sregs s;
    struct cc_err e = {0};
    if (cc_vm_get_sregs(vm, &s, &e) < 0)
        return;
    for (unsigned v = 0; v < 32 && c->n < CC_DEBUG_MAX_BP; v++) {
        uint64_t pa;
        if (v == 2 || v == 8 || v == 18 || 16 * v + 15 > s.idt.limit ||
            !cc_vm_translate(vm, s.idt.base + 16 * v, &pa))
            continue;
        const uint8_t *g = cc_vm_gpa(vm, pa, 16);
        if (!g || !(g[5] & 0x80))
            continue;
        uint64_t off = (uint64_t)g[0] | (uint64_t)g[1] << 8 | (uint64_t)g[6] << 16 |
                       (uint64_t)g[7] << 24 | (uint64_t)g[8] << 32 | (uint64_t)g[9] << 40 |
                       (uint64_t)g[10] << 48 | (uint64_t)g[11] << 56;
        if ((off >> 47) != 0x1ffff)
            continue;
        bool dup = false;
        for (unsigned i = 0; i < c->n; i++)
            dup |= c->bp[i].addr == off;
        if (!dup)
            c->bp[c->n++] = (struct cc_bp){.addr = off, .type = CC_BP_SW};
    }
}

/* The last kernel entry before p in p's stretch (after p's exit), or p's
 * exit itself. */
static int last_kernel_entry(struct dbg *d, const struct pos *p, struct pos *start)
{
    struct cc_debug_cfg k;
    kernel_entries(d, &k);
    struct pos base = {.life = p->life, .exit = p->exit};
    if (k.n) {
        struct pos save = {0};
        if (pos_copy(&save, &d->cur, d->cur.n) < 0 || pos_copy(&d->cur, p, p->n) < 0)
            return -ENOMEM;
        bool begin;
        int rc = reverse_continue_with(d, &k, &begin);
        pos_copy(&d->cur, &save, save.n);
        pos_free(&save);
        if (rc < 0)
            return rc;
        if (!begin && d->target.life == p->life && d->target.exit == p->exit)
            return pos_copy(start, &d->target, d->target.n);
    }
    return pos_copy(start, &base, 0);
}

/* A reverse-step from d->cur: sets d->target, or *begin. */
static int reverse_step(struct dbg *d, bool *begin)
{
    struct pos p = {0};
    if (pos_copy(&p, &d->cur, d->cur.n) < 0)
        return -ENOMEM;
    *begin = false;
    int rc = 0;
    for (;;) {
        if (p.n && p.a[p.n - 1].kind == ACT_STEP) {
            p.a[p.n - 1].count--;
            if (!p.a[p.n - 1].count)
                p.n--;
            rc = pos_copy(&d->target, &p, p.n);
            break;
        }
        uint64_t steps = 0;
        bool found = false;
        if (p.n) {
            /* P = Q + breakpoint runs: single-step to P's registers, from
             * the last kernel entry before P in the same stretch when there
             * is one (single steps do not follow a return to user mode on
             * every host), else from Q */
            if (!d->p_regs_ok) {
                rc = cc_err_set(d->err, EIO, "reverse-step: the registers were not readable");
                break;
            }
            struct pos start = {0};
            rc = last_kernel_entry(d, &p, &start);
            if (rc < 0)
                break;
            rc = stepscan(d, &start, false, UINT32_MAX, 0, &steps, &found);
            if (rc == 0 && !found)
                rc = cc_err_set(d->err, EIO, "reverse-step: single steps did not reach the "
                                "position the breakpoint run had reached");
            if (rc == 0 && steps == 0)
                rc = cc_err_set(d->err, EIO, "reverse-step: no instruction between the last "
                                "kernel entry and here");
            if (rc == 0)
                rc = pos_copy(&d->target, &start, start.n);
            if (rc == 0 && steps > 1)
                rc = pos_push(&d->target, ACT_STEP, 0, steps - 1);
            pos_free(&start);
            break;
        }
        /* P is right after an exit: the instruction before it is in the
         * stretch from the exit before (not before the replay's start) */
        if (p.exit == 0 || (p.life == d->ck[0].life && p.exit <= d->ck[0].exit)) {
            *begin = true;
            struct pos root = {.life = d->ck[0].life, .exit = d->ck[0].exit};
            rc = pos_copy(&d->target, &root, 0);
            break;
        }
        struct pos q = {.life = p.life, .exit = p.exit - 1};
        rc = stepscan(d, &q, true, 0, 0, &steps, &found);
        if (rc < 0)
            break;
        if (!found) {
            rc = cc_err_set(d->err, EIO, "reverse-step: stepping from exit %" PRIu64 " never "
                            "reached exit %" PRIu64, q.exit, p.exit);
            break;
        }
        rc = pos_copy(&d->target, &q, 0);
        if (rc == 0 && steps)
            rc = pos_push(&d->target, ACT_STEP, 0, steps);
        break;
    }
    pos_free(&p);
    return rc;
}

/* Go to d->target and serve there (through the hook, or here when the
 * target is a checkpoint). */
static int goto_target(struct dbg *d)
{
    d->after = AFTER_SERVE;
    if (restore_for(d, &d->target, M_GOTO, SIZE_MAX) == 1)
        return d->fatal;        /* served at once, and GDB wants more than forward */
    return play(d);             /* to the target, or forward from it */
}

/* ---- GDB commands ---- */

static bool reply(struct dbg *d, const char *s)
{
    return gdb_send_str(&d->g, s);
}

static bool console(struct dbg *d, const char *text)
{
    char buf[2 * 1024 + 2];
    size_t n = strlen(text);
    if (n > 1000)
        n = 1000;
    buf[0] = 'O';
    gdb_hex_encode(buf + 1, text, n);
    return gdb_send_str(&d->g, buf);
}

static void stop_reply(struct dbg *d)
{
    char buf[128];
    switch (d->why) {
    case W_SWBREAK: snprintf(buf, sizeof(buf), "T05swbreak:;thread:1;"); break;
    case W_HWBREAK: snprintf(buf, sizeof(buf), "T05hwbreak:;thread:1;"); break;
    case W_WATCH:
        snprintf(buf, sizeof(buf), "T05watch:%" PRIx64 ";thread:1;", d->why_addr);
        break;
    case W_AWATCH:
        snprintf(buf, sizeof(buf), "T05awatch:%" PRIx64 ";thread:1;", d->why_addr);
        break;
    case W_INT: snprintf(buf, sizeof(buf), "T02thread:1;"); break;
    case W_BEGIN: snprintf(buf, sizeof(buf), "T05replaylog:begin;thread:1;"); break;
    case W_END: snprintf(buf, sizeof(buf), "T05replaylog:end;thread:1;"); break;
    default: snprintf(buf, sizeof(buf), "T05thread:1;"); break;
    }
    reply(d, buf);
}

static void put_le(char **p, uint64_t v, unsigned bytes)
{
    uint8_t b[16] = {0};
    for (unsigned i = 0; i < bytes && i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    gdb_hex_encode(*p, b, bytes);
    *p += 2 * bytes;
}

static void regs_packet(struct dbg *d, char *out)
{
    struct kvm_regs r;
    struct kvm_sregs s;
    struct kvm_fpu f;
    struct cc_err e = {0};
    struct cc_vm *vm = vmk(d);
    if (cc_vm_get_regs(vm, &r, &e) < 0 || cc_vm_get_sregs(vm, &s, &e) < 0) {
        strcpy(out, "E01");
        return;
    }
    bool fpu = cc_vm_get_fpu(vm, &f, &e) == 0;
    char *p = out;
    uint64_t g[16] = {r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rbp, r.rsp,
                      r.r8, r.r9, r.r10, r.r11, r.r12, r.r13, r.r14, r.r15};
    for (int i = 0; i < 16; i++)
        put_le(&p, g[i], 8);
    put_le(&p, r.rip, 8);
    put_le(&p, r.rflags, 4);
    put_le(&p, s.cs.selector, 4);
    put_le(&p, s.ss.selector, 4);
    put_le(&p, s.ds.selector, 4);
    put_le(&p, s.es.selector, 4);
    put_le(&p, s.fs.selector, 4);
    put_le(&p, s.gs.selector, 4);
    for (int i = 0; i < 8; i++) {
        gdb_hex_encode(p, fpu ? f.fpr[i] : (const uint8_t[16]){0}, 10);
        p += 20;
    }
    put_le(&p, fpu ? f.fcw : 0x37f, 4);
    put_le(&p, fpu ? f.fsw : 0, 4);
    put_le(&p, fpu ? f.ftwx : 0, 4);
    put_le(&p, 0, 4);                           /* fiseg */
    put_le(&p, fpu ? f.last_ip : 0, 4);         /* fioff */
    put_le(&p, 0, 4);                           /* foseg */
    put_le(&p, fpu ? f.last_dp : 0, 4);         /* fooff */
    put_le(&p, fpu ? f.last_opcode : 0, 4);     /* fop */
    for (int i = 0; i < 16; i++) {
        gdb_hex_encode(p, fpu ? f.xmm[i] : (const uint8_t[16]){0}, 16);
        p += 32;
    }
    put_le(&p, fpu ? f.mxcsr : 0x1f80, 4);
    *p = 0;
}

/* Z and z packets: type, address, kind. */
static void breakpoint_cmd(struct dbg *d, const char *pkt)
{
    bool insert = pkt[0] == 'Z';
    uint64_t type, addr, kind;
    const char *p;
    if (!gdb_hex_u64(pkt + 1, &type, &p) && *p != ',') {
        reply(d, "E01");
        return;
    }
    if (*p != ',' || (gdb_hex_u64(p + 1, &addr, &p), *p != ',')) {
        reply(d, "E01");
        return;
    }
    gdb_hex_u64(p + 1, &kind, &p);
    struct cc_bp b = {.addr = addr};
    switch (type) {
    case 0: b.type = CC_BP_SW; break;
    case 1: b.type = CC_BP_HW; break;
    case 2: b.type = CC_WP_WRITE; b.len = (uint8_t)kind; break;
    case 4: b.type = CC_WP_ACCESS; b.len = (uint8_t)kind; break;
    default: reply(d, ""); return;      /* read watchpoints: x86 has none */
    }
    struct cc_debug_cfg *c = &d->bps;
    unsigned i;
    for (i = 0; i < c->n; i++)
        if (bp_same(&c->bp[i], &b))
            break;
    if (!insert) {
        if (i < c->n) {
            memmove(&c->bp[i], &c->bp[i + 1], (c->n - i - 1) * sizeof(c->bp[0]));
            c->n--;
            memset(&c->bp[c->n], 0, sizeof(c->bp[0]));
        }
        reply(d, "OK");
        return;
    }
    if (i < c->n) {
        reply(d, "OK");
        return;
    }
    struct cc_debug_cfg t = *c;
    t.bp[t.n++] = b;
    if (t.n > CC_DEBUG_MAX_BP) {
        reply(d, "E28");
        return;
    }
    unsigned hw = 0;
    for (unsigned j = 0; j < t.n; j++)
        hw += t.bp[j].type != CC_BP_SW;
    if (hw > CC_DEBUG_MAX_HW || (b.type >= CC_WP_WRITE && (b.len == 0 || b.len > 8 ||
                                                          (b.len & (b.len - 1)) ||
                                                          (b.addr & (b.len - 1))))) {
        reply(d, "E28");
        return;
    }
    *c = t;
    reply(d, "OK");
}

static void monitor(struct dbg *d, const char *hex)
{
    char cmd[256];
    size_t n = strlen(hex) / 2;
    if (n >= sizeof(cmd) || !gdb_hex_decode(hex, cmd, n)) {
        reply(d, "E01");
        return;
    }
    cmd[n] = 0;
    char out[1024];
    struct cc_vm *vm = vmk(d);
    if (!strcmp(cmd, "when") || !strcmp(cmd, "info")) {
        size_t steps = 0, runs = 0;
        for (size_t i = 0; i < d->cur.n; i++) {
            if (d->cur.a[i].kind == ACT_STEP)
                steps += d->cur.a[i].count;
            else
                runs++;
        }
        snprintf(out, sizeof(out), "vm %u: life %" PRIu64 ", exit %" PRIu64 " (+%zu steps, %zu "
                 "breakpoint runs), its clock %.9f s, simulation %.9f s%s\n", d->k, d->cur.life,
                 d->cur.exit, steps, runs, cc_vm_vtime_ns(vm) / 1e9, cc_sim_now(d->sim) / 1e9,
                 d->at_end ? " (the end of the replay)" : "");
    } else if (!strcmp(cmd, "checkpoints")) {
        snprintf(out, sizeof(out), "%zu checkpoints (%.1f MB), every %.3f s of virtual time; "
                 "%" PRIu64 " restores, %" PRIu64 " replay runs, %" PRIu64 " traps\n", d->n_ck,
                 d->st->checkpoint_bytes / 1e6, d->o.checkpoint_ns / 1e9, d->st->restores,
                 d->st->replay_runs, d->st->traps);
    } else {
        snprintf(out, sizeof(out), "monitor commands: when (where the replay is), "
                 "checkpoints\n");
    }
    console(d, out);
    reply(d, "OK");
}

static void handle_q(struct dbg *d, const char *pkt)
{
    if (!strncmp(pkt, "qSupported", 10))
        reply(d, "PacketSize=3fff;QStartNoAckMode+;swbreak+;hwbreak+;ReverseStep+;"
              "ReverseContinue+");
    else if (!strcmp(pkt, "qAttached"))
        reply(d, "1");
    else if (!strcmp(pkt, "qC"))
        reply(d, "QC1");
    else if (!strcmp(pkt, "qfThreadInfo"))
        reply(d, "m1");
    else if (!strcmp(pkt, "qsThreadInfo"))
        reply(d, "l");
    else if (!strncmp(pkt, "qRcmd,", 6))
        monitor(d, pkt + 6);
    else if (!strcmp(pkt, "qSymbol::"))
        reply(d, "OK");
    else
        reply(d, "");
}

/* Talk to GDB while stopped. 0: go on forward (LIVE armed); 1: the run
 * must end (d->plan says what next). */
static int serve(struct dbg *d)
{
    static char pkt[GDB_MAX_PACKET];
    static char out[2 * GDB_MAX_PACKET + 16];
    if (d->why != W_NONE) {
        if (d->why == W_END && d->end_msg[0]) {
            char m[440];
            snprintf(m, sizeof(m), "chaoscontrol: %s\n", d->end_msg);
            console(d, m);
        }
        stop_reply(d);
        d->why = W_NONE;
    }
    for (;;) {
        long n = gdb_read_packet(&d->g, pkt, sizeof(pkt));
        if (n < 0) {
            d->plan = P_QUIT;
            return 1;
        }
        d->st->packets++;
        switch (pkt[0]) {
        case '?':
            d->why = d->why == W_NONE ? W_STEP : d->why;
            stop_reply(d);
            d->why = W_NONE;
            break;
        case 'g':
            regs_packet(d, out);
            reply(d, out);
            break;
        case 'm': {
            uint64_t addr, len;
            const char *p;
            gdb_hex_u64(pkt + 1, &addr, &p);
            if (*p != ',' || (gdb_hex_u64(p + 1, &len, &p), 0)) {
                reply(d, "E01");
                break;
            }
            if (len > GDB_MAX_PACKET / 2 - 8)
                len = GDB_MAX_PACKET / 2 - 8;
            static uint8_t mem[GDB_MAX_PACKET];
            size_t got = cc_vm_read_va(vmk(d), addr, mem, len);
            if (!got && len) {
                reply(d, "E14");
                break;
            }
            gdb_hex_encode(out, mem, got);
            reply(d, out);
            break;
        }
        case 'M': case 'X': case 'G': case 'P':
            /* writes would leave the recorded execution */
            reply(d, "E01");
            break;
        case 'p':
            reply(d, "");
            break;
        case 'H':
            reply(d, "OK");
            break;
        case 'T':
            reply(d, "OK");
            break;
        case 'q':
            handle_q(d, pkt);
            break;
        case 'Q':
            if (!strcmp(pkt, "QStartNoAckMode")) {
                reply(d, "OK");
                d->g.noack = true;
            } else {
                reply(d, "");
            }
            break;
        case 'Z': case 'z':
            breakpoint_cmd(d, pkt);
            break;
        case 'c': case 's':
            if (d->at_end) {
                d->why = W_END;
                stop_reply(d);
                d->why = W_NONE;
                break;
            }
            d->live.kind = pkt[0] == 's' ? ACT_STEP : ACT_RUN;
            d->live.cfg = pkt[0] == 's' ? 0 : intern(d, &d->bps);
            if (d->live.cfg == UINT32_MAX) {
                reply(d, "E12");
                break;
            }
            pos_copy(&d->live_base, &d->cur, d->cur.n);
            d->mode = M_LIVE;
            cc_vm_debug_at_exit(vmk(d), 0);
            if (pkt[0] == 's')
                arm_step(d);
            else
                arm_cfg(d, d->live.cfg, false);
            d->plan = P_NONE;
            return 0;
        case 'b':
            if (pkt[1] == 'c' || pkt[1] == 's') {
                struct cc_err e = {0};
                d->p_regs_ok = cc_vm_get_regs(vmk(d), &d->p_regs, &e) == 0;
                d->plan = pkt[1] == 'c' ? P_RCONT : P_RSTEP;
                return 1;
            }
            reply(d, "");
            break;
        case 'v':
            if (!strncmp(pkt, "vKill", 5)) {
                reply(d, "OK");
                d->plan = P_QUIT;
                return 1;
            }
            reply(d, "");
            break;
        case 'D':
            reply(d, "OK");
            d->plan = P_QUIT;
            return 1;
        case 'k':
            d->plan = P_QUIT;
            return 1;
        default:
            reply(d, "");
            break;
        }
    }
}

void cc_debugger_opts_default(struct cc_debugger_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->checkpoint_ns = 100000000;
    o->max_checkpoints = 64;
    o->max_steps = 2000000;
}

int cc_debugger_serve(struct cc_xrun *x, const struct cc_recipe *r, int fd,
                      const struct cc_debugger_opts *o, struct cc_debugger_stats *stats,
                      struct cc_err *err)
{
    struct cc_debugger_stats local;
    struct dbg *d = calloc(1, sizeof(*d));
    if (!d)
        return cc_err_set(err, ENOMEM, "out of memory");
    d->x = x;
    d->r = r;
    d->sim = cc_xrun_sim(x);
    d->k = o->vm;
    d->o = *o;
    if (!d->o.checkpoint_ns)
        d->o.checkpoint_ns = 100000000;
    if (d->o.max_checkpoints < 2)
        d->o.max_checkpoints = 2;
    if (!d->o.max_steps)
        d->o.max_steps = 2000000;
    d->st = stats ? stats : &local;
    memset(d->st, 0, sizeof(*d->st));
    d->g.fd = fd;
    d->err = err;
    int rc = 0;
    if (d->k >= cc_sim_vm_count(d->sim)) {
        rc = cc_err_set(err, EINVAL, "vm %u does not exist (the simulation has %u VMs)", d->k,
                        cc_sim_vm_count(d->sim));
        goto out;
    }
    struct cc_debug_cfg empty = {0};
    intern(d, &empty);
    /* the root is the first checkpoint */
    d->ck = malloc(sizeof(*d->ck));
    if (!d->ck || !d->cfgs) {
        rc = cc_err_set(err, ENOMEM, "out of memory");
        goto out;
    }
    struct cc_sim_snapshot *root = cc_xrun_root(x);
    cc_sim_snapshot_get(root);
    if ((rc = cc_sim_restore(d->sim, root, err)) < 0) {
        cc_sim_snapshot_put(root);
        goto out;
    }
    d->ck[0] = (struct ck){root, cc_sim_now(d->sim), life_now(d), cc_vm_exit_count(vmk(d))};
    d->n_ck = 1;
    cc_vm_debug_attach(vmk(d), hook, d);
    cur_base(d, &d->cur);
    d->why = W_NONE;
    dlog_msg(d, "vm %u at exit %" PRIu64 " (after setup, %.6f s): waiting for GDB's commands",
             d->k, d->cur.exit, cc_sim_now(d->sim) / 1e9);
    d->plan = P_SERVE;
    bool fresh = true;          /* the simulation's state is where cur says */
    while (d->plan != P_QUIT) {
        enum plan p = d->plan;
        d->plan = P_NONE;
        if (p == P_SERVE || p == P_NONE) {
            if (!fresh) {
                /* a stop's state was lost: go back to it */
                if (pos_copy(&d->target, &d->cur, d->cur.n) < 0) {
                    rc = -ENOMEM;
                    break;
                }
                p = P_GOTO;
            } else {
                d->mode = M_LIVE;
                if (serve(d) == 0) {
                    /* forward from here */
                    rc = play(d);
                    if (rc < 0)
                        break;
                    fresh = d->plan == P_SERVE;     /* at the end */
                    if (d->plan == P_NONE)
                        d->plan = P_SERVE;
                }
                continue;
            }
        }
        double t0 = now_s();
        bool begin = false;
        if (p == P_RCONT || p == P_RSTEP) {
            if (p == P_RCONT) {
                d->st->reverse_continues++;
                rc = reverse_continue(d, &begin);
            } else {
                d->st->reverse_steps++;
                rc = reverse_step(d, &begin);
            }
            if (rc < 0) {
                /* tell GDB, stay where we were */
                char m[400];
                snprintf(m, sizeof(m), "chaoscontrol: %.300s\n", err->msg);
                console(d, m);
                dlog_msg(d, "%s", err->msg);
                d->fatal = 0;
                rc = 0;
                pos_copy(&d->target, &d->cur, d->cur.n);
                d->why = W_STEP;
            } else {
                d->why = begin ? W_BEGIN : p == P_RSTEP ? W_STEP : W_NONE;
            }
        }
        if (p == P_RCONT && !begin) {
            /* the stop reply names the breakpoint kind */
            const struct cc_debug_cfg *b = &d->bps;
            d->why = W_SWBREAK;
            for (unsigned i = 0; i < b->n; i++)
                if (b->bp[i].type == CC_BP_HW)
                    d->why = W_HWBREAK;
            for (unsigned i = 0; i < b->n && d->target.n; i++) {
                if (b->bp[i].type >= CC_WP_WRITE) {
                    d->why = b->bp[i].type == CC_WP_WRITE ? W_WATCH : W_AWATCH;
                    d->why_addr = b->bp[i].addr;
                }
            }
        }
        /* go to the target and serve there */
        enum why w = d->why;
        d->plan = P_NONE;
        d->why = w;
        if (p == P_RCONT || p == P_RSTEP)
            d->st->reverse_wall_s += now_s() - t0;
        rc = goto_target(d);
        if (rc < 0)
            break;
        if (d->fatal) {
            rc = d->fatal;
            break;
        }
        fresh = d->plan == P_SERVE || d->plan == P_NONE;
        if (d->plan == P_NONE)
            d->plan = P_SERVE;
    }
out:
    cc_vm_debug_attach(vmk(d), NULL, NULL);
    for (size_t i = 0; i < d->n_ck; i++)
        cc_sim_snapshot_put(d->ck[i].s);
    free(d->ck);
    free(d->cfgs);
    pos_free(&d->cur);
    pos_free(&d->live_base);
    pos_free(&d->goal);
    pos_free(&d->hit);
    pos_free(&d->target);
    free(d);
    return rc;
}
