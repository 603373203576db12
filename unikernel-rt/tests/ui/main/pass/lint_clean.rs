// The expansion passes the strictest lints an application may set.
#![forbid(unsafe_code)]
#![deny(warnings, clippy::all, missing_docs)]
//! An application.

#[unikernel::main(heap_size = "1 MiB")]
fn main() -> Result<(), core::fmt::Error> {
    Ok(())
}
