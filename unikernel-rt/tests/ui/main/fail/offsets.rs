#![no_main]

#[unikernel::main(physical_memory_offset = "0x8000_0000_0000")]
fn non_canonical() {}

#[unikernel::main(physical_memory_offset = 0xffff_8000_0000_0100)]
fn unaligned() {}

#[unikernel::main(physical_memory_offset = "fixed")]
fn not_an_address() {}

#[unikernel::main(physical_memory_offset = 4096u32)]
fn suffix() {}
