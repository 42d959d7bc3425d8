// The guest SDK header from C++ (g++, host build, local mode): the macros
// compile in functions, methods, templates and lambdas, their catalog
// entries land in the cc_catalog section, and calls work.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "chaoscontrol.h"

extern "C" struct cc_catalog_entry *__start_cc_catalog[] __attribute__((weak));
extern "C" struct cc_catalog_entry *__stop_cc_catalog[] __attribute__((weak));

namespace {

struct Account {
    long balance = 0;
    void deposit(long v)
    {
        balance += v;
        CC_ALWAYS(balance >= 0, "cxx: balance never negative", "{\"where\":\"deposit\"}");
    }
};

template <typename T> T twice(T v)
{
    CC_SOMETIMES(v > 10, "cxx: template sees a big value", nullptr);
    return v * 2;
}

int n_ok = 0, n_total = 0;

void check(bool c, const char *what)
{
    n_total++;
    if (c)
        n_ok++;
    std::printf("%s %d - %s\n", c ? "ok" : "not ok", n_total, what);
}

} // namespace

int main()
{
    check(cc_sdk_mode() == CC_SDK_LOCAL, "local mode natively");
    Account a;
    a.deposit(5);
    int t = twice(3) + twice(20);
    auto f = [](int x) {
        CC_REACHABLE("cxx: lambda reached", nullptr);
        return x + 1;
    };
    t += f(1);
    std::vector<std::string> v{"x", "y"};
    for (auto &s : v)
        CC_ALWAYS(!s.empty(), "cxx: strings are not empty", nullptr);
    if (t < 0)
        CC_UNREACHABLE("cxx: never", nullptr);
    cc_setup_complete(nullptr);
    cc_send_event("cxx", "{\"ok\":true}");
    uint64_t r = cc_random_choice(5);
    check(r < 5, "cc_random_choice from C++");
    unsigned char buf[16];
    cc_random_bytes(buf, sizeof buf);
    cc_guidance_maximize("cxx", 3);
    cc_coverage_edge(7);

    size_t n = 0;
    bool have_method = false, have_template = false, have_lambda = false, have_never = false;
    // volatile: g++ otherwise folds the null checks of the weak arrays away
    cc_catalog_entry **volatile start = __start_cc_catalog, **volatile stop = __stop_cc_catalog;
    if (start && stop) {
        for (cc_catalog_entry **p = start; p < stop; p++) {
            n++;
            const char *m = (*p)->message;
            have_method |= !std::strcmp(m, "cxx: balance never negative");
            have_template |= !std::strcmp(m, "cxx: template sees a big value");
            have_lambda |= !std::strcmp(m, "cxx: lambda reached");
            have_never |= !std::strcmp(m, "cxx: never") && (*p)->kind == 5;
        }
    }
    check(n >= 4, "catalog section has the C++ entries");
#if defined(__clang__)
    check(have_method && have_template && have_lambda && have_never,
          "method, template, lambda and unreached entries are in the catalog");
#else
    // g++ ignores the section attribute on statics of function template
    // instances: those entries are registered when first reached instead.
    check(have_method && have_lambda && have_never,
          "method, lambda and unreached entries are in the catalog");
    (void)have_template;
#endif
    std::printf("1..%d\n", n_total);
    return n_ok == n_total ? 0 : 1;
}
