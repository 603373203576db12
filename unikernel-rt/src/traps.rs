//! Faults and interrupts in arch-neutral terms.
//!
//! Every unexpected fault ends the run with a report (what, where, the
//! registers that matter) and a failing exit status. Breakpoints are reported
//! and execution continues. Applications can handle interrupt vectors they own
//! with [`set_interrupt_handler`].

use core::fmt;
use core::sync::atomic::{AtomicUsize, Ordering};

use spin::Mutex;

/// The kind of memory access that faulted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// A data read.
    Read,
    /// A data write.
    Write,
    /// An instruction fetch.
    Execute,
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Access::Read => "read",
            Access::Write => "write",
            Access::Execute => "execute",
        })
    }
}

/// What went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FaultKind {
    /// An access to an unmapped page or one whose permissions forbid it.
    PageFault {
        /// The faulting virtual address.
        addr: u64,
        /// What the access tried to do.
        access: Access,
        /// Whether a mapping existed (a permission fault) or not.
        present: bool,
    },
    /// A stack ran into its guard page.
    StackOverflow {
        /// The faulting address, inside the guard page.
        addr: u64,
        /// Lowest usable address of the overflowed stack.
        stack_bottom: u64,
    },
    /// An undefined or privileged instruction.
    IllegalInstruction,
    /// Integer division by zero.
    DivideError,
    /// x86_64 general-protection fault.
    GeneralProtection,
    /// x86_64 double fault not caused by a stack overflow.
    DoubleFault,
    /// A misaligned access the hardware refused.
    Misaligned {
        /// The faulting address (0 when the hardware does not say).
        addr: u64,
    },
    /// A physical-memory access fault (RISC-V PMP or bus error).
    AccessFault {
        /// The faulting address.
        addr: u64,
        /// What the access tried to do.
        access: Access,
    },
    /// Any other exception, by its arch-specific code.
    Other {
        /// x86_64 vector or RISC-V `scause` code.
        code: u64,
    },
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            FaultKind::PageFault {
                addr,
                access,
                present,
            } => write!(
                f,
                "page fault at {addr:#x} ({access}, {})",
                if present {
                    "protection violation"
                } else {
                    "page not mapped"
                }
            ),
            FaultKind::StackOverflow { addr, stack_bottom } => write!(
                f,
                "stack overflow: guard page hit at {addr:#x} (stack bottom {stack_bottom:#x})"
            ),
            FaultKind::IllegalInstruction => f.write_str("illegal instruction"),
            FaultKind::DivideError => f.write_str("divide error"),
            FaultKind::GeneralProtection => f.write_str("general protection fault"),
            FaultKind::DoubleFault => f.write_str("double fault"),
            FaultKind::Misaligned { addr } => write!(f, "misaligned access at {addr:#x}"),
            FaultKind::AccessFault { addr, access } => {
                write!(f, "access fault at {addr:#x} ({access})")
            }
            FaultKind::Other { code } => write!(f, "exception {code}"),
        }
    }
}

/// A fault with the machine state it happened in.
#[derive(Debug, Clone, Copy)]
pub struct FaultReport {
    /// What went wrong.
    pub kind: FaultKind,
    /// Address of the faulting instruction.
    pub ip: u64,
    /// Stack pointer at the fault.
    pub sp: u64,
    /// Frame pointer at the fault (for the backtrace).
    pub fp: u64,
}

const MAX_GUARDS: usize = 16;

#[derive(Clone, Copy)]
struct Guard {
    guard_start: u64,
    guard_end: u64,
    stack_bottom: u64,
}

static GUARDS: Mutex<[Option<Guard>; MAX_GUARDS]> = Mutex::new([None; MAX_GUARDS]);

/// Records that `[guard_start, stack_bottom)` is an unmapped guard below a
/// stack, so that faults there are reported as stack overflows.
#[cfg(target_os = "none")]
pub(crate) fn register_stack_guard(guard_start: u64, stack_bottom: u64) {
    let mut guards = GUARDS.lock();
    if let Some(slot) = guards.iter_mut().find(|g| g.is_none()) {
        *slot = Some(Guard {
            guard_start,
            guard_end: stack_bottom,
            stack_bottom,
        });
    } else {
        log::warn!("too many stack guards to track; overflows of this stack report as page faults");
    }
}

/// The stack-overflow fault for a faulting address inside a known guard.
#[cfg(target_os = "none")]
pub(crate) fn stack_overflow_at(addr: u64) -> Option<FaultKind> {
    // The lock may be held by the code that overflowed; a fault path cannot wait.
    let guards = GUARDS.try_lock()?;
    guards
        .iter()
        .flatten()
        .find(|g| (g.guard_start..g.guard_end).contains(&addr))
        .map(|g| FaultKind::StackOverflow {
            addr,
            stack_bottom: g.stack_bottom,
        })
}

/// Reports a fatal fault and ends the run with failure.
#[cfg(target_os = "none")]
pub(crate) fn fault(report: FaultReport, frame: &dyn fmt::Display) -> ! {
    let kind = match report.kind {
        FaultKind::PageFault { addr, .. } => stack_overflow_at(addr).unwrap_or(report.kind),
        other => other,
    };
    let details = Details {
        kind,
        report,
        frame,
    };
    crate::harness::on_fault(&kind, &details);
    crate::console::emergency_print(format_args!("\nfatal: {details}\n"));
    // The faulting instruction first, then its callers.
    crate::console::emergency_print(format_args!("  fault at {:#x}\n", report.ip));
    crate::backtrace::print_from(report.fp);
    crate::arch::exit(crate::Exit::Failure)
}

/// The printed form of a fault: kind, location, registers.
#[cfg(target_os = "none")]
struct Details<'a> {
    kind: FaultKind,
    report: FaultReport,
    frame: &'a dyn fmt::Display,
}

#[cfg(target_os = "none")]
impl fmt::Display for Details<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}\n  at ip={:#x} sp={:#x}\n{}",
            self.kind, self.report.ip, self.report.sp, self.frame
        )
    }
}

/// Reports a breakpoint; execution continues after it.
#[cfg(target_os = "none")]
pub(crate) fn breakpoint(ip: u64, _frame: &dyn fmt::Display) {
    log::info!("breakpoint at {ip:#x}, continuing");
}

/// An interrupt handler registered by the application.
pub type InterruptHandler = fn(vector: usize);

const MAX_VECTORS: usize = 256;
static HANDLERS: [AtomicUsize; MAX_VECTORS] = [const { AtomicUsize::new(0) }; MAX_VECTORS];

/// Why a handler could not be installed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InterruptError {
    /// The vector is an exception or used by the runtime (e.g. its timer).
    Reserved(usize),
    /// The vector does not exist on this arch.
    OutOfRange(usize),
}

impl fmt::Display for InterruptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            InterruptError::Reserved(v) => write!(f, "interrupt vector {v} is reserved"),
            InterruptError::OutOfRange(v) => write!(f, "interrupt vector {v} does not exist"),
        }
    }
}

impl core::error::Error for InterruptError {}

/// Installs `handler` for an interrupt vector the application owns.
///
/// x86_64: vectors 33 to 62 (raised by devices routed there or by `int N`).
/// riscv64: vector 33 is the supervisor software interrupt (raised by setting
/// `sip.SSIP` or by an SBI IPI); platform-level (PLIC) sources are not routed
/// by the runtime yet. The handler runs with interrupts disabled and must not
/// block, allocate, or take locks `main` may hold.
///
/// # Errors
/// [`InterruptError::Reserved`] for exceptions and the runtime's own
/// vectors, [`InterruptError::OutOfRange`] past the last vector.
pub fn set_interrupt_handler(
    vector: usize,
    handler: InterruptHandler,
) -> Result<(), InterruptError> {
    if vector >= crate::arch::INTERRUPT_VECTORS {
        return Err(InterruptError::OutOfRange(vector));
    }
    if vector <= crate::arch::LAST_RESERVED_VECTOR {
        return Err(InterruptError::Reserved(vector));
    }
    HANDLERS[vector].store(handler as usize, Ordering::Release);
    Ok(())
}

/// Calls the application's handler for `vector`, if any.
#[cfg(target_os = "none")]
pub(crate) fn dispatch_interrupt(vector: usize, _frame: &dyn fmt::Display) {
    let raw = HANDLERS
        .get(vector)
        .map_or(0, |h| h.load(Ordering::Acquire));
    if raw == 0 {
        log::warn!("unhandled interrupt vector {vector}");
    } else {
        // SAFETY: only `set_interrupt_handler` stores non-zero values, and it
        // stores `InterruptHandler` function pointers.
        let handler: InterruptHandler =
            unsafe { core::mem::transmute::<usize, InterruptHandler>(raw) };
        handler(vector);
    }
    crate::arch::end_of_interrupt(vector);
}
