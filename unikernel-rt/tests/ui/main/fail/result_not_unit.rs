#![no_main]

#[unikernel::main]
fn main() -> Result<u32, core::fmt::Error> {
    Ok(0)
}
