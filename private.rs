pub use unikernel_macros::test as _unused_test_reexport_check;
#[allow(missing_docs, missing_debug_implementations)]
pub enum FaultKind { PageFault, Breakpoint, IllegalInstruction, StackOverflow, Any }
#[allow(missing_docs, missing_debug_implementations)]
pub enum Expect { Pass, Panic(Option<&'static str>), Fault(FaultKind) }
#[allow(missing_docs, missing_debug_implementations)]
pub struct TestCase { pub name: &'static str, pub run: fn() -> Exit, pub expect: Expect, pub ignore: bool }
