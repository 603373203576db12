#![no_main]

#[unikernel::main(heap_size: "1 MiB")]
fn main() {}
