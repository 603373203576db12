//! The `\_S5` sleep type (soft off), found in AML without an interpreter.
//!
//! Powering off through the PM1 control register needs the `SLP_TYPx`
//! values of the `\_S5` object, which firmware defines in the DSDT's AML
//! as `Name (_S5, Package () { SLP_TYPa, SLP_TYPb, ... })`. That encodes as
//!
//! ```text
//! 08            NameOp
//! [5C]          optional root prefix '\'
//! 5F 53 35 5F   NameSeg "_S5_"
//! 12            PackageOp
//! PkgLength     1 to 4 bytes, counting itself and what follows
//! NumElements   one byte
//! elements      each 00 (Zero), 01 (One), 0A bb (BytePrefix),
//!               0B ww ww (WordPrefix), 0C .. (DWordPrefix), 0E .. (QWordPrefix)
//! ```
//!
//! so a byte scan for that shape finds it, as most hobby kernels and some
//! boot loaders do. The limits of the shortcut: an `_S5` computed by a
//! method or defined in an SSDT is not found, and bytes that happen to look
//! like the definition inside a buffer would be taken for it (each candidate
//! is checked against the full encoding above, which makes that unlikely).
//! Every read is bounds-checked: truncated or malformed AML gives `None`.

/// The sleep-type values of `\_S5`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SleepType {
    /// `SLP_TYPa`, for the PM1a control register.
    pub(crate) a: u16,
    /// `SLP_TYPb`, for PM1b, when the package has a second element.
    pub(crate) b: Option<u16>,
}

const NAME_OP: u8 = 0x08;
const ROOT_CHAR: u8 = b'\\';
const PACKAGE_OP: u8 = 0x12;
const S5_NAME: &[u8; 4] = b"_S5_";

const ZERO_OP: u8 = 0x00;
const ONE_OP: u8 = 0x01;
const BYTE_PREFIX: u8 = 0x0a;
const WORD_PREFIX: u8 = 0x0b;
const DWORD_PREFIX: u8 = 0x0c;
const QWORD_PREFIX: u8 = 0x0e;

/// `SLP_TYPx` is a 3-bit field of the PM1 control register.
const MAX_SLEEP_TYPE: u64 = 0b111;

/// Finds the first well-formed `Name (_S5, Package () {...})` in `aml` (the
/// DSDT without its header) and returns its sleep types.
pub(crate) fn find(aml: &[u8]) -> Option<SleepType> {
    aml.windows(S5_NAME.len())
        .enumerate()
        .filter(|(_, w)| w == S5_NAME)
        .find_map(|(at, _)| definition_at(aml, at))
}

/// Decodes the definition whose NameSeg starts at `name`, if it is one.
fn definition_at(aml: &[u8], name: usize) -> Option<SleepType> {
    let before = aml.get(..name)?;
    let is_definition = matches!(before, [.., NAME_OP, ROOT_CHAR] | [.., NAME_OP]);
    if !is_definition {
        return None;
    }
    let mut at = name + S5_NAME.len();
    if *aml.get(at)? != PACKAGE_OP {
        return None;
    }
    at += 1;
    let (package_len, len_bytes) = pkg_length(aml.get(at..)?)?;
    // PkgLength counts from its own first byte to the end of the package.
    let package = aml.get(at..at.checked_add(package_len)?)?;
    let mut rest = package.get(len_bytes..)?;
    let (&count, elements) = rest.split_first()?;
    rest = elements;
    if count == 0 {
        return None;
    }
    let (a, rest) = integer(rest)?;
    let b = if count >= 2 {
        Some(integer(rest)?.0)
    } else {
        None
    };
    let sleep_type = |v: u64| (v <= MAX_SLEEP_TYPE).then_some(v as u16);
    Some(SleepType {
        a: sleep_type(a)?,
        b: match b {
            Some(v) => Some(sleep_type(v)?),
            None => None,
        },
    })
}

/// Decodes a PkgLength: (the length, how many bytes encode it).
fn pkg_length(bytes: &[u8]) -> Option<(usize, usize)> {
    let (&lead, rest) = bytes.split_first()?;
    let follow = usize::from(lead >> 6);
    if follow == 0 {
        return Some((usize::from(lead & 0x3f), 1));
    }
    let mut len = usize::from(lead & 0x0f);
    for (i, &b) in rest.get(..follow)?.iter().enumerate() {
        len |= usize::from(b) << (4 + 8 * i);
    }
    Some((len, 1 + follow))
}

/// Decodes one integer data object: (its value, the bytes after it).
fn integer(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let (&op, rest) = bytes.split_first()?;
    let width = match op {
        ZERO_OP => return Some((0, rest)),
        ONE_OP => return Some((1, rest)),
        BYTE_PREFIX => 1,
        WORD_PREFIX => 2,
        DWORD_PREFIX => 4,
        QWORD_PREFIX => 8,
        _ => return None,
    };
    let (value, rest) = (rest.get(..width)?, rest.get(width..)?);
    let mut le = [0u8; 8];
    le[..width].copy_from_slice(value);
    Some((u64::from_le_bytes(le), rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Name (_S5, Package (0x04) { Zero, Zero, Zero, Zero })`, as QEMU's
    /// DSDT has it, between unrelated AML.
    const QEMU_S5: &[u8] = &[0x08, b'_', b'S', b'5', b'_', 0x12, 0x06, 0x04, 0, 0, 0, 0];

    fn around(def: &[u8]) -> Vec<u8> {
        // A scope opener and a method before, a name after: noise that must
        // not confuse the scan.
        let mut aml = vec![
            0x10, 0x0b, b'\\', b'_', b'S', b'B', b'_', 0x14, 0x06, b'_', b'S', b'5', b'W', 0x00,
        ];
        aml.extend_from_slice(def);
        aml.extend_from_slice(&[0x08, b'X', b'Y', b'Z', b'_', 0x0a, 0x07]);
        aml
    }

    #[test]
    fn finds_qemus_zero_package() {
        assert_eq!(find(&around(QEMU_S5)), Some(SleepType { a: 0, b: Some(0) }));
    }

    #[test]
    fn reads_byte_prefixed_values_with_a_root_prefix() {
        // Name (\_S5, Package () { 0x07, 0x05 }), as on many PC boards.
        let def = [
            0x08, b'\\', b'_', b'S', b'5', b'_', 0x12, 0x06, 0x02, 0x0a, 0x07, 0x0a, 0x05,
        ];
        assert_eq!(find(&around(&def)), Some(SleepType { a: 7, b: Some(5) }));
    }

    #[test]
    fn reads_one_word_and_multi_byte_pkg_lengths() {
        // PkgLength with one follow byte (0x40 | low nibble, then high bits).
        let def = [
            0x08, b'_', b'S', b'5', b'_', 0x12, 0x47, 0x00, 0x02, 0x01, 0x0b, 0x03, 0x00,
        ];
        assert_eq!(find(&def), Some(SleepType { a: 1, b: Some(3) }));
    }

    #[test]
    fn a_single_element_package_has_no_slp_typb() {
        let def = [0x08, b'_', b'S', b'5', b'_', 0x12, 0x04, 0x01, 0x0a, 0x05];
        assert_eq!(find(&def), Some(SleepType { a: 5, b: None }));
    }

    #[test]
    fn ignores_references_that_are_not_definitions() {
        // `Return (_S5_)` (0xa4 ReturnOp) and a method named _S5_ come first;
        // the real definition after them is found.
        let mut aml = vec![
            0xa4, b'_', b'S', b'5', b'_', 0x14, 0x05, b'_', b'S', b'5', b'_', 0x00,
        ];
        aml.extend_from_slice(&[
            0x08, b'_', b'S', b'5', b'_', 0x12, 0x05, 0x02, 0x0a, 0x02, 0x00,
        ]);
        assert_eq!(find(&aml), Some(SleepType { a: 2, b: Some(0) }));
        assert_eq!(find(&aml[..12]), None);
    }

    #[test]
    fn no_s5_is_none() {
        assert_eq!(find(&around(&[])), None);
        assert_eq!(find(&[]), None);
    }

    #[test]
    fn every_truncation_is_none_not_a_panic() {
        let def = [
            0x08, b'\\', b'_', b'S', b'5', b'_', 0x12, 0x06, 0x02, 0x0a, 0x07, 0x0a, 0x05,
        ];
        for end in 0..def.len() {
            assert_eq!(find(&def[..end]), None, "cut at {end}");
        }
        assert!(find(&def).is_some());
    }

    #[test]
    fn a_package_length_past_the_end_is_none() {
        let def = [0x08, b'_', b'S', b'5', b'_', 0x12, 0x3f, 0x02, 0x00, 0x00];
        assert_eq!(find(&def), None);
        // Three follow bytes claiming ~256 MiB.
        let def = [
            0x08, b'_', b'S', b'5', b'_', 0x12, 0xcf, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00,
        ];
        assert_eq!(find(&def), None);
    }

    #[test]
    fn elements_must_fit_in_the_package() {
        // The package claims 2 elements but its length only covers one.
        let def = [0x08, b'_', b'S', b'5', b'_', 0x12, 0x03, 0x02, 0x00, 0x00];
        assert_eq!(find(&def), None);
    }

    #[test]
    fn rejects_values_that_do_not_fit_slp_typ() {
        let def = [
            0x08, b'_', b'S', b'5', b'_', 0x12, 0x05, 0x02, 0x0a, 0x08, 0x00,
        ];
        assert_eq!(find(&def), None);
        let ones = [0x08, b'_', b'S', b'5', b'_', 0x12, 0x04, 0x02, 0xff, 0x00];
        assert_eq!(find(&ones), None);
    }

    #[test]
    fn empty_packages_and_non_integer_elements_are_none() {
        let empty = [0x08, b'_', b'S', b'5', b'_', 0x12, 0x02, 0x00];
        assert_eq!(find(&empty), None);
        // A string element (0x0d StringPrefix).
        let string = [
            0x08, b'_', b'S', b'5', b'_', 0x12, 0x05, 0x01, 0x0d, b'a', 0x00,
        ];
        assert_eq!(find(&string), None);
    }

    #[test]
    fn a_malformed_candidate_does_not_hide_a_later_good_one() {
        let mut aml = vec![0x08, b'_', b'S', b'5', b'_', 0x12, 0x04, 0x01, 0x0d, 0x00];
        aml.extend_from_slice(QEMU_S5);
        assert_eq!(find(&aml), Some(SleepType { a: 0, b: Some(0) }));
    }

    #[test]
    fn pkg_length_encodings() {
        assert_eq!(pkg_length(&[0x3f]), Some((63, 1)));
        assert_eq!(pkg_length(&[0x45, 0x12]), Some((0x125, 2)));
        assert_eq!(pkg_length(&[0x81, 0x34, 0x12]), Some((0x12341, 3)));
        assert_eq!(
            pkg_length(&[0xc1, 0x00, 0x00, 0x01]),
            Some((0x0010_0001, 4))
        );
        assert_eq!(pkg_length(&[0x81, 0x34]), None);
        assert_eq!(pkg_length(&[]), None);
    }
}
