#![no_main]

#[unikernel::main]
async fn main() {}
