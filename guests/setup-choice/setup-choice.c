/* setup-choice: choices made in the first microseconds after setup.
 *
 * The guest calls cc_setup_complete and at once draws four choices of four
 * (256 sequences). With choice_bug=1 on the kernel command line one
 * sequence, 2 0 3 1, fails an ALWAYS; with choice_bug=0 (the control)
 * nothing can fail. SOMETIMES entries for each matching prefix are the
 * breadcrumbs a guided search follows. With choice_bug=2 the operation
 * history it sends (below) has a stale read when the first choice is 1.
 * An explorer that snapshots setup
 * after these draws were made cannot change any of them (issue 15). */
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <signal.h>
#include <unistd.h>

#include "chaoscontrol.h"
#include "common/guest.h"

int main(void)
{
    if (getpid() == 1)
        mount("proc", "/proc", "proc", 0, NULL);
    char cmdline[1024] = "", buf[16];
    FILE *f = fopen("/proc/cmdline", "r");
    if (f) {
        if (!fgets(cmdline, sizeof(cmdline), f))
            cmdline[0] = 0;
        fclose(f);
    }
    const char *p = guest_cmdline_param(cmdline, "choice_bug", buf, sizeof(buf));
    int planted = p && !strcmp(p, "1");
    int stale = p && !strcmp(p, "2");

    cc_setup_complete(planted ? "{\"choice_bug\":1}" : "{\"choice_bug\":0}");
    uint64_t a = cc_random_choice(4);
    uint64_t b = cc_random_choice(4);
    uint64_t c = cc_random_choice(4);
    uint64_t d = cc_random_choice(4);
    CC_REACHABLE("the choices after setup are made", NULL);
    CC_SOMETIMES(a == 2, "first choice 2", NULL);
    CC_SOMETIMES(a == 2 && b == 0, "choices start 2 0", NULL);
    CC_SOMETIMES(a == 2 && b == 0 && c == 3, "choices start 2 0 3", NULL);
    char det[96];
    snprintf(det, sizeof(det), "{\"choices\":[%llu,%llu,%llu,%llu]}", (unsigned long long)a,
             (unsigned long long)b, (unsigned long long)c, (unsigned long long)d);
    int hit = a == 2 && b == 0 && c == 3 && d == 1;
    CC_ALWAYS(!(planted && hit), "the choices are never 2 0 3 1", det);
    /* An operation history (docs/history.md): process 1 writes x=1 and
     * is acknowledged, then process 2 reads x. With choice_bug=2 and a
     * first choice of 1 the read returns null, a stale read that
     * `explore --check linearizable` must judge a violation. */
    cc_send_event("chaoscontrol.history",
                  "{\"process\":1,\"type\":\"invoke\",\"f\":\"write\",\"key\":\"x\",\"value\":1}");
    cc_send_event("chaoscontrol.history",
                  "{\"process\":1,\"type\":\"ok\",\"f\":\"write\",\"key\":\"x\",\"value\":1}");
    cc_send_event("chaoscontrol.history",
                  "{\"process\":2,\"type\":\"invoke\",\"f\":\"read\",\"key\":\"x\"}");
    cc_send_event("chaoscontrol.history", stale && a == 1 ?
                  "{\"process\":2,\"type\":\"ok\",\"f\":\"read\",\"key\":\"x\",\"value\":null}" :
                  "{\"process\":2,\"type\":\"ok\",\"f\":\"read\",\"key\":\"x\",\"value\":1}");
    printf("setup-choice: choices %llu %llu %llu %llu\n", (unsigned long long)a,
           (unsigned long long)b, (unsigned long long)c, (unsigned long long)d);
    fflush(stdout);
    /* stay up, like a server: a branch that lives to its end becomes a
     * frontier point the search can re-mutate */
    for (;;)
        pause();
}
