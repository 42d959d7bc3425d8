/* Host core lists and pinning (chaoscontrol/pin.h, docs/cpu.md): --pin-cpu's
 * parser keeps the order given and refuses what is not a list of cores
 * with a message naming the item; the allowed-set check; pinning the
 * calling thread (seen back through sched_getaffinity). No KVM. */
#include <sched.h>
#include <string.h>

#include "chaoscontrol/pin.h"
#include "../tap.h"

static const char *list_of(const char *s)
{
    static char buf[4096];
    struct cc_cpulist l;
    struct cc_err err = {0};
    if (cc_cpulist_parse(s, &l, &err) < 0)
        return "error";
    buf[0] = 0;
    for (unsigned i = 0; i < l.n; i++)
        snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%u", i ? " " : "", l.cpu[i]);
    return buf;
}

static const char *error_of(const char *s)
{
    static struct cc_err err;
    memset(&err, 0, sizeof(err));
    struct cc_cpulist l;
    return cc_cpulist_parse(s, &l, &err) < 0 ? err.msg : "";
}

static void test_parse(void)
{
    is_str(list_of("0"), "0", "one core");
    is_str(list_of("0-3,6"), "0 1 2 3 6", "a range and a core");
    is_str(list_of("6,0-1"), "6 0 1", "the order given is kept (round robin follows it)");
    is_str(list_of("5-5"), "5", "a range of one");
    is_str(list_of("1023"), "1023", "the largest core number");
    static const struct { const char *in, *needle; } bad[] = {
        {"", "an empty list"},
        {"a", "'a' is not a core number"},
        {"1-", "'1-' is not a core number"},
        {"-1", "'-1' is not a core number"},
        {"1-x", "'1-x' is not a core number"},
        {"0,,1", "an empty item"},
        {"0,", "an empty item"},
        {",0", "an empty item"},
        {"3-1", "the range '3-1' is backwards"},
        {"1,0-2", "core 1 is listed twice"},
        {"1024", "'1024' is not a core number"},
        {"0-1024", "'0-1024' is not a core number"},
        {"1 ,2", "'1 ' is not a core number"},
        {"0x1", "'0x1' is not a core number"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *msg = error_of(bad[i].in);
        ok(strstr(msg, bad[i].needle) != NULL, "'%s' is refused: %s", bad[i].in, msg);
    }
    struct cc_cpulist l;
    struct cc_err err = {0};
    char out[64];
    cc_cpulist_parse("0-3,6,8-9,5", &l, &err);
    cc_cpulist_format(&l, out, sizeof(out));
    is_str(out, "0-3,6,8-9,5", "format gives back the ranges in list order");
}

static void test_allowed_and_pin(void)
{
    struct cc_cpulist allowed, l;
    struct cc_err err = {0};
    int rc = cc_cpulist_allowed(&allowed, &err);
    ok(rc == 0 && allowed.n >= 1, "this process may use %u core(s)", allowed.n);
    char have[256];
    cc_cpulist_format(&allowed, have, sizeof(have));
    ok(cc_cpulist_parse(have, &l, &err) == 0 && cc_cpulist_check_allowed(&l, &err) == 0,
       "the allowed set (%s) passes the check", have);
    /* a core outside the allowed set: the highest number no one has */
    cpu_set_t set;
    sched_getaffinity(0, sizeof(set), &set);
    unsigned outside = CC_CPULIST_MAX - 1;
    ok(!CPU_ISSET(outside, &set), "core %u is not allowed here", outside);
    char s[16];
    snprintf(s, sizeof(s), "%u", outside);
    memset(&err, 0, sizeof(err));
    ok(cc_cpulist_parse(s, &l, &err) == 0 && cc_cpulist_check_allowed(&l, &err) < 0 &&
       strstr(err.msg, "core 1023 is not one this process may run on") && strstr(err.msg, have),
       "a core outside it is refused, naming it and the allowed set: %s", err.msg);

    unsigned last = allowed.cpu[allowed.n - 1];
    ok(cc_pin_thread(last, &err) == 0, "pin to core %u", last);
    CPU_ZERO(&set);
    sched_getaffinity(0, sizeof(set), &set);
    ok(CPU_COUNT(&set) == 1 && CPU_ISSET(last, &set), "the thread may now run on core %u only",
       last);
    memset(&err, 0, sizeof(err));
    ok(cc_pin_thread(outside, &err) < 0 && strstr(err.msg, "core 1023"),
       "pinning to a core not allowed fails: %s", err.msg);
}

int main(void)
{
    tap_plan(0);
    test_parse();
    test_allowed_and_pin();
    return tap_exit();
}
