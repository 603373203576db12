#![no_main]

#[unikernel::main]
const unsafe extern "C" fn main() {}
