/* The MP table (Intel MultiProcessor Specification 1.4) of an SMP guest:
 * how Linux booted with acpi=off (CONFIG_X86_MPPARSE) finds its CPUs and
 * the I/O APIC.
 *
 * Layout written at gpa (the first KiB of the EBDA, 0x9fc00, which Linux's
 * smp_scan_config(639 * 0x400, 0x400) scans):
 *   +0x00  floating pointer "_MP_" (16 bytes): spec rev 4, feature bytes 0
 *          (no default configuration; virtual wire mode, no IMCR)
 *   +0x10  configuration table "PCMP" (44-byte header, OEM "CHAOSCTL",
 *          product "VMM", local APIC at 0xFEE00000), then its entries:
 *            ncpu processors (APIC IDs 0..ncpu-1, APIC version 0x14,
 *                 enabled, BP flag on ID 0; signature and feature flags
 *                 as given)
 *            1 bus (ID 0, "ISA   ")
 *            1 I/O APIC (ID ncpu, version 0x11, enabled, at 0xFEC00000)
 *            16 I/O interrupts (INT, conforming polarity and trigger, so
 *                 edge and active high: ISA IRQ n -> I/O APIC pin n)
 *            2 local interrupts (ExtINT -> LINT0, NMI -> LINT1, all
 *                 local APICs: destination 0xff)
 * 8 CPUs take 16 + 44 + 8 * 20 + 8 + 8 + 16 * 8 + 2 * 8 = 380 bytes. */
#ifndef CC_VMM_MPTABLE_H
#define CC_VMM_MPTABLE_H

#include <stdint.h>

#include "chaoscontrol/err.h"

#define MPTABLE_MAX_CPUS     8
#define MPTABLE_MAX_SIZE     0x400u       /* what Linux scans at 0x9fc00 */

#define MPTABLE_LAPIC_ADDR   0xfee00000u
#define MPTABLE_IOAPIC_ADDR  0xfec00000u
#define MPTABLE_LAPIC_VER    0x14
#define MPTABLE_IOAPIC_VER   0x11
#define MPTABLE_ISA_IRQS     16

/* Entry types (MP spec table 4-3) and their sizes. */
#define MP_ENTRY_PROCESSOR   0
#define MP_ENTRY_BUS         1
#define MP_ENTRY_IOAPIC      2
#define MP_ENTRY_IOINT       3
#define MP_ENTRY_LINT        4
#define MP_PROCESSOR_SIZE    20
#define MP_OTHER_ENTRY_SIZE  8
#define MP_FLOATING_SIZE     16
#define MP_CONFIG_HDR_SIZE   44

/* Interrupt types (I/O and local interrupt entries). */
#define MP_INT_INT           0
#define MP_INT_NMI           1
#define MP_INT_SMI           2
#define MP_INT_EXTINT        3

/* Processor entry CPU flags. */
#define MP_CPU_ENABLED       0x01
#define MP_CPU_BP            0x02

/* Bytes the whole table takes for ncpu processors. */
uint32_t mptable_size(unsigned ncpu);

/* Write the floating pointer and the configuration table at guest-physical
 * gpa of mem (mem_size bytes, guest-physical 0 at mem[0]) for ncpu CPUs
 * (1..MPTABLE_MAX_CPUS). cpu_signature is the processor entries' CPU
 * signature (stepping bits 0-3, model 4-7, family 8-11), cpu_features their
 * feature flags (CPUID leaf 1 EDX). Returns 0, or -EINVAL with a message
 * when ncpu is out of range or the table does not fit in guest memory or
 * in the KiB at gpa that Linux scans. */
int mptable_write(uint8_t *mem, uint64_t mem_size, uint64_t gpa, unsigned ncpu,
                  uint32_t cpu_signature, uint32_t cpu_features, struct cc_err *err);

#endif
