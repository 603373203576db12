//! The first unikernel: a heap-using hello world that also reports how much
//! memory the frame allocator manages and how much the heap holds.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::vec::Vec;

#[unikernel::main]
fn main() {
    let v: Vec<u64> = (0..1000).collect();
    unikernel::println!("hello, sum = {}", v.iter().sum::<u64>());

    let frames = unikernel::memory::stats();
    unikernel::println!(
        "frame allocator: {} KiB managed, {} KiB free (of {} KiB usable RAM)",
        frames.total_bytes / 1024,
        frames.free_bytes / 1024,
        frames.usable_bytes / 1024,
    );
    let heap = unikernel::heap::stats();
    unikernel::println!(
        "heap: {} KiB, {} bytes in use in {} allocations",
        heap.total_bytes / 1024,
        heap.bytes_in_use,
        heap.allocations,
    );
}
