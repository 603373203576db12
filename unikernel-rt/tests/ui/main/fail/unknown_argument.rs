#![no_main]

#[unikernel::main(heapsize = "1 MiB", colour = "red", log_level = "info", log_level = "warn")]
fn main() {}
