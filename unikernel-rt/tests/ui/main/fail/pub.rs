#![no_main]

#[unikernel::main]
pub(crate) fn main() {}
