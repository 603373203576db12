#![no_main]

#[unikernel::main(heap_size = "64 MB", stack_size = "8 KiB", heap_limit = "1.5 GiB")]
fn main() {}
