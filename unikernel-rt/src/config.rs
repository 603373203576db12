//! Runtime configuration chosen by the application through
//! `#[unikernel::main(...)]` arguments.

use log::LevelFilter;

/// Where the x86_64 bootloader maps all of physical memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhysOffset {
    /// The runtime's default ([`PhysOffset::Dynamic`]).
    Default,
    /// Let the bootloader choose a free place in the upper half.
    Dynamic,
    /// At this fixed virtual address (4 KiB aligned, canonical).
    Fixed(u64),
}

/// Configuration passed from the entry macro to the runtime.
///
/// Every field is optional; `None` selects the documented default.
#[derive(Debug, Clone, Copy)]
pub struct RuntimeConfig {
    /// Initial heap size in bytes (default [`RuntimeConfig::DEFAULT_HEAP_SIZE`]).
    pub heap_size: Option<u64>,
    /// Upper bound for heap growth in bytes (default: half of usable RAM).
    pub heap_limit: Option<u64>,
    /// Boot stack size in bytes (default [`RuntimeConfig::DEFAULT_STACK_SIZE`]).
    pub stack_size: Option<u64>,
    /// Maximum log level (default from the `log-*` cargo features, else `Info`).
    pub log_level: Option<LevelFilter>,
    /// Placement of the physical-memory mapping on x86_64.
    pub physical_memory_offset: PhysOffset,
}

impl RuntimeConfig {
    /// Heap size used when the application does not choose one.
    pub const DEFAULT_HEAP_SIZE: u64 = 1 << 20;
    /// Boot stack size used when the application does not choose one.
    pub const DEFAULT_STACK_SIZE: u64 = 256 << 10;

    /// All defaults.
    pub const DEFAULT: Self = Self {
        heap_size: None,
        heap_limit: None,
        stack_size: None,
        log_level: None,
        physical_memory_offset: PhysOffset::Default,
    };

    /// The initial heap size, default applied.
    pub const fn heap_size(&self) -> u64 {
        match self.heap_size {
            Some(s) => s,
            None => Self::DEFAULT_HEAP_SIZE,
        }
    }

    /// The boot stack size, default applied.
    pub const fn stack_size(&self) -> u64 {
        match self.stack_size {
            Some(s) => s,
            None => Self::DEFAULT_STACK_SIZE,
        }
    }

    /// The log level, default applied (cargo features `log-off` … `log-trace`
    /// pick the default; without any, `Info`).
    pub fn log_level(&self) -> LevelFilter {
        self.log_level.unwrap_or(feature_log_level())
    }

    /// The heap growth limit for a machine with `usable_ram` bytes of usable
    /// memory: the configured limit, or half the usable memory, and never less
    /// than the initial heap.
    pub fn heap_limit(&self, usable_ram: u64) -> u64 {
        self.heap_limit
            .unwrap_or(usable_ram / 2)
            .max(self.heap_size())
    }
}

const fn feature_log_level() -> LevelFilter {
    if cfg!(feature = "log-trace") {
        LevelFilter::Trace
    } else if cfg!(feature = "log-debug") {
        LevelFilter::Debug
    } else if cfg!(feature = "log-info") {
        LevelFilter::Info
    } else if cfg!(feature = "log-warn") {
        LevelFilter::Warn
    } else if cfg!(feature = "log-error") {
        LevelFilter::Error
    } else if cfg!(feature = "log-off") {
        LevelFilter::Off
    } else {
        LevelFilter::Info
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply() {
        let c = RuntimeConfig::DEFAULT;
        assert_eq!(c.heap_size(), RuntimeConfig::DEFAULT_HEAP_SIZE);
        assert_eq!(c.stack_size(), RuntimeConfig::DEFAULT_STACK_SIZE);
        assert_eq!(c.heap_limit(128 << 20), 64 << 20);
        // A tiny machine still gets at least the initial heap as its limit.
        assert_eq!(c.heap_limit(1 << 20), RuntimeConfig::DEFAULT_HEAP_SIZE);
        let c = RuntimeConfig {
            heap_limit: Some(8 << 20),
            ..c
        };
        assert_eq!(c.heap_limit(1 << 30), 8 << 20);
    }
}
