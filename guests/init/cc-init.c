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
 * A static musl binary, so it needs nothing from the image. Errors are
 * printed with the "cc-init:" prefix; a failure before the command starts
 * powers off with status 127. */
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
#include <arpa/inet.h>
#include <sys/io.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "chaoscontrol/platform.h"

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
    cmdline[strcspn(cmdline, "\n")] = 0;
}

/* The value of key=value on the command line (value may be "quoted"), into
 * out; false when absent. */
static bool param(const char *key, char *out, size_t len)
{
    size_t kl = strlen(key);
    for (const char *p = cmdline; *p;) {
        while (*p == ' ')
            p++;
        const char *w = p;
        bool q = false;
        while (*p && (q || *p != ' ')) {
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

static void command(char *cmd, size_t len)
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
    if (!tmpl[0])
        die("the command is empty");
    substitute(tmpl, cmd, len);
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

/* Copy complete lines from fd to the console with a prefix; keeps a partial
 * line in buf. Returns false at end of file. */
static bool forward(int fd, const char *prefix, char *buf, size_t *have, size_t cap)
{
    ssize_t n = read(fd, buf + *have, cap - *have);
    if (n <= 0) {
        if (n < 0 && errno == EINTR)
            return true;
        if (*have) {
            buf[(*have)++] = '\n';
            dprintf(STDOUT_FILENO, "%s%.*s", prefix, (int)*have, buf);
            *have = 0;
        }
        return false;
    }
    *have += (size_t)n;
    char *start = buf, *nl;
    while ((nl = memchr(start, '\n', *have - (size_t)(start - buf)))) {
        dprintf(STDOUT_FILENO, "%s%.*s", prefix, (int)(nl + 1 - start), start);
        start = nl + 1;
    }
    *have -= (size_t)(start - buf);
    memmove(buf, start, *have);
    if (*have == cap) {     /* a very long line: flush it as is */
        dprintf(STDOUT_FILENO, "%s%.*s\n", prefix, (int)*have, buf);
        *have = 0;
    }
    return true;
}

static int run(const char *cmd)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        die("pipe: %s", strerror(errno));
    pid_t pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        int null = open("/dev/null", O_RDONLY);
        dup2(null >= 0 ? null : p[0], STDIN_FILENO);
        dup2(p[1], STDOUT_FILENO);
        dup2(p[1], STDERR_FILENO);
        setsid();
        chdir("/root");
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        dprintf(STDERR_FILENO, "cc-init: cannot run /bin/sh: %s\n", strerror(errno));
        _exit(127);
    }
    close(p[1]);
    char lbl[32], prefix[64];
    label(cmd, lbl, sizeof(lbl));
    snprintf(prefix, sizeof(prefix), "%s[%d]: ", lbl, (int)pid);
    say("%s: started %s (pid %d)", name, cmd, (int)pid);

    static char buf[16384];
    size_t have = 0;
    bool open_pipe = true;
    int status = -1;
    while (status < 0 || open_pipe) {
        if (open_pipe) {
            struct pollfd pf = {p[0], POLLIN, 0};
            if (poll(&pf, 1, status < 0 ? 100 : 0) > 0)
                open_pipe = forward(p[0], prefix, buf, &have, sizeof(buf) - 1);
            else if (status >= 0)
                open_pipe = false;      /* the command is gone and nothing is pending */
        }
        int st;
        pid_t w;
        while ((w = waitpid(-1, &st, WNOHANG)) > 0) {   /* orphans too */
            if (w == pid)
                status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
        if (!open_pipe && status < 0) {
            w = waitpid(pid, &st, 0);
            if (w == pid)
                status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
    }
    close(p[0]);
    return status;
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
    network();
    list(peers, sizeof(peers), "node%u");
    list(peer_ips, sizeof(peer_ips), "10.0.0.%u");
    char cmd[CMD_MAX], v[16];
    command(cmd, sizeof(cmd));
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
    int status = run(cmd);
    say("%s: the command exited with status %d; powering off", name, status);
    power_off(status);
    return 0;
}
