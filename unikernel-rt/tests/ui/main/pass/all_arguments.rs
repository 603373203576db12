#[unikernel::main(
    heap_size = "64 MiB",
    heap_limit = "1 GiB",
    stack_size = "128 KiB",
    log_level = "debug",
    physical_memory_offset = "0xffff_8000_0000_0000",
)]
fn main() {}
