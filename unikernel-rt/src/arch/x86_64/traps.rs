//! Exceptions and interrupts on x86_64, on stable Rust.
//!
//! `extern "x86-interrupt"` needs nightly, so each vector gets a small
//! assembly stub that pushes a uniform frame (a dummy error code where the
//! CPU pushes none, then the vector number and every general register) and
//! calls [`trap`]. Page faults and double faults run on their own IST stacks,
//! so a stack overflow (a fault on a guard page, with a dead stack) is
//! reported instead of becoming a triple fault.

use core::fmt;

use spin::Once;
use x86_64::VirtAddr as X86VirtAddr;
use x86_64::instructions::segmentation::{CS, DS, ES, SS, Segment};
use x86_64::instructions::tables::load_tss;
use x86_64::registers::control::Cr2;
use x86_64::structures::gdt::{Descriptor, GlobalDescriptorTable, SegmentSelector};
use x86_64::structures::idt::InterruptDescriptorTable;
use x86_64::structures::tss::TaskStateSegment;

use crate::traps::{FaultKind, FaultReport};

/// Vectors with a stub: the 32 exceptions and 32 interrupt vectors.
pub(crate) const VECTORS: usize = 64;

/// The register state saved by the stubs, lowest address first.
#[repr(C)]
#[derive(Debug, Clone)]
pub struct TrapFrame {
    r15: u64,
    r14: u64,
    r13: u64,
    r12: u64,
    r11: u64,
    r10: u64,
    r9: u64,
    r8: u64,
    rbp: u64,
    rdi: u64,
    rsi: u64,
    rdx: u64,
    rcx: u64,
    rbx: u64,
    rax: u64,
    vector: u64,
    error_code: u64,
    rip: u64,
    cs: u64,
    rflags: u64,
    rsp: u64,
    ss: u64,
}

impl fmt::Display for TrapFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "  rip={:#018x} rsp={:#018x} rflags={:#x}",
            self.rip, self.rsp, self.rflags
        )?;
        writeln!(
            f,
            "  rax={:#018x} rbx={:#018x} rcx={:#018x} rdx={:#018x}",
            self.rax, self.rbx, self.rcx, self.rdx
        )?;
        writeln!(
            f,
            "  rsi={:#018x} rdi={:#018x} rbp={:#018x} r8 ={:#018x}",
            self.rsi, self.rdi, self.rbp, self.r8
        )?;
        write!(
            f,
            "  cs={:#x} ss={:#x} error code={:#x}",
            self.cs, self.ss, self.error_code
        )
    }
}

/// Every stub starts on a 16-byte boundary and fits in 16 bytes, so stub `n`
/// is at `__unikernel_trap_stubs + 16 * n`. (A table of pointers would need
/// load-time relocations in a position-independent kernel.)
const STUB_SIZE: usize = 16;

macro_rules! stubs {
    ($($n:literal)*) => {
        core::arch::global_asm!(
            ".balign 16",
            ".global __unikernel_trap_stubs",
            "__unikernel_trap_stubs:",
            $(
                ".balign 16",
                // Vectors 8, 10-14, 17, 21, 29 and 30 come with an error code.
                concat!(".if ", stringify!($n), " != 8 && (", stringify!($n), " < 10 || ",
                        stringify!($n), " > 14) && ", stringify!($n), " != 17 && ",
                        stringify!($n), " != 21 && ", stringify!($n), " != 29 && ",
                        stringify!($n), " != 30"),
                "push 0",
                ".endif",
                concat!("push ", stringify!($n)),
                // At most 2 + 2 + 5 bytes: `push imm8` twice, `jmp rel32`.
                "jmp {common}",
            )*
            common = sym trap_common,
        );
    };
}

stubs!(
    0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31
    32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63
);

#[unsafe(naked)]
unsafe extern "C" fn trap_common() {
    core::arch::naked_asm!(
        "push rax", "push rbx", "push rcx", "push rdx", "push rsi", "push rdi", "push rbp",
        "push r8", "push r9", "push r10", "push r11", "push r12", "push r13", "push r14", "push r15",
        // 22 quadwords are on the stack, and the CPU aligned it to 16 before
        // pushing, so the call below sees the ABI's alignment.
        "mov rdi, rsp",
        "cld",
        "call {trap}",
        "pop r15", "pop r14", "pop r13", "pop r12", "pop r11", "pop r10", "pop r9", "pop r8",
        "pop rbp", "pop rdi", "pop rsi", "pop rdx", "pop rcx", "pop rbx", "pop rax",
        "add rsp, 16",
        "iretq",
        trap = sym trap,
    );
}

unsafe extern "C" {
    fn __unikernel_trap_stubs();
}

const DOUBLE_FAULT_IST: u16 = 0;
const PAGE_FAULT_IST: u16 = 1;
const IST_STACK_SIZE: usize = 16 * 1024;

const PAGE: usize = 4096;

/// An interrupt stack with a guard page below it, unmapped by
/// [`guard_ist_stacks`] once the runtime's mapper is up.
#[repr(C, align(4096))]
struct IstStack {
    guard: [u8; PAGE],
    stack: [u8; IST_STACK_SIZE],
}

static mut DOUBLE_FAULT_STACK: IstStack = IstStack {
    guard: [0; PAGE],
    stack: [0; IST_STACK_SIZE],
};
static mut PAGE_FAULT_STACK: IstStack = IstStack {
    guard: [0; PAGE],
    stack: [0; IST_STACK_SIZE],
};

/// Unmaps the guard pages below the IST stacks, so that an overflow of a
/// fault handler's stack is caught instead of silently overwriting memory.
pub(super) fn guard_ist_stacks() -> Result<(), crate::vm::VmError> {
    for stack in [
        core::ptr::addr_of!(DOUBLE_FAULT_STACK),
        core::ptr::addr_of!(PAGE_FAULT_STACK),
    ] {
        let guard = stack as u64;
        crate::vm::unmap_guard_page(guard)?;
        crate::traps::register_stack_guard(guard, guard + PAGE as u64);
    }
    Ok(())
}

struct Tables {
    gdt: GlobalDescriptorTable,
    code: SegmentSelector,
    data: SegmentSelector,
    tss: SegmentSelector,
}

static TSS: Once<TaskStateSegment> = Once::new();
static GDT: Once<Tables> = Once::new();
static IDT: Once<InterruptDescriptorTable> = Once::new();

/// Loads a GDT with a TSS (for the IST stacks) and an IDT pointing every
/// vector at its stub.
pub(super) fn init() {
    let tss = TSS.call_once(|| {
        let mut tss = TaskStateSegment::new();
        let top =
            |stack: *const IstStack| X86VirtAddr::from_ptr(stack) + (PAGE + IST_STACK_SIZE) as u64;
        tss.interrupt_stack_table[DOUBLE_FAULT_IST as usize] =
            top(core::ptr::addr_of!(DOUBLE_FAULT_STACK));
        tss.interrupt_stack_table[PAGE_FAULT_IST as usize] =
            top(core::ptr::addr_of!(PAGE_FAULT_STACK));
        tss
    });
    let tables = GDT.call_once(|| {
        let mut gdt = GlobalDescriptorTable::new();
        let code = gdt.append(Descriptor::kernel_code_segment());
        let data = gdt.append(Descriptor::kernel_data_segment());
        let tss = gdt.append(Descriptor::tss_segment(tss));
        Tables {
            gdt,
            code,
            data,
            tss,
        }
    });
    tables.gdt.load();
    // SAFETY: the selectors index the GDT just loaded, which lives in a
    // static for the rest of the run.
    unsafe {
        CS::set_reg(tables.code);
        SS::set_reg(tables.data);
        DS::set_reg(tables.data);
        ES::set_reg(tables.data);
        load_tss(tables.tss);
    }

    let idt = IDT.call_once(|| {
        let mut idt = InterruptDescriptorTable::new();
        let base = __unikernel_trap_stubs as *const () as u64;
        let addr = |n: usize| {
            let stub = base + (n * STUB_SIZE) as u64;
            check_stub(stub, n);
            X86VirtAddr::new(stub)
        };
        // SAFETY: for every call below, the address is a stub that saves
        // state, calls `trap` and returns with `iretq` (or never returns),
        // which is what the CPU expects of a handler; the stacks named by the
        // IST indices were installed in the TSS above.
        unsafe {
            idt.divide_error.set_handler_addr(addr(0));
            idt.debug.set_handler_addr(addr(1));
            idt.non_maskable_interrupt.set_handler_addr(addr(2));
            idt.breakpoint.set_handler_addr(addr(3));
            idt.overflow.set_handler_addr(addr(4));
            idt.bound_range_exceeded.set_handler_addr(addr(5));
            idt.invalid_opcode.set_handler_addr(addr(6));
            idt.device_not_available.set_handler_addr(addr(7));
            idt.double_fault
                .set_handler_addr(addr(8))
                .set_stack_index(DOUBLE_FAULT_IST);
            idt.invalid_tss.set_handler_addr(addr(10));
            idt.segment_not_present.set_handler_addr(addr(11));
            idt.stack_segment_fault.set_handler_addr(addr(12));
            idt.general_protection_fault.set_handler_addr(addr(13));
            idt.page_fault
                .set_handler_addr(addr(14))
                .set_stack_index(PAGE_FAULT_IST);
            idt.x87_floating_point.set_handler_addr(addr(16));
            idt.alignment_check.set_handler_addr(addr(17));
            idt.machine_check.set_handler_addr(addr(18));
            idt.simd_floating_point.set_handler_addr(addr(19));
            idt.virtualization.set_handler_addr(addr(20));
            idt.cp_protection_exception.set_handler_addr(addr(21));
            idt.hv_injection_exception.set_handler_addr(addr(28));
            idt.vmm_communication_exception.set_handler_addr(addr(29));
            idt.security_exception.set_handler_addr(addr(30));
            for n in 32..VECTORS {
                idt[n as u8].set_handler_addr(addr(n));
            }
        }
        idt
    });
    idt.load();
}

/// Checks that the stub at `addr` pushes vector `n`: a wrong layout would
/// otherwise silently misreport every exception.
fn check_stub(addr: u64, n: usize) {
    const PUSH_IMM8: u8 = 0x6a;
    // SAFETY: `addr` lies inside the stub block in mapped, readable text.
    let bytes = unsafe { core::slice::from_raw_parts(addr as *const u8, 4) };
    let ok = match bytes {
        [PUSH_IMM8, 0, PUSH_IMM8, v] | [PUSH_IMM8, v, ..] => usize::from(*v) == n,
        _ => false,
    };
    assert!(ok, "trap stub {n} is not where the IDT expects it");
}

extern "C" fn trap(frame: &mut TrapFrame) {
    let vector = frame.vector as usize;
    if vector == usize::from(super::timer::TIMER_VECTOR) {
        crate::time::tick();
        super::timer::end_of_interrupt();
        return;
    }
    if vector == usize::from(super::timer::SPURIOUS_VECTOR) {
        // Spurious interrupts are not acknowledged.
        return;
    }
    if vector >= 32 {
        crate::traps::dispatch_interrupt(vector, frame);
        return;
    }
    let kind = match vector {
        0 => FaultKind::DivideError,
        3 => {
            // int3 leaves rip after the instruction: returning continues.
            crate::traps::breakpoint(frame.rip.wrapping_sub(1), frame);
            return;
        }
        6 => FaultKind::IllegalInstruction,
        8 => FaultKind::DoubleFault,
        13 => FaultKind::GeneralProtection,
        14 => {
            let code = frame.error_code;
            let access = if code & (1 << 4) != 0 {
                crate::traps::Access::Execute
            } else if code & (1 << 1) != 0 {
                crate::traps::Access::Write
            } else {
                crate::traps::Access::Read
            };
            FaultKind::PageFault {
                addr: Cr2::read_raw(),
                access,
                present: code & 1 != 0,
            }
        }
        17 => FaultKind::Misaligned { addr: 0 },
        _ => FaultKind::Other {
            code: vector as u64,
        },
    };
    // A double fault says nothing about its cause, but CR2 still holds the
    // address of the page fault that led to it: a guard page means the stack
    // overflowed.
    let kind = match kind {
        FaultKind::DoubleFault => match crate::traps::stack_overflow_at(Cr2::read_raw()) {
            Some(kind) => kind,
            None => kind,
        },
        other => other,
    };
    crate::traps::fault(
        FaultReport {
            kind,
            ip: frame.rip,
            sp: frame.rsp,
            fp: frame.rbp,
        },
        frame,
    )
}
