#![no_main]

#[unikernel::main(log_level = "verbose")]
fn main() {}
