//! The clock, sleeping, and the platform summary.

use core::time::Duration;

use unikernel::time;

/// What QEMU was started with (`smp` and `memory` in the test metadata).
const CPUS: usize = if cfg!(feature = "smp2") { 2 } else { 1 };
const RAM: u64 = 128 << 20;

#[unikernel::test]
fn the_clock_advances() {
    let a = time::now();
    let mut spins = 0u64;
    while time::now() == a {
        spins += 1;
        assert!(spins < 100_000_000, "the clock does not move");
    }
    assert!(time::now() > a);
}

#[unikernel::test]
fn sleep_waits_at_least_the_requested_time() {
    for ms in [1u64, 25, 60] {
        let want = Duration::from_millis(ms);
        let ticks = time::ticks();
        let start = time::now();
        time::sleep(want);
        let slept = time::now() - start;
        unikernel::println!(
            "sleep({want:?}) took {slept:?}, {} ticks",
            time::ticks() - ticks
        );
        assert!(slept >= want, "slept {slept:?} < {want:?}");
        assert!(
            slept < want + Duration::from_millis(500),
            "slept {slept:?}, far too long"
        );
    }
}

#[unikernel::test]
fn the_tick_fires_and_calls_the_handler() {
    use core::sync::atomic::{AtomicU64, Ordering};
    static SEEN: AtomicU64 = AtomicU64::new(0);
    fn on_tick(n: u64) {
        SEEN.store(n, Ordering::Relaxed);
    }
    time::set_tick_handler(on_tick);
    let start = time::ticks();
    time::sleep(Duration::from_millis(100));
    let ticks = time::ticks() - start;
    // 100 Hz for 100 ms, with generous slack for an emulated machine.
    // 10 at 100 Hz; an emulated CPU starved by a loaded host loses ticks,
    // but never runs fast.
    assert!((1..=15).contains(&ticks), "{ticks} ticks in 100 ms");
    assert!(
        SEEN.load(Ordering::Relaxed) >= start + 5,
        "the tick handler did not run"
    );
}

#[unikernel::test]
fn platform_matches_the_machine() {
    let p = unikernel::platform();
    unikernel::println!("{p}");
    assert_eq!(p.cpus, CPUS, "CPU count (-smp)");
    assert_eq!(p.ram_bytes, RAM, "RAM size (-m)");
}
