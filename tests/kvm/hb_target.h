/* The tiny-heartbeat exploration target (hb_target.c), shared by
 * test_explore and dash_explore. */
#ifndef CC_TESTS_HB_TARGET_H
#define CC_TESTS_HB_TARGET_H

#include <stddef.h>

#include "chaoscontrol/explore.h"

#define F_BUG 0x100u
#define F_COV 0x200u
#define F_GUIDE 0x400u
#define F_TRACK 0x800u          /* suspicion, draws and the ALWAYS */
#define F_CRASH 0x1000u         /* VM 1 triple-faults before setup */
#define ID_FRESH 0x5eed0001f2e5b001ull
#define ID_SUSPECT 0x5eed0002f2e5b002ull
#define SUSPECT_TICKS 3
#define CHOICE_N (1u << 20)

extern const char msg_fresh[], msg_suspect[], msg_longest[];

struct hb_factory {
    struct cc_xfactory f;
    unsigned flags;
    struct kt_vm *kts[256];         /* kept for their ucall handlers */
    size_t n_kts;
    unsigned sims;
};

/* A factory of the target with these flags (F_*), recorded under name. */
void hb_init(struct hb_factory *f, const char *name, unsigned flags);
/* Free what its simulations left (their VMs went with them). */
void hb_free(struct hb_factory *f);

#endif
