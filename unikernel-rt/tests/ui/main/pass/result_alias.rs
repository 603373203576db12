// A crate-local alias in the style of `io::Result<T>`.
type Result<T> = core::result::Result<T, &'static str>;

#[unikernel::main]
fn main() -> Result<()> {
    Ok(())
}
