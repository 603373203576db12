//! Allocates 1 MiB blocks and keeps them until memory runs out: the runtime
//! must print the failing layout, the heap statistics and the free frames,
//! and fail the run.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::vec::Vec;

#[cfg_attr(not(feature = "limit"), unikernel::main(heap_limit = "1 GiB"))]
#[cfg_attr(feature = "limit", unikernel::main(heap_limit = "16 MiB"))]
fn main() {
    let mut kept: Vec<Vec<u8>> = Vec::new();
    loop {
        kept.push(alloc::vec![1u8; 1 << 20]);
        if kept.len().is_power_of_two() && kept.len() >= 8 {
            unikernel::println!("allocated {} MiB", kept.len());
        }
        if kept.len() > 1 << 16 {
            unikernel::println!("unreachable: memory never ran out");
            return;
        }
    }
}
