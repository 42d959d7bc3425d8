/* kvm-probe: can this /dev/kvm run Linux guests? Prints one line per check
 * and a verdict (see include/chaoscontrol/probe.h and src/vmm/probe.c).
 * Exit status: 0 capable, 1 not capable, 2 no usable /dev/kvm. */
#include <stdio.h>
#include <string.h>

#include "chaoscontrol/probe.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: kvm-probe [--device PATH]\n"
               "Checks whether KVM at PATH (default /dev/kvm) can run Linux guests.\n"
               "Exit status: 0 capable, 1 not capable, 2 no usable KVM.\n");
}

int main(int argc, char **argv)
{
    const char *dev = "/dev/kvm";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--device") == 0 && i + 1 < argc) {
            dev = argv[++i];
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    struct cc_probe_result r;
    cc_kvm_probe_dev(dev, &r);
    fputs(r.lines, stdout);
    printf("probe: verdict: %s\n", r.summary);
    return (int)r.verdict;
}
