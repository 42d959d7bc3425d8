/* chaoscontrol serve: the exploration dashboard (docs/dashboard.md) for an
 * exploration directory, running or finished, until interrupted.
 *
 *   chaoscontrol serve --corpus DIR [--port P] [--bind ADDR] [--web DIR]
 *   chaoscontrol serve --corpus DIR --state     (print /api/state, exit)
 *   chaoscontrol serve --corpus DIR --redis URL [--name N]   (a shared
 *       exploration, exported into DIR every second: docs/distributed.md)
 *
 * Exit status: 0 after SIGINT/SIGTERM (or --state), 1 if it cannot serve
 * (port taken, unreadable corpus), 2 for usage errors. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chaoscontrol/dash.h"
#include "chaoscontrol/explore.h"
#include "cli.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: chaoscontrol serve --corpus DIR [--port P] [--bind ADDR] [--web DIR]\n"
            "       chaoscontrol serve --corpus DIR --state\n"
            "       chaoscontrol serve --corpus DIR --redis URL [--name NAME] [--port P] ...\n\n"
            "Serves the web dashboard of an exploration (the --output of 'explore run'),\n"
            "finished or still running: coverage over rounds and time, properties,\n"
            "rounds, network and faults, the frontier and each bug with its timeline and\n"
            "reproduce command, updated live as the directory's files change. Read-only:\n"
            "only files directly in DIR can be fetched. Runs until interrupted.\n\n"
            "  --corpus DIR   the exploration directory\n"
            "  --port P       port (default 8080; 0: any free port, printed)\n"
            "  --bind ADDR    address (default 127.0.0.1; 0.0.0.0 or :: for every\n"
            "                 interface: anyone who reaches it can read DIR)\n"
            "  --web DIR      the built front end (default: web/ beside the program, or\n"
            "                 the installed copy)\n"
            "  --state        print the state the page shows (JSON) and exit\n"
            "  --redis URL    a shared exploration (explore worker, docs/distributed.md):\n"
            "                 exported into DIR (made if missing) every second and served\n"
            "  --name NAME    its name in Redis (default \"default\")\n"
            "Exit status: 0 when interrupted (or after --state), 1 when it cannot serve,\n"
            "2 usage errors.\n");
}

int cmd_serve(int argc, char **argv)
{
    static const struct option opts[] = {
        {"corpus", required_argument, NULL, 'c'}, {"port", required_argument, NULL, 'p'},
        {"bind", required_argument, NULL, 'b'},   {"web", required_argument, NULL, 'w'},
        {"state", no_argument, NULL, 's'},        {"help", no_argument, NULL, 'h'},
        {"redis", required_argument, NULL, 'r'},  {"name", required_argument, NULL, 'n'},
        {NULL, 0, NULL, 0},
    };
    const char *corpus = NULL, *bind_addr = NULL, *web = NULL, *redis = NULL, *name = NULL;
    uint64_t port = 8080;
    bool state = false;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'c': corpus = optarg; break;
        case 'b': bind_addr = optarg; break;
        case 'w': web = optarg; break;
        case 's': state = true; break;
        case 'r': redis = optarg; break;
        case 'n': name = optarg; break;
        case 'p':
            if (!cli_parse_u64(optarg, &port) || port > 65535) {
                fprintf(stderr, "chaoscontrol serve: --port '%s' is not a port (0-65535)\n",
                        optarg);
                return 2;
            }
            break;
        case 'h': usage(stdout); return 0;
        default:
            fprintf(stderr, "chaoscontrol serve: unknown or incomplete option '%s'\n",
                    argv[optind - 1]);
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "chaoscontrol serve: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (!corpus) {
        fprintf(stderr, "chaoscontrol serve: --corpus DIR is required (the --output of "
                "'explore run')\n");
        return 2;
    }
    if (name && !redis) {
        fprintf(stderr, "chaoscontrol serve: --name needs --redis\n");
        return 2;
    }
    struct cc_err err = {0};
    if (redis) {
        struct cc_explore_summary sum;
        if (cc_explore_export(redis, name ? name : "default", corpus, &sum, &err) < 0) {
            fprintf(stderr, "chaoscontrol serve: %s\n", err.msg);
            return err.code == ENOENT || err.code == EINVAL ? 2 : 1;
        }
    }
    struct stat sb;
    if (stat(corpus, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "chaoscontrol serve: %s: %s\n", corpus,
                errno && stat(corpus, &sb) < 0 ? strerror(errno) : "not a directory");
        return 2;
    }
    if (state) {
        char *s = cc_dash_state_json(corpus, false, &err);
        if (!s) {
            fprintf(stderr, "chaoscontrol serve: %s\n", err.msg);
            return 1;
        }
        printf("%s\n", s);
        free(s);
        return 0;
    }
    /* SIGINT/SIGTERM end it: blocked here (and so in the server's
     * threads) and taken by sigwait. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    struct cc_dash_opts o = {.corpus = corpus, .bind = bind_addr, .port = (unsigned)port,
                             .web_dir = web};
    struct cc_dash *d;
    if (cc_dash_start(&o, &d, &err) < 0) {
        fprintf(stderr, "chaoscontrol serve: %s\n", err.msg);
        return 1;
    }
    if (stat(corpus, &sb) == 0) {
        char ck[4200];
        snprintf(ck, sizeof(ck), "%s/checkpoint.json", corpus);
        if (access(ck, R_OK) < 0)
            fprintf(stderr, "chaoscontrol serve: %s has no checkpoint.json yet; the page "
                    "waits for the first round\n", corpus);
    }
    fprintf(stderr, "chaoscontrol serve: dashboard of %s at %s (Ctrl-C stops)\n", corpus,
            cc_dash_url(d));
    if (!redis) {
        int sig = 0;
        sigwait(&set, &sig);
    } else {
        /* follow the shared state until interrupted */
        const struct timespec second = {.tv_sec = 1};
        struct cc_explore_follow *f = NULL;
        while (sigtimedwait(&set, NULL, &second) < 0) {
            struct cc_explore_summary sum;
            int r = f ? 0 : cc_explore_follow_new(redis, name ? name : "default", corpus, &f,
                                                  &err);
            if (r == 0)
                r = cc_explore_follow_sync(f, &sum, &err);
            if (r < 0)
                fprintf(stderr, "chaoscontrol serve: %s (trying again)\n", err.msg);
            else if (r == 1)
                cc_dash_notify(d);
        }
        cc_explore_follow_free(f);
    }
    cc_dash_stop(d);
    return 0;
}
