//! Calls into the SBI firmware (OpenSBI).

const EID_LEGACY_PUTCHAR: usize = 0x01;
const EID_LEGACY_SHUTDOWN: usize = 0x08;
const EID_SRST: usize = 0x5352_5354;
const EID_TIME: usize = 0x5449_4d45;

fn call(eid: usize, fid: usize, arg0: usize, arg1: usize) -> isize {
    let error: isize;
    // SAFETY: an `ecall` into the SBI clobbers only a0/a1 under the SBI calling
    // convention; the calls used here do not touch our memory.
    unsafe {
        core::arch::asm!(
            "ecall",
            inlateout("a0") arg0 => error,
            inlateout("a1") arg1 => _,
            in("a6") fid,
            in("a7") eid,
            options(nostack)
        );
    }
    error
}

/// Prints one byte through the legacy console extension, the console that
/// works before the device tree has been read.
pub(super) fn putchar(byte: u8) {
    call(EID_LEGACY_PUTCHAR, 0, byte as usize, 0);
}

/// Powers the machine off; `failure` sets the SRST reason to system failure.
pub(super) fn shutdown(failure: bool) {
    call(EID_SRST, 0, 0, usize::from(failure));
    // Firmware without SRST: the legacy call (which cannot report a reason).
    call(EID_LEGACY_SHUTDOWN, 0, 0, 0);
}

/// Programs the next timer interrupt for when `time` reaches `deadline`.
pub(super) fn set_timer(deadline: u64) {
    call(EID_TIME, 0, deadline as usize, 0);
}
