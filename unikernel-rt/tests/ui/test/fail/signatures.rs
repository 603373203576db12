#[unikernel::test]
async fn asynchronous() {}

#[unikernel::test]
unsafe fn not_safe() {}

#[unikernel::test]
fn generic<T>() {}

#[unikernel::test]
fn with_argument(_x: u32) {}

#[unikernel::test]
fn never() -> ! {
    loop {}
}

#[unikernel::test]
fn number() -> u32 {
    0
}

#[unikernel::test]
mod tests {}

fn main() {}
