/* Helpers every guest /init shares: console lines, the monotonic clock in
 * milliseconds, name=value parameters of the kernel command line, and
 * powering the VM off. Header-only (static functions) for guests built with
 * musl-gcc -static; include it as "common/guest.h". */
#ifndef CC_GUEST_COMMON_H
#define CC_GUEST_COMMON_H

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

/* One console line: prefix, the formatted text, a newline, in one write()
 * where possible (every console byte costs the VMM an exit, so guests say
 * little). Long lines are cut. */
static inline void guest_vsay(const char *prefix, const char *fmt, va_list ap)
{
    char line[1024];
    int n = snprintf(line, sizeof(line), "%s", prefix);
    if (n < 0 || (size_t)n >= sizeof(line) - 2)
        n = 0;
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    n = m < 0 ? n : n + m;
    if ((size_t)n > sizeof(line) - 2)
        n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    for (const char *p = line; n > 0;) {
        ssize_t k = write(1, p, (size_t)n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return;
        p += k;
        n -= (int)k;
    }
}

static inline uint64_t guest_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* As /init (pid 1): sync and power the VM off. Otherwise (run natively or
 * under another init): exit with code. */
static inline void guest_power_off(int code) __attribute__((noreturn));
static inline void guest_power_off(int code)
{
    if (getpid() == 1) {
        sync();
        reboot(RB_POWER_OFF);
        for (;;)
            pause();
    }
    exit(code);
}

/* The value of name=VALUE in a kernel command line (words separated by
 * spaces or newlines) copied into buf (cut to cap - 1 bytes), or NULL. */
static inline const char *guest_cmdline_param(const char *cmdline, const char *name, char *buf,
                                              size_t cap)
{
    size_t nl = strlen(name);
    for (const char *p = cmdline; p && *p;) {
        while (*p == ' ' || *p == '\n')
            p++;
        const char *e = p;
        while (*e && *e != ' ' && *e != '\n')
            e++;
        if ((size_t)(e - p) > nl && !strncmp(p, name, nl) && p[nl] == '=') {
            size_t len = (size_t)(e - p) - nl - 1;
            if (len >= cap)
                len = cap - 1;
            memcpy(buf, p + nl + 1, len);
            buf[len] = 0;
            return buf;
        }
        p = e;
    }
    return NULL;
}

/* /dev/vda (the first virtio disk), created from /sys/block/vda/dev when
 * /dev has no node for it (sysfs is mounted if it is not); NULL when there
 * is no such disk or the node cannot be made (errno says why). */
static inline const char *guest_find_disk(void)
{
    struct stat st;
    if (stat("/dev/vda", &st) == 0 && S_ISBLK(st.st_mode))
        return "/dev/vda";
    if (stat("/sys/block", &st) < 0)
        mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    int fd = open("/sys/block/vda/dev", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    char buf[32];
    ssize_t k = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    unsigned maj, min;
    if (k <= 0)
        return NULL;
    buf[k] = 0;
    if (sscanf(buf, "%u:%u", &maj, &min) != 2)
        return NULL;
    mkdir("/dev", 0755);
    if (mknod("/dev/vda", S_IFBLK | 0600, makedev(maj, min)) < 0 && errno != EEXIST)
        return NULL;
    return "/dev/vda";
}

#endif
