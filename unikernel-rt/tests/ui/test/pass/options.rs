// Every accepted signature and option. Outside test builds the tests are
// removed like any `#[test]`, so this checks that each is accepted.

#[unikernel::test]
fn plain() {}

#[unikernel::test]
pub fn public() {}

#[unikernel::test]
fn fallible() -> Result<(), core::fmt::Error> {
    Ok(())
}

#[unikernel::test(should_panic)]
fn panics() {
    panic!()
}

#[unikernel::test(should_panic = "boom")]
fn panics_with_message() {
    panic!("boom")
}

#[unikernel::test(should_fault = "page_fault")]
fn page_fault() {}

#[unikernel::test(should_fault = "breakpoint")]
fn breakpoint() {}

#[unikernel::test(should_fault = "illegal_instruction")]
fn illegal_instruction() {}

#[unikernel::test(should_fault = "stack_overflow", ignore)]
fn stack_overflow() {}

#[unikernel::test(ignore, should_fault = "any")]
fn any_fault() -> Result<(), core::fmt::Error> {
    Ok(())
}

#[unikernel::test(ignore)]
fn ignored() {}

fn main() {}
