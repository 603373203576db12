#[unikernel::test(should_panik)]
fn misspelt() {}

#[unikernel::test(ignore, ignore)]
fn twice() {}

#[unikernel::test(should_panic, should_fault = "any")]
fn both() {}

#[unikernel::test(should_fault = "segfault")]
fn unknown_fault() {}

#[unikernel::test(should_fault)]
fn fault_without_kind() {}

#[unikernel::test(ignore = "slow")]
fn ignore_with_value() {}

#[unikernel::test(should_panic = 3)]
fn message_not_a_string() {}

#[unikernel::test(timeout_ms = 100)]
fn timeout() {}

fn main() {}
