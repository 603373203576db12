//! The NS16550A UART of QEMU `virt`, found through the device tree.

use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

static BASE: AtomicUsize = AtomicUsize::new(0);
static SHIFT: AtomicU32 = AtomicU32::new(0);

const THR: usize = 0;
const LSR: usize = 5;
const LSR_THR_EMPTY: u8 = 1 << 5;

/// Uses the UART at `base` (whose registers are `1 << shift` bytes apart)
/// from now on. OpenSBI has already programmed the line settings.
///
/// # Safety
/// `base` must be the physical (= current virtual) address of a 16550 that
/// nothing else drives.
pub(super) unsafe fn set(base: usize, shift: u32) {
    SHIFT.store(shift, Ordering::Relaxed);
    BASE.store(base, Ordering::Release);
}

/// The UART's base address (0 before the device tree was read).
pub(super) fn base() -> usize {
    BASE.load(Ordering::Acquire)
}

/// Writes bytes, or returns `false` when no UART is known yet.
pub(super) fn write(bytes: &[u8]) -> bool {
    let base = BASE.load(Ordering::Acquire);
    if base == 0 {
        return false;
    }
    let shift = SHIFT.load(Ordering::Relaxed);
    let reg = |r: usize| (base + (r << shift)) as *mut u8;
    for &b in bytes {
        for byte in [b'\r', b] {
            if byte == b'\r' && b != b'\n' {
                continue;
            }
            // SAFETY: `set` was given a 16550's register block; LSR reads and
            // THR writes only transmit.
            unsafe {
                while reg(LSR).read_volatile() & LSR_THR_EMPTY == 0 {
                    core::hint::spin_loop();
                }
                reg(THR).write_volatile(byte);
            }
        }
    }
    true
}
