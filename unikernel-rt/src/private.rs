//! Items the entry macros expand to. Not a public API: names and shapes may
//! change in any release.

pub use crate::config::{PhysOffset, RuntimeConfig};
pub use crate::exit::{Exit, MainReturn};
pub use crate::harness::{Expect, FaultKind, TestCase};
pub use log::LevelFilter;

#[cfg(all(target_arch = "x86_64", target_os = "none"))]
pub use crate::arch::{bootloader_config, start as x86_64_start};
#[cfg(all(target_arch = "x86_64", target_os = "none"))]
pub use bootloader_api;

#[cfg(all(target_arch = "riscv64", target_os = "none"))]
pub use crate::arch::start as riscv64_start;

/// Expands to the arch-specific boot glue that calls `$main` (a
/// `fn() -> Exit`) with `$config` (a `RuntimeConfig` constant expression).
/// On hosted targets it expands to nothing: the user's `main` is then an
/// ordinary Rust `main`, which keeps the macros testable on the host.
#[doc(hidden)]
#[macro_export]
macro_rules! __unikernel_entry {
    ($main:path, $config:expr) => {
        #[cfg(all(target_arch = "x86_64", target_os = "none"))]
        const _: () = {
            static __UNIKERNEL_CONFIG: $crate::__private::RuntimeConfig = $config;
            const __UNIKERNEL_BOOT_CONFIG: $crate::__private::bootloader_api::BootloaderConfig =
                $crate::__private::bootloader_config(&$config);
            fn __unikernel_boot(
                boot_info: &'static mut $crate::__private::bootloader_api::BootInfo,
            ) -> ! {
                $crate::__private::x86_64_start(boot_info, &__UNIKERNEL_CONFIG, $main)
            }
            $crate::__private::bootloader_api::entry_point!(
                __unikernel_boot,
                config = &__UNIKERNEL_BOOT_CONFIG
            );
        };
        #[cfg(all(target_arch = "riscv64", target_os = "none"))]
        const _: () = {
            static __UNIKERNEL_CONFIG: $crate::__private::RuntimeConfig = $config;
            // Called by the runtime's assembly entry once a stack exists and
            // .bss is cleared.
            #[unsafe(no_mangle)]
            extern "C" fn __unikernel_riscv64_entry(hart_id: usize, dtb: usize) -> ! {
                $crate::__private::riscv64_start(hart_id, dtb, &__UNIKERNEL_CONFIG, $main)
            }
        };
    };
}

pub use crate::__unikernel_entry as entry;
