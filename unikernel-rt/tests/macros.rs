//! Compile-pass and compile-fail tests of `#[unikernel::main]` and
//! `#[unikernel::test]` (trybuild), and the hosted form of
//! `#[unikernel::test]` exercised as real libtest tests.
//!
//! Regenerate the `.stderr` snapshots with
//! `TRYBUILD=overwrite cargo test -p unikernel-rt --test macros`, then review
//! the diff: the snapshots are the macros' user interface.

// Each pass case is a host program: the boot glue expands to nothing there,
// so the annotated `main` is an ordinary Rust `main` that must also run.
#[test]
fn main_accepts() {
    trybuild::TestCases::new().pass("tests/ui/main/pass/*.rs");
}

#[test]
fn main_rejects() {
    trybuild::TestCases::new().compile_fail("tests/ui/main/fail/*.rs");
}

#[test]
fn test_accepts() {
    trybuild::TestCases::new().pass("tests/ui/test/pass/*.rs");
}

#[test]
fn test_rejects() {
    trybuild::TestCases::new().compile_fail("tests/ui/test/fail/*.rs");
}

/// On the host, `#[unikernel::test]` functions are libtest tests: these run
/// as part of this test binary, and each would fail if the expansion lost
/// its `should_panic` expectation or its `Result` handling.
mod hosted {
    #[unikernel::test]
    fn runs_as_a_host_test() {
        assert_eq!(2 + 2, 4);
    }

    #[unikernel::test]
    fn result_tests_pass_with_ok() -> Result<(), core::fmt::Error> {
        Ok(())
    }

    #[unikernel::test(should_panic)]
    fn should_panic_expects_a_panic() {
        panic!("expected");
    }

    #[unikernel::test(should_panic = "substring")]
    fn should_panic_matches_the_message() {
        panic!("the message contains a substring somewhere");
    }

    // Would abort the test process on the host; only the QEMU harness runs
    // it. Listed as ignored by `cargo test`.
    #[unikernel::test(should_fault = "breakpoint")]
    fn faults_are_ignored_on_the_host() {
        panic!("must not run on the host");
    }

    #[unikernel::test(ignore)]
    fn ignored_tests_do_not_run() {
        panic!("must not run");
    }
}
