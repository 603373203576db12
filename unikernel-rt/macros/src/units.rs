//! Pure parsers for the values written in attribute arguments: byte sizes
//! (`"64 MiB"`) and the x86_64 physical-memory offset (`"0xffff_8000_0000_0000"`).
//!
//! They know nothing of `syn`, so they are unit-tested directly.

use std::fmt;

/// One kibibyte; sizes must be multiples of a 4 KiB page.
pub(crate) const KIB: u64 = 1024;
/// The page size every size and offset is checked against.
pub(crate) const PAGE_SIZE: u64 = 4 * KIB;

/// Why a size string was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SizeError {
    /// Nothing but whitespace.
    Empty,
    /// The number part is missing or is not a decimal integer.
    BadNumber,
    /// A unit that is not `B`, `KiB`, `MiB` or `GiB`.
    UnknownUnit(String),
    /// A 1000-based unit (`KB`, `MB`, `GB`), rejected as ambiguous; the
    /// payload is the binary unit it most likely meant.
    DecimalUnit {
        /// The unit as written.
        written: String,
        /// The 1024-based unit to suggest.
        binary: &'static str,
    },
    /// The value does not fit in 64 bits.
    Overflow,
}

impl fmt::Display for SizeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("the size is empty"),
            Self::BadNumber => f.write_str("the number must be a non-negative decimal integer"),
            Self::UnknownUnit(unit) => write!(f, "unknown unit `{unit}`"),
            Self::DecimalUnit { written, binary } => write!(
                f,
                "`{written}` is a 1000-based unit, which is ambiguous for memory sizes; write `{binary}` (1024-based)"
            ),
            Self::Overflow => f.write_str("the size does not fit in 64 bits"),
        }
    }
}

impl std::error::Error for SizeError {}

/// Parses `"<integer> [unit]"` where unit is `B`, `KiB`, `MiB` or `GiB`
/// (case-insensitive, optional space, `_` digit separators). No unit means
/// bytes.
pub(crate) fn parse_size(text: &str) -> Result<u64, SizeError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(SizeError::Empty);
    }
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '_'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number = parse_decimal(number)?;
    let unit = unit.trim_start();
    let multiplier = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kib" => KIB,
        "mib" => KIB * KIB,
        "gib" => KIB * KIB * KIB,
        "kb" | "k" => return Err(decimal(unit, "KiB")),
        "mb" | "m" => return Err(decimal(unit, "MiB")),
        "gb" | "g" => return Err(decimal(unit, "GiB")),
        _ if unit.starts_with(['.', ',']) => {
            return Err(SizeError::BadNumber);
        }
        _ => return Err(SizeError::UnknownUnit(unit.to_owned())),
    };
    number.checked_mul(multiplier).ok_or(SizeError::Overflow)
}

fn decimal(written: &str, binary: &'static str) -> SizeError {
    SizeError::DecimalUnit {
        written: written.to_owned(),
        binary,
    }
}

/// Decimal digits with `_` separators (not leading), as in Rust literals.
fn parse_decimal(digits: &str) -> Result<u64, SizeError> {
    if digits.is_empty() || digits.starts_with('_') {
        return Err(SizeError::BadNumber);
    }
    let mut value: u64 = 0;
    for c in digits.chars().filter(|&c| c != '_') {
        let digit = u64::from(c.to_digit(10).ok_or(SizeError::BadNumber)?);
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(digit))
            .ok_or(SizeError::Overflow)?;
    }
    Ok(value)
}

/// Renders a byte count in the largest binary unit that divides it exactly,
/// so error messages echo sizes the way users write them.
pub(crate) fn format_size(bytes: u64) -> String {
    const UNITS: [(&str, u64); 3] = [("GiB", KIB * KIB * KIB), ("MiB", KIB * KIB), ("KiB", KIB)];
    for (unit, size) in UNITS {
        if bytes >= size && bytes.is_multiple_of(size) {
            return format!("{} {unit}", bytes / size);
        }
    }
    format!("{bytes} B")
}

/// Why a physical-memory offset was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OffsetError {
    /// Not `dynamic`, a `0x` hexadecimal or a decimal integer.
    BadNumber,
    /// Does not fit in 64 bits.
    Overflow,
    /// Not a multiple of 4 KiB.
    Unaligned(u64),
    /// Bits 63..47 are not all equal, so x86_64 cannot address it.
    NonCanonical(u64),
}

impl fmt::Display for OffsetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadNumber => f.write_str(
                "expected `\"dynamic\"` or an address such as `\"0xffff_8000_0000_0000\"`",
            ),
            Self::Overflow => f.write_str("the address does not fit in 64 bits"),
            Self::Unaligned(v) => write!(f, "the address {v:#x} is not 4 KiB aligned"),
            Self::NonCanonical(v) => write!(
                f,
                "the address {v:#x} is not canonical: bits 63..47 must all be equal (lower half up to 0x7fff_ffff_f000, upper half from 0xffff_8000_0000_0000)"
            ),
        }
    }
}

impl std::error::Error for OffsetError {}

/// A parsed `physical_memory_offset` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Offset {
    /// The bootloader picks the place.
    Dynamic,
    /// A fixed, validated virtual address.
    Fixed(u64),
}

/// Parses `"dynamic"` (case-insensitive) or an address in hexadecimal
/// (`0x`, `_` separators) or decimal, then validates it with
/// [`check_offset`].
pub(crate) fn parse_offset(text: &str) -> Result<Offset, OffsetError> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("dynamic") {
        return Ok(Offset::Dynamic);
    }
    let value = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => parse_radix(hex, 16)?,
        None => parse_radix(text, 10)?,
    };
    check_offset(value).map(Offset::Fixed)
}

fn parse_radix(digits: &str, radix: u32) -> Result<u64, OffsetError> {
    if digits.is_empty() || digits.starts_with('_') {
        return Err(OffsetError::BadNumber);
    }
    let mut value: u64 = 0;
    for c in digits.chars().filter(|&c| c != '_') {
        let digit = u64::from(c.to_digit(radix).ok_or(OffsetError::BadNumber)?);
        value = value
            .checked_mul(u64::from(radix))
            .and_then(|v| v.checked_add(digit))
            .ok_or(OffsetError::Overflow)?;
    }
    Ok(value)
}

/// Accepts a 4 KiB aligned, canonical x86_64 virtual address.
pub(crate) fn check_offset(value: u64) -> Result<u64, OffsetError> {
    if !value.is_multiple_of(PAGE_SIZE) {
        return Err(OffsetError::Unaligned(value));
    }
    // Canonical: bits 63..47 are copies of bit 47 (48-bit virtual addresses).
    let top = value >> 47;
    if top != 0 && top != (1 << 17) - 1 {
        return Err(OffsetError::NonCanonical(value));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_in_every_unit() {
        assert_eq!(parse_size("64 MiB"), Ok(64 << 20));
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("  2 gib "), Ok(2 << 30));
        assert_eq!(parse_size("128 KiB"), Ok(128 << 10));
        assert_eq!(parse_size("4096 B"), Ok(4096));
        assert_eq!(parse_size("65536"), Ok(65536));
        assert_eq!(parse_size("1_048_576"), Ok(1 << 20));
        assert_eq!(parse_size("0"), Ok(0));
    }

    #[test]
    fn decimal_units_are_rejected_with_a_suggestion() {
        assert_eq!(
            parse_size("64 MB"),
            Err(SizeError::DecimalUnit {
                written: "MB".into(),
                binary: "MiB"
            })
        );
        assert!(matches!(
            parse_size("1k"),
            Err(SizeError::DecimalUnit { binary: "KiB", .. })
        ));
        assert!(matches!(
            parse_size("3 GB"),
            Err(SizeError::DecimalUnit { binary: "GiB", .. })
        ));
        let message = parse_size("64 MB").unwrap_err().to_string();
        assert!(message.contains("`MiB`"), "{message}");
    }

    #[test]
    fn malformed_sizes() {
        assert_eq!(parse_size(""), Err(SizeError::Empty));
        assert_eq!(parse_size("   "), Err(SizeError::Empty));
        assert_eq!(parse_size("MiB"), Err(SizeError::BadNumber));
        assert_eq!(parse_size("-4 KiB"), Err(SizeError::BadNumber));
        assert_eq!(parse_size("1.5 GiB"), Err(SizeError::BadNumber));
        assert_eq!(parse_size("_4 KiB"), Err(SizeError::BadNumber));
        assert_eq!(
            parse_size("4 TiB"),
            Err(SizeError::UnknownUnit("TiB".into()))
        );
        assert_eq!(
            parse_size("4 KiB B"),
            Err(SizeError::UnknownUnit("KiB B".into()))
        );
    }

    #[test]
    fn size_overflow() {
        assert_eq!(parse_size("18446744073709551615"), Ok(u64::MAX));
        assert_eq!(parse_size("18446744073709551616"), Err(SizeError::Overflow));
        assert_eq!(parse_size("17179869184 GiB"), Err(SizeError::Overflow));
        assert_eq!(parse_size("17179869183 GiB"), Ok(17_179_869_183 << 30));
    }

    #[test]
    fn sizes_format_in_the_largest_exact_unit() {
        assert_eq!(format_size(64 << 20), "64 MiB");
        assert_eq!(format_size(1536 << 10), "1536 KiB");
        assert_eq!(format_size(3 << 30), "3 GiB");
        assert_eq!(format_size(1000), "1000 B");
        assert_eq!(format_size(0), "0 B");
    }

    #[test]
    fn offsets() {
        assert_eq!(parse_offset("dynamic"), Ok(Offset::Dynamic));
        assert_eq!(parse_offset("Dynamic"), Ok(Offset::Dynamic));
        assert_eq!(
            parse_offset("0xffff_8000_0000_0000"),
            Ok(Offset::Fixed(0xffff_8000_0000_0000))
        );
        assert_eq!(
            parse_offset("0X10000000000"),
            Ok(Offset::Fixed(0x100_0000_0000))
        );
        assert_eq!(parse_offset("4096"), Ok(Offset::Fixed(4096)));
        assert_eq!(parse_offset("0"), Ok(Offset::Fixed(0)));
        // The highest lower-half page and the lowest upper-half address.
        assert_eq!(
            parse_offset("0x7fff_ffff_f000"),
            Ok(Offset::Fixed(0x7fff_ffff_f000))
        );
        assert_eq!(
            parse_offset("0xffff_ffff_ffff_f000"),
            Ok(Offset::Fixed(0xffff_ffff_ffff_f000))
        );
    }

    #[test]
    fn bad_offsets() {
        assert_eq!(parse_offset("0x1001"), Err(OffsetError::Unaligned(0x1001)));
        assert_eq!(
            parse_offset("0x8000_0000_0000"),
            Err(OffsetError::NonCanonical(0x8000_0000_0000))
        );
        assert_eq!(
            parse_offset("0xffff_0000_0000_0000"),
            Err(OffsetError::NonCanonical(0xffff_0000_0000_0000))
        );
        assert_eq!(
            parse_offset("0x1_0000_0000_0000_0000"),
            Err(OffsetError::Overflow)
        );
        assert_eq!(parse_offset("0x"), Err(OffsetError::BadNumber));
        assert_eq!(parse_offset("0xg000"), Err(OffsetError::BadNumber));
        assert_eq!(parse_offset("static"), Err(OffsetError::BadNumber));
        assert_eq!(parse_offset(""), Err(OffsetError::BadNumber));
        assert_eq!(
            check_offset(0xffff_8000_0000_0000),
            Ok(0xffff_8000_0000_0000)
        );
    }
}
