//! The runner binary's behaviour that needs no kernel: help, usage errors and
//! package selection errors, with their exit statuses.

use std::process::{Command, Output};

fn runner(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cargo-unikernel"))
        .args(args)
        .output()
        .expect("the runner binary starts")
}

#[test]
fn help_lists_the_commands_and_succeeds() {
    for args in [&["--help"][..], &["unikernel", "help"]] {
        let out = runner(args);
        assert_eq!(out.status.code(), Some(0));
        let text = String::from_utf8_lossy(&out.stdout);
        for command in [
            "cargo unikernel run",
            "cargo unikernel build",
            "cargo unikernel test",
        ] {
            assert!(text.contains(command), "help lacks `{command}`:\n{text}");
        }
    }
}

#[test]
fn usage_errors_exit_2_with_a_message() {
    for args in [
        &[][..],
        &["unikernel", "frobnicate"],
        &["run", "--arch", "arm"],
        &["test", "--bogus"],
    ] {
        let out = runner(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let text = String::from_utf8_lossy(&out.stderr);
        assert!(text.starts_with("cargo-unikernel: "), "{args:?}: {text}");
        assert!(text.contains("--help"), "{args:?}: {text}");
    }
}

#[test]
fn unknown_example_exits_2_and_lists_the_kernels() {
    // Runs in this crate's workspace, whose kernels live in examples/.
    let out = runner(&["run", "--example", "no-such-example"]);
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("no example `no-such-example`"), "{text}");
}
