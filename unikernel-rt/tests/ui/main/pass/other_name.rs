// Any name is accepted, and the function stays callable by it.
#[unikernel::main]
fn kernel_main() {}

fn main() {
    kernel_main();
}
