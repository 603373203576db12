#![no_main]

#[unikernel::main(heap_size, stack_size(16), heap_limit = 64 * 1024, log_level = 3)]
fn main() {}
