//! The supervisor trap vector.
//!
//! Every trap switches to a dedicated trap stack (its top is kept in
//! `sscratch`), so that a fault caused by a dead stack (a guard-page hit) can
//! still be reported. The handler decodes `scause`, `stval` and `sepc`.

use core::fmt;

use crate::traps::{Access, FaultKind, FaultReport};

/// Saved state: x0..x31 (x0 unused, x2 holds the interrupted sp), then the
/// CSRs.
#[repr(C)]
#[derive(Debug, Clone)]
pub struct TrapFrame {
    regs: [u64; 32],
    sepc: u64,
    sstatus: u64,
    scause: u64,
    stval: u64,
}

impl TrapFrame {
    /// The interrupted stack pointer.
    pub fn sp(&self) -> u64 {
        self.regs[2]
    }
    /// The interrupted frame pointer (s0).
    pub fn fp(&self) -> u64 {
        self.regs[8]
    }
}

impl fmt::Display for TrapFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.regs;
        writeln!(
            f,
            "  sepc={:#018x} scause={:#x} stval={:#x} sstatus={:#x}",
            self.sepc, self.scause, self.stval, self.sstatus
        )?;
        writeln!(
            f,
            "  ra={:#018x} sp={:#018x} gp={:#018x} tp={:#018x}",
            r[1], r[2], r[3], r[4]
        )?;
        write!(
            f,
            "  s0={:#018x} a0={:#018x} a1={:#018x} a2={:#018x}",
            r[8], r[10], r[11], r[12]
        )
    }
}

const FRAME_SIZE: usize = core::mem::size_of::<TrapFrame>();

// The trap stack is placed by the linker script, above its guard page.
unsafe extern "C" {
    static __trap_stack_top: u8;
}

core::arch::global_asm!(
    ".section .text.trap, \"ax\"",
    ".balign 4",
    ".global __unikernel_trap_entry",
    "__unikernel_trap_entry:",
    "    csrrw sp, sscratch, sp",
    "    addi sp, sp, -{frame}",
    "    sd x1, 8(sp)",
    "    sd x3, 24(sp)", "sd x4, 32(sp)", "sd x5, 40(sp)", "sd x6, 48(sp)", "sd x7, 56(sp)",
    "    sd x8, 64(sp)", "sd x9, 72(sp)", "sd x10, 80(sp)", "sd x11, 88(sp)", "sd x12, 96(sp)",
    "    sd x13, 104(sp)", "sd x14, 112(sp)", "sd x15, 120(sp)", "sd x16, 128(sp)", "sd x17, 136(sp)",
    "    sd x18, 144(sp)", "sd x19, 152(sp)", "sd x20, 160(sp)", "sd x21, 168(sp)", "sd x22, 176(sp)",
    "    sd x23, 184(sp)", "sd x24, 192(sp)", "sd x25, 200(sp)", "sd x26, 208(sp)", "sd x27, 216(sp)",
    "    sd x28, 224(sp)", "sd x29, 232(sp)", "sd x30, 240(sp)", "sd x31, 248(sp)",
    "    csrr t0, sscratch", "sd t0, 16(sp)",
    "    csrr t0, sepc", "sd t0, 256(sp)",
    "    csrr t0, sstatus", "sd t0, 264(sp)",
    "    csrr t0, scause", "sd t0, 272(sp)",
    "    csrr t0, stval", "sd t0, 280(sp)",
    "    mv a0, sp",
    "    call {handler}",
    "    ld t0, 256(sp)", "csrw sepc, t0",
    "    ld t0, 264(sp)", "csrw sstatus, t0",
    "    addi t0, sp, {frame}", "csrw sscratch, t0",
    "    ld x1, 8(sp)",
    "    ld x3, 24(sp)", "ld x4, 32(sp)", "ld x5, 40(sp)", "ld x6, 48(sp)", "ld x7, 56(sp)",
    "    ld x8, 64(sp)", "ld x9, 72(sp)", "ld x10, 80(sp)", "ld x11, 88(sp)", "ld x12, 96(sp)",
    "    ld x13, 104(sp)", "ld x14, 112(sp)", "ld x15, 120(sp)", "ld x16, 128(sp)", "ld x17, 136(sp)",
    "    ld x18, 144(sp)", "ld x19, 152(sp)", "ld x20, 160(sp)", "ld x21, 168(sp)", "ld x22, 176(sp)",
    "    ld x23, 184(sp)", "ld x24, 192(sp)", "ld x25, 200(sp)", "ld x26, 208(sp)", "ld x27, 216(sp)",
    "    ld x28, 224(sp)", "ld x29, 232(sp)", "ld x30, 240(sp)", "ld x31, 248(sp)",
    "    ld sp, 16(sp)",
    "    sret",
    frame = const FRAME_SIZE,
    handler = sym trap,
);

unsafe extern "C" {
    fn __unikernel_trap_entry();
}

/// Points `stvec` at the trap entry (direct mode) and `sscratch` at the top
/// of the trap stack.
pub(super) fn init() {
    let top = core::ptr::addr_of!(__trap_stack_top) as usize;
    let entry = __unikernel_trap_entry as *const () as usize;
    // SAFETY: the entry is 4-byte aligned (mode bits 0 = direct) and saves and
    // restores all state; the trap stack is reserved for it.
    unsafe {
        core::arch::asm!("csrw sscratch, {0}", in(reg) top);
        core::arch::asm!("csrw stvec, {0}", in(reg) entry);
    }
}

const INTERRUPT_BIT: u64 = 1 << 63;

extern "C" fn trap(frame: &mut TrapFrame) {
    let cause = frame.scause;
    if cause & INTERRUPT_BIT != 0 {
        super::interrupt(cause & !INTERRUPT_BIT, frame);
        return;
    }
    let addr = frame.stval;
    let kind = match cause {
        0 | 4 | 6 => FaultKind::Misaligned { addr },
        1 => FaultKind::AccessFault {
            addr,
            access: Access::Execute,
        },
        2 => FaultKind::IllegalInstruction,
        3 => {
            crate::traps::breakpoint(frame.sepc, frame);
            // SAFETY: sepc points at the ebreak just executed, in mapped text.
            let low = unsafe { (frame.sepc as *const u16).read_unaligned() };
            // Compressed instructions (c.ebreak) are 2 bytes, others 4.
            frame.sepc += if low & 0b11 == 0b11 { 4 } else { 2 };
            return;
        }
        5 => FaultKind::AccessFault {
            addr,
            access: Access::Read,
        },
        7 => FaultKind::AccessFault {
            addr,
            access: Access::Write,
        },
        12 => FaultKind::PageFault {
            addr,
            access: Access::Execute,
            present: false,
        },
        13 => FaultKind::PageFault {
            addr,
            access: Access::Read,
            present: false,
        },
        15 => FaultKind::PageFault {
            addr,
            access: Access::Write,
            present: false,
        },
        code => FaultKind::Other { code },
    };
    let kind = match kind {
        // Sv39 page faults do not say whether a mapping existed.
        FaultKind::PageFault { addr, access, .. } => FaultKind::PageFault {
            addr,
            access,
            present: super::is_mapped(addr),
        },
        other => other,
    };
    crate::traps::fault(
        FaultReport {
            kind,
            ip: frame.sepc,
            sp: frame.sp(),
            fp: frame.fp(),
        },
        frame,
    )
}
