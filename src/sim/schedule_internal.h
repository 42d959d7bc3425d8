/* Insides of the fault schedule shared by schedule.c (the model, checks
 * and JSON writer) and schedule_parse.c (the JSON reader). Not public. */
#ifndef CC_SIM_SCHEDULE_INTERNAL_H
#define CC_SIM_SCHEDULE_INTERNAL_H

#include "chaoscontrol/schedule.h"
#include "util/timefmt.h"

#define MAX_TIME TIMEFMT_MAX            /* about 146 years: no overflow in at + duration */
#define MAX_SKEW_PPM 10000000           /* 11x faster */
#define MAX_IRQ_COUNT 1000
#define MAX_FLIPS 1024

/* Insert f in time order (after faults at the same time), unchecked;
 * returns its index or -ENOMEM. */
int schedule_insert(struct cc_schedule *s, const struct cc_fault *f);

#endif
