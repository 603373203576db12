//! Guest memory sizes as written in flags and metadata (`128M`, `1 GiB`, `512`).

use std::fmt;

/// A guest RAM size, a whole number of MiB (QEMU's unit when none is given).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemorySize {
    mib: u64,
}

/// Why a memory size could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemorySizeError(String);

impl fmt::Display for MemorySizeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid memory size `{}` (expected a number with an optional unit, e.g. 128M, 1G, 512 MiB)",
            self.0
        )
    }
}

impl std::error::Error for MemorySizeError {}

impl MemorySize {
    /// QEMU's default RAM for our machines.
    pub const DEFAULT: MemorySize = MemorySize { mib: 128 };

    /// Parses `N`, `NK`, `NM`, `NG`, `NT` (binary units; `KiB`/`MB`/... spellings
    /// and a space before the unit are accepted). Sizes below 1 MiB or not a
    /// whole number of MiB are rejected: QEMU rounds them silently otherwise.
    pub fn parse(text: &str) -> Result<MemorySize, MemorySizeError> {
        let err = || MemorySizeError(text.to_owned());
        let trimmed = text.trim();
        let digits_end = trimmed
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(trimmed.len());
        let (number, unit) = trimmed.split_at(digits_end);
        let number: u64 = number.parse().map_err(|_| err())?;
        let unit = unit.trim().to_ascii_lowercase();
        let unit = unit
            .strip_suffix("ib")
            .or_else(|| unit.strip_suffix('b'))
            .unwrap_or(&unit);
        let kib = match unit {
            "k" => number,
            "" | "m" => number.checked_mul(1 << 10).ok_or_else(err)?,
            "g" => number.checked_mul(1 << 20).ok_or_else(err)?,
            "t" => number.checked_mul(1 << 30).ok_or_else(err)?,
            _ => return Err(err()),
        };
        if kib == 0 || kib % 1024 != 0 {
            return Err(err());
        }
        Ok(MemorySize { mib: kib / 1024 })
    }

    /// The size in MiB.
    #[cfg(test)]
    pub fn mib(self) -> u64 {
        self.mib
    }

    /// The value for QEMU's `-m`.
    pub fn to_qemu(self) -> String {
        format!("{}M", self.mib)
    }
}

impl fmt::Display for MemorySize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.mib.is_multiple_of(1024) {
            write!(f, "{} GiB", self.mib / 1024)
        } else {
            write!(f, "{} MiB", self.mib)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_spellings() {
        assert_eq!(MemorySize::parse("128M").unwrap().mib(), 128);
        assert_eq!(MemorySize::parse("128").unwrap().mib(), 128);
        assert_eq!(MemorySize::parse("1G").unwrap().mib(), 1024);
        assert_eq!(MemorySize::parse("1 GiB").unwrap().mib(), 1024);
        assert_eq!(MemorySize::parse("64 MiB").unwrap().mib(), 64);
        assert_eq!(MemorySize::parse("2048k").unwrap().mib(), 2);
        assert_eq!(MemorySize::parse("256mb").unwrap().to_qemu(), "256M");
    }

    #[test]
    fn rejects_garbage_and_partial_mib() {
        for bad in [
            "",
            "M",
            "12X",
            "-5M",
            "0",
            "1000K",
            "1.5G",
            "99999999999999999999T",
        ] {
            assert!(
                MemorySize::parse(bad).is_err(),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn displays_in_the_largest_whole_unit() {
        assert_eq!(MemorySize::parse("2G").unwrap().to_string(), "2 GiB");
        assert_eq!(MemorySize::parse("96M").unwrap().to_string(), "96 MiB");
    }
}
