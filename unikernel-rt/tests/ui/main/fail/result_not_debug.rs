#![no_main]

struct NoDebug;

#[unikernel::main]
fn main() -> Result<(), NoDebug> {
    Ok(())
}
