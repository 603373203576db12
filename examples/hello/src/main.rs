#![no_std]
#![no_main]
#![forbid(unsafe_code)]
//! Hello world with a heap.
extern crate alloc;

#[unikernel::main]
fn main() {
    let v: alloc::vec::Vec<u64> = (0..1000).collect();
    unikernel::println!("hello, sum = {}", v.iter().sum::<u64>());
}
