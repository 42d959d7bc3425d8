/* chaoscontrol: the command-line front end. Each subcommand is a thin layer
 * over libchaoscontrol. */
#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
        "usage: chaoscontrol <command> [options]\n"
        "\n"
        "commands:\n"
        "  version     print the version\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) {
        printf("chaoscontrol 0.1.0\n");
        return 0;
    }
    if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "chaoscontrol: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
