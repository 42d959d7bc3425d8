/*
 * Guest code for tools/kvm-probe: three tiny 64-bit long-mode programs.
 *
 * The whole blob (probe_guest_start .. probe_guest_end) is copied into guest
 * memory at GUEST_CODE (see kvm-probe.c) and runs with paging on, identity
 * mapped. It is position independent: every reference inside the blob is
 * RIP-relative, so the host only needs the offsets of the exported labels.
 * It lives in .rodata: it is data to the host program, never executed there.
 *
 * Reporting to the host uses MMIO, which works at any privilege level:
 * guest-physical 0x200000.. is mapped (user-accessible) in the page tables
 * but has no memory slot, so every store there is a KVM_EXIT_MMIO.
 *   MMIO_DATA  0x200000  32-bit store: one value for the host; 64-bit
 *                        values are sent as two stores, low half first
 *   MMIO_DONE  0x200008  32-bit store: end of the run (CPL3 cannot HLT)
 *   PORT_EXC   0x11      an exception stub (CPL0) OUTs its vector; the host
 *                        reads error code, RIP and CS from the guest stack
 * A program ends with HLT, a store to MMIO_DONE, or an exception.
 */

#define MMIO_DATA 0x200000
#define MMIO_DONE 0x200008
#define PORT_EXC  0x11

/* Selectors; must match the GDT built by kvm-probe.c. */
#define KERNEL_CS 0x08
#define KERNEL_DS 0x10
#define USER_DS   0x23        /* GDT entry 4, RPL 3 */
#define USER_CS   0x2b        /* GDT entry 5, RPL 3 */

#define MSR_STAR  0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_FMASK 0xc0000084

#define SYSCALL_MARKER 0x5ca11000   /* RAX of the user's syscalls: +1, +2 */

    .section .rodata.kvm_probe_guest, "a"
    .code64
    .balign 16
    .globl probe_guest_start
probe_guest_start:

/* Send %eax to the host. */
.macro report
    mov %eax, MMIO_DATA
.endm

/* Send the 64-bit register \reg to the host, low half first (clobbers rax). */
.macro report64 reg
    mov \reg, %rax
    report
    shr $32, %rax
    report
.endm

/*
 * Drop to CPL3 at \target with RFLAGS \rflags, on the user stack, with
 * IRETQ (frame: SS, RSP, RFLAGS, CS, RIP). Clobbers rax.
 */
.macro to_user target, rflags
    lea user_stack_top(%rip), %rax
    pushq $USER_DS
    push %rax
    pushq $\rflags
    pushq $USER_CS
    lea \target(%rip), %rax
    push %rax
    iretq
.endm

/* RFLAGS for CPL3 code: IOPL 0 and reserved bit 1, as in Linux. */
#define RFLAGS_USER 0x2

/*
 * (a) CPUID control. The host set a custom vendor string in leaf 0, a
 * changed signature in leaf 1 EAX and a changed feature set in leaf 1 ECX
 * with KVM_SET_CPUID2; send back what CPUID returns: leaf 0 EBX, EDX, ECX
 * (the vendor string, in order), leaf 1 EAX and ECX. First at CPL0 (the
 * kernel), then at CPL3 (user space, e.g. glibc's ifunc resolvers).
 */
    .globl probe_cpuid_entry
probe_cpuid_entry:
    call cpuid_report
    to_user 1f, RFLAGS_USER
1:  call cpuid_report
    mov %eax, MMIO_DONE         /* CPL3 cannot HLT: this ends the run */
    ud2

cpuid_report:
    xor %eax, %eax
    xor %ecx, %ecx
    cpuid
    mov %ebx, %eax
    report
    mov %edx, %eax
    report
    mov %ecx, %eax
    report
    mov $1, %eax
    xor %ecx, %ecx
    cpuid
    report                      /* leaf 1 EAX: the signature */
    mov %ecx, %eax
    report                      /* leaf 1 ECX: features */
    ret

/*
 * (b) TSC settable. The host wrote MSR_IA32_TSC = 1 << 50 with
 * KVM_SET_MSRS before the first KVM_RUN; send back what RDTSC reads at
 * CPL0 and then at CPL3.
 */
    .globl probe_tsc_entry
probe_tsc_entry:
    call tsc_report
    to_user 1f, RFLAGS_USER
1:  call tsc_report
    mov %eax, MMIO_DONE
    ud2

tsc_report:
    lfence
    rdtsc
    mov %edx, %ebx
    report                      /* low half (eax) */
    mov %ebx, %eax
    report                      /* high half */
    ret

/*
 * (c) User-mode syscall, the way Linux does it: the kernel (CPL0) programs
 * STAR/LSTAR/FMASK with WRMSR (EFER.SCE was set by the host), drops to CPL3
 * with IRETQ, user code executes SYSCALL twice; the LSTAR handler reports
 * each call, returns with SYSRETQ after the first one and stops after the
 * second.
 */
    .globl probe_syscall_entry
probe_syscall_entry:
    /* STAR: [47:32] kernel CS (SS = CS + 8); [63:48] user base:
     * SYSRET64 loads CS = base + 16, SS = base + 8 (both with RPL 3). */
    mov $MSR_STAR, %ecx
    xor %eax, %eax
    mov $((USER_DS - 8 - 3) << 16 | KERNEL_CS), %edx
    wrmsr
    /* LSTAR: the 64-bit SYSCALL entry point. */
    mov $MSR_LSTAR, %ecx
    lea syscall_handler(%rip), %rax
    mov %rax, %rdx
    shr $32, %rdx
    wrmsr
    /* FMASK: clear TF, IF, DF, AC... on entry, like Linux. */
    mov $MSR_FMASK, %ecx
    mov $0x47700, %eax
    xor %edx, %edx
    wrmsr

    to_user user_code, RFLAGS_USER

/* CPL3 code. */
user_code:
    mov %cs, %ebx               /* proves to the handler we ran at CPL3 */
    mov $(SYSCALL_MARKER + 1), %eax
    syscall
    .globl probe_user_ret1
probe_user_ret1:                /* expected RCX of the first syscall */
    mov %cs, %ebx
    mov $(SYSCALL_MARKER + 2), %eax
    syscall
    .globl probe_user_ret2
probe_user_ret2:                /* expected RCX of the second syscall */
    ud2                         /* not reached: the handler halts */

/*
 * LSTAR handler, CPL0, still on the user stack (we never touch it).
 * Report: marker (RAX), RCX (return RIP, 2 words), our CS, the user's CS
 * (RBX), and R11 (the user's RFLAGS, low word).
 */
syscall_handler:
    mov %rax, %rdi              /* keep the marker */
    report
    report64 %rcx
    mov %cs, %eax
    report
    mov %ebx, %eax
    report
    mov %r11d, %eax
    report
    cmp $(SYSCALL_MARKER + 1), %edi
    jne 1f
    sysretq                     /* back to probe_user_ret1 at CPL3 */
1:  hlt
    jmp 1b

/*
 * Exception stubs for the first 32 vectors, 16 bytes each so the host can
 * compute their addresses (probe_exc_stubs + 16 * vector) for the IDT.
 * Vectors without a CPU-pushed error code push a dummy 0, so the frame is
 * always: [rsp] vector, [rsp+8] error code, [rsp+16] RIP, [rsp+24] CS.
 */
    .balign 16
    .globl probe_exc_stubs
probe_exc_stubs:
.irp vec, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .balign 16
  .if (\vec == 8) || (\vec >= 10 && \vec <= 14) || (\vec == 17) || (\vec == 21) || (\vec == 29) || (\vec == 30)
    pushq $\vec
  .else
    pushq $0
    pushq $\vec
  .endif
    jmp exc_common
.endr

exc_common:
    mov (%rsp), %eax
    out %eax, $PORT_EXC
2:  hlt
    jmp 2b

/* A small user stack inside the blob (the whole blob is user-accessible). */
    .balign 16
user_stack:
    .fill 256, 1, 0
user_stack_top:

    .globl probe_guest_end
probe_guest_end:

    .section .note.GNU-stack, "", @progbits
