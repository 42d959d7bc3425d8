/* chaoscontrol debug: a GDB server with reverse execution for one VM of a
 * bug's replay (chaoscontrol/debug.h).
 *
 *   chaoscontrol debug --bug F [--vm V] [--port P] [--listen ADDR]
 *                      [--port-file F] [--checkpoint-every T]
 *                      [--max-checkpoints N] [--force] [--quiet]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "chaoscontrol/debug.h"
#include "chaoscontrol/explore.h"
#include "chaoscontrol/file.h"
#include "chaoscontrol/schedule.h"
#include "cli.h"

enum { OPT_BUG = 256, OPT_VM, OPT_PORT, OPT_LISTEN, OPT_PORT_FILE, OPT_CK, OPT_MAXCK,
       OPT_FORCE, OPT_QUIET, OPT_HELP };

static const struct option opts[] = {
    {"bug", required_argument, NULL, OPT_BUG},
    {"vm", required_argument, NULL, OPT_VM},
    {"port", required_argument, NULL, OPT_PORT},
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"port-file", required_argument, NULL, OPT_PORT_FILE},
    {"checkpoint-every", required_argument, NULL, OPT_CK},
    {"max-checkpoints", required_argument, NULL, OPT_MAXCK},
    {"force", no_argument, NULL, OPT_FORCE},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: chaoscontrol debug --bug F [--vm V] [--port P] [--listen ADDR]\n"
            "           [--port-file F] [--checkpoint-every T] [--max-checkpoints N]\n"
            "           [--force] [--quiet]\n\n"
            "A time-travel debugger: boots the bug's target (checked against the recorded\n"
            "hashes), then serves the GDB remote protocol for VM V of the bug's replay,\n"
            "which starts at the setup snapshot and ends at the failure:\n"
            "    gdb VMLINUX -ex 'target remote 127.0.0.1:PORT'   (vmlinux beside the kernel)\n"
            "registers, memory, breakpoints (break: INT3 in guest memory; hbreak: debug\n"
            "registers, any address space), watch and awatch (debug registers, at most 4\n"
            "hardware breakpoints and watchpoints together), stepi, continue, and\n"
            "reverse-stepi and reverse-continue. Every replay is the recorded execution:\n"
            "writes to memory or registers are refused. 'monitor when' tells where the\n"
            "replay is. One GDB connection; the command ends when GDB detaches or quits.\n\n"
            "  --vm V               the VM to debug (default: the failing VM)\n"
            "  --port P             TCP port (default 0: any free port, printed)\n"
            "  --listen ADDR        address to listen on (default 127.0.0.1)\n"
            "  --port-file F        write the port there once ready (for scripts)\n"
            "  --checkpoint-every T snapshot the simulation every T of virtual time while\n"
            "                       replaying forward (default 100ms): reverse commands\n"
            "                       replay from the last checkpoint before\n"
            "  --max-checkpoints N  keep at most N (default 64; thinned evenly)\n"
            "  --quiet              no messages but errors\n"
            "Exit status: 0 after the session, 1 an error, 2 usage errors or an unusable\n"
            "bug file. docs/debug.md has a walk-through and how to debug user programs.\n");
}

struct dopts {
    const char *bug, *listen, *port_file;
    unsigned vm;
    bool vm_set, force, quiet;
    uint64_t port, ck_ns, max_ck;
};

static int bad(const char *fmt, const char *arg)
{
    fprintf(stderr, "chaoscontrol debug: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (--help for usage)\n");
    return 2;
}

static void say(void *opaque, const char *msg)
{
    const struct dopts *o = opaque;
    if (!o->quiet)
        fprintf(stderr, "chaoscontrol debug: %s\n", msg);
}

int cmd_debug(int argc, char **argv)
{
    struct dopts o = {.listen = "127.0.0.1"};
    optind = 1;
    opterr = 0;
    int c;
    uint64_t v;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case OPT_BUG: o.bug = optarg; break;
        case OPT_VM:
            if (!cli_parse_u64(optarg, &v) || v >= CC_SIM_MAX_VMS)
                return bad("--vm '%s' is not a VM index", optarg);
            o.vm = (unsigned)v;
            o.vm_set = true;
            break;
        case OPT_PORT:
            if (!cli_parse_u64(optarg, &o.port) || o.port > 65535)
                return bad("--port '%s' is not a TCP port", optarg);
            break;
        case OPT_LISTEN: o.listen = optarg; break;
        case OPT_PORT_FILE: o.port_file = optarg; break;
        case OPT_CK:
            if (!cc_time_parse(optarg, &o.ck_ns) || !o.ck_ns)
                return bad("--checkpoint-every '%s' is not a virtual time (e.g. 100ms)", optarg);
            break;
        case OPT_MAXCK:
            if (!cli_parse_u64(optarg, &o.max_ck) || o.max_ck < 2 || o.max_ck > 100000)
                return bad("--max-checkpoints '%s' is not a count from 2 to 100000", optarg);
            break;
        case OPT_FORCE: o.force = true; break;
        case OPT_QUIET: o.quiet = true; break;
        case OPT_HELP: usage(stdout); return 0;
        default: return bad("unknown option or missing value: %s", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return bad("unexpected argument '%s'", argv[optind]);
    if (!o.bug)
        return bad("%s", "--bug FILE is required");
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o.port)};
    if (inet_pton(AF_INET, o.listen, &sa.sin_addr) != 1)
        return bad("--listen '%s' is not an IPv4 address", o.listen);

    struct cc_bug *b;
    int rc = cli_load_bug("debug", o.bug, o.force, &b);
    if (rc)
        return rc;
    if (!o.vm_set)
        o.vm = b->fail.vm;
    if (o.vm >= b->target.n_vms) {
        fprintf(stderr, "chaoscontrol debug: --vm %u: the bug's simulation has %u VMs\n", o.vm,
                b->target.n_vms);
        cc_bug_free(b);
        return 2;
    }
    struct cc_err err = {0};
    struct cc_xrun_opts ro;
    cc_xrun_opts_default(&ro);
    ro.log = say;
    ro.log_opaque = &o;
    struct cc_xrun *x = NULL;
    int status = 1, lfd = -1, fd = -1;
    say(&o, "booting the bug's target");
    if (cc_xrun_boot(&b->target, &ro, &x, &err) < 0) {
        fprintf(stderr, "chaoscontrol debug: %s: %s\n", o.bug, err.msg);
        goto out;
    }
    lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 1) < 0) {
        fprintf(stderr, "chaoscontrol debug: listening on %s:%" PRIu64 ": %s\n", o.listen,
                o.port, strerror(errno));
        goto out;
    }
    socklen_t sl = sizeof(sa);
    getsockname(lfd, (struct sockaddr *)&sa, &sl);
    unsigned port = ntohs(sa.sin_port);
    if (!o.quiet) {
        char *vml = cli_vmlinux_beside(b->target.kernel);
        fprintf(stderr, "chaoscontrol debug: vm %u of %s; listening on %s:%u\n"
                "    gdb %s -ex 'target remote %s:%u'\n", o.vm, o.bug, o.listen, port,
                vml ? vml : "VMLINUX", o.listen, port);
        free(vml);
    }
    if (o.port_file) {
        char buf[16];
        int n = snprintf(buf, sizeof(buf), "%u\n", port);
        if (cc_file_write_atomic(o.port_file, buf, (size_t)n, &err) < 0) {
            fprintf(stderr, "chaoscontrol debug: --port-file: %s\n", err.msg);
            goto out;
        }
    }
    do
        fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        fprintf(stderr, "chaoscontrol debug: accept: %s\n", strerror(errno));
        goto out;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    say(&o, "GDB connected");
    struct cc_debugger_opts dop;
    cc_debugger_opts_default(&dop);
    dop.vm = o.vm;
    if (o.ck_ns)
        dop.checkpoint_ns = o.ck_ns;
    if (o.max_ck)
        dop.max_checkpoints = (unsigned)o.max_ck;
    dop.log = say;
    dop.opaque = &o;
    struct cc_debugger_stats st;
    if (cc_debugger_serve(x, b->recipe, fd, &dop, &st, &err) < 0) {
        fprintf(stderr, "chaoscontrol debug: %s\n", err.msg);
        goto out;
    }
    if (!o.quiet)
        fprintf(stderr, "chaoscontrol debug: session over: %" PRIu64 " packets, %" PRIu64
                " reverse-continues and %" PRIu64 " reverse-steps in %.2f s, %" PRIu64
                " replays from %" PRIu64 " checkpoints (%.1f MB), %" PRIu64 " traps\n",
                st.packets, st.reverse_continues, st.reverse_steps, st.reverse_wall_s,
                st.replay_runs, st.checkpoints + 1, st.checkpoint_bytes / 1e6, st.traps);
    status = 0;
out:
    if (fd >= 0)
        close(fd);
    if (lfd >= 0)
        close(lfd);
    cc_xrun_free(x);
    cc_bug_free(b);
    return status;
}
