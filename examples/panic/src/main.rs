//! A unikernel whose `main` panics: the runtime prints the message and its
//! location and ends QEMU with a failing status.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

#[unikernel::main]
fn main() {
    unikernel::println!("about to panic");
    let answer = core::hint::black_box(42);
    if answer != 41 {
        panic!("the answer was {answer}, expected 41");
    }
    unikernel::println!("unreachable");
}
