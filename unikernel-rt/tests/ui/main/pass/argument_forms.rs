// Integer literals, no unit, no space, any case, the smallest sizes, a
// heap limit equal to the heap size, and a dynamic offset.
#[unikernel::main(
    heap_size = 0x1_0000,
    heap_limit = "64KiB",
    stack_size = "16384",
    log_level = "TRACE",
    physical_memory_offset = "Dynamic"
)]
fn main() {}
