//! The COM1 16550 UART, the console QEMU's `-serial stdio` shows.

use x86_64::instructions::port::Port;

const COM1: u16 = 0x3f8;
const LSR_THR_EMPTY: u8 = 1 << 5;

/// Programs COM1 for 38400 8N1 with FIFOs, interrupts off.
pub(super) fn init() {
    // SAFETY: COM1's registers are at 0x3f8..0x400 on every PC QEMU models;
    // nothing else in the runtime touches these ports.
    unsafe {
        Port::<u8>::new(COM1 + 1).write(0x00); // no UART interrupts
        Port::<u8>::new(COM1 + 3).write(0x80); // DLAB on, to set the divisor
        Port::<u8>::new(COM1).write(0x03); // divisor 3: 38400 baud
        Port::<u8>::new(COM1 + 1).write(0x00);
        Port::<u8>::new(COM1 + 3).write(0x03); // 8N1, DLAB off
        Port::<u8>::new(COM1 + 2).write(0xc7); // FIFOs on and cleared
        Port::<u8>::new(COM1 + 4).write(0x0b); // DTR, RTS, OUT2
    }
}

fn put(byte: u8) {
    // SAFETY: as in `init`; reading LSR and writing THR has no side effect
    // beyond transmitting the byte.
    unsafe {
        let mut lsr = Port::<u8>::new(COM1 + 5);
        while lsr.read() & LSR_THR_EMPTY == 0 {
            core::hint::spin_loop();
        }
        Port::<u8>::new(COM1).write(byte);
    }
}

/// Sends bytes, turning `\n` into `\r\n` because QEMU puts a terminal on
/// `-serial stdio` in raw mode.
pub(super) fn write(bytes: &[u8]) {
    for &b in bytes {
        if b == b'\n' {
            put(b'\r');
        }
        put(b);
    }
}
