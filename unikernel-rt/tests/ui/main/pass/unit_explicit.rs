#[unikernel::main]
fn main() -> () {}
