//! What a QEMU exit status means for the application, and the runner's own exit codes.

use std::fmt;
use std::time::Duration;

use crate::target::Arch;

/// Runner exit status: the application succeeded.
pub const EXIT_SUCCESS: u8 = 0;
/// Runner exit status: the application failed (panic, `Err` from `main`,
/// machine reset, or a QEMU test expectation not met).
pub const EXIT_APP_FAILURE: u8 = 1;
/// Runner exit status: the runner could not build or start anything.
pub const EXIT_SETUP_ERROR: u8 = 2;
/// Runner exit status: QEMU was killed after the timeout (as `timeout(1)` does).
pub const EXIT_TIMEOUT: u8 = 124;

/// How a QEMU run ended, judged by the runtime's exit conventions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The application returned successfully.
    Success,
    /// The application reported failure (panic or `Err` from `main`).
    AppFailure,
    /// QEMU ended in a way the runtime never uses, e.g. status 0 on x86_64
    /// after a triple fault reset the machine under `-no-reboot`.
    Unexpected(UnexpectedEnd),
    /// QEMU was still running when the timeout expired and was killed.
    Timeout(Duration),
}

/// The raw ending of a QEMU process that did not follow the exit conventions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnexpectedEnd {
    /// QEMU exited with this status.
    Status(i32),
    /// QEMU was killed by this signal.
    Signal(i32),
}

impl Outcome {
    /// Maps QEMU's exit status (`None` when a signal ended it, with `signal`
    /// then telling which) to an outcome.
    ///
    /// x86_64: the runtime writes 0x10 (success) or 0x11 (failure) to the
    /// `isa-debug-exit` port, which QEMU turns into status `(v << 1) | 1`,
    /// i.e. 33 or 35. riscv64: the SiFive test finisher or SBI shutdown gives
    /// 0 for success, and the finisher's FAIL with code 1 gives 1.
    pub fn from_exit(arch: Arch, code: Option<i32>, signal: Option<i32>) -> Outcome {
        let (success, failure) = match arch {
            Arch::X86_64 => (33, 35),
            Arch::Riscv64 => (0, 1),
        };
        match code {
            Some(c) if c == success => Outcome::Success,
            Some(c) if c == failure => Outcome::AppFailure,
            Some(c) => Outcome::Unexpected(UnexpectedEnd::Status(c)),
            None => Outcome::Unexpected(UnexpectedEnd::Signal(signal.unwrap_or(0))),
        }
    }

    /// `true` for [`Outcome::Success`].
    pub fn is_success(self) -> bool {
        self == Outcome::Success
    }

    /// The runner's exit status for this outcome of `cargo unikernel run`.
    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::Success => EXIT_SUCCESS,
            Outcome::AppFailure | Outcome::Unexpected(_) => EXIT_APP_FAILURE,
            Outcome::Timeout(_) => EXIT_TIMEOUT,
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Success => f.write_str("the application exited successfully"),
            Outcome::AppFailure => f.write_str("the application reported failure"),
            Outcome::Unexpected(UnexpectedEnd::Status(c)) => {
                write!(f, "machine reset or exited unexpectedly (QEMU status {c})")
            }
            Outcome::Unexpected(UnexpectedEnd::Signal(s)) => {
                write!(f, "QEMU was killed by signal {s}")
            }
            Outcome::Timeout(t) => write!(f, "timed out after {} s (QEMU killed)", t.as_secs()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x86_64_uses_isa_debug_exit_values() {
        assert_eq!(
            Outcome::from_exit(Arch::X86_64, Some(33), None),
            Outcome::Success
        );
        assert_eq!(
            Outcome::from_exit(Arch::X86_64, Some(35), None),
            Outcome::AppFailure
        );
        // A triple fault under -no-reboot makes QEMU exit 0: not a success.
        assert_eq!(
            Outcome::from_exit(Arch::X86_64, Some(0), None),
            Outcome::Unexpected(UnexpectedEnd::Status(0))
        );
        assert_eq!(
            Outcome::from_exit(Arch::X86_64, Some(1), None),
            Outcome::Unexpected(UnexpectedEnd::Status(1))
        );
    }

    #[test]
    fn riscv64_uses_finisher_and_sbi_values() {
        assert_eq!(
            Outcome::from_exit(Arch::Riscv64, Some(0), None),
            Outcome::Success
        );
        assert_eq!(
            Outcome::from_exit(Arch::Riscv64, Some(1), None),
            Outcome::AppFailure
        );
        assert_eq!(
            Outcome::from_exit(Arch::Riscv64, Some(33), None),
            Outcome::Unexpected(UnexpectedEnd::Status(33))
        );
        assert_eq!(
            Outcome::from_exit(Arch::Riscv64, None, Some(9)),
            Outcome::Unexpected(UnexpectedEnd::Signal(9))
        );
    }

    #[test]
    fn runner_exit_codes_tell_outcomes_apart() {
        assert_eq!(Outcome::Success.exit_code(), 0);
        assert_eq!(Outcome::AppFailure.exit_code(), 1);
        assert_eq!(Outcome::Unexpected(UnexpectedEnd::Status(0)).exit_code(), 1);
        assert_eq!(Outcome::Timeout(Duration::from_secs(5)).exit_code(), 124);
        assert_eq!(
            Outcome::Unexpected(UnexpectedEnd::Status(0)).to_string(),
            "machine reset or exited unexpectedly (QEMU status 0)"
        );
    }
}
