//! Records of `#[unikernel::test]` functions, collected through the
//! `unikernel_tests` link section (no nightly `custom_test_frameworks`).

use crate::exit::Exit;

/// A fault a test expects to raise (`#[unikernel::test(should_fault = ...)]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// Any page fault.
    PageFault,
    /// A breakpoint that is not handled as a resumable trap.
    Breakpoint,
    /// An illegal instruction.
    IllegalInstruction,
    /// A stack overflow caught by a guard page.
    StackOverflow,
    /// Any fault at all.
    Any,
}

/// What a test must do to pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Return normally (`()` or `Ok(())`).
    Pass,
    /// Panic, with a message containing the string if one is given.
    Panic(Option<&'static str>),
    /// Raise this fault.
    Fault(FaultKind),
}

/// One registered test. `repr(C)` because the records are found through
/// linker-defined symbols and walked as an array.
#[derive(Debug)]
#[repr(C)]
pub struct TestCase {
    /// `module::path::name`.
    pub name: &'static str,
    /// Runs the test body.
    pub run: fn() -> Exit,
    /// What counts as passing.
    pub expect: Expect,
    /// Skip unless asked for.
    pub ignore: bool,
}

/// Harness state, shared with the panic handler and the fault path. Only one
/// hart runs tests, so plain atomics suffice.
mod state {
    use core::sync::atomic::{AtomicBool, AtomicUsize};

    pub(super) static ACTIVE: AtomicBool = AtomicBool::new(false);
    pub(super) static CURRENT: AtomicUsize = AtomicUsize::new(0);
    pub(super) static PASSED: AtomicUsize = AtomicUsize::new(0);
    pub(super) static FAILED: AtomicUsize = AtomicUsize::new(0);
    pub(super) static IGNORED: AtomicUsize = AtomicUsize::new(0);
}

#[cfg(target_os = "none")]
mod run {
    use core::sync::atomic::Ordering;

    use super::state::{ACTIVE, CURRENT, FAILED, IGNORED, PASSED};
    use super::{Expect, FaultKind, TestCase};
    use crate::exit::Exit;
    use crate::traps::FaultKind as Fault;

    // Declared as bytes: only their addresses are used, as the bounds of an
    // array of `TestCase`.
    unsafe extern "C" {
        static __start_unikernel_tests: u8;
        static __stop_unikernel_tests: u8;
    }

    /// Guarantees the section exists (so the linker defines its bounds) in
    /// images without tests; skipped when walking because its name is empty.
    #[used]
    #[unsafe(link_section = "unikernel_tests")]
    static SENTINEL: TestCase = TestCase {
        name: "",
        run: sentinel,
        expect: Expect::Pass,
        ignore: true,
    };

    fn sentinel() -> Exit {
        Exit::Success
    }

    fn tests() -> &'static [TestCase] {
        let start = core::ptr::addr_of!(__start_unikernel_tests).cast::<TestCase>();
        let stop = core::ptr::addr_of!(__stop_unikernel_tests).cast::<TestCase>();
        // SAFETY: the linker places every `#[unikernel::test]` record, each a
        // `TestCase`, contiguously between these two symbols (lld defines them
        // for the section; the riscv64 linker script does so explicitly).
        unsafe {
            let len = (stop as usize - start as usize) / core::mem::size_of::<TestCase>();
            core::slice::from_raw_parts(start, len)
        }
    }

    /// Runs every registered test, then ends the run: success iff none failed.
    pub(crate) fn run_all() -> ! {
        let tests = tests();
        let count = tests.iter().filter(|t| !t.name.is_empty()).count();
        crate::println!("running {count} tests");
        ACTIVE.store(true, Ordering::SeqCst);
        continue_from(0)
    }

    fn continue_from(first: usize) -> ! {
        let tests = tests();
        for (i, test) in tests.iter().enumerate().skip(first) {
            CURRENT.store(i, Ordering::SeqCst);
            if test.name.is_empty() {
                continue;
            }
            if test.ignore {
                crate::println!("test {} ... ignored", test.name);
                IGNORED.fetch_add(1, Ordering::SeqCst);
                continue;
            }
            crate::print!("test {} ... ", test.name);
            let status = (test.run)();
            match (test.expect, status) {
                (Expect::Pass, Exit::Success) => pass(),
                (Expect::Pass, Exit::Failure) => fail(format_args!("returned Err")),
                (Expect::Panic(_), _) => fail(format_args!("did not panic")),
                (Expect::Fault(kind), _) => fail(format_args!("did not fault ({kind:?} expected)")),
            }
        }
        finish()
    }

    fn pass() {
        crate::println!("ok");
        PASSED.fetch_add(1, Ordering::SeqCst);
    }

    fn fail(why: core::fmt::Arguments<'_>) {
        crate::println!("FAILED: {why}");
        FAILED.fetch_add(1, Ordering::SeqCst);
    }

    fn finish() -> ! {
        ACTIVE.store(false, Ordering::SeqCst);
        let (passed, failed, ignored) = (
            PASSED.load(Ordering::SeqCst),
            FAILED.load(Ordering::SeqCst),
            IGNORED.load(Ordering::SeqCst),
        );
        if ignored > 0 {
            crate::println!("{passed} passed, {failed} failed, {ignored} ignored");
        } else {
            crate::println!("{passed} passed, {failed} failed");
        }
        crate::arch::exit(if failed == 0 {
            Exit::Success
        } else {
            Exit::Failure
        })
    }

    /// Called by the panic handler. Returns only when no test is running.
    pub(crate) fn on_panic(info: &core::panic::PanicInfo<'_>) {
        if !ACTIVE.load(Ordering::SeqCst) {
            return;
        }
        let test = &tests()[CURRENT.load(Ordering::SeqCst)];
        match test.expect {
            Expect::Panic(None) => pass(),
            Expect::Panic(Some(expected)) => {
                if crate::fmt_search::contains(info.message(), expected) {
                    pass()
                } else {
                    fail(format_args!(
                        "panic message did not contain {expected:?}: {}",
                        info.message()
                    ))
                }
            }
            _ => fail(format_args!("{info}")),
        }
        resume()
    }

    /// Called by the fault path. Returns only when no test is running.
    pub(crate) fn on_fault(kind: &Fault, report: &dyn core::fmt::Display) {
        if !ACTIVE.load(Ordering::SeqCst) {
            return;
        }
        let test = &tests()[CURRENT.load(Ordering::SeqCst)];
        let matches = matches!(
            (test.expect, kind),
            (Expect::Fault(FaultKind::Any), _)
                | (Expect::Fault(FaultKind::PageFault), Fault::PageFault { .. })
                | (
                    Expect::Fault(FaultKind::StackOverflow),
                    Fault::StackOverflow { .. }
                )
                | (
                    Expect::Fault(FaultKind::IllegalInstruction),
                    Fault::IllegalInstruction
                )
        );
        crate::console::emergency_print(format_args!("{report}\n"));
        if matches {
            pass()
        } else {
            fail(format_args!("unexpected fault: {kind}"))
        }
        resume()
    }

    /// Continues with the next test on a fresh main stack: the failed test's
    /// stack (possibly overflowed) and its frames are abandoned.
    fn resume() -> ! {
        // SAFETY: the test that held the console lock (if any) will never
        // run again, so nobody else owns it.
        unsafe { crate::console::force_unlock() };
        crate::arch::restart_main_stack(next_test)
    }

    extern "C" fn next_test() -> ! {
        // Taking the trap that ended the test masked interrupts, and no
        // return from it will unmask them.
        crate::arch::enable_interrupts();
        continue_from(CURRENT.load(Ordering::SeqCst) + 1)
    }
}

#[cfg(target_os = "none")]
pub(crate) use run::{on_fault, on_panic, run_all};
