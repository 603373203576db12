//! How a run ends: the status reported to the host (QEMU's exit code).

use core::fmt::Debug;

/// The outcome of the application, turned into QEMU's exit status by the
/// arch layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// `main` returned `()` or `Ok(())`.
    Success,
    /// `main` returned `Err`, panicked or faulted.
    Failure,
}

/// Return types accepted from `#[unikernel::main]` functions.
#[diagnostic::on_unimplemented(
    message = "`#[unikernel::main]` and `#[unikernel::test]` functions must return `()`, `!` or `Result<(), E>` with `E: Debug`",
    label = "`{Self}` is not an accepted return type"
)]
pub trait MainReturn {
    /// Reports the value (printing an error if there is one) and converts it
    /// to an [`Exit`].
    fn report(self) -> Exit;
}

impl MainReturn for () {
    fn report(self) -> Exit {
        Exit::Success
    }
}

impl<E: Debug> MainReturn for Result<(), E> {
    fn report(self) -> Exit {
        match self {
            Ok(()) => Exit::Success,
            Err(e) => {
                crate::println!("error: main returned Err: {e:?}");
                Exit::Failure
            }
        }
    }
}
