//! The clock (TSC calibrated against the PIT) and the tick (local APIC timer
//! in periodic mode, calibrated against the TSC).

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use core::time::Duration;

use x86_64::instructions::port::Port;

/// Vector of the tick interrupt.
pub(super) const TIMER_VECTOR: u8 = 32;
/// Vector the local APIC reports spurious interrupts on (low nibble all ones,
/// as older APICs require).
pub(super) const SPURIOUS_VECTOR: u8 = 63;

const PIT_HZ: u64 = 1_193_182;
const CALIBRATION_MS: u64 = 10;

static TSC_HZ: AtomicU64 = AtomicU64::new(0);
static TSC_AT_BOOT: AtomicU64 = AtomicU64::new(0);
static APIC_BASE: AtomicU64 = AtomicU64::new(0);
static TICKING: AtomicBool = AtomicBool::new(false);

const APIC_EOI: u64 = 0xb0;
const APIC_SPURIOUS: u64 = 0xf0;
const APIC_LVT_TIMER: u64 = 0x320;
const APIC_INITIAL_COUNT: u64 = 0x380;
const APIC_CURRENT_COUNT: u64 = 0x390;
const APIC_DIVIDE: u64 = 0x3e0;
const LVT_MASKED: u32 = 1 << 16;
const LVT_PERIODIC: u32 = 1 << 17;

fn rdtsc() -> u64 {
    // SAFETY: `rdtsc` only reads the time-stamp counter.
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// Busy-waits `CALIBRATION_MS` on PIT channel 2 and returns the TSC delta.
fn tsc_ticks_in_calibration_window() -> u64 {
    let count = (PIT_HZ * CALIBRATION_MS / 1000) as u16;
    // SAFETY: ports 0x42/0x43/0x61 are the PIT and the speaker gate, which
    // nothing else in the runtime uses; channel 2 drives no interrupt.
    unsafe {
        let mut gate = Port::<u8>::new(0x61);
        let g = gate.read();
        gate.write((g & !0x02) | 0x01); // speaker off, gate on
        Port::<u8>::new(0x43).write(0b1011_0000); // channel 2, lo/hi, mode 0
        let mut ch2 = Port::<u8>::new(0x42);
        ch2.write(count as u8);
        ch2.write((count >> 8) as u8);
        // Restart the count by toggling the gate.
        let g = gate.read();
        gate.write(g & !0x01);
        gate.write(g | 0x01);
        let start = rdtsc();
        while gate.read() & 0x20 == 0 {
            core::hint::spin_loop();
        }
        rdtsc() - start
    }
}

/// Calibrates the clock. Runs before interrupts are on.
pub(super) fn init_clock() {
    TSC_AT_BOOT.store(rdtsc(), Ordering::Relaxed);
    let hz = tsc_ticks_in_calibration_window() * (1000 / CALIBRATION_MS);
    TSC_HZ.store(hz.max(1), Ordering::Relaxed);
    log::debug!("TSC runs at {} MHz", hz / 1_000_000);
}

pub(super) fn now() -> Duration {
    let hz = TSC_HZ.load(Ordering::Relaxed);
    if hz == 0 {
        return Duration::ZERO;
    }
    crate::time::ticks_to_duration(rdtsc() - TSC_AT_BOOT.load(Ordering::Relaxed), hz)
}

fn apic_read(reg: u64) -> u32 {
    // SAFETY: APIC_BASE is the uncached mapping of the local APIC made in
    // `init_tick`, and `reg` is one of its 32-bit registers.
    unsafe { ((APIC_BASE.load(Ordering::Relaxed) + reg) as *const u32).read_volatile() }
}

fn apic_write(reg: u64, value: u32) {
    // SAFETY: as in `apic_read`.
    unsafe { ((APIC_BASE.load(Ordering::Relaxed) + reg) as *mut u32).write_volatile(value) }
}

/// Masks the legacy PICs if the machine has them (remapped away from the
/// exception vectors first, so that a spurious legacy interrupt cannot pose
/// as an exception), maps and enables the local APIC, and starts its timer at
/// `TICK_HZ`.
pub(super) fn init_tick(has_8259: bool) -> Result<(), crate::vm::VmError> {
    if has_8259 {
        mask_legacy_pics();
    }
    // SAFETY: reading IA32_APIC_BASE has no side effect.
    let base_msr = unsafe { x86_64::registers::model_specific::Msr::new(0x1b).read() };
    let phys = mem_core::PhysAddr::new(base_msr & 0x000f_ffff_ffff_f000);
    let mmio = crate::vm::map_mmio(phys, 4096)?;
    // MMIO mappings are never unmapped, so the address stays valid after
    // `mmio` goes out of scope.
    APIC_BASE.store(mmio.start().as_u64(), Ordering::Relaxed);

    apic_write(APIC_SPURIOUS, 0x100 | u32::from(SPURIOUS_VECTOR));
    apic_write(APIC_DIVIDE, 0b0011); // divide by 16
    apic_write(APIC_LVT_TIMER, LVT_MASKED | u32::from(TIMER_VECTOR));
    apic_write(APIC_INITIAL_COUNT, u32::MAX);
    let hz = TSC_HZ.load(Ordering::Relaxed);
    let start = rdtsc();
    while rdtsc() - start < hz * CALIBRATION_MS / 1000 {
        core::hint::spin_loop();
    }
    let elapsed = u32::MAX - apic_read(APIC_CURRENT_COUNT);
    let per_tick = (u64::from(elapsed) * (1000 / CALIBRATION_MS) / crate::time::TICK_HZ).max(1);
    apic_write(APIC_LVT_TIMER, LVT_PERIODIC | u32::from(TIMER_VECTOR));
    apic_write(APIC_INITIAL_COUNT, per_tick.min(u64::from(u32::MAX)) as u32);
    TICKING.store(true, Ordering::Relaxed);
    Ok(())
}

fn mask_legacy_pics() {
    // SAFETY: ports 0x20/0x21/0xa0/0xa1 are the two 8259 PICs; the ICW
    // sequence remaps them to vectors 40-55, then every line is masked.
    unsafe {
        let (mut c1, mut d1) = (Port::<u8>::new(0x20), Port::<u8>::new(0x21));
        let (mut c2, mut d2) = (Port::<u8>::new(0xa0), Port::<u8>::new(0xa1));
        c1.write(0x11);
        c2.write(0x11);
        d1.write(40);
        d2.write(48);
        d1.write(4);
        d2.write(2);
        d1.write(1);
        d2.write(1);
        d1.write(0xff);
        d2.write(0xff);
    }
}

pub(super) fn ticking() -> bool {
    TICKING.load(Ordering::Relaxed)
}

/// Signals end of interrupt to the local APIC (not for spurious interrupts).
pub(super) fn end_of_interrupt() {
    if APIC_BASE.load(Ordering::Relaxed) != 0 {
        apic_write(APIC_EOI, 0);
    }
}
