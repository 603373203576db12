//! The runtime's own tests, run in QEMU by `cargo unikernel test` on every
//! target. Built with the `harness` feature, so the `#[unikernel::test]`
//! functions run instead of `main`.
#![no_std]
#![no_main]

extern crate alloc;

mod faults;
mod frames;
mod harness;
mod heap;
mod paging;
mod platform;

#[unikernel::main(heap_size = "4 MiB")]
fn main() {
    unikernel::println!("built with the harness feature: tests run instead of main");
}
