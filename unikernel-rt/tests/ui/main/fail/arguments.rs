#![no_main]

#[unikernel::main]
fn main(_argc: usize, _argv: *const *const u8) {}
