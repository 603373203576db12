#[unikernel::test(should_panic = "boom")]
fn fallible() -> Result<(), core::fmt::Error> {
    panic!("boom")
}

fn main() {}
