// Every problem is reported in one compile, each at its own span.
#![no_main]

#[unikernel::main(heap_size = "1000", stack_size = "4 KiB", log_level = "loud", colour = "red")]
pub async unsafe fn main<T>(value: T) -> Option<T> {
    Some(value)
}
