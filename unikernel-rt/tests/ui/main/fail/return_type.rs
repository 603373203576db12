#![no_main]

#[unikernel::main]
fn main() -> u32 {
    0
}
