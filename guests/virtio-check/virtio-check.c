/* virtio-check: a guest that exercises the virtio devices from inside Linux
 * for tests/linux/virtio_linux.c (issue 5's Linux tier). It runs as /init
 * (PID 1), mounts devtmpfs, proc and sysfs, and does what the kernel command
 * line asks (read from /proc/cmdline):
 *
 *   vc_mode=serve   print "vc: ready", then read commands from the console,
 *                   one per line, run each, and end its output with
 *                   "vc: end". The host sends the lines (cc_vm_serial_input),
 *                   so one boot serves many scenarios, each from a snapshot.
 *   vc_mode=hwrng   print 32 bytes of /dev/hwrng and power off.
 *   vc_mode=udp-a   10.0.0.1: ping 10.0.0.2:7000 (UDP) vc_n times, each with
 *                   a token from getrandom(), wait for each pong (retrying),
 *                   then "bye"; print everything received; power off.
 *   vc_mode=udp-b   10.0.0.2: answer pings on port 7000 until "bye".
 *
 * Commands (serve mode); every result line starts with "vc: ":
 *   hwrng N                   N bytes of /dev/hwrng, as hex
 *   disks                     each /sys/block/vd* with its size and serial
 *   mount DEV DIR             drop DEV's buffer cache (BLKFLSBUF), mount ext4
 *   umount DIR
 *   cat PATH                  size and text of a small file
 *   write PATH SIZE SEED      write SIZE pattern bytes (pattern(SEED)), fsync;
 *                             prints fnv and the first extent (FIEMAP)
 *   read PATH [direct]        read the whole file (O_DIRECT with "direct"),
 *                             print its size and FNV-1a hash
 *   sync
 *   rawwrite DEV OFF LEN BYTE O_DIRECT write of LEN bytes of value BYTE
 *   rawread DEV OFF LEN       O_DIRECT read, printed as runs "hh*count,..."
 *   poweroff
 * Errors are printed as "error EIO" etc. (errno name), never hidden.
 *
 * Every line is one write(2) to the console, so nothing is lost at
 * power-off. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <termios.h>
#include <dirent.h>
#include <unistd.h>

#include "common/guest.h"

/* Kernel UAPI bits that musl's headers do not carry (linux/fs.h,
 * linux/fiemap.h). */
#define VC_BLKFLSBUF _IO(0x12, 97)
struct vc_fiemap_extent {
    uint64_t fe_logical, fe_physical, fe_length, fe_reserved64[2];
    uint32_t fe_flags, fe_reserved[3];
};
struct vc_fiemap {
    uint64_t fm_start, fm_length;
    uint32_t fm_flags, fm_mapped_extents, fm_extent_count, fm_reserved;
    struct vc_fiemap_extent fm_extents[4];
};
#define VC_FIEMAP_FLAG_SYNC 0x1
struct vc_fiemap_head {
    uint64_t fm_start, fm_length;
    uint32_t fm_flags, fm_mapped_extents, fm_extent_count, fm_reserved;
};
#define VC_FS_IOC_FIEMAP _IOWR('f', 11, struct vc_fiemap_head)   /* struct fiemap: 32 bytes */

#define MAX_IO (1u << 20)

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    guest_vsay("vc: ", fmt, ap);
    va_end(ap);
}

static const char *ename(int e)
{
    static char buf[16];
    switch (e) {
    case EIO: return "EIO";
    case ENOENT: return "ENOENT";
    case ENOSPC: return "ENOSPC";
    case EROFS: return "EROFS";
    case EINVAL: return "EINVAL";
    case EUCLEAN: return "EUCLEAN";
    case EBADMSG: return "EBADMSG";
    case ENODEV: return "ENODEV";
    case ENXIO: return "ENXIO";
    case EBUSY: return "EBUSY";
    case EAGAIN: return "EAGAIN";
    case ENOMEM: return "ENOMEM";
    case EEXIST: return "EEXIST";
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case ENETUNREACH: return "ENETUNREACH";
    case EHOSTUNREACH: return "EHOSTUNREACH";
    default:
        snprintf(buf, sizeof(buf), "E%d", e);
        return buf;
    }
}

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* The file pattern; tests/linux/virtio_linux.c computes the same. */
static uint8_t pattern(unsigned seed, size_t i)
{
    return (uint8_t)(seed * 131u + i * 7u + (i >> 9) * 13u);
}

static void *io_buf(void)
{
    static void *buf;
    if (!buf && posix_memalign(&buf, 4096, MAX_IO) != 0)
        buf = NULL;
    return buf;
}

/* ---- commands ---- */

static void cmd_hwrng(unsigned n)
{
    uint8_t bytes[256];
    if (n == 0 || n > sizeof(bytes))
        n = 32;
    int fd = open("/dev/hwrng", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        say("hwrng error %s", ename(errno));
        return;
    }
    size_t got = 0;
    while (got < n) {
        ssize_t k = read(fd, bytes + got, n - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            say("hwrng error %s after %zu bytes", k < 0 ? ename(errno) : "EOF", got);
            close(fd);
            return;
        }
        got += (size_t)k;
    }
    close(fd);
    char hex[2 * sizeof(bytes) + 1];
    for (size_t i = 0; i < n; i++)
        snprintf(hex + 2 * i, 3, "%02x", bytes[i]);
    say("hwrng %s", hex);
}

static void read_small(const char *path, char *out, size_t len)
{
    out[0] = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t k = read(fd, out, len - 1);
    close(fd);
    if (k < 0)
        k = 0;
    out[k] = 0;
    out[strcspn(out, "\n")] = 0;
}

static void cmd_disks(void)
{
    DIR *d = opendir("/sys/block");
    if (!d) {
        say("disks error %s", ename(errno));
        return;
    }
    struct dirent *e;
    char names[8][32];
    int n = 0;
    while ((e = readdir(d)) && n < 8)
        if (!strncmp(e->d_name, "vd", 2))
            snprintf(names[n++], sizeof(names[0]), "%.31s", e->d_name);
    closedir(d);
    for (int i = 0; i < n; i++) {   /* sorted, so the output is stable */
        for (int j = i + 1; j < n; j++) {
            if (strcmp(names[j], names[i]) < 0) {
                char t[32];
                memcpy(t, names[i], sizeof(t));
                memcpy(names[i], names[j], sizeof(t));
                memcpy(names[j], t, sizeof(t));
            }
        }
        char path[96], size[32], serial[64];
        snprintf(path, sizeof(path), "/sys/block/%.31s/size", names[i]);
        read_small(path, size, sizeof(size));
        snprintf(path, sizeof(path), "/sys/block/%.31s/serial", names[i]);
        read_small(path, serial, sizeof(serial));
        say("disk %s sectors=%s serial=%s", names[i], size, serial);
    }
}

static void cmd_mount(const char *dev, const char *dir)
{
    /* The boot-time partition scan may have left the device's first pages
     * in the buffer cache; after the host swaps the disk contents (a
     * "restart" from a snapshot) they would be stale. */
    int fd = open(dev, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        say("mount %s error %s (open)", dev, ename(errno));
        return;
    }
    ioctl(fd, VC_BLKFLSBUF, 0);
    close(fd);
    mkdir(dir, 0755);
    if (mount(dev, dir, "ext4", 0, "noinit_itable") < 0)
        say("mount %s error %s", dev, ename(errno));
    else
        say("mount %s ok", dev);
}

static void cmd_umount(const char *dir)
{
    if (umount(dir) < 0)
        say("umount %s error %s", dir, ename(errno));
    else
        say("umount %s ok", dir);
}

static void cmd_cat(const char *path)
{
    char buf[256];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        say("cat %s error %s", path, ename(errno));
        return;
    }
    ssize_t k = read(fd, buf, sizeof(buf) - 1);
    int e = errno;
    close(fd);
    if (k < 0) {
        say("cat %s error %s", path, ename(e));
        return;
    }
    buf[k] = 0;
    for (ssize_t i = 0; i < k; i++)
        if (!isprint((unsigned char)buf[i]))
            buf[i] = '.';
    say("cat %s ok size=%zd text=%s", path, k, buf);
}

static void cmd_write(const char *path, size_t size, unsigned seed)
{
    uint8_t *buf = io_buf();
    if (!buf || size > MAX_IO) {
        say("write %s error ENOMEM", path);
        return;
    }
    for (size_t i = 0; i < size; i++)
        buf[i] = pattern(seed, i);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        say("write %s error %s at open", path, ename(errno));
        return;
    }
    size_t done = 0;
    while (done < size) {
        ssize_t k = write(fd, buf + done, size - done);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            say("write %s error %s at write", path, k < 0 ? ename(errno) : "short");
            close(fd);
            return;
        }
        done += (size_t)k;
    }
    if (fsync(fd) < 0) {
        say("write %s error %s at fsync", path, ename(errno));
        close(fd);
        return;
    }
    struct vc_fiemap fm;
    memset(&fm, 0, sizeof(fm));
    fm.fm_length = ~0ull;
    fm.fm_flags = VC_FIEMAP_FLAG_SYNC;
    fm.fm_extent_count = 4;
    char ext[64] = "none";
    if (ioctl(fd, VC_FS_IOC_FIEMAP, &fm) < 0)
        snprintf(ext, sizeof(ext), "error-%s", ename(errno));
    else if (fm.fm_mapped_extents > 0)
        snprintf(ext, sizeof(ext), "%llu+%llu",
                 (unsigned long long)fm.fm_extents[0].fe_physical,
                 (unsigned long long)fm.fm_extents[0].fe_length);
    if (close(fd) < 0) {
        say("write %s error %s at close", path, ename(errno));
        return;
    }
    say("write %s ok size=%zu fnv=%016llx extents=%u extent=%s", path, size,
        (unsigned long long)fnv1a(buf, size), fm.fm_mapped_extents, ext);
}

static void cmd_read(const char *path, bool direct)
{
    uint8_t *buf = io_buf();
    if (!buf) {
        say("read %s error ENOMEM", path);
        return;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC | (direct ? O_DIRECT : 0));
    if (fd < 0) {
        say("read %s error %s", path, ename(errno));
        return;
    }
    size_t got = 0;
    for (;;) {
        if (got == MAX_IO)
            break;
        ssize_t k = read(fd, buf + got, MAX_IO - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            say("read %s error %s after %zu bytes", path, ename(errno), got);
            close(fd);
            return;
        }
        if (k == 0)
            break;
        got += (size_t)k;
        if (direct && got % 4096)
            break;      /* O_DIRECT: a short read is the end of the file */
    }
    close(fd);
    say("read %s ok size=%zu fnv=%016llx", path, got, (unsigned long long)fnv1a(buf, got));
}

static void cmd_rawwrite(const char *dev, uint64_t off, size_t len, unsigned byte)
{
    uint8_t *buf = io_buf();
    if (!buf || len > MAX_IO || len == 0) {
        say("rawwrite %s error EINVAL", dev);
        return;
    }
    memset(buf, (int)byte, len);
    int fd = open(dev, O_RDWR | O_DIRECT | O_CLOEXEC);
    if (fd < 0) {
        say("rawwrite %s error %s at open", dev, ename(errno));
        return;
    }
    ssize_t k = pwrite(fd, buf, len, (off_t)off);
    int e = errno;
    close(fd);
    if (k < 0)
        say("rawwrite %s %llu %zu error %s", dev, (unsigned long long)off, len, ename(e));
    else if ((size_t)k != len)
        say("rawwrite %s %llu %zu error short %zd", dev, (unsigned long long)off, len, k);
    else
        say("rawwrite %s %llu %zu ok", dev, (unsigned long long)off, len);
}

static void cmd_rawread(const char *dev, uint64_t off, size_t len)
{
    uint8_t *buf = io_buf();
    if (!buf || len > MAX_IO || len == 0) {
        say("rawread %s error EINVAL", dev);
        return;
    }
    int fd = open(dev, O_RDONLY | O_DIRECT | O_CLOEXEC);
    if (fd < 0) {
        say("rawread %s error %s at open", dev, ename(errno));
        return;
    }
    ssize_t k = pread(fd, buf, len, (off_t)off);
    int e = errno;
    close(fd);
    if (k < 0) {
        say("rawread %s %llu %zu error %s", dev, (unsigned long long)off, len, ename(e));
        return;
    }
    /* Runs of equal bytes: "4e*3072,4f*5120"; at most 16 runs shown. */
    char runs[512];
    size_t n = 0;
    unsigned nruns = 0;
    for (size_t i = 0; i < (size_t)k;) {
        size_t j = i;
        while (j < (size_t)k && buf[j] == buf[i])
            j++;
        if (nruns++ < 16)
            n += (size_t)snprintf(runs + n, sizeof(runs) - n, "%s%02x*%zu", i ? "," : "",
                                  buf[i], j - i);
        i = j;
    }
    if (nruns > 16)
        snprintf(runs + n, sizeof(runs) - n, ",...");
    say("rawread %s %llu %zu ok runs=%u data=%s", dev, (unsigned long long)off, len, nruns,
        k ? runs : "");
}

static void power_off(void)
{
    sync();
    if (getpid() != 1)
        exit(0);
    reboot(RB_POWER_OFF);
    say("reboot(RB_POWER_OFF) failed: %s", ename(errno));
    for (;;)
        pause();
}

/* Split line into at most 6 words (in place). */
static int split(char *line, char **w, int max)
{
    int n = 0;
    for (char *p = strtok(line, " \t\r\n"); p && n < max; p = strtok(NULL, " \t\r\n"))
        w[n++] = p;
    return n;
}

static void run_command(char *line)
{
    char *w[8];
    int n = split(line, w, 8);
    if (n == 0)
        return;
    const char *c = w[0];
    if (!strcmp(c, "hwrng"))
        cmd_hwrng(n > 1 ? (unsigned)strtoul(w[1], NULL, 0) : 32);
    else if (!strcmp(c, "disks"))
        cmd_disks();
    else if (!strcmp(c, "mount") && n == 3)
        cmd_mount(w[1], w[2]);
    else if (!strcmp(c, "umount") && n == 2)
        cmd_umount(w[1]);
    else if (!strcmp(c, "cat") && n == 2)
        cmd_cat(w[1]);
    else if (!strcmp(c, "write") && n == 4)
        cmd_write(w[1], strtoul(w[2], NULL, 0), (unsigned)strtoul(w[3], NULL, 0));
    else if (!strcmp(c, "read") && (n == 2 || n == 3))
        cmd_read(w[1], n == 3 && !strcmp(w[2], "direct"));
    else if (!strcmp(c, "sync")) {
        sync();
        say("sync ok");
    } else if (!strcmp(c, "rawwrite") && n == 5)
        cmd_rawwrite(w[1], strtoull(w[2], NULL, 0), strtoul(w[3], NULL, 0),
                     (unsigned)strtoul(w[4], NULL, 0));
    else if (!strcmp(c, "rawread") && n == 4)
        cmd_rawread(w[1], strtoull(w[2], NULL, 0), strtoul(w[3], NULL, 0));
    else if (!strcmp(c, "poweroff")) {
        say("powering off");
        power_off();
    } else
        say("unknown command '%s' (%d words)", c, n);
}

static void serve(void)
{
    /* No echo: the console output is the guest's answers only. */
    struct termios t;
    if (tcgetattr(0, &t) == 0) {
        t.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
        t.c_lflag |= ICANON;
        tcsetattr(0, TCSANOW, &t);
    }
    cmd_disks();
    say("ready");
    char line[512];
    size_t len = 0;
    for (;;) {
        char ch;
        ssize_t k = read(0, &ch, 1);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            say("console read failed: %s", k < 0 ? ename(errno) : "EOF");
            power_off();
        }
        if (ch == '\n' || ch == '\r') {
            if (len == 0)
                continue;
            line[len] = 0;
            run_command(line);
            say("end");
            len = 0;
        } else if (len < sizeof(line) - 1) {
            line[len++] = ch;
        }
    }
}

/* ---- UDP between two VMs ---- */

static int net_config(const char *ifname, const char *addr)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        say("net: socket error %s", ename(errno));
        return -1;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
    struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
    sin->sin_family = AF_INET;
    inet_pton(AF_INET, addr, &sin->sin_addr);
    if (ioctl(fd, SIOCSIFADDR, &ifr) < 0) {
        say("net: SIOCSIFADDR %s error %s", ifname, ename(errno));
        close(fd);
        return -1;
    }
    inet_pton(AF_INET, "255.255.255.0", &sin->sin_addr);
    if (ioctl(fd, SIOCSIFNETMASK, &ifr) < 0) {
        say("net: SIOCSIFNETMASK error %s", ename(errno));
        close(fd);
        return -1;
    }
    if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
        say("net: SIOCGIFFLAGS error %s", ename(errno));
        close(fd);
        return -1;
    }
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0) {
        say("net: SIOCSIFFLAGS error %s", ename(errno));
        close(fd);
        return -1;
    }
    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
    char mac[32] = "?";
    if (ioctl(fd, SIOCGIFHWADDR, &ifr) == 0) {
        const uint8_t *m = (const uint8_t *)ifr.ifr_hwaddr.sa_data;
        snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3],
                 m[4], m[5]);
    }
    close(fd);
    say("net: %s %s/24 up, mac %s", ifname, addr, mac);
    return 0;
}

static int udp_socket(uint16_t port, int timeout_ms)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        close(fd);
        return -1;
    }
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

static void udp_a(unsigned rounds)
{
    if (net_config("eth0", "10.0.0.1") < 0)
        power_off();
    int fd = udp_socket(0, 300);
    if (fd < 0) {
        say("udp-a: socket error %s", ename(errno));
        power_off();
    }
    struct sockaddr_in peer = {.sin_family = AF_INET, .sin_port = htons(7000)};
    inet_pton(AF_INET, "10.0.0.2", &peer.sin_addr);
    unsigned ok = 0, sent = 0;
    for (unsigned i = 0; i <= rounds; i++) {
        bool bye = i == rounds;
        uint64_t token = 0;
        if (getrandom(&token, sizeof(token), 0) != sizeof(token))
            token = 0;
        char msg[96], want[96];
        if (bye) {
            snprintf(msg, sizeof(msg), "bye");
            snprintf(want, sizeof(want), "bye-ack");
        } else {
            snprintf(msg, sizeof(msg), "ping %u %016llx", i, (unsigned long long)token);
            snprintf(want, sizeof(want), "pong %u %016llx", i, (unsigned long long)token);
        }
        bool got = false;
        for (int attempt = 0; attempt < 40 && !got; attempt++) {
            if (sendto(fd, msg, strlen(msg), 0, (struct sockaddr *)&peer, sizeof(peer)) < 0)
                say("udp-a: sendto error %s", ename(errno));
            sent++;
            for (;;) {
                char buf[128];
                struct sockaddr_in from;
                socklen_t fl = sizeof(from);
                ssize_t k = recvfrom(fd, buf, sizeof(buf) - 1, 0, (struct sockaddr *)&from, &fl);
                if (k < 0)
                    break;      /* timeout: send again */
                buf[k] = 0;
                char fa[32];
                inet_ntop(AF_INET, &from.sin_addr, fa, sizeof(fa));
                say("udp-a: got '%s' from %s:%u", buf, fa, ntohs(from.sin_port));
                if (!strcmp(buf, want)) {
                    got = true;
                    break;
                }
            }
        }
        if (!got) {
            say("udp-a: no answer to '%s'", msg);
            break;
        }
        if (!bye)
            ok++;
    }
    say("udp-a: done, %u of %u pongs, %u datagrams sent", ok, rounds, sent);
    close(fd);
    power_off();
}

static void udp_b(void)
{
    if (net_config("eth0", "10.0.0.2") < 0)
        power_off();
    int fd = udp_socket(7000, 30000);
    if (fd < 0) {
        say("udp-b: socket error %s", ename(errno));
        power_off();
    }
    unsigned pings = 0;
    uint64_t seen = 0;      /* distinct ping numbers below 64 */
    for (;;) {
        char buf[128];
        struct sockaddr_in from;
        socklen_t fl = sizeof(from);
        ssize_t k = recvfrom(fd, buf, sizeof(buf) - 1, 0, (struct sockaddr *)&from, &fl);
        if (k < 0) {
            say("udp-b: recvfrom error %s, giving up", ename(errno));
            break;
        }
        buf[k] = 0;
        char fa[32];
        inet_ntop(AF_INET, &from.sin_addr, fa, sizeof(fa));
        say("udp-b: got '%s' from %s:%u", buf, fa, ntohs(from.sin_port));
        char reply[160];
        unsigned idx;
        char tok[40];
        bool bye = !strcmp(buf, "bye");
        if (bye)
            snprintf(reply, sizeof(reply), "bye-ack");
        else if (sscanf(buf, "ping %u %39s", &idx, tok) == 2) {
            snprintf(reply, sizeof(reply), "pong %u %s", idx, tok);
            pings++;
            if (idx < 64)
                seen |= 1ull << idx;
        } else
            continue;
        if (sendto(fd, reply, strlen(reply), 0, (struct sockaddr *)&from, sizeof(from)) < 0)
            say("udp-b: sendto error %s", ename(errno));
        if (bye)
            break;
    }
    say("udp-b: done, %u pings answered (%d distinct)", pings, __builtin_popcountll(seen));
    close(fd);
    power_off();
}

/* ---- main ---- */

static const char *cmdline_get(const char *cmdline, const char *key, char *out, size_t len)
{
    size_t kl = strlen(key);
    for (const char *p = cmdline; (p = strstr(p, key)); p += kl) {
        if ((p == cmdline || p[-1] == ' ') && p[kl] == '=') {
            size_t n = strcspn(p + kl + 1, " \n");
            if (n >= len)
                n = len - 1;
            memcpy(out, p + kl + 1, n);
            out[n] = 0;
            return out;
        }
    }
    return NULL;
}

int main(void)
{
    if (getpid() == 1) {
        mkdir("/dev", 0755);
        mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
        mkdir("/proc", 0755);
        mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
        mkdir("/sys", 0755);
        mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
        mkdir("/mnt", 0755);
    }
    char cmdline[2048] = "";
    read_small("/proc/cmdline", cmdline, sizeof(cmdline));
    char mode[32], nbuf[16];
    if (!cmdline_get(cmdline, "vc_mode", mode, sizeof(mode))) {
        say("no vc_mode= on the kernel command line");
        power_off();
    }
    say("mode %s", mode);
    if (!strcmp(mode, "serve"))
        serve();
    else if (!strcmp(mode, "hwrng"))
        cmd_hwrng(32);
    else if (!strcmp(mode, "udp-a"))
        udp_a(cmdline_get(cmdline, "vc_n", nbuf, sizeof(nbuf)) ? (unsigned)atoi(nbuf) : 5);
    else if (!strcmp(mode, "udp-b"))
        udp_b();
    else
        say("unknown vc_mode '%s'", mode);
    power_off();
    return 0;
}
