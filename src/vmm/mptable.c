/* The MP table (Intel MultiProcessor Specification 1.4, chapter 4): the
 * floating pointer structure and the base configuration table, as
 * described in mptable.h. All fields are little endian. */
#include <errno.h>
#include <string.h>

#include "mptable.h"

/* Floating pointer structure (MP spec 4.1). */
#define MPF_PHYSPTR      4
#define MPF_LENGTH       8
#define MPF_SPEC         9
#define MPF_CHECKSUM     10
#define MPF_FEATURE1     11

/* Configuration table header (MP spec 4.2). */
#define MPC_LENGTH       4
#define MPC_SPEC         6
#define MPC_CHECKSUM     7
#define MPC_OEM          8
#define MPC_PRODUCT      16
#define MPC_OEMPTR       28
#define MPC_OEMSIZE      32
#define MPC_COUNT        34
#define MPC_LAPIC        36
#define MPC_EXT_LENGTH   40

#define MP_SPEC_REV      4
#define ISA_BUS_ID       0

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* The value that makes the n bytes at p sum to 0 mod 256. */
static uint8_t checksum(const uint8_t *p, size_t n)
{
    uint8_t sum = 0;
    for (size_t i = 0; i < n; i++)
        sum = (uint8_t)(sum + p[i]);
    return (uint8_t)-sum;
}

static unsigned entry_count(unsigned ncpu)
{
    return ncpu + 1 /* bus */ + 1 /* I/O APIC */ + MPTABLE_ISA_IRQS + 2 /* LINT0, LINT1 */;
}

uint32_t mptable_size(unsigned ncpu)
{
    return MP_FLOATING_SIZE + MP_CONFIG_HDR_SIZE + ncpu * MP_PROCESSOR_SIZE +
           (entry_count(ncpu) - ncpu) * MP_OTHER_ENTRY_SIZE;
}

/* An 8-byte I/O (type 3) or local (type 4) interrupt assignment entry. */
static uint8_t *put_int(uint8_t *e, uint8_t type, uint8_t irqtype, uint8_t src_irq,
                        uint8_t dst_id, uint8_t dst_pin)
{
    e[0] = type;
    e[1] = irqtype;
    put16(e + 2, 0);            /* polarity and trigger conform to the bus */
    e[4] = ISA_BUS_ID;
    e[5] = src_irq;
    e[6] = dst_id;
    e[7] = dst_pin;
    return e + MP_OTHER_ENTRY_SIZE;
}

int mptable_write(uint8_t *mem, uint64_t mem_size, uint64_t gpa, unsigned ncpu,
                  uint32_t cpu_signature, uint32_t cpu_features, struct cc_err *err)
{
    if (ncpu < 1 || ncpu > MPTABLE_MAX_CPUS)
        return cc_err_set(err, EINVAL, "MP table: %u CPUs; a guest has 1 to %d", ncpu,
                          MPTABLE_MAX_CPUS);
    uint32_t size = mptable_size(ncpu);
    if (size > MPTABLE_MAX_SIZE)
        return cc_err_set(err, EINVAL, "MP table: %u bytes, more than the %u Linux scans",
                          size, MPTABLE_MAX_SIZE);
    /* The configuration table's address is 32 bits. */
    if (gpa % 16 || gpa > mem_size || mem_size - gpa < size ||
        gpa + size > UINT32_MAX)
        return cc_err_set(err, EINVAL,
                          "MP table: %u bytes at guest address 0x%llx do not fit in "
                          "guest memory of %llu bytes below 4 GiB (or the address is "
                          "not 16-byte aligned)", size, (unsigned long long)gpa,
                          (unsigned long long)mem_size);

    uint8_t *mpf = mem + gpa;
    uint8_t *mpc = mpf + MP_FLOATING_SIZE;
    memset(mpf, 0, size);

    /* Entries, in the order the MP spec recommends (by type). */
    uint8_t *e = mpc + MP_CONFIG_HDR_SIZE;
    for (unsigned id = 0; id < ncpu; id++) {
        e[0] = MP_ENTRY_PROCESSOR;
        e[1] = (uint8_t)id;                     /* local APIC ID */
        e[2] = MPTABLE_LAPIC_VER;
        e[3] = MP_CPU_ENABLED | (id == 0 ? MP_CPU_BP : 0);
        put32(e + 4, cpu_signature);
        put32(e + 8, cpu_features);
        e += MP_PROCESSOR_SIZE;                 /* bytes 12-19 reserved */
    }
    e[0] = MP_ENTRY_BUS;
    e[1] = ISA_BUS_ID;
    memcpy(e + 2, "ISA   ", 6);
    e += MP_OTHER_ENTRY_SIZE;

    uint8_t ioapic_id = (uint8_t)ncpu;
    e[0] = MP_ENTRY_IOAPIC;
    e[1] = ioapic_id;
    e[2] = MPTABLE_IOAPIC_VER;
    e[3] = 0x01;                                /* enabled */
    put32(e + 4, MPTABLE_IOAPIC_ADDR);
    e += MP_OTHER_ENTRY_SIZE;

    for (uint8_t irq = 0; irq < MPTABLE_ISA_IRQS; irq++)
        e = put_int(e, MP_ENTRY_IOINT, MP_INT_INT, irq, ioapic_id, irq);
    e = put_int(e, MP_ENTRY_LINT, MP_INT_EXTINT, 0, 0xff, 0);
    e = put_int(e, MP_ENTRY_LINT, MP_INT_NMI, 0, 0xff, 1);

    uint16_t table_len = (uint16_t)(e - mpc);
    memcpy(mpc, "PCMP", 4);
    put16(mpc + MPC_LENGTH, table_len);
    mpc[MPC_SPEC] = MP_SPEC_REV;
    memcpy(mpc + MPC_OEM, "CHAOSCTL", 8);
    memcpy(mpc + MPC_PRODUCT, "VMM         ", 12);
    put32(mpc + MPC_OEMPTR, 0);
    put16(mpc + MPC_OEMSIZE, 0);
    put16(mpc + MPC_COUNT, (uint16_t)entry_count(ncpu));
    put32(mpc + MPC_LAPIC, MPTABLE_LAPIC_ADDR);
    put16(mpc + MPC_EXT_LENGTH, 0);             /* no extended entries */
    mpc[MPC_CHECKSUM] = checksum(mpc, table_len);

    memcpy(mpf, "_MP_", 4);
    put32(mpf + MPF_PHYSPTR, (uint32_t)(gpa + MP_FLOATING_SIZE));
    mpf[MPF_LENGTH] = 1;                        /* in 16-byte units */
    mpf[MPF_SPEC] = MP_SPEC_REV;
    mpf[MPF_FEATURE1] = 0;                      /* the table above, no default config */
    /* feature byte 2 bit 7 (IMCRP) clear: virtual wire mode, no IMCR */
    mpf[MPF_CHECKSUM] = checksum(mpf, MP_FLOATING_SIZE);
    return 0;
}
