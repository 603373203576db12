#![no_main]

#[unikernel::main(heap_size = 65537, stack_size = "16 KiB", heap_limit = "4 TiB")]
fn main() {}
