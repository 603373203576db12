//! x86_64 memory management: page mapping over the `x86_64` crate's 4-level
//! tables and frames from the `bootloader_api` memory map.
#![cfg_attr(not(test), no_std)]

mod format;
pub mod frame_adapter;
mod mapper;
pub mod regions;

pub use format::X86Format;
pub use frame_adapter::FrameAdapter;
pub use mapper::OffsetMapper;
pub use regions::memory_map_from_bootloader;
