#![no_main]

#[unikernel::main]
fn main<T: Default>() where T: Clone {}
