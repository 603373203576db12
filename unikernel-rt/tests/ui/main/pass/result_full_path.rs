#[unikernel::main]
fn main() -> ::core::result::Result<(), core::fmt::Error> {
    Ok(())
}
