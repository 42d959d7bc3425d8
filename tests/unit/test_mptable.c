/* Unit tests for the MP table (src/vmm/mptable.h): what mptable_write puts
 * in guest memory is parsed back as Linux's arch/x86/kernel/mpparse.c
 * reads it (the scan for "_MP_" in the KiB at 0x9fc00, both checksums,
 * the header, every entry by type and size) for 1, 2, 4 and 8 CPUs; nothing
 * outside the table is touched; bad CPU counts and addresses are refused
 * with a message and leave memory alone. */
#include <errno.h>

#include "../tap.h"
#include "vmm/mptable.h"

#define MEM_SIZE  (1u << 20)
#define EBDA      0x9fc00u
#define FILL      0xa5
#define SIGNATURE 0x00000f61u   /* family 15, model 6, stepping 1 */
#define FEATURES  0x00000201u   /* FPU, APIC */

static uint8_t mem[MEM_SIZE];

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static unsigned sum(const uint8_t *p, size_t n)
{
    unsigned s = 0;
    for (size_t i = 0; i < n; i++)
        s += p[i];
    return s & 0xff;
}

/* Linux's smp_scan_config: 16-byte steps, "_MP_", length 1, checksum 0,
 * spec 1 or 4. Returns the offset found or -1. */
static long scan(uint32_t base, uint32_t length)
{
    for (uint32_t off = 0; off + 16 <= length; off += 16) {
        const uint8_t *p = mem + base + off;
        if (!memcmp(p, "_MP_", 4) && p[8] == 1 && sum(p, 16) == 0 && (p[9] == 1 || p[9] == 4))
            return (long)(base + off);
    }
    return -1;
}

static void fill(void) { memset(mem, FILL, sizeof(mem)); }

/* Bytes outside [gpa, gpa + n) still hold the fill pattern. */
static int untouched_outside(uint32_t gpa, uint32_t n)
{
    for (uint32_t i = 0; i < MEM_SIZE; i++)
        if ((i < gpa || i >= gpa + n) && mem[i] != FILL)
            return 0;
    return 1;
}

static void test_ncpu(unsigned ncpu)
{
    struct cc_err err = {0};
    fill();
    int rc = mptable_write(mem, MEM_SIZE, EBDA, ncpu, SIGNATURE, FEATURES, &err);
    is_int(rc, 0, "ncpu %u: written (%s)", ncpu, err.msg);
    uint32_t size = mptable_size(ncpu);
    ok(size <= 0x400, "ncpu %u: %u bytes fit in the KiB Linux scans", ncpu, size);
    ok(untouched_outside(EBDA, size), "ncpu %u: nothing written outside the table", ncpu);

    /* Linux scans 0x0-0x3ff first, then 639 KiB - 640 KiB. */
    is_int(scan(0, 0x400), -1, "ncpu %u: no floating pointer in the first KiB", ncpu);
    is_int(scan(EBDA, 0x400), EBDA, "ncpu %u: the scan of 0x9fc00 finds it", ncpu);

    const uint8_t *mpf = mem + EBDA;
    ok(!memcmp(mpf, "_MP_", 4), "ncpu %u: floating pointer signature", ncpu);
    is_int(mpf[8], 1, "ncpu %u: floating pointer length 1 (16 bytes)", ncpu);
    is_int(mpf[9], 4, "ncpu %u: spec revision 1.4", ncpu);
    is_int(sum(mpf, 16), 0, "ncpu %u: floating pointer checksum", ncpu);
    is_int(mpf[11], 0, "ncpu %u: feature byte 1: a configuration table, no default", ncpu);
    is_int(mpf[12] | mpf[13] | mpf[14] | mpf[15], 0,
           "ncpu %u: feature bytes 2-5 zero (virtual wire, no IMCR)", ncpu);
    uint32_t physptr = get32(mpf + 4);
    is_int(physptr, EBDA + 16, "ncpu %u: configuration table right after it", ncpu);

    const uint8_t *mpc = mem + physptr;
    ok(!memcmp(mpc, "PCMP", 4), "ncpu %u: configuration table signature", ncpu);
    uint16_t len = get16(mpc + 4);
    is_int(len, size - 16, "ncpu %u: base table length", ncpu);
    is_int(mpc[6], 4, "ncpu %u: configuration table spec 1.4", ncpu);
    is_int(sum(mpc, len), 0, "ncpu %u: configuration table checksum", ncpu);
    ok(!memcmp(mpc + 8, "CHAOSCTL", 8), "ncpu %u: OEM id", ncpu);
    ok(!memcmp(mpc + 16, "VMM         ", 12), "ncpu %u: product id", ncpu);
    is_int(get32(mpc + 28), 0, "ncpu %u: no OEM table", ncpu);
    is_int(get16(mpc + 32), 0, "ncpu %u: OEM table size 0", ncpu);
    unsigned count = get16(mpc + 34);
    is_int(count, ncpu + 1 + 1 + 16 + 2, "ncpu %u: entry count", ncpu);
    is_u64(get32(mpc + 36), 0xfee00000u, "ncpu %u: local APIC address", ncpu);
    is_int(get16(mpc + 40), 0, "ncpu %u: no extended table", ncpu);
    is_int(mpc[42], 0, "ncpu %u: extended table checksum 0", ncpu);

    /* Walk the entries as smp_read_mpc does: by type, each its size. */
    unsigned n_cpu = 0, n_bus = 0, n_ioapic = 0, n_ioint = 0, n_lint = 0, bad = 0;
    unsigned bp = 0, cpu_bad = 0, ioint_bad = 0, lint_bad = 0, order_bad = 0;
    uint32_t irqs_seen = 0;
    int last_type = -1;
    const uint8_t *e = mpc + 44, *end = mpc + len;
    unsigned entries = 0;
    while (e < end && !bad) {
        entries++;
        if (e[0] < last_type)
            order_bad++;
        last_type = e[0];
        switch (e[0]) {
        case 0:
            if (e + 20 > end) { bad = 1; break; }
            if (e[1] != n_cpu || e[2] != 0x14 || !(e[3] & 1) ||
                get32(e + 4) != SIGNATURE || get32(e + 8) != FEATURES ||
                get32(e + 12) || get32(e + 16))
                cpu_bad++;
            if (e[3] & 2) {
                bp++;
                if (e[1] != 0)
                    cpu_bad++;
            }
            if (e[3] & ~3u)
                cpu_bad++;
            n_cpu++;
            e += 20;
            break;
        case 1:
            if (e + 8 > end) { bad = 1; break; }
            is_int(e[1], 0, "ncpu %u: bus id 0", ncpu);
            ok(!memcmp(e + 2, "ISA   ", 6), "ncpu %u: bus type \"ISA   \"", ncpu);
            n_bus++;
            e += 8;
            break;
        case 2:
            if (e + 8 > end) { bad = 1; break; }
            is_int(e[1], ncpu, "ncpu %u: I/O APIC id = ncpu", ncpu);
            is_int(e[2], 0x11, "ncpu %u: I/O APIC version", ncpu);
            is_int(e[3], 1, "ncpu %u: I/O APIC enabled", ncpu);
            is_u64(get32(e + 4), 0xfec00000u, "ncpu %u: I/O APIC address", ncpu);
            n_ioapic++;
            e += 8;
            break;
        case 3:
            if (e + 8 > end) { bad = 1; break; }
            /* INT, conforming (edge, active high), bus 0 IRQ n -> id ncpu pin n */
            if (e[1] != 0 || get16(e + 2) != 0 || e[4] != 0 || e[5] >= 16 ||
                e[6] != ncpu || e[7] != e[5] || (irqs_seen & (1u << e[5])))
                ioint_bad++;
            else
                irqs_seen |= 1u << e[5];
            n_ioint++;
            e += 8;
            break;
        case 4:
            if (e + 8 > end) { bad = 1; break; }
            /* first ExtINT -> LINT0, then NMI -> LINT1, of every APIC */
            if (e[1] != (n_lint == 0 ? 3 : 1) || get16(e + 2) != 0 || e[4] != 0 ||
                e[5] != 0 || e[6] != 0xff || e[7] != n_lint)
                lint_bad++;
            n_lint++;
            e += 8;
            break;
        default:
            bad = 1;
        }
    }
    ok(!bad, "ncpu %u: every entry has a known type and fits", ncpu);
    ok(e == end, "ncpu %u: entries end exactly at the table length", ncpu);
    is_int(entries, count, "ncpu %u: entries walked = entry count", ncpu);
    is_int(order_bad, 0, "ncpu %u: entries sorted by type", ncpu);
    is_int(n_cpu, ncpu, "ncpu %u: processor entries", ncpu);
    is_int(cpu_bad, 0, "ncpu %u: processor entries: ids 0..n-1, version, enabled, "
           "signature, features", ncpu);
    is_int(bp, 1, "ncpu %u: exactly one BP (APIC id 0)", ncpu);
    is_int(n_bus, 1, "ncpu %u: one bus", ncpu);
    is_int(n_ioapic, 1, "ncpu %u: one I/O APIC", ncpu);
    is_int(n_ioint, 16, "ncpu %u: 16 I/O interrupt entries", ncpu);
    is_int(ioint_bad, 0, "ncpu %u: ISA IRQ n -> pin n, INT, conforming", ncpu);
    is_u64(irqs_seen, 0xffff, "ncpu %u: IRQs 0-15 each once", ncpu);
    is_int(n_lint, 2, "ncpu %u: 2 local interrupt entries", ncpu);
    is_int(lint_bad, 0, "ncpu %u: ExtINT -> LINT0, NMI -> LINT1, dest 0xff", ncpu);
}

static void test_deterministic(void)
{
    static uint8_t copy[MEM_SIZE];
    fill();
    mptable_write(mem, MEM_SIZE, EBDA, 4, SIGNATURE, FEATURES, NULL);
    memcpy(copy, mem, MEM_SIZE);
    fill();
    mptable_write(mem, MEM_SIZE, EBDA, 4, SIGNATURE, FEATURES, NULL);
    ok(!memcmp(copy, mem, MEM_SIZE), "the same input writes the same bytes");

    /* Over a previous table for more CPUs: the old bytes beyond are not
     * parsed (length and count say so), and the new table checks. */
    fill();
    mptable_write(mem, MEM_SIZE, EBDA, 8, SIGNATURE, FEATURES, NULL);
    is_int(mptable_write(mem, MEM_SIZE, EBDA, 1, SIGNATURE, FEATURES, NULL), 0,
           "rewrite for 1 CPU");
    is_int(sum(mem + EBDA + 16, get16(mem + EBDA + 20)), 0, "rewritten table's checksum");
    is_int(get16(mem + EBDA + 16 + 34), 1 + 1 + 1 + 16 + 2, "rewritten table's count");
}

static void expect_error(unsigned ncpu, uint64_t mem_size, uint64_t gpa, const char *what)
{
    struct cc_err err = {0};
    fill();
    int rc = mptable_write(mem, mem_size, gpa, ncpu, SIGNATURE, FEATURES, &err);
    is_int(rc, -EINVAL, "%s: -EINVAL", what);
    is_int(err.code, EINVAL, "%s: err.code", what);
    ok(strstr(err.msg, "MP table") != NULL, "%s: message names the MP table: %s", what,
       err.msg);
    ok(untouched_outside(0, 0), "%s: memory untouched", what);
}

int main(void)
{
    tap_plan(0);
    unsigned counts[] = {1, 2, 4, 8};
    for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
        test_ncpu(counts[i]);

    is_int(mptable_size(8), 380, "8 CPUs: 380 bytes");
    is_int(mptable_size(1), 240, "1 CPU: 240 bytes");

    test_deterministic();

    expect_error(0, MEM_SIZE, EBDA, "ncpu 0");
    expect_error(9, MEM_SIZE, EBDA, "ncpu 9");
    expect_error(1000, MEM_SIZE, EBDA, "ncpu 1000");
    expect_error(2, MEM_SIZE, MEM_SIZE, "gpa at the end of memory");
    expect_error(2, MEM_SIZE, MEM_SIZE - 64, "table past the end of memory");
    expect_error(2, MEM_SIZE, UINT64_MAX - 15, "gpa near 2^64 (no wrap)");
    expect_error(2, 0x9fc00, EBDA, "memory ends at the table");
    expect_error(2, MEM_SIZE, EBDA + 8, "gpa not 16-byte aligned");
    expect_error(2, 1ull << 33, 0xffffff00ull, "table above 4 GiB");

    /* The table fits exactly at the end of memory. */
    struct cc_err err = {0};
    fill();
    is_int(mptable_write(mem, EBDA + mptable_size(2), EBDA, 2, SIGNATURE, FEATURES, &err), 0,
           "a table that ends exactly at the end of memory");
    is_int(scan(EBDA, 0x400 - 16 * 8), EBDA, "and is found");

    return tap_exit();
}
