//! The serial console behind [`println!`](crate::println) and the logger.
//!
//! Output goes to the arch's boot console (COM1 on x86_64, the device tree's
//! UART or SBI on riscv64). On hosted targets (unit tests, trybuild) output is
//! discarded, so the macros stay usable everywhere.

use core::fmt::{self, Write};

use spin::Mutex;

struct ConsoleWriter;

impl Write for ConsoleWriter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        crate::arch::console_write(s.as_bytes());
        Ok(())
    }
}

static CONSOLE: Mutex<ConsoleWriter> = Mutex::new(ConsoleWriter);

/// Writes formatted text to the console. Used by the print macros.
#[doc(hidden)]
pub fn _print(args: fmt::Arguments<'_>) {
    // A fault or interrupt handler that prints while the lock is held would
    // otherwise deadlock; interleaved output is the lesser evil there.
    let _ = crate::arch::without_interrupts(|| CONSOLE.lock().write_fmt(args));
}

/// Writes to the console even if its lock is held, for the panic and fault
/// paths, which must report no matter what state the system is in.
pub(crate) fn emergency_print(args: fmt::Arguments<'_>) {
    let _ = ConsoleWriter.write_fmt(args);
}

/// Releases the console lock held by code that will never run again.
///
/// # Safety
/// The holder of the lock must be abandoned (its stack discarded).
#[cfg(target_os = "none")]
pub(crate) unsafe fn force_unlock() {
    if CONSOLE.is_locked() {
        // SAFETY: forwarded from the caller: the owner is gone.
        unsafe { CONSOLE.force_unlock() };
    }
}

/// Prints to the serial console.
///
/// ```
/// unikernel::print!("{} + {} = ", 1, 2);
/// unikernel::println!("{}", 3);
/// ```
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => {
        $crate::console::_print(::core::format_args!($($arg)*))
    };
}

/// Prints to the serial console, with a newline.
///
/// ```
/// unikernel::println!("hello from {}", "a unikernel");
/// ```
#[macro_export]
macro_rules! println {
    () => {
        $crate::print!("\n")
    };
    ($($arg:tt)*) => {
        $crate::console::_print(::core::format_args!("{}\n", ::core::format_args!($($arg)*)))
    };
}
