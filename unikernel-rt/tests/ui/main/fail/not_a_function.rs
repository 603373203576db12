#![no_main]

/// Docs are not part of the underlined item.
#[unikernel::main]
pub struct Main {
    field: u32,
}
