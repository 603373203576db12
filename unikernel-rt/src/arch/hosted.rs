//! Hosted targets (the build host): no hardware to drive. The runtime only
//! compiles here so that its portable parts and the macros can be tested.

/// Output is discarded on the host.
pub(crate) fn console_write(_bytes: &[u8]) {}

/// There are no interrupts to mask on the host.
pub(crate) fn without_interrupts<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// Vectors an application could own, mirroring x86_64 so that host-side
/// checks of `set_interrupt_handler` behave as on target.
pub(crate) const INTERRUPT_VECTORS: usize = 64;
/// Vectors below and including this one belong to the runtime.
pub(crate) const LAST_RESERVED_VECTOR: usize = 32;

/// Nothing to acknowledge on the host.
pub(crate) fn end_of_interrupt(_vector: usize) {}

/// The host run cannot be ended from here; tests never call this.
#[allow(dead_code)]
pub(crate) fn exit(status: crate::Exit) -> ! {
    panic!("unikernel exit requested on the host: {status:?}")
}

/// The host has no boot clock of the runtime's.
pub(crate) fn clock_now() -> core::time::Duration {
    core::time::Duration::ZERO
}

/// No tick on the host.
pub(crate) fn ticking() -> bool {
    false
}

/// Nothing to wait for on the host.
pub(crate) fn wait_for_interrupt() {}
