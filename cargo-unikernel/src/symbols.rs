//! Resolves the return addresses a kernel prints after `backtrace (image load
//! bias 0x…):` to function names, from the ELF's symbol table (the image in
//! memory carries none).

use std::fmt::Write as _;
use std::path::Path;

/// Function symbols of an ELF file, sorted by address.
#[derive(Debug, Default)]
pub struct Symbols {
    functions: Vec<(u64, u64, String)>,
}

const SHT_SYMTAB: u32 = 2;
const STT_FUNC: u8 = 2;

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}
fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}
fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

impl Symbols {
    /// Reads the function symbols of a little-endian ELF64 file. A file
    /// without a symbol table (or not ELF64) gives no symbols.
    pub fn parse(elf: &[u8]) -> Symbols {
        Self::try_parse(elf).unwrap_or_default()
    }

    fn try_parse(b: &[u8]) -> Option<Symbols> {
        if b.get(..4)? != b"\x7fELF" || *b.get(4)? != 2 || *b.get(5)? != 1 {
            return None;
        }
        let shoff = usize::try_from(u64_at(b, 0x28)?).ok()?;
        let shentsize = usize::from(u16_at(b, 0x3a)?);
        let shnum = usize::from(u16_at(b, 0x3c)?);
        let section = |i: usize| -> Option<(u32, usize, usize, u32)> {
            let h = shoff.checked_add(i.checked_mul(shentsize)?)?;
            Some((
                u32_at(b, h + 4)?,
                usize::try_from(u64_at(b, h + 24)?).ok()?,
                usize::try_from(u64_at(b, h + 32)?).ok()?,
                u32_at(b, h + 40)?,
            ))
        };
        let mut functions = Vec::new();
        for i in 0..shnum {
            let (kind, offset, size, link) = section(i)?;
            if kind != SHT_SYMTAB {
                continue;
            }
            let (_, str_offset, str_size, _) = section(usize::try_from(link).ok()?)?;
            let strings = b.get(str_offset..str_offset.checked_add(str_size)?)?;
            let table = b.get(offset..offset.checked_add(size)?)?;
            for sym in table.chunks_exact(24) {
                if sym[4] & 0xf != STT_FUNC {
                    continue;
                }
                let name_at = usize::try_from(u32_at(sym, 0)?).ok()?;
                let (value, len) = (u64_at(sym, 8)?, u64_at(sym, 16)?);
                let Some(raw) = strings.get(name_at..) else {
                    continue;
                };
                let raw = &raw[..raw.iter().position(|&c| c == 0).unwrap_or(raw.len())];
                let name = String::from_utf8_lossy(raw);
                functions.push((value, len, format!("{:#}", rustc_demangle::demangle(&name))));
            }
        }
        functions.sort_by_key(|f| f.0);
        Some(Symbols { functions })
    }

    /// The function containing `addr` (an ELF address) and the offset into it.
    pub fn lookup(&self, addr: u64) -> Option<(&str, u64)> {
        let i = self
            .functions
            .partition_point(|f| f.0 <= addr)
            .checked_sub(1)?;
        let (start, len, name) = &self.functions[i];
        (addr < start + (*len).max(1)).then(|| (name.as_str(), addr - start))
    }
}

/// The kernel ELF behind a boot file: riscv64 boots the ELF itself; an
/// x86_64 disk image `NAME-bios.img` / `NAME-uefi[-bootlog].img` sits next to
/// the ELF `NAME`.
pub fn elf_for(boot_file: &Path) -> std::path::PathBuf {
    let name = boot_file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match name.strip_suffix(".img").and_then(|n| {
        n.rfind("-bios")
            .or_else(|| n.rfind("-uefi"))
            .map(|i| n[..i].to_owned())
    }) {
        Some(elf) => boot_file.with_file_name(elf),
        None => boot_file.to_path_buf(),
    }
}

/// The backtraces in `console`, with function names from `elf`, or `None`
/// when the console has no backtrace.
pub fn symbolize(console: &str, elf: &Path) -> Option<String> {
    if !console.contains("backtrace (image load bias ") {
        return None;
    }
    let symbols = Symbols::parse(&std::fs::read(elf).ok()?);
    Some(symbolize_with(console, &symbols))
}

fn hex(s: &str) -> Option<u64> {
    u64::from_str_radix(s.trim().strip_prefix("0x")?, 16).ok()
}

/// Rewrites each backtrace of `console` as `#N 0xADDR name+0xOFF`.
pub fn symbolize_with(console: &str, symbols: &Symbols) -> String {
    let mut out = String::new();
    let mut bias = None;
    for line in console.lines().map(|l| l.trim_end_matches('\r')) {
        if let Some(rest) = line.strip_prefix("backtrace (image load bias ") {
            bias = hex(rest.trim_end_matches("):"));
            out.push_str("backtrace:\n");
            continue;
        }
        let Some(b) = bias else { continue };
        let frame = line
            .trim_start()
            .strip_prefix('#')
            .and_then(|f| f.split_once(' '));
        let Some((depth, addr)) = frame.and_then(|(d, a)| Some((d, hex(a)?))) else {
            bias = None;
            continue;
        };
        // A return address points after the call: look up the call itself.
        let found = symbols.lookup(addr.wrapping_sub(b).wrapping_sub(1));
        let _ = match found {
            Some((name, off)) => writeln!(out, "  #{depth} {addr:#x} {name}+{:#x}", off + 1),
            None => writeln!(out, "  #{depth} {addr:#x} ??"),
        };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn symbols() -> Symbols {
        Symbols {
            functions: vec![
                (0x1000, 0x40, "kernel::main".to_owned()),
                (0x1040, 0x20, "core::panicking::panic_fmt".to_owned()),
            ],
        }
    }

    #[test]
    fn resolves_return_addresses_with_the_bias() {
        let console = "panicked at x\nbacktrace (image load bias 0xffff800000000000):\r\n  #0 0xffff800000001045\n  #1 0xffff800000001010\n  #2 0xffff800000009000\nend\n";
        assert_eq!(
            symbolize_with(console, &symbols()),
            "backtrace:\n  #0 0xffff800000001045 core::panicking::panic_fmt+0x5\n  #1 0xffff800000001010 kernel::main+0x10\n  #2 0xffff800000009000 ??\n"
        );
    }

    #[test]
    fn finds_the_elf_behind_an_image() {
        let p = |s: &str| Path::new(s).to_path_buf();
        assert_eq!(elf_for(&p("/t/d/hello-bios.img")), p("/t/d/hello"));
        assert_eq!(
            elf_for(&p("/t/d/kernel-oom+limit-uefi-bootlog.img")),
            p("/t/d/kernel-oom+limit")
        );
        assert_eq!(elf_for(&p("/t/riscv/hello")), p("/t/riscv/hello"));
    }

    #[test]
    fn lookup_respects_sizes_and_ignores_garbage() {
        let s = symbols();
        assert_eq!(s.lookup(0x1000), Some(("kernel::main", 0)));
        assert_eq!(s.lookup(0xfff), None);
        assert_eq!(s.lookup(0x1060), None);
        assert!(Symbols::parse(b"not an elf").functions.is_empty());
        assert!(Symbols::parse(b"\x7fELF\x02\x01").functions.is_empty());
    }

    #[test]
    fn reads_its_own_executable() {
        // The test binary is an ELF64 file with a symbol table on Linux hosts.
        let me = std::env::current_exe().expect("test binary path");
        let bytes = std::fs::read(me).expect("read test binary");
        let s = Symbols::parse(&bytes);
        assert!(
            s.functions
                .iter()
                .any(|f| f.2.contains("reads_its_own_executable"))
        );
    }
}
