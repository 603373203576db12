//! The first instructions: OpenSBI jumps to `_start` at 0x80200000 in S-mode
//! with a0 = hart id and a1 = device-tree address. Only the boot hart gets
//! here (OpenSBI keeps the others stopped until asked through SBI HSM).

core::arch::global_asm!(
    // The flags matter: without "ax" the section is not loaded.
    ".section .text.entry, \"ax\"",
    ".globl _start",
    "_start:",
    "    la sp, __boot_stack_top",
    // A zero frame pointer ends backtraces.
    "    li s0, 0",
    // Clear .bss before any Rust code can observe it; a0/a1 stay intact.
    "    la t0, __bss_start",
    "    la t1, __bss_end",
    "1:  bgeu t0, t1, 2f",
    "    sd zero, 0(t0)",
    "    addi t0, t0, 8",
    "    j 1b",
    "2:  call __unikernel_riscv64_entry",
    "3:  wfi",
    "    j 3b",
);

/// Continues on a fresh stack. `top` must be 16-byte aligned.
pub(super) fn switch_stack(top: usize, continuation: extern "C" fn() -> !) -> ! {
    // SAFETY: `top` is the end of a mapped, otherwise unused stack region the
    // caller allocated; `continuation` never returns, so nothing on the old
    // stack is used again.
    unsafe {
        core::arch::asm!(
            "mv sp, {top}",
            "li s0, 0",
            "jr {f}",
            top = in(reg) top,
            f = in(reg) continuation,
            options(noreturn)
        )
    }
}

unsafe extern "C" {
    pub(super) static __kernel_start: u8;
    pub(super) static __kernel_end: u8;
}
