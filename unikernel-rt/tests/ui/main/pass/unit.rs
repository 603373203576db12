//! The plainest entry point. Its doc comment and attributes are kept.

/// The application.
#[unikernel::main]
#[inline(never)]
fn main() {
    assert_eq!(1 + 1, 2);
}
