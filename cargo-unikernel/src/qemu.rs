//! Building QEMU command lines and running QEMU with a timeout while the
//! console streams to the terminal and into a buffer.

use std::ffi::OsString;
use std::io::{self, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::outcome::Outcome;
use crate::size::MemorySize;
use crate::target::{Arch, Boot, Target};

/// Where distributions put a combined OVMF firmware image.
const OVMF_CANDIDATES: &[&str] = &[
    "/usr/share/ovmf/OVMF.fd",
    "/usr/share/OVMF/OVMF.fd",
    "/usr/share/qemu/OVMF.fd",
    "/usr/share/edk2/ovmf/OVMF.fd",
    "/usr/share/edk2-ovmf/x64/OVMF.fd",
    "/usr/share/edk2/x64/OVMF.fd",
];

/// The OVMF firmware for UEFI boots: `$OVMF_PATH` if set (`None` if that is
/// not a file), else the first file found in the usual places.
pub fn find_ovmf() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("OVMF_PATH") {
        let path = PathBuf::from(path);
        return path.is_file().then_some(path);
    }
    OVMF_CANDIDATES
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

/// Everything that decides one QEMU command line.
#[derive(Debug, Clone)]
pub struct Machine {
    /// Which machine and firmware.
    pub target: Target,
    /// The disk image (x86_64) or kernel ELF (riscv64).
    pub boot_file: PathBuf,
    /// Guest RAM.
    pub memory: MemorySize,
    /// Number of CPUs.
    pub smp: u32,
    /// The OVMF file (x86_64 UEFI only).
    pub ovmf: Option<PathBuf>,
    /// Extra arguments appended last, so they can override ours.
    pub extra_args: Vec<String>,
}

impl Machine {
    /// QEMU's arguments (without the binary). Always TCG: nested KVM here is
    /// far slower than plain emulation, and tests must not depend on /dev/kvm.
    pub fn args(&self) -> Vec<OsString> {
        fn words(list: &[&str]) -> impl Iterator<Item = OsString> {
            list.iter()
                .map(OsString::from)
                .collect::<Vec<_>>()
                .into_iter()
        }
        let mut args: Vec<OsString> = Vec::new();
        match self.target {
            Target::X86_64(boot) => {
                let mut drive = OsString::from("format=raw,file=");
                drive.push(&self.boot_file);
                args.extend(words(&["-accel", "tcg", "-drive"]));
                args.push(drive);
                args.extend(words(&[
                    "-device",
                    "isa-debug-exit,iobase=0xf4,iosize=0x04",
                ]));
                if boot == Boot::Uefi
                    && let Some(ovmf) = &self.ovmf
                {
                    args.extend(["-bios".into(), ovmf.into()]);
                }
            }
            Target::Riscv64 => {
                args.extend(words(&[
                    "-machine", "virt", "-accel", "tcg", "-bios", "default",
                ]));
                args.extend(["-kernel".into(), self.boot_file.clone().into()]);
            }
        }
        let console = ["-serial", "stdio", "-display", "none", "-monitor", "none"];
        args.extend(words(&console));
        args.extend(words(&["-no-reboot", "-m", &self.memory.to_qemu()]));
        args.extend(words(&["-smp", &self.smp.to_string()]));
        args.extend(self.extra_args.iter().map(OsString::from));
        args
    }

    /// The full command.
    pub fn command(&self) -> Command {
        let mut command = Command::new(self.target.arch().qemu_binary());
        command.args(self.args());
        command
    }
}

/// What a finished (or killed) QEMU run produced.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// How it ended.
    pub outcome: Outcome,
    /// Everything the guest wrote to the serial console.
    pub console: String,
    /// What QEMU itself wrote to stderr (empty when it went to the terminal).
    pub qemu_stderr: String,
    /// Wall time from spawn to exit.
    pub duration: Duration,
    /// The console's backtraces with function names, when the caller could
    /// resolve them.
    pub backtrace: Option<String>,
}

/// Whether the console is copied to our stdout as it arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Echo {
    /// `cargo unikernel run`: stream the console, let QEMU's stderr through,
    /// and give QEMU the terminal as stdin if there is one.
    Live,
    /// QEMU tests: capture everything, stdin is /dev/null.
    Capture,
}

/// Runs `machine` until it exits or `timeout` passes (then kills it).
pub fn run(machine: &Machine, timeout: Option<Duration>, echo: Echo) -> io::Result<RunResult> {
    let program = machine.target.arch().qemu_binary();
    run_command(machine.command(), machine.target.arch(), timeout, echo)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot run {program}: {e}")))
}

/// Runs `command` as a QEMU for `arch` (its exit status means what QEMU's does).
pub fn run_command(
    mut command: Command,
    arch: Arch,
    timeout: Option<Duration>,
    echo: Echo,
) -> io::Result<RunResult> {
    command.stdout(Stdio::piped());
    let interactive = echo == Echo::Live && io::stdin().is_terminal();
    command.stdin(if interactive {
        Stdio::inherit()
    } else {
        Stdio::null()
    });
    command.stderr(if echo == Echo::Live {
        Stdio::inherit()
    } else {
        Stdio::piped()
    });

    let start = Instant::now();
    let mut child = command.spawn()?;
    let console = Arc::new(Mutex::new(Vec::new()));
    let stdout_reader = child
        .stdout
        .take()
        .map(|out| copy_stream(out, Arc::clone(&console), echo == Echo::Live));
    let qemu_stderr = Arc::new(Mutex::new(Vec::new()));
    let stderr_reader = child
        .stderr
        .take()
        .map(|err| copy_stream(err, Arc::clone(&qemu_stderr), false));

    let status = wait_with_timeout(&mut child, timeout)?;
    let duration = start.elapsed();
    let outcome = match status {
        Some(status) => {
            // Whatever QEMU wrote before exiting is still in the pipes: read it all.
            // (After a timeout the readers are left behind instead: a process
            // QEMU started could hold the pipe open for ever.)
            for reader in [stdout_reader, stderr_reader].into_iter().flatten() {
                // A reader only panics if our own stdout is gone; the bytes are captured anyway.
                let _ = reader.join();
            }
            #[cfg(unix)]
            let signal = std::os::unix::process::ExitStatusExt::signal(&status);
            #[cfg(not(unix))]
            let signal = None;
            Outcome::from_exit(arch, status.code(), signal)
        }
        None => Outcome::Timeout(timeout.unwrap_or_default()),
    };
    let text = |buffer: &Arc<Mutex<Vec<u8>>>| {
        String::from_utf8_lossy(&buffer.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    };
    Ok(RunResult {
        outcome,
        console: text(&console),
        qemu_stderr: text(&qemu_stderr),
        duration,
        backtrace: None,
    })
}

/// Copies `stream` into `sink` (and to stdout when `echo`) until it closes.
fn copy_stream(
    mut stream: impl Read + Send + 'static,
    sink: Arc<Mutex<Vec<u8>>>,
    echo: bool,
) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let mut buffer = [0u8; 4096];
        let mut stdout = io::stdout();
        loop {
            match stream.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => {
                    sink.lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .extend_from_slice(&buffer[..n]);
                    if echo {
                        // The console must stay visible line by line, so flush per chunk.
                        let _ = stdout.write_all(&buffer[..n]).and_then(|()| stdout.flush());
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
    })
}

/// Waits for `child`; kills it and returns `None` once `timeout` has passed.
fn wait_with_timeout(
    child: &mut Child,
    timeout: Option<Duration>,
) -> io::Result<Option<std::process::ExitStatus>> {
    let Some(timeout) = timeout else {
        return child.wait().map(Some);
    };
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if Instant::now() >= deadline {
            // It may have exited between try_wait and kill; either way reap it.
            let _ = child.kill();
            child.wait()?;
            return Ok(None);
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// Whether `program` is an executable file in one of `$PATH`'s directories.
pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).any(|dir| is_executable(&dir.join(program))))
        .unwrap_or(false)
}

fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        path.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        path.is_file()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine(target: Target) -> Machine {
        Machine {
            target,
            boot_file: PathBuf::from("/k/hello-bios.img"),
            memory: MemorySize::DEFAULT,
            smp: 1,
            ovmf: Some(PathBuf::from("/usr/share/ovmf/OVMF.fd")),
            extra_args: vec!["-d".into(), "int".into()],
        }
    }

    fn joined(machine: &Machine) -> String {
        machine
            .args()
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn x86_64_bios_command() {
        assert_eq!(
            joined(&machine(Target::X86_64(Boot::Bios))),
            "-accel tcg -drive format=raw,file=/k/hello-bios.img \
             -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
             -serial stdio -display none -monitor none -no-reboot -m 128M -smp 1 -d int"
        );
    }

    #[test]
    fn x86_64_uefi_adds_ovmf() {
        let args = joined(&machine(Target::X86_64(Boot::Uefi)));
        assert!(
            args.contains(
                "-device isa-debug-exit,iobase=0xf4,iosize=0x04 -bios /usr/share/ovmf/OVMF.fd "
            ),
            "{args}"
        );
    }

    #[test]
    fn riscv64_command() {
        let mut m = machine(Target::Riscv64);
        m.boot_file = PathBuf::from("/k/hello");
        m.smp = 2;
        m.extra_args.clear();
        assert_eq!(
            joined(&m),
            "-machine virt -accel tcg -bios default -kernel /k/hello \
             -serial stdio -display none -monitor none -no-reboot -m 128M -smp 2"
        );
    }

    #[cfg(unix)]
    #[test]
    fn run_captures_output_and_times_out() {
        // `sh` stands in for QEMU: the exit-status mapping and timeout are the same.
        let run_sh = |script: &str, timeout| {
            let mut command = Command::new("sh");
            command.arg("-c").arg(script);
            run_command(command, Arch::Riscv64, timeout, Echo::Capture).unwrap()
        };
        let done = run_sh(
            "printf 'hi\\r\\nthere\\n'; echo oops >&2; exit 1",
            Some(Duration::from_secs(10)),
        );
        assert_eq!(done.outcome, Outcome::AppFailure);
        assert_eq!(done.console, "hi\r\nthere\n");
        assert_eq!(done.qemu_stderr, "oops\n");
        let passed = run_sh("exit 0", None);
        assert_eq!(passed.outcome, Outcome::Success);
        let slow = run_sh(
            "echo started; exec sleep 5",
            Some(Duration::from_millis(300)),
        );
        assert_eq!(slow.outcome, Outcome::Timeout(Duration::from_millis(300)));
        assert!(
            slow.duration < Duration::from_secs(4),
            "{:?}",
            slow.duration
        );
    }

    #[test]
    fn missing_qemu_is_an_error_naming_it() {
        let err = run_command(
            Command::new("/nonexistent/qemu"),
            Arch::X86_64,
            None,
            Echo::Capture,
        )
        .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }
}
