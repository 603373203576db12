//! Time: a monotonic clock, sleeping, and a periodic tick.
//!
//! The clock counts from boot (x86_64: the TSC, calibrated against the PIT;
//! riscv64: the `time` CSR at the device tree's timebase frequency). The tick
//! interrupt fires [`TICK_HZ`] times a second (x86_64: local APIC timer;
//! riscv64: SBI timer) and calls the handler set with [`set_tick_handler`].
//!
//! ```no_run
//! use core::time::Duration;
//! let t0 = unikernel::time::now();
//! unikernel::time::sleep(Duration::from_millis(20));
//! assert!(unikernel::time::now() - t0 >= Duration::from_millis(20));
//! ```

use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use core::time::Duration;

/// Tick interrupts per second.
pub const TICK_HZ: u64 = 100;

static TICKS: AtomicU64 = AtomicU64::new(0);
static HANDLER: AtomicUsize = AtomicUsize::new(0);

/// A function run on every tick, in interrupt context: it must be short and
/// must not allocate or take locks that `main` may hold.
pub type TickHandler = fn(ticks: u64);

/// Time since boot.
pub fn now() -> Duration {
    crate::arch::clock_now()
}

/// Ticks since the timer started.
pub fn ticks() -> u64 {
    TICKS.load(Ordering::Relaxed)
}

/// Waits at least `duration`, halting the CPU between ticks.
pub fn sleep(duration: Duration) {
    let deadline = now() + duration;
    loop {
        let left = deadline.saturating_sub(now());
        if left.is_zero() {
            return;
        }
        // Halting waits for the next tick; shorter waits spin instead.
        if left > Duration::from_nanos(1_000_000_000 / TICK_HZ) && crate::arch::ticking() {
            crate::arch::wait_for_interrupt();
        } else {
            core::hint::spin_loop();
        }
    }
}

/// Sets the function called on every tick (replacing any previous one).
pub fn set_tick_handler(handler: TickHandler) {
    HANDLER.store(handler as usize, Ordering::Release);
}

/// Called by the arch layer on every tick interrupt.
pub(crate) fn tick() {
    let n = TICKS.fetch_add(1, Ordering::Relaxed) + 1;
    let raw = HANDLER.load(Ordering::Acquire);
    if raw != 0 {
        // SAFETY: only `set_tick_handler` stores non-zero values, and it
        // stores `TickHandler` function pointers.
        let handler = unsafe { core::mem::transmute::<usize, TickHandler>(raw) };
        handler(n);
    }
}

/// Converts `ticks` of a counter running at `hz` to a duration without
/// overflowing for centuries of uptime.
pub(crate) fn ticks_to_duration(ticks: u64, hz: u64) -> Duration {
    let secs = ticks / hz;
    let rest = ticks % hz;
    Duration::new(secs, ((rest as u128 * 1_000_000_000) / hz as u128) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversion_is_exact_and_does_not_overflow() {
        assert_eq!(
            ticks_to_duration(10_000_000, 10_000_000),
            Duration::from_secs(1)
        );
        assert_eq!(ticks_to_duration(15, 10), Duration::from_millis(1500));
        let years = ticks_to_duration(u64::MAX, 3_000_000_000);
        assert!(years > Duration::from_secs(100 * 365 * 86_400));
    }
}
