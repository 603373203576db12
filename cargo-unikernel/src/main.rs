//! `cargo unikernel`: build unikernel images and run them in QEMU.
//!
//! - `cargo unikernel run` builds a kernel package, makes its boot image and
//!   boots it in QEMU with the serial console on stdout; its exit status is
//!   the application's (see [`outcome`]).
//! - `cargo unikernel build` only builds, and prints the image paths.
//! - `cargo unikernel test` runs fmt, clippy, host tests, Miri and every
//!   `[[package.metadata.unikernel.test]]` QEMU test.
//! - `cargo unikernel new NAME` creates an application crate that boots.

mod cli;
mod expect;
mod image;
mod kernel;
mod metadata;
mod nested;
mod new;
mod outcome;
mod qemu;
mod run;
mod size;
mod suite;
mod symbols;
mod target;
mod temp_dir;
mod toolchain;

use std::fmt;
use std::process::ExitCode;

use crate::outcome::EXIT_SETUP_ERROR;

/// Anything that stops a command before it has an application outcome:
/// exit status 2, after printing the message.
#[derive(Debug)]
pub struct Fatal(pub String);

impl fmt::Display for Fatal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<E: std::error::Error> From<E> for Fatal {
    fn from(error: E) -> Fatal {
        Fatal(error.to_string())
    }
}

fn main() -> ExitCode {
    let command = match cli::parse(std::env::args().skip(1)) {
        Ok(command) => command,
        Err(error) => {
            eprintln!(
                "cargo-unikernel: {error}\n(`cargo unikernel --help` lists the commands and options)"
            );
            return ExitCode::from(EXIT_SETUP_ERROR);
        }
    };
    let result = match command {
        cli::Command::Help => {
            println!("{}", cli::USAGE);
            Ok(outcome::EXIT_SUCCESS)
        }
        cli::Command::Run(args) => run::run(&args),
        cli::Command::Build(args) => run::build(&args),
        cli::Command::Test(args) => suite::test(&args),
        cli::Command::New(args) => new::new(&args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            eprintln!("cargo-unikernel: error: {error}");
            ExitCode::from(EXIT_SETUP_ERROR)
        }
    }
}
