/* Reactive faults (chaoscontrol/explore.h): isolate or pause the VM that
 * just started talking to everyone, a little later. The rule is drawn
 * before the branch runs; while it runs the explorer feeds it the links'
 * send counters every XREACT_CHECK_NS, and what it fires becomes an
 * ordinary fault in the branch's recipe. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "explore/search_internal.h"

void xreact_plan(struct xmut *m, unsigned n_vms, struct xreact *r)
{
    memset(r, 0, sizeof(*r));
    r->target = -1;
    if (n_vms < 3)
        return;                     /* with two VMs everyone talks to everyone */
    r->n_steps = 1 + (unsigned)xmut_below(m, 3);
    for (unsigned i = 0; i < r->n_steps; i++) {
        struct xreact_step *s = &r->step[i];
        /* soon after an election is when a leader holds entries nobody
         * else has: most delays are short */
        s->delay_ns = xmut_below(m, 31) * 10 * CC_MSEC;
        if (xmut_below(m, 100) < 25) {
            s->pause_ns = (50 + xmut_below(m, 751)) * CC_MSEC;
        } else if (xmut_below(m, 100) < 50) {
            s->cut_ns = (100 + xmut_below(m, 1401)) * CC_MSEC;
        }
        s->pick = (uint32_t)xmut_below(m, 1u << 16);
    }
}

int xreact_start(struct xreact *r, unsigned n_vms, uint64_t clients)
{
    free(r->ring);
    r->n_vms = n_vms;
    r->clients = clients;
    r->fired = 0;
    r->looks = 0;
    r->hubs = 0;
    r->target = -1;
    r->next_check = 0;
    r->ring = calloc((size_t)(XREACT_WINDOW + 1) * n_vms * n_vms, sizeof(uint64_t));
    return r->ring ? 0 : -ENOMEM;
}

void xreact_free(struct xreact *r)
{
    free(r->ring);
    r->ring = NULL;
}

bool xreact_due(const struct xreact *r, uint64_t now)
{
    if (!r->ring || r->fired >= r->n_steps)
        return false;
    return now >= r->next_check || (r->target >= 0 && now >= r->fire_at);
}

uint64_t xreact_hubs(const struct xreact *r)
{
    return r->hubs;
}

static unsigned nth_bit(uint64_t mask, uint32_t k)
{
    unsigned n = (unsigned)__builtin_popcountll(mask);
    k %= n;
    for (unsigned i = 0;; i++)
        if ((mask >> i) & 1 && k-- == 0)
            return i;
}

int xreact_look(struct xreact *r, uint64_t now, const uint64_t *sent, uint64_t skip,
                   struct cc_fault *f)
{
    if (!xreact_due(r, now))
        return 0;
    unsigned n = r->n_vms;
    size_t nn = (size_t)n * n;
    if (now >= r->next_check) {
        r->next_check = now + XREACT_CHECK_NS;
        unsigned slot = r->looks % (XREACT_WINDOW + 1);
        memcpy(r->ring + slot * nn, sent, nn * sizeof(uint64_t));
        if (r->looks > 0) {
            /* against the oldest sample kept (up to XREACT_WINDOW looks ago) */
            unsigned back = r->looks < XREACT_WINDOW ? r->looks : XREACT_WINDOW;
            unsigned old = (r->looks - back) % (XREACT_WINDOW + 1);
            const uint64_t *o = r->ring + old * nn;
            uint64_t hubs = 0;
            unsigned members = n - (unsigned)__builtin_popcountll(r->clients);
            for (unsigned a = 0; a < n; a++) {
                unsigned fan = 0;
                if ((r->clients >> a) & 1)
                    continue;
                for (unsigned b = 0; b < n; b++)
                    fan += b != a && !((r->clients >> b) & 1) && sent[a * n + b] > o[a * n + b];
                if (members > 1 && fan == members - 1)
                    hubs |= 1ull << a;
            }
            /* an isolated leader keeps sending: a hub, but cutting it off
             * again would change nothing */
            uint64_t fresh = hubs & ~r->hubs & ~skip;
            r->hubs = hubs;
            if (fresh && r->target < 0) {
                r->target = (int)nth_bit(fresh, r->step[r->fired].pick);
                r->fire_at = now + r->step[r->fired].delay_ns;
            }
        }
        r->looks++;
    }
    if (r->target < 0 || now < r->fire_at)
        return 0;
    const struct xreact_step *s = &r->step[r->fired];
    if (s->pause_ns) {
        cc_fault_init(f, CC_FAULT_PAUSE, now);
        f->vm = (unsigned)r->target;
        f->duration_ns = s->pause_ns;
    } else {
        cc_fault_init(f, CC_FAULT_PARTITION, now);
        f->n_sides = 1;
        f->sides[0] = 1ull << r->target;
        f->bridge = r->clients;
        f->duration_ns = s->cut_ns;
    }
    r->target = -1;
    r->fired++;
    return 1;
}
