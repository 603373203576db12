#![no_main]

#[unikernel::main(heap_size = "1 MiB", heap_limit = "512 KiB")]
fn main() {}
