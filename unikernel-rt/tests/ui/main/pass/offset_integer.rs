#[unikernel::main(physical_memory_offset = 0x0000_7f00_0000_0000u64, log_level = "off")]
fn main() {}
