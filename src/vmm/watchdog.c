/* The host watchdog: a thread that reports (through the VM's log) when
 * KVM_RUN has not returned for cfg.watchdog_s wall-clock seconds, which
 * means the guest spins without exits. It only reports: it changes nothing
 * the guest can see (DESIGN.md section 3.4). */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "vm_internal.h"

static void *watchdog_main(void *arg)
{
    struct cc_vm *vm = arg;
    uint64_t last = UINT64_MAX;
    unsigned stalled = 0;
    pthread_mutex_lock(&vm->wd_lock);
    while (!atomic_load(&vm->wd_stop)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&vm->wd_cond, &vm->wd_lock, &ts);
        uint64_t now = atomic_load(&vm->wd_exits);
        if (!atomic_load(&vm->wd_in_run) || now != last) {
            last = now;
            stalled = 0;
            continue;
        }
        if (++stalled == vm->cfg.watchdog_s)
            vm_log(vm, "watchdog: vCPU %u (of %u) has not exited for %u s (after exit "
                          "#%llu); the guest may be spinning without I/O%s",
                      vm->cur, vm->ncpu, vm->cfg.watchdog_s, (unsigned long long)now,
                      vm->ncpu > 1 ? " (an SMP guest: perhaps a user-mode loop waiting "
                                     "for a thread on another vCPU, which cannot run "
                                     "until this one exits; docs/smp.md)" : "");
    }
    pthread_mutex_unlock(&vm->wd_lock);
    return NULL;
}

int watchdog_start(struct cc_vm *vm, struct cc_err *err)
{
    pthread_mutex_init(&vm->wd_lock, NULL);
    vm->wd_inited = true;
    pthread_cond_init(&vm->wd_cond, NULL);
    if (!vm->cfg.watchdog_s)
        return 0;
    int rc = pthread_create(&vm->watchdog, NULL, watchdog_main, vm);
    if (rc)
        return cc_err_set(err, rc, "cannot start the watchdog thread: %s", strerror(rc));
    vm->watchdog_running = true;
    return 0;
}

void watchdog_stop(struct cc_vm *vm)
{
    if (!vm->wd_inited)
        return;
    if (vm->watchdog_running) {
        pthread_mutex_lock(&vm->wd_lock);
        atomic_store(&vm->wd_stop, true);
        pthread_cond_signal(&vm->wd_cond);
        pthread_mutex_unlock(&vm->wd_lock);
        pthread_join(vm->watchdog, NULL);
        vm->watchdog_running = false;
    }
    pthread_cond_destroy(&vm->wd_cond);
    pthread_mutex_destroy(&vm->wd_lock);
}
