/* The processor the VMs present (--cpu-vendor, --cpu-family, --cpu-model,
 * --cpu-stepping, --cpu-brand, --tsc-khz, --avx2, --avx512) and host core
 * pinning (--pin-cpu): options of every command that creates VMs
 * (docs/cpu.md). */
#include <stdio.h>
#include <string.h>

#include "cli.h"

void cli_cpu_opts_default(struct cli_cpu_opts *o)
{
    memset(o, 0, sizeof(*o));
    cc_cpu_model_default(&o->model);
}

static int bad(const char *cmd, const char *opt, const char *arg, const char *why)
{
    fprintf(stderr, "chaoscontrol %s: %s '%s': %s\n", cmd, opt, arg, why);
    return -1;
}

static bool parse_u32(const char *arg, uint32_t max, uint32_t *out)
{
    uint64_t v;
    if (!cli_parse_u64(arg, &v) || v > max)
        return false;
    *out = (uint32_t)v;
    return true;
}

int cli_cpu_opt(const char *cmd, int c, const char *arg, struct cli_cpu_opts *o)
{
    struct cc_cpu_identity *id = &o->model.id;
    char why[160];
    switch (c) {
    case CLI_OPT_CPU_VENDOR:
        if (strlen(arg) != 12)
            return bad(cmd, "--cpu-vendor", arg, "a CPU vendor is exactly 12 characters "
                       "(e.g. GenuineIntel, AuthenticAMD)");
        memcpy(id->vendor, arg, 13);
        break;
    case CLI_OPT_CPU_FAMILY:
        if (!parse_u32(arg, CC_CPU_MAX_FAMILY, &id->family) || !id->family) {
            snprintf(why, sizeof(why), "not a CPU family (1-%u)", CC_CPU_MAX_FAMILY);
            return bad(cmd, "--cpu-family", arg, why);
        }
        break;
    case CLI_OPT_CPU_MODEL:
        if (!parse_u32(arg, 255, &id->model))
            return bad(cmd, "--cpu-model", arg, "not a CPU model (0-255; above 15 only with "
                       "family 6 or 15 and above)");
        break;
    case CLI_OPT_CPU_STEPPING:
        if (!parse_u32(arg, 15, &id->stepping))
            return bad(cmd, "--cpu-stepping", arg, "not a stepping (0-15)");
        break;
    case CLI_OPT_CPU_BRAND:
        if (strlen(arg) >= sizeof(id->brand))
            return bad(cmd, "--cpu-brand", arg, "a brand string is at most 48 characters");
        memcpy(id->brand, arg, strlen(arg) + 1);
        break;
    case CLI_OPT_TSC_KHZ:
        if (!parse_u32(arg, CC_CPU_MAX_TSC_KHZ, &o->model.tsc_khz) ||
            o->model.tsc_khz < CC_CPU_MIN_TSC_KHZ) {
            snprintf(why, sizeof(why), "not a TSC frequency in kHz (%u-%u, e.g. 2400000 for "
                     "2.4 GHz)", CC_CPU_MIN_TSC_KHZ, CC_CPU_MAX_TSC_KHZ);
            return bad(cmd, "--tsc-khz", arg, why);
        }
        break;
    case CLI_OPT_AVX2: o->model.avx2 = true; break;
    case CLI_OPT_NO_AVX2: o->model.avx2 = false; break;
    case CLI_OPT_AVX512: o->model.avx512 = true; break;
    case CLI_OPT_NO_AVX512: o->model.avx512 = false; break;
    case CLI_OPT_PIN_CPU: {
        struct cc_err err = {0};
        if (cc_cpulist_parse(arg, &o->pin, &err) < 0 ||
            cc_cpulist_check_allowed(&o->pin, &err) < 0)
            return bad(cmd, "--pin-cpu", arg, err.msg);
        return 1;
    }
    default:
        return 0;
    }
    o->model_given = true;
    return 1;
}

int cli_cpu_opts_check(const char *cmd, const struct cli_cpu_opts *o)
{
    struct cc_err err = {0};
    if (cc_cpu_model_check(&o->model, &err) < 0) {
        fprintf(stderr, "chaoscontrol %s: %s\n", cmd, err.msg);
        return -1;
    }
    return 0;
}

int cli_pin(const char *cmd, const struct cli_cpu_opts *o, unsigned k, bool quiet)
{
    static int said = -1;       /* the core last reported: once per process */
    if (!o->pin.n)
        return 0;
    unsigned core = o->pin.cpu[k % o->pin.n];
    struct cc_err err = {0};
    if (cc_pin_thread(core, &err) < 0) {
        fprintf(stderr, "chaoscontrol%s%s: --pin-cpu: %s\n", cmd ? " " : "", cmd ? cmd : "",
                err.msg);
        return -1;
    }
    if (!quiet && said != (int)core)
        fprintf(stderr, "chaoscontrol%s%s: vCPU thread pinned to host core %u\n",
                cmd ? " " : "", cmd ? cmd : "", core);
    said = (int)core;
    return 0;
}

void cli_cpu_usage(FILE *f, int w, bool model, bool pin)
{
    struct cc_cpu_model d;
    cc_cpu_model_default(&d);
    if (model) {
        fprintf(f, "  %-*s CPUID vendor, exactly 12 characters (default %s)\n", w,
                "--cpu-vendor S", d.id.vendor);
        fprintf(f, "  %-*s CPU family, 1-%u (default %u)\n", w, "--cpu-family N",
                CC_CPU_MAX_FAMILY, d.id.family);
        fprintf(f, "  %-*s CPU model, 0-255 with family 6 or >= 15, else 0-15 (default %u)\n",
                w, "--cpu-model N", d.id.model);
        fprintf(f, "  %-*s CPU stepping, 0-15 (default %u)\n", w, "--cpu-stepping N",
                d.id.stepping);
        fprintf(f, "  %-*s brand string (/proc/cpuinfo's model name), at most 48\n"
                "  %-*s characters (default \"%s\")\n", w, "--cpu-brand S", w, "", d.id.brand);
        fprintf(f, "  %-*s TSC frequency in kHz, CPUID leaves 0x15/0x16 (%u-%u,\n"
                "  %-*s default %u)\n", w, "--tsc-khz N", CC_CPU_MIN_TSC_KHZ,
                CC_CPU_MAX_TSC_KHZ, w, "", d.tsc_khz);
        fprintf(f, "  %-*s expose AVX2 (default off; fails if the host's KVM lacks it)\n", w,
                "--[no-]avx2");
        fprintf(f, "  %-*s expose AVX-512 (default off; likewise)\n", w,
                "--[no-]avx512");
    }
    if (pin)
        fprintf(f, "  %-*s pin the thread that runs every vCPU to a host core of LIST\n"
                "  %-*s (e.g. 2 or 0-3,6; docs/cpu.md); the guest sees no difference\n", w,
                "--pin-cpu LIST", w, "");
}
