/* hello: the first ChaosControl guest. It runs as /init (PID 1) of a minimal
 * Linux VM whose console is ttyS0, prints a few lines that a deterministic
 * run must reproduce exactly (a computed checksum, bytes from getrandom(),
 * the clocks), then powers the VM off.
 *
 * Built with musl-gcc -static (guests/meson.build). It also runs natively
 * (./build/guests/hello): when it is not PID 1 it prints the same lines and
 * exits instead of calling reboot().
 *
 * Every line is one write(2) to fd 1 (the kernel opens /dev/console as fds
 * 0-2 for init when the initramfs has /dev/console), so nothing sits in a
 * stdio buffer when the VM powers off.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/reboot.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "common/guest.h"

#define NUM_LINES 5
#define NUM_PRIMES 1000
#define FNV_BUF_SIZE (64 * 1024)

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    guest_vsay("hello: ", fmt, ap);
    va_end(ap);
}

/* Sum of the first count primes, by trial division. */
static uint64_t sum_primes(unsigned count)
{
    uint64_t sum = 0;
    unsigned found = 0;
    for (uint32_t n = 2; found < count; n++) {
        int prime = 1;
        for (uint32_t d = 2; d * d <= n; d++) {
            if (n % d == 0) {
                prime = 0;
                break;
            }
        }
        if (prime) {
            sum += n;
            found++;
        }
    }
    return sum;
}

/* FNV-1a (64-bit) over FNV_BUF_SIZE bytes from a xorshift32 stream seeded
 * with 1. */
static uint64_t fnv1a_stream(void)
{
    static uint8_t buf[FNV_BUF_SIZE];
    uint32_t x = 1;
    for (size_t i = 0; i < sizeof(buf); i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        buf[i] = (uint8_t)x;
    }
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < sizeof(buf); i++) {
        h ^= buf[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static void show_random(void)
{
    uint8_t bytes[16];
    size_t got = 0;
    int waited = 0;
    while (got < sizeof(bytes)) {
        ssize_t k = getrandom(bytes + got, sizeof(bytes) - got, waited ? 0 : GRND_NONBLOCK);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0 && errno == EAGAIN && !waited) {
            /* Say so: if the VM provides no entropy this would hang silently. */
            say("getrandom: entropy pool not ready, waiting");
            waited = 1;
            continue;
        }
        if (k < 0) {
            say("getrandom: failed: %s", strerror(errno));
            return;
        }
        got += (size_t)k;
    }
    char hex[2 * sizeof(bytes) + 1];
    for (size_t i = 0; i < sizeof(bytes); i++)
        snprintf(hex + 2 * i, 3, "%02x", bytes[i]);
    say("getrandom: %s", hex);
}

/* With a virtio-rng device the VMM feeds /dev/hwrng from the seeded stream
 * of the moment the guest asks, so forks of one snapshot with different
 * seeds print different bytes here (getrandom's pool was seeded at boot).
 * The driver keeps one buffer of device bytes requested ahead (64 bytes in
 * Linux 6.1's virtio-rng), which may have been filled before a snapshot:
 * read past it and show the last 16 bytes. */
static void show_hwrng(void)
{
    if (getpid() == 1) {
        mkdir("/dev", 0755);
        mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);   /* may already be there */
    }
    int fd = open("/dev/hwrng", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        say("hwrng: none (%s)", strerror(errno));
        return;
    }
    unsigned char all[256], *bytes = all + sizeof(all) - 16;
    size_t got = 0;
    while (got < sizeof(all)) {
        ssize_t k = read(fd, all + got, sizeof(all) - got);
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    close(fd);
    if (got != sizeof(all)) {
        say("hwrng: short read (%zu)", got);
        return;
    }
    char hex[2 * 16 + 1];
    for (size_t i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", bytes[i]);
    say("hwrng: %s", hex);
}

static void show_clock(const char *name, clockid_t id)
{
    struct timespec ts;
    if (clock_gettime(id, &ts) < 0)
        say("%s: clock_gettime failed: %s", name, strerror(errno));
    else
        say("%s: %lld.%09ld", name, (long long)ts.tv_sec, (long)ts.tv_nsec);
}

int main(void)
{
    say("ChaosControl guest starting");
    say("pid: %d", (int)getpid());
    for (int i = 1; i <= NUM_LINES; i++)
        say("line %d of %d", i, NUM_LINES);
    say("primes: sum of first %d = %llu", NUM_PRIMES,
        (unsigned long long)sum_primes(NUM_PRIMES));
    say("fnv1a: 0x%016llx", (unsigned long long)fnv1a_stream());
    show_hwrng();
    show_random();
    show_clock("realtime", CLOCK_REALTIME);
    show_clock("monotonic", CLOCK_MONOTONIC);
    /* Virtual time passes while the guest sleeps (the VMM fast-forwards the
     * halted vCPU to the next timer), so this costs no wall time. */
    struct timespec nap = {.tv_sec = 0, .tv_nsec = 100000000};
    nanosleep(&nap, NULL);
    show_clock("monotonic after a 100 ms sleep", CLOCK_MONOTONIC);
    struct utsname u;
    if (uname(&u) < 0)
        say("uname: failed: %s", strerror(errno));
    else
        say("uname: %s %s %s", u.sysname, u.release, u.machine);
    say("done");

    sync();
    if (getpid() != 1) {
        say("not pid 1, not powering off");
        return 0;
    }
    reboot(RB_POWER_OFF);
    /* PID 1 must never exit (the kernel would panic): report and idle. */
    say("reboot(RB_POWER_OFF) failed: %s", strerror(errno));
    for (;;)
        pause();
}
