/* cc-init: the /init of images made by `chaoscontrol pack`.
 *
 * It turns a bare initramfs holding a user's programs into a small machine
 * that can run an unmodified server, then runs the user's command:
 *
 *  1. mounts /proc, /sys, /dev (devtmpfs), /dev/pts, /dev/shm, /tmp, /run
 *     (the last two only where the image put no files there);
 *  2. reads the VM's identity from the kernel command line: cc_vm_id=I
 *     (chaoscontrol sim and explore add it) and cc_vms=N (how many VMs);
 *  3. brings up lo and, when the VM has a network card, eth0 with
 *     10.0.0.(I+1)/24; writes /etc/hosts naming every VM nodeJ
 *     (10.0.0.(J+1)), /etc/hostname and the host name nodeI;
 *  4. runs the command, /bin/sh -c CMD, where CMD is cc.cmd="..." from the
 *     kernel command line or else the first line of /etc/chaoscontrol/cmd,
 *     with {id}, {vms}, {name}, {ip}, {peers} (node0,node1,...) and
 *     {peer_ips} (10.0.0.1,...) substituted; the same values are in its
 *     environment as CC_ID, CC_VMS, CC_NAME, CC_IP, CC_PEERS, CC_PEER_IPS
 *     (and LD_LIBRARY_PATH from /etc/chaoscontrol/ld_library_path, which
 *     pack writes when libraries lie outside the loader's own directories);
 *  5. copies every line the command and its children write (stdout and
 *     stderr) to the console, prefixed with the command's name and pid, and
 *     reaps every orphan;
 *  6. when the command ends, tells the VMM its exit status (platform port
 *     CC_PORT_STATUS: 0-255, or 128 + the signal number) and powers off.
 *
 * Optionally (docs/test-commands.md), test commands in the style of
 * Antithesis Test Composer, found by name in test templates
 * /opt/chaoscontrol/test/v1/T/ and /opt/antithesis/test/v1/T/:
 *
 *   cc.setup_wait="CMD"   after starting the command, run CMD every 100 ms
 *                         until it exits 0 (at most cc.setup_timeout=S
 *                         seconds, default 120), then cc_setup_complete()
 *   cc.tests=all|I        run a test timeline in every VM, or in VM I only:
 *                         first_*, then drivers (parallel_driver_*,
 *                         serial_driver_*, singleton_driver_*, anytime_*)
 *                         for cc.test_duration=S virtual seconds (10),
 *                         chosen with cc_random_choice, at most
 *                         cc.test_parallel=N parallel drivers at once (2);
 *                         then finally_*, then the event
 *                         chaoscontrol.quiesce and eventually_*
 *   cc.test_template=T    the template to use (default: one chosen with
 *                         cc_random_choice when there are several)
 *
 * Each test command is an SDK assertion (ALWAYS "test command T/F
 * succeeds", registered at start-up, evaluated at each end with its exit
 * status and the end of its output as details). An empty cc.cmd="" in a VM
 * that runs tests means no command: the VM powers off after the timeline
 * with status 0, or 1 if a test command failed. Without any of these
 * options cc-init makes no SDK call at all.
 *
 * A static musl binary (with the guest SDK), so it needs nothing from the
 * image. Errors are printed with the "cc-init:" prefix; a failure before
 * the command starts powers off with status 127. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <sys/io.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "chaoscontrol.h"
#include "chaoscontrol/platform.h"

/* The SDK starts at cc-init's first SDK call, not before main(): without
 * tests or setup_wait there is none, and nothing changes for the VMM. */
const int cc_sdk_lazy_start = 1;

#define MAX_VMS 64
#define CMD_MAX 8192

static unsigned vm_id, n_vms = 1;
static char name[32], ip[32];

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if (n > (int)sizeof(buf) - 2)
        n = (int)sizeof(buf) - 2;
    buf[n++] = '\n';
    ssize_t w = write(STDOUT_FILENO, "cc-init: ", 9);
    w = write(STDOUT_FILENO, buf, (size_t)n);
    (void)w;
}

/* The exit status to the VMM, then power off. */
static void power_off(int status)
{
    if (ioperm(CC_PORT_STATUS, 4, 1) == 0)
        outl((uint32_t)status, CC_PORT_STATUS);
    sync();
    reboot(RB_POWER_OFF);
    for (;;)
        pause();
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    say("error: %s", buf);
    power_off(127);
    _exit(127);
}

static void mount_fs(const char *src, const char *dir, const char *type, unsigned long flags,
                     const char *data)
{
    mkdir(dir, 0755);
    if (mount(src, dir, type, flags, data) < 0 && errno != EBUSY)
        say("cannot mount %s on %s: %s", type, dir, strerror(errno));
}

/* Does the image put files in dir? A tmpfs mounted there would hide them
 * (pack --add of a program under /tmp); the initramfs root is writable. */
static bool holds_files(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return false;
    struct dirent *e;
    bool any = false;
    while (!any && (e = readdir(d)))
        any = strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return any;
}

static void write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        say("cannot write %s: %s", path, strerror(errno));
        return;
    }
    size_t n = strlen(text);
    if (write(fd, text, n) != (ssize_t)n)
        say("cannot write %s: %s", path, strerror(errno));
    close(fd);
}

static void mounts(void)
{
    mount_fs("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    mount_fs("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    mount_fs("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
    mount_fs("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "ptmxmode=0666,mode=0620");
    mount_fs("shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
    if (!holds_files("/tmp"))
        mount_fs("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
    if (!holds_files("/run"))
        mount_fs("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755");
    symlink("/proc/self/fd", "/dev/fd");
    symlink("/proc/self/fd/0", "/dev/stdin");
    symlink("/proc/self/fd/1", "/dev/stdout");
    symlink("/proc/self/fd/2", "/dev/stderr");
    mkdir("/etc", 0755);
    mkdir("/root", 0700);
    mkdir("/var", 0755);
    mkdir("/var/tmp", 01777);
    if (access("/etc/passwd", F_OK) < 0)
        write_file("/etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"
                                  "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n");
    if (access("/etc/group", F_OK) < 0)
        write_file("/etc/group", "root:x:0:\nnogroup:x:65534:\n");
    if (access("/etc/nsswitch.conf", F_OK) < 0)
        write_file("/etc/nsswitch.conf", "passwd: files\ngroup: files\nhosts: files\n");
}

/* ---- the kernel command line ---- */

static char cmdline[CMD_MAX];

static void read_cmdline(void)
{
    int fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? -1 : read(fd, cmdline, sizeof(cmdline) - 1);
    if (fd >= 0)
        close(fd);
    cmdline[n > 0 ? n : 0] = 0;
    /* /proc/cmdline ends with a newline; one inside is white space */
    for (size_t k = strlen(cmdline); k && isspace((unsigned char)cmdline[k - 1]);)
        cmdline[--k] = 0;
}

/* The value of key=value on the command line (value may be "quoted"), into
 * out; false when absent. */
static bool param(const char *key, char *out, size_t len)
{
    size_t kl = strlen(key);
    /* words split at white space, as the kernel splits them (a command
     * line may hold newlines: --append "a=1
     * b=2") */
    for (const char *p = cmdline; *p;) {
        while (isspace((unsigned char)*p))
            p++;
        const char *w = p;
        bool q = false;
        while (*p && (q || !isspace((unsigned char)*p))) {
            if (*p == '"')
                q = !q;
            p++;
        }
        if ((size_t)(p - w) > kl && !strncmp(w, key, kl) && w[kl] == '=') {
            const char *v = w + kl + 1;
            size_t o = 0;
            for (; v < p && o + 1 < len; v++)
                if (*v != '"')
                    out[o++] = *v;
            out[o] = 0;
            return true;
        }
    }
    return false;
}

static unsigned param_uint(const char *key, unsigned def, unsigned max)
{
    char v[32];
    if (!param(key, v, sizeof(v)))
        return def;
    char *end;
    unsigned long x = strtoul(v, &end, 10);
    if (*end || x > max)
        die("bad %s=%s on the kernel command line", key, v);
    return (unsigned)x;
}

/* ---- network ---- */

static void set_addr(int s, const char *ifname, unsigned long req, const char *addr)
{
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
    struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
    sin->sin_family = AF_INET;
    inet_pton(AF_INET, addr, &sin->sin_addr);
    if (ioctl(s, req, &ifr) < 0)
        say("%s: cannot set address %s: %s", ifname, addr, strerror(errno));
}

static bool link_up(int s, const char *ifname)
{
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
    if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
        return false;
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) {
        say("%s: cannot bring it up: %s", ifname, strerror(errno));
        return false;
    }
    return true;
}

static void network(void)
{
    snprintf(name, sizeof(name), "node%u", vm_id);
    snprintf(ip, sizeof(ip), "10.0.0.%u", vm_id + 1);
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        die("no IPv4 socket: %s", strerror(errno));
    link_up(s, "lo");
    set_addr(s, "eth0", SIOCSIFADDR, ip);
    set_addr(s, "eth0", SIOCSIFNETMASK, "255.255.255.0");
    if (!link_up(s, "eth0"))
        say("no eth0: this VM has no network card");
    close(s);

    char hosts[MAX_VMS * 40 + 128];
    size_t o = (size_t)snprintf(hosts, sizeof(hosts), "127.0.0.1 localhost\n::1 localhost\n");
    for (unsigned j = 0; j < n_vms; j++)
        o += (size_t)snprintf(hosts + o, sizeof(hosts) - o, "10.0.0.%u node%u\n", j + 1, j);
    write_file("/etc/hosts", hosts);
    char hn[40];
    snprintf(hn, sizeof(hn), "%s\n", name);
    write_file("/etc/hostname", hn);
    if (sethostname(name, strlen(name)) < 0)
        say("sethostname: %s", strerror(errno));
}

/* ---- the command ---- */

/* "node0,node1,..." (fmt "node%u": 0-based) or "10.0.0.1,..." (1-based). */
static void list(char *out, size_t len, const char *fmt)
{
    size_t o = 0;
    out[0] = 0;
    for (unsigned j = 0; j < n_vms && o < len; j++) {
        if (j)
            o += (size_t)snprintf(out + o, len - o, ",");
        o += (size_t)snprintf(out + o, len - o, fmt, fmt[0] == 'n' ? j : j + 1);
    }
}

static char peers[MAX_VMS * 12], peer_ips[MAX_VMS * 16];

/* CMD with {id}, {vms}, {name}, {ip}, {peers}, {peer_ips} replaced. */
static void substitute(const char *in, char *out, size_t len)
{
    char ids[16], vms[16];
    snprintf(ids, sizeof(ids), "%u", vm_id);
    snprintf(vms, sizeof(vms), "%u", n_vms);
    const struct { const char *key, *val; } subs[] = {
        {"{id}", ids}, {"{vms}", vms}, {"{name}", name}, {"{ip}", ip},
        {"{peers}", peers}, {"{peer_ips}", peer_ips},
    };
    size_t o = 0;
    while (*in && o + 1 < len) {
        bool done = false;
        for (size_t k = 0; k < sizeof(subs) / sizeof(subs[0]) && !done; k++) {
            size_t kl = strlen(subs[k].key);
            if (!strncmp(in, subs[k].key, kl)) {
                o += (size_t)snprintf(out + o, len - o, "%s", subs[k].val);
                in += kl;
                done = true;
            }
        }
        if (!done)
            out[o++] = *in++;
    }
    if (o >= len)
        die("the command is longer than %zu bytes after substitution", len - 1);
    out[o] = 0;
}

/* The command into cmd; false when it is empty, which only a VM that runs
 * tests may have (allow_empty: cc.cmd="" there means no command). */
static bool command(char *cmd, size_t len, bool allow_empty)
{
    char tmpl[CMD_MAX];
    if (!param("cc.cmd", tmpl, sizeof(tmpl))) {
        int fd = open("/etc/chaoscontrol/cmd", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            die("no command: neither cc.cmd=\"...\" on the kernel command line nor "
                "/etc/chaoscontrol/cmd in the image");
        ssize_t n = read(fd, tmpl, sizeof(tmpl) - 1);
        close(fd);
        tmpl[n > 0 ? n : 0] = 0;
        tmpl[strcspn(tmpl, "\n")] = 0;
    }
    if (!tmpl[0]) {
        if (!allow_empty)
            die("the command is empty");
        cmd[0] = 0;
        return false;
    }
    substitute(tmpl, cmd, len);
    return true;
}

/* The command's name for the output prefix: its first word's basename. */
static void label(const char *cmd, char *out, size_t len)
{
    while (*cmd == ' ')
        cmd++;
    size_t n = strcspn(cmd, " ;|&");
    const char *w = cmd;
    for (const char *p = cmd; p < cmd + n; p++)
        if (*p == '/')
            w = p + 1;
    n -= (size_t)(w - cmd);
    snprintf(out, len, "%.*s", (int)(n < 24 ? n : 24), w);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- children: the command, test commands, setup probes ---- */

#define MAX_PROCS 96
#define TAIL 1024           /* output kept for a test command's details */

struct command;

struct proc {
    bool used;
    pid_t pid;
    int fd;                 /* read end of its stdout and stderr; -1 once closed */
    bool exited;
    int wstatus;            /* from waitpid, once exited */
    bool quiet;             /* output only into the tail (setup probes) */
    struct command *cmd;    /* the test command it runs, or NULL */
    char prefix[96];        /* "label[pid]: " */
    char line[16384];       /* a partial line */
    size_t have;
    char tail[2 * TAIL];    /* the last TAIL bytes are the end of its output */
    size_t tail_len;
};

static struct proc procs[MAX_PROCS];

static void tail_add(struct proc *p, const char *d, size_t n)
{
    if (n >= TAIL) {
        memcpy(p->tail, d + n - TAIL, TAIL);
        p->tail_len = TAIL;
        return;
    }
    if (p->tail_len + n > sizeof(p->tail)) {
        size_t keep = TAIL - n < p->tail_len ? TAIL - n : p->tail_len;
        memmove(p->tail, p->tail + p->tail_len - keep, keep);
        p->tail_len = keep;
    }
    memcpy(p->tail + p->tail_len, d, n);
    p->tail_len += n;
}

/* The end of p's output: *n bytes at the returned pointer. */
static const char *tail_of(const struct proc *p, size_t *n)
{
    size_t skip = p->tail_len > TAIL ? p->tail_len - TAIL : 0;
    *n = p->tail_len - skip;
    return p->tail + skip;
}

/* What is left of a partial line, to the console. */
static void flush_line(struct proc *p)
{
    if (p->have && !p->quiet) {
        p->line[p->have++] = '\n';
        dprintf(STDOUT_FILENO, "%s%.*s", p->prefix, (int)p->have, p->line);
    }
    p->have = 0;
}

/* Copy complete lines from p's pipe to the console with its prefix (and
 * everything into its tail); keeps a partial line. False at end of file. */
static bool forward(struct proc *p)
{
    size_t cap = sizeof(p->line) - 1;
    ssize_t n = read(p->fd, p->line + p->have, cap - p->have);
    if (n <= 0) {
        if (n < 0 && errno == EINTR)
            return true;
        flush_line(p);
        return false;
    }
    tail_add(p, p->line + p->have, (size_t)n);
    if (p->quiet)
        return true;
    p->have += (size_t)n;
    char *start = p->line, *nl;
    while ((nl = memchr(start, '\n', p->have - (size_t)(start - p->line)))) {
        dprintf(STDOUT_FILENO, "%s%.*s", p->prefix, (int)(nl + 1 - start), start);
        start = nl + 1;
    }
    p->have -= (size_t)(start - p->line);
    memmove(p->line, start, p->have);
    if (p->have == cap) {     /* a very long line: flush it as is */
        dprintf(STDOUT_FILENO, "%s%.*s\n", p->prefix, (int)p->have, p->line);
        p->have = 0;
    }
    return true;
}

static void close_out(struct proc *p)
{
    flush_line(p);
    close(p->fd);
    p->fd = -1;
}

/* Exited, and all its output read. */
static bool proc_done(const struct proc *p)
{
    return p->used && p->exited && p->fd < 0;
}

static void proc_free(struct proc *p)
{
    if (p->fd >= 0)
        close(p->fd);
    p->used = false;
}

/* 0-255, or 128 + the signal number (what the VMM is told). */
static int exit_code(int wstatus)
{
    return WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
}

/* Reap every child that ended, ours and orphans. */
static void reap(void)
{
    int st;
    pid_t w;
    while ((w = waitpid(-1, &st, WNOHANG)) > 0) {
        for (int i = 0; i < MAX_PROCS; i++) {
            struct proc *p = &procs[i];
            if (p->used && !p->exited && p->pid == w) {
                p->exited = true;
                p->wstatus = st;
            }
        }
    }
}

/* One round of the loop: wait up to timeout_ms for output, copy it, reap.
 * A child that has exited and has nothing more to say is closed (a daemon
 * it left behind may keep the pipe open forever). */
static void pump(int timeout_ms)
{
    struct pollfd pf[MAX_PROCS];
    int idx[MAX_PROCS];
    bool gone[MAX_PROCS];
    nfds_t n = 0;
    bool any_gone = false;
    reap();
    for (int i = 0; i < MAX_PROCS; i++) {
        struct proc *p = &procs[i];
        if (!p->used || p->fd < 0)
            continue;
        pf[n] = (struct pollfd){p->fd, POLLIN, 0};
        idx[n] = i;
        gone[n] = p->exited;
        any_gone |= p->exited;
        n++;
    }
    int r = poll(pf, n, any_gone ? 0 : (timeout_ms > 0 ? timeout_ms : 0));
    for (nfds_t k = 0; k < n; k++) {
        struct proc *p = &procs[idx[k]];
        if (r > 0 && pf[k].revents) {
            if (!forward(p))
                close_out(p);
        } else if (gone[k]) {
            close_out(p);       /* gone, and nothing is pending */
        }
    }
    reap();
}

/* Start path with argv, its stdout and stderr into a pipe that pump()
 * reads, in its own session, in directory dir. A file that is neither ELF
 * nor #! runs with /bin/sh. Test commands get CC_TEST_TEMPLATE and
 * CC_TEST_COMMAND. */
static struct proc *spawn(const char *path, char *const argv[], const char *dir,
                          const char *lbl, bool quiet, struct command *c,
                          const char *tmpl, const char *file)
{
    struct proc *p = NULL;
    for (int i = 0; i < MAX_PROCS && !p; i++)
        if (!procs[i].used)
            p = &procs[i];
    if (!p)
        die("more than %d processes to watch at once", MAX_PROCS);
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0)
        die("pipe: %s", strerror(errno));
    pid_t pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        int null = open("/dev/null", O_RDONLY);
        dup2(null >= 0 ? null : fds[0], STDIN_FILENO);
        dup2(fds[1], STDOUT_FILENO);
        dup2(fds[1], STDERR_FILENO);
        setsid();
        if (chdir(dir) < 0 && chdir("/") < 0)
            _exit(127);
        if (c) {
            setenv("CC_TEST_TEMPLATE", tmpl, 1);
            setenv("CC_TEST_COMMAND", file, 1);
        }
        if (c || quiet)
            signal(SIGPIPE, SIG_DFL);   /* the command keeps cc-init's SIG_IGN, as it always did */
        execv(path, argv);
        if (errno == ENOEXEC)
            execl("/bin/sh", "sh", path, (char *)NULL);
        dprintf(STDERR_FILENO, "cc-init: cannot run %s: %s\n", path, strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    *p = (struct proc){.used = true, .pid = pid, .fd = fds[0], .quiet = quiet, .cmd = c};
    snprintf(p->prefix, sizeof(p->prefix), "%s[%d]: ", lbl, (int)pid);
    return p;
}

/* ---- JSON text for SDK details ---- */

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0], min;
    size_t len;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2, min = 0x80;
    else if ((c & 0xf0) == 0xe0)
        len = 3, min = 0x800;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4, min = 0x10000;
    else
        return 0;
    if (n < len)
        return 0;
    unsigned cp = c & (0x3fu >> (len - 1));
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3fu);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

struct jbuf {
    char p[12288];
    size_t len;
};

static void jb_raw(struct jbuf *b, const char *s, size_t n)
{
    if (b->len + n >= sizeof(b->p))
        n = b->len + 1 < sizeof(b->p) ? sizeof(b->p) - 1 - b->len : 0;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

static void jb_cstr(struct jbuf *b, const char *s)
{
    jb_raw(b, s, strlen(s));
}

static void jb_fmt(struct jbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void jb_fmt(struct jbuf *b, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n > 0)
        jb_raw(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* A JSON string of n bytes of s: escaped, invalid UTF-8 as U+FFFD. */
static void jb_str(struct jbuf *b, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    jb_cstr(b, "\"");
    for (size_t i = 0; i < n;) {
        unsigned c = u[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            jb_raw(b, e, 2);
            i++;
        } else if (c == '\n') {
            jb_cstr(b, "\\n");
            i++;
        } else if (c == '\t') {
            jb_cstr(b, "\\t");
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            jb_fmt(b, "\\u%04x", c);
            i++;
        } else {
            size_t k = utf8_len(u + i, n - i);
            if (k)
                jb_raw(b, s + i, k);
            else
                jb_cstr(b, "\\ufffd");
            i += k ? k : 1;
        }
    }
    jb_cstr(b, "\"");
}

/* ---- test commands (docs/test-commands.md) ---- */

enum ckind { K_FIRST, K_PARALLEL, K_SERIAL, K_SINGLETON, K_ANYTIME, K_FINALLY, K_EVENTUALLY,
             K_N };

static const char *const prefixes[K_N] = {
    "first_", "parallel_driver_", "serial_driver_", "singleton_driver_", "anytime_",
    "finally_", "eventually_",
};

static const char *const test_roots[] = {"/opt/chaoscontrol/test/v1", "/opt/antithesis/test/v1"};

#define MAX_TEMPLATES 32
#define MAX_COMMANDS 256
#define DECIDE_MS 200       /* the longest the driver phase goes without a decision */

struct template {
    char name[256];
    char dir[512];
    size_t first, n;        /* commands[first, first + n), in name order */
};

struct command {
    char file[256];
    char path[800];
    char message[600];      /* "test command T/F succeeds" */
    const struct template *t;
    enum ckind kind;
    unsigned running;
};

static struct template templates[MAX_TEMPLATES];
static size_t n_templates;
static struct command commands[MAX_COMMANDS];
static size_t n_commands;
static unsigned test_duration = 10, test_parallel = 2;
static unsigned n_run, n_failed;

static void scan_template(const char *root, const char *tname)
{
    char dir[512];
    if (snprintf(dir, sizeof(dir), "%s/%s", root, tname) >= (int)sizeof(dir))
        return;
    struct stat st;
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
        return;
    for (size_t i = 0; i < n_templates; i++)
        if (!strcmp(templates[i].name, tname)) {
            say("tests: %s ignored: %s has a template of that name", dir, templates[i].dir);
            return;
        }
    if (n_templates == MAX_TEMPLATES) {
        say("tests: %s ignored: more than %d templates", dir, MAX_TEMPLATES);
        return;
    }
    struct template *t = &templates[n_templates];
    snprintf(t->name, sizeof(t->name), "%s", tname);
    snprintf(t->dir, sizeof(t->dir), "%s", dir);
    t->first = n_commands;
    t->n = 0;
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort);
    for (int i = 0; i < n; i++) {
        const char *f = names[i]->d_name;
        int kind = -1;
        for (int k = 0; k < K_N && kind < 0; k++)
            if (!strncmp(f, prefixes[k], strlen(prefixes[k])))
                kind = k;
        char path[800];
        bool fits = snprintf(path, sizeof(path), "%s/%s", dir, f) < (int)sizeof(path);
        if (kind < 0 || !fits) {
            if (fits && f[0] != '.' && strncmp(f, "helper_", 7))
                say("tests: %s ignored: not a test command name (first_, parallel_driver_, "
                    "serial_driver_, singleton_driver_, anytime_, finally_, eventually_)", path);
        } else if (stat(path, &st) < 0 || !S_ISREG(st.st_mode) || !(st.st_mode & 0111)) {
            say("tests: %s ignored: not an executable file", path);
        } else if (n_commands == MAX_COMMANDS) {
            say("tests: %s ignored: more than %d test commands", path, MAX_COMMANDS);
        } else {
            struct command *c = &commands[n_commands++];
            *c = (struct command){.t = t, .kind = (enum ckind)kind};
            snprintf(c->file, sizeof(c->file), "%s", f);
            snprintf(c->path, sizeof(c->path), "%s", path);
            snprintf(c->message, sizeof(c->message), "test command %s/%s succeeds", tname, f);
            t->n++;
        }
        free(names[i]);
    }
    if (n >= 0)
        free(names);
    if (!t->n) {
        say("tests: %s ignored: no test commands in it", dir);
        return;
    }
    n_templates++;
}

static void scan_templates(void)
{
    for (size_t r = 0; r < sizeof(test_roots) / sizeof(test_roots[0]); r++) {
        struct dirent **names;
        int n = scandir(test_roots[r], &names, NULL, alphasort);
        for (int i = 0; i < n; i++) {
            if (names[i]->d_name[0] != '.')
                scan_template(test_roots[r], names[i]->d_name);
            free(names[i]);
        }
        if (n >= 0)
            free(names);
    }
}

static unsigned count_kind(const struct template *t, enum ckind k, bool running_only)
{
    unsigned c = 0;
    for (size_t i = t->first; i < t->first + t->n; i++)
        if (commands[i].kind == k)
            c += running_only ? commands[i].running : 1;
    return c;
}

static void start_test(struct command *c)
{
    char lbl[540];
    snprintf(lbl, sizeof(lbl), "%s/%s", c->t->name, c->file);
    char *argv[] = {c->path, NULL};
    struct proc *p = spawn(c->path, argv, c->t->dir, lbl, false, c, c->t->name, c->file);
    c->running++;
    say("test %s: started (pid %d)", lbl, (int)p->pid);
}

/* A test command has ended: its assertion, with exit status and output. */
static void finish_test(struct proc *p)
{
    struct command *c = p->cmd;
    int st = p->wstatus;
    bool ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
    static struct jbuf d;
    d.len = 0;
    jb_cstr(&d, "{\"template\":");
    jb_str(&d, c->t->name, strlen(c->t->name));
    jb_cstr(&d, ",\"command\":");
    jb_str(&d, c->file, strlen(c->file));
    if (WIFEXITED(st))
        jb_fmt(&d, ",\"exit_status\":%d,\"signal\":null", WEXITSTATUS(st));
    else
        jb_fmt(&d, ",\"exit_status\":null,\"signal\":%d", WTERMSIG(st));
    size_t n;
    const char *out = tail_of(p, &n);
    jb_cstr(&d, ",\"output\":");
    jb_str(&d, out, n);
    jb_raw(&d, "}", 1);
    c->running--;
    n_run++;
    if (!ok)
        n_failed++;
    if (WIFEXITED(st))
        say("test %s/%s: pid %d exited with status %d%s", c->t->name, c->file, (int)p->pid,
            WEXITSTATUS(st), ok ? "" : ": failed");
    else
        say("test %s/%s: pid %d killed by signal %d: failed", c->t->name, c->file, (int)p->pid,
            WTERMSIG(st));
    proc_free(p);
    cc_assert_dynamic(CC_ASSERT_KIND_ALWAYS, ok, c->message, c->path, d.p);
}

/* Finish every test command that ended; how many drivers did. */
static unsigned collect(void)
{
    unsigned n = 0;
    for (int i = 0; i < MAX_PROCS; i++)
        if (procs[i].cmd && proc_done(&procs[i])) {
            n += procs[i].cmd->kind != K_ANYTIME;
            finish_test(&procs[i]);
        }
    return n;
}

/* Serve the children for ms, or until a driver ends. */
static void wait_some(unsigned ms)
{
    uint64_t end = now_ms() + ms;
    for (uint64_t t = now_ms(); t < end; t = now_ms()) {
        pump((int)(end - t));
        if (collect())
            return;
    }
}

/* Each command of kind k, in name order, one at a time. */
static void run_each(const struct template *t, enum ckind k)
{
    for (size_t i = t->first; i < t->first + t->n; i++) {
        struct command *c = &commands[i];
        if (c->kind != k)
            continue;
        start_test(c);
        while (c->running) {
            pump(100);
            collect();
        }
    }
}

/* The driver phase: a singleton driver alone (chosen when there are
 * several) until it ends, or else for test_duration seconds parallel
 * drivers (up to test_parallel at once), serial drivers (with no other
 * driver) and anytime commands (one copy each at a time), as chosen by
 * cc_random_choice at each decision point: the start of the phase, after
 * each start, when a driver ends, and DECIDE_MS after a decision to wait
 * (or when nothing can start). Then
 * every running command is waited for. */
static void drivers(const struct template *t)
{
    unsigned npar = count_kind(t, K_PARALLEL, false), nser = count_kind(t, K_SERIAL, false);
    unsigned nsgl = count_kind(t, K_SINGLETON, false), nany = count_kind(t, K_ANYTIME, false);
    if (!npar && !nser && !nsgl && !nany) {
        say("tests: template %s has no driver or anytime command", t->name);
        return;
    }
    struct command *single = NULL;
    if (nsgl) {
        uint64_t k = nsgl > 1 ? cc_random_choice(nsgl) : 0;
        for (size_t i = t->first; i < t->first + t->n && !single; i++)
            if (commands[i].kind == K_SINGLETON && k-- == 0)
                single = &commands[i];
        say("tests: drivers: %s alone, once", single->file);
        start_test(single);
    } else {
        say("tests: drivers for %u s, at most %u parallel", test_duration, test_parallel);
    }
    uint64_t end = now_ms() + (uint64_t)test_duration * 1000u;
    for (;;) {
        collect();
        if (single ? !single->running : now_ms() >= end)
            break;
        struct command *elig[MAX_COMMANDS];
        size_t ne = 0;
        unsigned par = count_kind(t, K_PARALLEL, true), ser = count_kind(t, K_SERIAL, true);
        for (size_t i = t->first; i < t->first + t->n; i++) {
            struct command *c = &commands[i];
            bool can = (c->kind == K_PARALLEL && !single && !ser && par < test_parallel) ||
                       (c->kind == K_SERIAL && !single && !ser && !par) ||
                       (c->kind == K_ANYTIME && !c->running);
            if (can)
                elig[ne++] = c;
        }
        uint64_t k = ne ? cc_random_choice(ne + 1) : ne;
        if (k < ne)
            start_test(elig[k]);
        else
            wait_some(DECIDE_MS);
    }
    for (;;) {
        unsigned running = 0;
        for (size_t i = t->first; i < t->first + t->n; i++)
            running += commands[i].running;
        if (!running)
            break;
        pump(100);
        collect();
    }
}

/* Every test command of every template, in the catalog before setup is
 * complete: the ones that never run are reported as unexercised. */
static void register_tests(void)
{
    for (size_t i = 0; i < n_commands; i++)
        cc_assert_register(CC_ASSERT_KIND_ALWAYS, commands[i].message, commands[i].path);
    say("tests: %zu test commands in %zu template%s", n_commands, n_templates,
        n_templates == 1 ? "" : "s");
}

static const struct template *find_template(const char *tname)
{
    for (size_t i = 0; i < n_templates; i++)
        if (!strcmp(templates[i].name, tname))
            return &templates[i];
    return NULL;
}

/* first_, drivers, finally_, then the quiesce event and eventually_. */
static void timeline(const char *want)
{
    const struct template *t = want[0] ? find_template(want) :
        &templates[n_templates > 1 ? cc_random_choice(n_templates) : 0];
    say("tests: template %s (%s)", t->name, t->dir);
    run_each(t, K_FIRST);
    drivers(t);
    run_each(t, K_FINALLY);
    if (count_kind(t, K_EVENTUALLY, false)) {
        cc_send_event("chaoscontrol.quiesce", "{}");
        run_each(t, K_EVENTUALLY);
    }
    say("tests: %u commands run, %u failed", n_run, n_failed);
}

/* cc.setup_wait: probe runs /bin/sh -c probe every 100 ms until it exits 0;
 * true when it did, false on timeout or when the command (main, if any)
 * ended first. */
static bool setup_wait(const char *probe, unsigned timeout_s, const struct proc *main_p,
                       unsigned *tries)
{
    uint64_t deadline = now_ms() + (uint64_t)timeout_s * 1000u;
    say("setup: waiting until `%s` succeeds (at most %u s)", probe, timeout_s);
    char *argv[] = {"sh", "-c", (char *)probe, NULL};
    for (unsigned n = 1;; n++) {
        struct proc *p = spawn("/bin/sh", argv, "/root", "setup", true, NULL, NULL, NULL);
        while (!proc_done(p)) {
            pump(100);
            if (!p->exited && now_ms() >= deadline) {
                kill(-p->pid, SIGKILL);     /* its session, once it has one */
                kill(p->pid, SIGKILL);
            }
        }
        int st = p->wstatus;
        size_t len;
        const char *out = tail_of(p, &len);
        char last[TAIL + 1];
        memcpy(last, out, len);
        last[len] = 0;
        proc_free(p);
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
            say("setup: `%s` succeeded (try %u)", probe, n);
            *tries = n;
            return true;
        }
        const char *why = main_p && proc_done(main_p) ? "the command exited first" :
                          now_ms() >= deadline ? "timed out" : NULL;
        if (why) {
            say("setup: gave up waiting for `%s` after %u tries: %s; no setup_complete, no "
                "tests (cc.setup_timeout=%u)", probe, n, why, timeout_s);
            for (char *l = strtok(last, "\n"); l; l = strtok(NULL, "\n"))
                say("setup: its last output: %s", l);
            return false;
        }
        for (uint64_t next = now_ms() + 100, t = now_ms(); t < next; t = now_ms())
            pump((int)(next - t));
    }
}

/* The SDK, at cc-init's first SDK call. cc-init's own system calls are
 * not the program's behaviour: no kernel coverage for it (the variable is
 * read once, at start-up, and restored for the children). */
static void sdk_start(void)
{
    char old[64];
    const char *o = getenv("CHAOSCONTROL_SDK_KCOV");
    bool had = o != NULL;
    if (had)
        snprintf(old, sizeof(old), "%s", o);
    setenv("CHAOSCONTROL_SDK_KCOV", "0", 1);
    int mode = cc_sdk_mode();
    if (had)
        setenv("CHAOSCONTROL_SDK_KCOV", old, 1);
    else
        unsetenv("CHAOSCONTROL_SDK_KCOV");
    if (mode == CC_SDK_LOCAL)
        say("SDK: no VMM found; local mode");
}

int main(void)
{
    if (getpid() != 1) {
        fprintf(stderr, "cc-init: runs as /init (PID 1) in a VM made by chaoscontrol pack\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IONBF, 0);
    mounts();
    read_cmdline();
    vm_id = param_uint("cc_vm_id", 0, MAX_VMS - 1);
    n_vms = param_uint("cc_vms", vm_id + 1, MAX_VMS);
    if (vm_id >= n_vms)
        die("cc_vm_id=%u but cc_vms=%u", vm_id, n_vms);

    /* tests and setup (docs/test-commands.md) */
    char opt[CMD_MAX], probe[CMD_MAX], want[256] = "";
    bool tests_here = false;
    if (param("cc.tests", opt, sizeof(opt))) {
        char *end;
        unsigned long x = strtoul(opt, &end, 10);
        if (strcmp(opt, "all") && (!opt[0] || *end || x >= MAX_VMS))
            die("bad cc.tests=%s on the kernel command line (all, or a VM number)", opt);
        tests_here = !strcmp(opt, "all") || x == vm_id;
    }
    test_duration = param_uint("cc.test_duration", 10, 86400);
    test_parallel = param_uint("cc.test_parallel", 2, 32);
    if (!test_parallel)
        die("bad cc.test_parallel=0 on the kernel command line (1 to 32)");
    bool have_probe = param("cc.setup_wait", probe, sizeof(probe)) && probe[0];
    unsigned setup_timeout = param_uint("cc.setup_timeout", 120, 86400);
    param("cc.test_template", want, sizeof(want));

    network();
    list(peers, sizeof(peers), "node%u");
    list(peer_ips, sizeof(peer_ips), "10.0.0.%u");
    char cmd[CMD_MAX], v[16];
    bool have_cmd = command(cmd, sizeof(cmd), tests_here);
    if (tests_here) {
        scan_templates();
        if (!n_templates)
            say("tests: cc.tests=%s but no test template in %s or %s: no tests", opt,
                test_roots[0], test_roots[1]);
        tests_here = n_templates > 0;
        if (want[0] && tests_here && !find_template(want))
            die("cc.test_template=%s: no such test template", want);
    }
    if (!have_cmd && !tests_here)
        die("the command is empty");
    snprintf(v, sizeof(v), "%u", vm_id);
    setenv("CC_ID", v, 1);
    snprintf(v, sizeof(v), "%u", n_vms);
    setenv("CC_VMS", v, 1);
    setenv("CC_NAME", name, 1);
    setenv("CC_IP", ip, 1);
    setenv("CC_PEERS", peers, 1);
    setenv("CC_PEER_IPS", peer_ips, 1);
    setenv("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", 1);
    setenv("HOME", "/root", 1);
    char ldp[4096];
    int fd = open("/etc/chaoscontrol/ld_library_path", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? -1 : read(fd, ldp, sizeof(ldp) - 1);
    if (fd >= 0)
        close(fd);
    if (n > 0) {
        ldp[n] = 0;
        ldp[strcspn(ldp, "\n")] = 0;
        setenv("LD_LIBRARY_PATH", ldp, 1);
    }
    signal(SIGPIPE, SIG_IGN);
    if (tests_here || have_probe)
        sdk_start();
    if (tests_here)
        register_tests();

    struct proc *mp = NULL;
    if (have_cmd) {
        char lbl[32];
        label(cmd, lbl, sizeof(lbl));
        char *argv[] = {"sh", "-c", cmd, NULL};
        mp = spawn("/bin/sh", argv, "/root", lbl, false, NULL, NULL, NULL);
        say("%s: started %s (pid %d)", name, cmd, (int)mp->pid);
    }
    bool ready = true;
    if (have_probe) {
        unsigned tries = 0;
        ready = setup_wait(probe, setup_timeout, mp, &tries);
        if (ready) {
            static struct jbuf d;
            jb_cstr(&d, "{\"by\":\"cc-init\",\"setup_wait\":");
            jb_str(&d, probe, strlen(probe));
            jb_fmt(&d, ",\"tries\":%u}", tries);
            cc_setup_complete(d.p);
        }
    } else if (tests_here) {
        cc_setup_complete("{\"by\":\"cc-init\",\"setup_wait\":null}");
    }
    if (tests_here && ready)
        timeline(want);
    if (!mp) {
        int st = ready && !n_failed ? 0 : 1;
        say("%s: no command; powering off with status %d", name, st);
        power_off(st);
    }
    while (!proc_done(mp)) {
        pump(100);
        collect();
    }
    int status = exit_code(mp->wstatus);
    say("%s: the command exited with status %d; powering off", name, status);
    power_off(status);
    return 0;
}
