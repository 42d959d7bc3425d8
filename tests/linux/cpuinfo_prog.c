/* What a guest sees of its processor (tests/linux/cpu.sh): the TSC
 * frequency CPUID leaves 0x15 and 0x16 report (the kernel does not use the
 * TSC, DESIGN.md section 3, so it prints no frequency of its own), then
 * /proc/cpuinfo (vendor, family, model, stepping, model name, flags).
 * With the argument "stay", it then sleeps instead of exiting (a VM that
 * powered off would count as set up whatever it printed). */
#include <cpuid.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    unsigned a, b, c, d;
    __cpuid(0x15, a, b, c, d);
    printf("cpuid 0x15: tsc %llu kHz (crystal %u Hz x %u / %u)\n",
           a ? (unsigned long long)c * b / a / 1000 : 0, c, b, a);
    __cpuid(0x16, a, b, c, d);
    printf("cpuid 0x16: base %u MHz\n", a);
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) {
        perror("/proc/cpuinfo");
        return 1;
    }
    char line[4096];
    while (fgets(line, sizeof(line), f))
        fputs(line, stdout);
    fclose(f);
    fflush(stdout);
    while (argc > 1 && !strcmp(argv[1], "stay"))
        pause();
    return 0;
}
