//! Backtraces by walking frame pointers (the images are built with
//! `-C force-frame-pointers=yes`).
//!
//! The kernel image carries no symbol table in memory, so the runtime prints
//! return addresses and the image's load bias; `cargo unikernel` resolves
//! them to function names from the ELF file on the host.

/// Frames printed at most.
const MAX_FRAMES: usize = 48;

/// Prints the return addresses of the call chain that starts at frame
/// pointer `fp`, without allocating or taking locks.
pub(crate) fn print_from(fp: u64) {
    crate::console::emergency_print(format_args!(
        "backtrace (image load bias {:#x}):\n",
        crate::arch::image_load_bias()
    ));
    let mut fp = fp;
    for depth in 0..MAX_FRAMES {
        let Some((next, ret)) = crate::arch::unwind_frame(fp) else {
            break;
        };
        if ret == 0 {
            break;
        }
        crate::console::emergency_print(format_args!("  #{depth} {ret:#x}\n"));
        // Frames live at rising addresses; anything else is a corrupt chain.
        if next <= fp {
            break;
        }
        fp = next;
    }
}

/// Prints the backtrace of the caller.
#[inline(always)]
pub(crate) fn print_here() {
    print_from(crate::arch::frame_pointer());
}
