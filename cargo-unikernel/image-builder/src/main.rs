//! `unikernel-image-builder KERNEL [--bios OUT] [--uefi OUT] [--boot-log]`
//!
//! Writes a BIOS (MBR) and/or UEFI (GPT) disk image that boots `KERNEL`, an ELF
//! built against `bootloader_api` 0.11.17. Errors go to stderr with exit status 2.

use std::path::PathBuf;
use std::process::ExitCode;

use bootloader::{BiosBoot, BootConfig, UefiBoot};

struct Args {
    kernel: PathBuf,
    bios: Option<PathBuf>,
    uefi: Option<PathBuf>,
    boot_log: bool,
}

const USAGE: &str = "usage: unikernel-image-builder KERNEL [--bios OUT] [--uefi OUT] [--boot-log]";

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut kernel = None;
    let mut bios = None;
    let mut uefi = None;
    let mut boot_log = false;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--bios" => bios = Some(args.next().ok_or("--bios needs a path")?.into()),
            "--uefi" => uefi = Some(args.next().ok_or("--uefi needs a path")?.into()),
            "--boot-log" => boot_log = true,
            flag if flag.starts_with('-') => return Err(format!("unknown option `{flag}`")),
            path if kernel.is_none() => kernel = Some(PathBuf::from(path)),
            extra => return Err(format!("unexpected argument `{extra}`")),
        }
    }
    let kernel = kernel.ok_or("missing KERNEL")?;
    if bios.is_none() && uefi.is_none() {
        return Err("nothing to do: give --bios and/or --uefi".into());
    }
    Ok(Args {
        kernel,
        bios,
        uefi,
        boot_log,
    })
}

fn boot_config(boot_log: bool) -> BootConfig {
    let mut config = BootConfig::default();
    // The bootloader's own log lines would be mixed into the application's
    // serial console (and into the output QEMU tests match), so they are
    // opt-in. A framebuffer is useless with `-display none`.
    config.serial_logging = boot_log;
    config.frame_buffer_logging = false;
    config
}

fn run(args: &Args) -> Result<(), String> {
    let config = boot_config(args.boot_log);
    if let Some(out) = &args.bios {
        BiosBoot::new(&args.kernel)
            .set_boot_config(&config)
            .create_disk_image(out)
            .map_err(|e| format!("BIOS image {}: {e:#}", out.display()))?;
    }
    if let Some(out) = &args.uefi {
        UefiBoot::new(&args.kernel)
            .set_boot_config(&config)
            .create_disk_image(out)
            .map_err(|e| format!("UEFI image {}: {e:#}", out.display()))?;
    }
    Ok(())
}

fn main() -> ExitCode {
    let result = parse_args(std::env::args().skip(1))
        .map_err(|e| format!("{e}\n{USAGE}"))
        .and_then(|args| run(&args));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("unikernel-image-builder: {message}");
            ExitCode::from(2)
        }
    }
}
