#![no_main]

#[unikernel::main]
fn main() where u8: Copy {}
