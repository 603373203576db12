#[derive(Debug)]
struct AppError;

#[unikernel::main]
fn main() -> Result<(), AppError> {
    Ok(())
}
