//! The arch-neutral end of the boot flow, and the failure paths.

use core::fmt;
use core::sync::atomic::{AtomicBool, Ordering};

use crate::exit::Exit;

/// Runs the application once the arch layer has set up console, memory and
/// heap, then ends the run with its status.
pub(crate) fn run(main: fn() -> Exit) -> ! {
    let frames = crate::memory::stats();
    log::info!(
        "frames: {} MiB usable, {} MiB managed, {} MiB free; heap: {} KiB",
        frames.usable_bytes >> 20,
        frames.total_bytes >> 20,
        frames.free_bytes >> 20,
        crate::heap::stats().total_bytes >> 10,
    );
    if cfg!(feature = "harness") {
        crate::harness::run_all();
    }
    let status = main();
    log::debug!("main returned: {status:?}");
    crate::arch::exit(status)
}

static FAILING: AtomicBool = AtomicBool::new(false);

/// Reports an unrecoverable runtime error and ends the run as a failure.
pub(crate) fn fatal(args: fmt::Arguments<'_>) -> ! {
    if !FAILING.swap(true, Ordering::SeqCst) {
        crate::console::emergency_print(format_args!("\nfatal: {args}\n"));
    }
    crate::arch::exit(Exit::Failure)
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    crate::harness::on_panic(info);
    if FAILING.swap(true, Ordering::SeqCst) {
        // A panic while reporting a panic or fatal error: say so once, and
        // stop before recursing again.
        crate::console::emergency_print(format_args!("\npanic while failing: {info}\n"));
    } else {
        crate::console::emergency_print(format_args!("\n{info}\n"));
        crate::heap::report_out_of_memory(info);
        crate::backtrace::print_here();
    }
    crate::arch::exit(Exit::Failure)
}
