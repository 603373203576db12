//! Bounds-checked readers for the ACPI tables the runtime uses.
//!
//! Firmware tables are untrusted input: every field is read through a
//! bounds-checked accessor, lengths are checked against the bytes actually
//! present, and a malformed table becomes an error, never a panic or an
//! out-of-bounds read. The code here works on byte slices only, so it is
//! arch-neutral and tested on the host; `arch/x86_64/acpi.rs` finds the
//! tables in physical memory (with the `acpi` crate) and hands their bytes
//! over.

pub(crate) mod aml_s5;
pub(crate) mod fadt;
pub(crate) mod madt;

use core::fmt;

/// Size of the header every system description table starts with.
pub(crate) const HEADER_LEN: usize = 36;

/// Offset of the header's `length` field.
const LENGTH_OFFSET: usize = 4;

/// Why a table's bytes were rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TableError {
    /// Fewer bytes than the header, or than the table's own length field.
    Truncated {
        /// The table's signature (as expected by the caller).
        signature: [u8; 4],
        /// Bytes available.
        available: usize,
        /// Bytes needed.
        needed: usize,
    },
    /// The header's length field is shorter than the header itself.
    LengthInsideHeader {
        /// The table's signature.
        signature: [u8; 4],
        /// The length field.
        length: usize,
    },
    /// The header names another table.
    WrongSignature {
        /// The signature the caller asked for.
        expected: [u8; 4],
        /// The signature in the header.
        found: [u8; 4],
    },
    /// The bytes of the table do not sum to zero.
    BadChecksum {
        /// The table's signature.
        signature: [u8; 4],
    },
}

impl fmt::Display for TableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TableError::Truncated {
                signature,
                available,
                needed,
            } => write!(
                f,
                "{} table truncated: {available} bytes, {needed} needed",
                Sig(signature)
            ),
            TableError::LengthInsideHeader { signature, length } => write!(
                f,
                "{} table claims {length} bytes, less than its {HEADER_LEN}-byte header",
                Sig(signature)
            ),
            TableError::WrongSignature { expected, found } => write!(
                f,
                "expected a {} table, found {}",
                Sig(expected),
                Sig(found)
            ),
            TableError::BadChecksum { signature } => {
                write!(f, "{} table has a bad checksum", Sig(signature))
            }
        }
    }
}

impl core::error::Error for TableError {}

/// Displays a table signature, escaping bytes that are not printable ASCII
/// (firmware may put anything there).
pub(crate) struct Sig<'a>(pub(crate) &'a [u8; 4]);

impl fmt::Display for Sig<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &b in self.0 {
            if b.is_ascii_graphic() {
                write!(f, "{}", b as char)?;
            } else {
                write!(f, "\\x{b:02x}")?;
            }
        }
        Ok(())
    }
}

/// The `length` field of a table header, if `header` holds one.
pub(crate) fn header_length(header: &[u8]) -> Option<usize> {
    read_u32(header, LENGTH_OFFSET).map(|len| len as usize)
}

/// Checks a whole table: at least a header, the expected signature, the
/// header's length within `bytes`, and a zero checksum over that length.
/// Returns the table trimmed to its own length.
pub(crate) fn validate<'a>(bytes: &'a [u8], signature: &[u8; 4]) -> Result<&'a [u8], TableError> {
    let truncated = |needed| TableError::Truncated {
        signature: *signature,
        available: bytes.len(),
        needed,
    };
    if bytes.len() < HEADER_LEN {
        return Err(truncated(HEADER_LEN));
    }
    let found: [u8; 4] = [bytes[0], bytes[1], bytes[2], bytes[3]];
    if &found != signature {
        return Err(TableError::WrongSignature {
            expected: *signature,
            found,
        });
    }
    let length = header_length(bytes).ok_or(truncated(HEADER_LEN))?;
    // A length shorter than the header would make every later offset lie
    // (and an empty table has a "valid" checksum).
    if length < HEADER_LEN {
        return Err(TableError::LengthInsideHeader {
            signature: *signature,
            length,
        });
    }
    let table = bytes.get(..length).ok_or(truncated(length))?;
    if table.iter().fold(0u8, |sum, &b| sum.wrapping_add(b)) != 0 {
        return Err(TableError::BadChecksum {
            signature: *signature,
        });
    }
    Ok(table)
}

pub(crate) fn read_u8(bytes: &[u8], offset: usize) -> Option<u8> {
    bytes.get(offset).copied()
}

pub(crate) fn read_u32(bytes: &[u8], offset: usize) -> Option<u32> {
    read_array(bytes, offset).map(u32::from_le_bytes)
}

pub(crate) fn read_u64(bytes: &[u8], offset: usize) -> Option<u64> {
    read_array(bytes, offset).map(u64::from_le_bytes)
}

fn read_array<const N: usize>(bytes: &[u8], offset: usize) -> Option<[u8; N]> {
    let end = offset.checked_add(N)?;
    bytes.get(offset..end)?.try_into().ok()
}

/// Builders for table fixtures shared by the tests of the table modules.
#[cfg(test)]
pub(crate) mod fixture {
    use super::HEADER_LEN;

    /// A table with a correct header (length and checksum) around `body`.
    pub(crate) fn table(signature: &[u8; 4], revision: u8, body: &[u8]) -> Vec<u8> {
        let mut t = vec![0u8; HEADER_LEN];
        t[..4].copy_from_slice(signature);
        t[4..8].copy_from_slice(&((HEADER_LEN + body.len()) as u32).to_le_bytes());
        t[8] = revision;
        t[10..16].copy_from_slice(b"RUSTOS");
        t.extend_from_slice(body);
        fix_checksum(&mut t);
        t
    }

    /// Recomputes the checksum byte after a test edited the table.
    pub(crate) fn fix_checksum(t: &mut [u8]) {
        t[9] = 0;
        let sum = t.iter().fold(0u8, |s, &b| s.wrapping_add(b));
        t[9] = sum.wrapping_neg();
    }
}

#[cfg(test)]
mod tests {
    use super::fixture::{fix_checksum, table};
    use super::*;

    #[test]
    fn accepts_a_well_formed_table_and_trims_trailing_bytes() {
        let mut t = table(b"APIC", 3, &[1, 2, 3, 4]);
        let len = t.len();
        t.extend_from_slice(&[0xaa; 8]);
        let v = validate(&t, b"APIC").unwrap();
        assert_eq!(v.len(), len);
        assert_eq!(&v[HEADER_LEN..], &[1, 2, 3, 4]);
    }

    #[test]
    fn rejects_a_bad_checksum() {
        let mut t = table(b"FACP", 1, &[0; 8]);
        t[HEADER_LEN] = 1;
        assert_eq!(
            validate(&t, b"FACP"),
            Err(TableError::BadChecksum {
                signature: *b"FACP"
            })
        );
    }

    #[test]
    fn rejects_the_wrong_signature() {
        let t = table(b"FACP", 1, &[]);
        assert_eq!(
            validate(&t, b"APIC"),
            Err(TableError::WrongSignature {
                expected: *b"APIC",
                found: *b"FACP"
            })
        );
    }

    #[test]
    fn rejects_lengths_past_the_bytes_or_inside_the_header() {
        let mut t = table(b"DSDT", 2, &[0; 4]);
        t[4..8].copy_from_slice(&1000u32.to_le_bytes());
        fix_checksum(&mut t);
        assert!(matches!(
            validate(&t, b"DSDT"),
            Err(TableError::Truncated { needed: 1000, .. })
        ));
        // A zero length would otherwise "validate" an empty checksum.
        t[4..8].copy_from_slice(&0u32.to_le_bytes());
        fix_checksum(&mut t);
        assert_eq!(
            validate(&t, b"DSDT"),
            Err(TableError::LengthInsideHeader {
                signature: *b"DSDT",
                length: 0
            })
        );
        assert!(matches!(
            validate(&t[..20], b"DSDT"),
            Err(TableError::Truncated { available: 20, .. })
        ));
    }

    #[test]
    fn readers_never_read_past_the_end() {
        let b = [1u8, 2, 3, 4, 5, 6, 7, 8];
        assert_eq!(read_u32(&b, 4), Some(0x0807_0605));
        assert_eq!(read_u32(&b, 5), None);
        assert_eq!(read_u64(&b, 0), Some(0x0807_0605_0403_0201));
        assert_eq!(read_u64(&b, 1), None);
        assert_eq!(read_u32(&b, usize::MAX), None);
        assert_eq!(read_u8(&b, 8), None);
    }

    #[test]
    fn signatures_display_escaped() {
        assert_eq!(format!("{}", Sig(b"AP\x00C")), "AP\\x00C");
    }
}
