//! The harness itself: should_panic semantics.

#[unikernel::test(should_panic = "deliberate")]
fn should_panic_passes_when_it_panics() {
    panic!("a deliberate panic");
}

#[unikernel::test]
fn result_ok_passes() -> Result<(), &'static str> {
    Ok(())
}

#[cfg(feature = "deliberate-failure")]
#[unikernel::test(should_panic)]
fn should_panic_but_does_not() {}
