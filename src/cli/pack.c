/* chaoscontrol pack: an initramfs from host programs (chaoscontrol/pack.h).
 *
 *   chaoscontrol pack --output etcd.initrd --add etcd --add etcdctl \
 *       --cmd 'etcd --name {name} ...'
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chaoscontrol/pack.h"
#include "cli.h"

enum { OPT_OUTPUT = 256, OPT_ADD, OPT_FILE, OPT_CMD, OPT_BUSYBOX, OPT_NO_BUSYBOX, OPT_GZIP,
       OPT_LIST, OPT_ROOT, OPT_HELP };

static const struct option opts[] = {
    {"output", required_argument, NULL, OPT_OUTPUT},
    {"add", required_argument, NULL, OPT_ADD},
    {"file", required_argument, NULL, OPT_FILE},
    {"cmd", required_argument, NULL, OPT_CMD},
    {"busybox", required_argument, NULL, OPT_BUSYBOX},
    {"no-busybox", no_argument, NULL, OPT_NO_BUSYBOX},
    {"gzip", no_argument, NULL, OPT_GZIP},
    {"list", no_argument, NULL, OPT_LIST},
    {"root", required_argument, NULL, OPT_ROOT},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: chaoscontrol pack --output FILE --cmd 'COMMAND' [--add PROGRAM]...\n"
            "                         [--file HOST[:GUEST]]... [--busybox PATH | --no-busybox]\n"
            "                         [--gzip] [--list]\n\n"
            "An initramfs that runs unmodified programs: each --add PROGRAM (a path, or a\n"
            "name on $PATH) comes with its dynamic loader and every library it needs (read\n"
            "from its ELF headers), busybox gives a shell, and /init (cc-init) mounts /proc,\n"
            "/sys, /dev, /dev/shm and /tmp, brings up eth0 as 10.0.0.(ID+1)/24, names the\n"
            "VMs node0, node1, ... in /etc/hosts, runs COMMAND with /bin/sh -c (with {id},\n"
            "{vms}, {name}, {ip}, {peers}, {peer_ips} replaced, and CC_ID, CC_NAME, ... in\n"
            "its environment), prints its output with a prefix, and powers off with its\n"
            "exit status. Boot it with chaoscontrol boot, sim or explore.\n\n"
            "Test commands (docs/test-commands.md): executable files first_*,\n"
            "parallel_driver_*, serial_driver_*, singleton_driver_*, anytime_*, finally_*\n"
            "and eventually_* in /opt/chaoscontrol/test/v1/TEMPLATE/ (add them with --file)\n"
            "run when the kernel command line says cc.tests=all or cc.tests=ID, each an\n"
            "assertion \"test command TEMPLATE/FILE succeeds\". Every image has\n"
            "/usr/bin/chaoscontrol-history, which records operations as SDK events.\n\n"
            "  --output FILE        the image to write (atomically)\n"
            "  --cmd COMMAND        what the VM runs (a kernel command line cc.cmd=\"...\"\n"
            "                       overrides it)\n"
            "  --add PROGRAM        a program and its closure, at its own path\n"
            "  --file HOST[:GUEST]  a file or directory (recursively) at GUEST (default:\n"
            "                       the same path); ELF files in it bring their closure\n"
            "  --busybox PATH       the static busybox to use (default /bin/busybox)\n"
            "  --no-busybox         none (then the image must hold /bin/sh itself)\n"
            "  --gzip               compress the image (smaller file, slower boot)\n"
            "  --list               print what the image holds\n");
}

struct item {
    int kind;
    const char *arg;
};

int cmd_pack(int argc, char **argv)
{
    const char *output = NULL, *cmd = NULL, *busybox = NULL, *root = NULL;
    bool no_busybox = false, gzip = false, list = false;
    struct item *items = calloc((size_t)argc, sizeof(*items));
    size_t n_items = 0;
    int c, status = 2;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case OPT_OUTPUT: output = optarg; break;
        case OPT_CMD: cmd = optarg; break;
        case OPT_BUSYBOX: busybox = optarg; break;
        case OPT_NO_BUSYBOX: no_busybox = true; break;
        case OPT_GZIP: gzip = true; break;
        case OPT_LIST: list = true; break;
        case OPT_ROOT: root = optarg; break;
        case OPT_ADD: case OPT_FILE: items[n_items++] = (struct item){c, optarg}; break;
        case OPT_HELP: usage(stdout); free(items); return 0;
        default:
            fprintf(stderr, "chaoscontrol pack: %s '%s'\n", optopt >= OPT_OUTPUT ?
                    "option needs a value:" : "unknown option", argv[optind - 1]);
            usage(stderr);
            free(items);
            return 2;
        }
    }
    if (optind < argc || !output || !cmd) {
        fprintf(stderr, "chaoscontrol pack: %s\n", optind < argc ? "unexpected argument" :
                !output ? "--output FILE is required" : "--cmd COMMAND is required");
        usage(stderr);
        free(items);
        return 2;
    }
    struct cc_err err = {0};
    struct cc_pack *p = NULL;
    int rc = cc_pack_new(&p, &err);
    if (rc == 0 && root)
        rc = cc_pack_set_root(p, root, &err);
    if (rc == 0 && !no_busybox)
        rc = cc_pack_add_busybox(p, busybox, &err);
    for (size_t i = 0; rc == 0 && i < n_items; i++) {
        if (items[i].kind == OPT_ADD) {
            rc = cc_pack_add_program(p, items[i].arg, NULL, &err);
            continue;
        }
        char host[4096];
        snprintf(host, sizeof(host), "%s", items[i].arg);
        char *colon = strchr(host, ':');
        if (colon)
            *colon = 0;
        rc = cc_pack_add_path(p, host, colon ? colon + 1 : NULL, &err);
    }
    if (rc == 0)
        rc = cc_pack_set_command(p, cmd, &err);
    if (rc == 0)
        rc = cc_pack_write(p, output, gzip, &err);
    if (rc < 0) {
        fprintf(stderr, "chaoscontrol pack: %s\n", err.msg);
        status = 1;
    } else {
        size_t n = cc_pack_count(p);
        if (list)
            for (size_t i = 0; i < n; i++) {
                const char *host;
                const char *g = cc_pack_entry(p, i, &host);
                printf("%s%s%s\n", g, host ? "  <- " : "", host ? host : "");
            }
        fprintf(stderr, "chaoscontrol pack: wrote %s (%zu entries)\n", output, n);
        status = 0;
    }
    cc_pack_free(p);
    free(items);
    return status;
}
