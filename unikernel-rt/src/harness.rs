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

/// One registered test.
#[derive(Debug)]
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
