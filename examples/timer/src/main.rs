//! Time: the monotonic clock (`time::now`), sleeping (`time::sleep`), and a
//! hook (`time::set_tick_handler`) that runs on every timer interrupt. The
//! hook counts ticks and records the shortest and longest gap between two
//! ticks; `main` sleeps for several durations, checks each against the clock
//! and the tick count, and prints a table.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use core::sync::atomic::{AtomicU64, Ordering};
use core::time::Duration;

use unikernel::println;
use unikernel::time::{self, TICK_HZ};

/// Ticks the hook has seen.
static SEEN: AtomicU64 = AtomicU64::new(0);
/// Clock reading at the previous tick, in nanoseconds (0: none yet).
static LAST_NS: AtomicU64 = AtomicU64::new(0);
static MIN_GAP_NS: AtomicU64 = AtomicU64::new(u64::MAX);
static MAX_GAP_NS: AtomicU64 = AtomicU64::new(0);

/// Runs in interrupt context: no allocation, no locks, only atomics.
fn on_tick(_tick: u64) {
    SEEN.fetch_add(1, Ordering::Relaxed);
    let now = time::now().as_nanos() as u64;
    let last = LAST_NS.swap(now, Ordering::Relaxed);
    if last != 0 {
        let gap = now.saturating_sub(last);
        MIN_GAP_NS.fetch_min(gap, Ordering::Relaxed);
        MAX_GAP_NS.fetch_max(gap, Ordering::Relaxed);
    }
}

const PERIOD: Duration = Duration::from_nanos(1_000_000_000 / TICK_HZ);

#[unikernel::main]
fn main() -> Result<(), &'static str> {
    clock_resolution()?;
    time::set_tick_handler(on_tick);

    println!(" requested      slept  ticks  handler");
    let mut all_ok = true;
    const SLEEPS_MS: [u64; 6] = [1, 5, 10, 20, 50, 100];
    for ms in SLEEPS_MS {
        let want = Duration::from_millis(ms);
        let (ticks0, seen0) = (time::ticks(), SEEN.load(Ordering::Relaxed));
        let start = time::now();
        time::sleep(want);
        let slept = time::now() - start;
        let ticks = time::ticks() - ticks0;
        let seen = SEEN.load(Ordering::Relaxed) - seen0;
        // A tick every PERIOD: the count may be one off at either end, and
        // an emulated machine on a busy host loses ticks (never gains them).
        let expected = (slept.as_nanos() / PERIOD.as_nanos()) as u64;
        let ok = slept >= want
            && slept < want + Duration::from_millis(250)
            && (ticks > 0 || expected < 2)
            && ticks <= expected + 1
            && seen == ticks;
        all_ok &= ok;
        println!(
            "{ms:>7} ms {:>6}.{:03} ms {ticks:>6} {seen:>8}  {}",
            slept.as_micros() / 1000,
            slept.as_micros() % 1000,
            if ok { "ok" } else { "WRONG" }
        );
    }
    if !all_ok {
        return Err("a sleep was too short, far too long, or ticks went missing");
    }
    println!(
        "all {} sleeps lasted at least what was asked",
        SLEEPS_MS.len()
    );

    tick_rate()?;
    let (min, max) = (
        MIN_GAP_NS.load(Ordering::Relaxed),
        MAX_GAP_NS.load(Ordering::Relaxed),
    );
    println!(
        "tick interval: min {}.{:03} ms, max {}.{:03} ms",
        min / 1_000_000,
        min / 1000 % 1000,
        max / 1_000_000,
        max / 1000 % 1000
    );
    Ok(())
}

/// The clock never goes backwards, and its smallest visible step.
fn clock_resolution() -> Result<(), &'static str> {
    const READS: u32 = 100_000;
    let mut last = time::now();
    let mut step = Duration::MAX;
    for _ in 0..READS {
        let now = time::now();
        if now < last {
            return Err("the clock went backwards");
        }
        if now > last {
            step = step.min(now - last);
        }
        last = now;
    }
    if step == Duration::MAX {
        return Err("the clock did not move");
    }
    println!(
        "clock: monotonic over {READS} reads, resolution {} ns",
        step.as_nanos()
    );
    Ok(())
}

/// Counts ticks over a fixed window measured by the clock.
fn tick_rate() -> Result<(), &'static str> {
    const WINDOW: Duration = Duration::from_millis(300);
    let (ticks0, seen0) = (time::ticks(), SEEN.load(Ordering::Relaxed));
    let start = time::now();
    time::sleep(WINDOW);
    let elapsed = time::now() - start;
    let ticks = time::ticks() - ticks0;
    let seen = SEEN.load(Ordering::Relaxed) - seen0;
    let hz = (u128::from(ticks) * 1_000_000_000 / elapsed.as_nanos()) as u64;
    println!(
        "tick rate: {hz} Hz measured over {} ms (TICK_HZ = {TICK_HZ}); the hook ran on {} {ticks} ticks",
        WINDOW.as_millis(),
        if seen == ticks {
            "all"
        } else {
            "only some of the"
        }
    );
    // An emulated CPU starved by a busy host loses ticks (QEMU coalesces
    // timer interrupts it could not deliver in time), but it never ticks
    // faster than programmed, and the hook must see every tick that happens.
    if seen != ticks || ticks == 0 || hz > TICK_HZ + TICK_HZ / 5 {
        return Err("the tick rate is off or the hook missed ticks");
    }
    Ok(())
}
