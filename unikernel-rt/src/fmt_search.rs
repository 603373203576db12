//! Substring search in formatted output, without allocating: the panic and
//! fault paths must not depend on the heap.

use core::fmt::{self, Display, Write};

const WINDOW: usize = 256;

struct Finder<'a> {
    needle: &'a [u8],
    window: [u8; WINDOW],
    len: usize,
    found: bool,
}

impl Write for Finder<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for &b in s.as_bytes() {
            if self.len == WINDOW {
                self.window.copy_within(1.., 0);
                self.len -= 1;
            }
            self.window[self.len] = b;
            self.len += 1;
            if self.window[..self.len].ends_with(self.needle) {
                self.found = true;
            }
        }
        Ok(())
    }
}

/// Whether `value` formatted with `Display` contains `needle` (at most 256
/// bytes long; longer needles never match).
pub(crate) fn contains(value: impl Display, needle: &str) -> bool {
    if needle.len() > WINDOW {
        return false;
    }
    let mut f = Finder {
        needle: needle.as_bytes(),
        window: [0; WINDOW],
        len: 0,
        found: false,
    };
    let _ = write!(f, "{value}");
    f.found
}

#[cfg(test)]
mod tests {
    use super::contains;

    #[test]
    fn finds_across_arguments() {
        assert!(contains(
            format_args!("memory allocation of {} bytes failed", 42),
            "of 42 bytes"
        ));
        assert!(!contains(format_args!("abc"), "abcd"));
        let long = "x".repeat(1000) + "needle";
        assert!(contains(&long, "needle"));
        assert!(!contains("a", &"a".repeat(300)));
    }
}
