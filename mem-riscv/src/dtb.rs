//! The boot memory map from a flattened device tree, as a [`MemoryMap`].
//!
//! Usable memory is every `reg` entry of every `/memory` node (any node
//! under the root with `device_type = "memory"`, or named `memory` /
//! `memory@…`). Subtracted from it: every `/reserved-memory` child with a
//! `reg` (OpenSBI puts its own image there), every `/memreserve/` entry of
//! the header, the device tree blob itself, and the kernel image.

use core::fmt;
use core::ops::Range;

use fdt::Fdt;
use mem_core::{MemoryMap, NormalizeReport, PhysAddr, RegionKind};

/// The magic number at the start of every flattened device tree.
pub const FDT_MAGIC: u32 = 0xd00d_feed;
/// Bytes of the FDT header read by [`total_size`].
const HEADER_PREFIX: usize = 8;
/// Raw entries collected before normalising; more than a memory map holds, so
/// that a reservation is never the one refused.
const MAX_ENTRIES: usize = 2 * MemoryMap::CAPACITY;

/// Why a device tree could not be turned into a memory map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DtbError {
    /// The blob does not start with [`FDT_MAGIC`].
    BadMagic(u32),
    /// The blob is shorter than its header says (or than a header).
    Truncated {
        /// Bytes the header claims, or the header size.
        needed: usize,
        /// Bytes available.
        got: usize,
    },
    /// A `reg` entry whose address or size does not fit 64 bits (more than
    /// two cells with non-zero high cells) in a node whose memory must be
    /// reserved.
    UnsupportedReg,
    /// More `reg` entries than can be collected ([`MemoryMap::CAPACITY`]
    /// times two); reservations would be lost.
    TooManyEntries,
}

impl fmt::Display for DtbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::BadMagic(m) => write!(
                f,
                "not a device tree: magic {m:#010x}, expected {FDT_MAGIC:#010x}"
            ),
            Self::Truncated { needed, got } => {
                write!(f, "device tree truncated: {got} bytes, {needed} needed")
            }
            Self::UnsupportedReg => {
                f.write_str("device tree reservation with an address or size beyond 64 bits")
            }
            Self::TooManyEntries => write!(
                f,
                "device tree has more than {MAX_ENTRIES} memory and reservation entries"
            ),
        }
    }
}

impl core::error::Error for DtbError {}

/// The blob's total size from its header (the first 8 bytes suffice).
///
/// # Errors
/// [`DtbError::BadMagic`], or [`DtbError::Truncated`] if `header` is shorter
/// than 8 bytes.
pub fn total_size(header: &[u8]) -> Result<usize, DtbError> {
    let Some(h) = header.get(..HEADER_PREFIX) else {
        return Err(DtbError::Truncated {
            needed: HEADER_PREFIX,
            got: header.len(),
        });
    };
    let magic = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
    if magic != FDT_MAGIC {
        return Err(DtbError::BadMagic(magic));
    }
    Ok(u32::from_be_bytes([h[4], h[5], h[6], h[7]]) as usize)
}

/// The whole blob at `ptr`, its length read from the header.
///
/// # Errors
/// [`DtbError::BadMagic`] if `ptr` does not point to a device tree.
///
/// # Safety
/// `ptr` must be readable for 8 bytes and, if those start with
/// [`FDT_MAGIC`], for the total size they state, and the memory must not be
/// written for `'a`.
pub unsafe fn blob_from_ptr<'a>(ptr: *const u8) -> Result<&'a [u8], DtbError> {
    // SAFETY: the caller guarantees 8 readable bytes.
    let header = unsafe { core::slice::from_raw_parts(ptr, HEADER_PREFIX) };
    let len = total_size(header)?.max(HEADER_PREFIX);
    // SAFETY: the magic matched, so the caller guarantees `len` readable,
    // unchanging bytes.
    Ok(unsafe { core::slice::from_raw_parts(ptr, len) })
}

/// Builds and normalises the memory map from the device tree `dtb`, taking
/// the blob's address as its physical address (true at boot, before paging)
/// and reserving `kernel`.
///
/// # Errors
/// See [`DtbError`]. The `fdt` crate trusts the structure block of a blob
/// with a valid header (it panics on a corrupt one); the header itself is
/// checked here.
pub fn memory_map_from_fdt(
    dtb: &[u8],
    kernel: Range<PhysAddr>,
) -> Result<(MemoryMap, NormalizeReport), DtbError> {
    memory_map_from_fdt_at(dtb, dtb.as_ptr() as usize as u64, kernel)
}

/// As [`memory_map_from_fdt`], with the blob's physical address given.
///
/// # Errors
/// See [`DtbError`].
pub fn memory_map_from_fdt_at(
    dtb: &[u8],
    dtb_phys: u64,
    kernel: Range<PhysAddr>,
) -> Result<(MemoryMap, NormalizeReport), DtbError> {
    let size = total_size(dtb)?;
    if dtb.len() < size {
        return Err(DtbError::Truncated {
            needed: size,
            got: dtb.len(),
        });
    }
    let fdt = Fdt::new(dtb).map_err(|_| DtbError::Truncated {
        needed: size,
        got: dtb.len(),
    })?;

    let mut entries = Entries::new();
    entries.push(dtb_phys, size as u64, RegionKind::DeviceTree)?;
    let kernel_len = kernel.end.as_u64().saturating_sub(kernel.start.as_u64());
    entries.push(kernel.start.as_u64(), kernel_len, RegionKind::Kernel)?;
    for r in fdt.memory_reservations() {
        entries.push(
            r.address() as usize as u64,
            r.size() as u64,
            RegionKind::Reserved,
        )?;
    }
    if let Some(root) = fdt.find_node("/") {
        for node in root.children() {
            let is_memory = node
                .property("device_type")
                .and_then(|p| p.as_str())
                .is_some_and(|t| t == "memory")
                || node.name == "memory"
                || node.name.starts_with("memory@");
            let disabled = node
                .property("status")
                .and_then(|p| p.as_str())
                .is_some_and(|s| s == "disabled");
            if is_memory && !disabled {
                // Memory we cannot parse is memory we do not use: safe.
                for_each_reg(node, |start, len| {
                    let _ = entries.push(start, len, RegionKind::Usable);
                    Ok(())
                })?;
            }
        }
    }
    if let Some(reserved) = fdt.find_node("/reserved-memory") {
        for child in reserved.children() {
            // Children without `reg` (only `size`/`alloc-ranges`) ask the OS
            // to allocate for a driver; they claim no fixed memory.
            for_each_reg(child, |start, len| {
                entries.push(start, len, RegionKind::Reserved)
            })?;
        }
    }

    let mut map = MemoryMap::new();
    map.extend_from(entries.as_slice().iter().copied());
    let report = map.normalize();
    Ok((map, report))
}

/// Calls `f(start, len)` for each `reg` entry of `node` (none without
/// `reg`).
fn for_each_reg(
    node: fdt::node::FdtNode<'_, '_>,
    mut f: impl FnMut(u64, u64) -> Result<(), DtbError>,
) -> Result<(), DtbError> {
    let Some(regs) = node.raw_reg() else {
        return Ok(());
    };
    for reg in regs {
        let (Some(start), Some(len)) = (be_u64(reg.address), be_u64(reg.size)) else {
            return Err(DtbError::UnsupportedReg);
        };
        f(start, len)?;
    }
    Ok(())
}

/// A big-endian number of any length, if it fits 64 bits. Zero cells read as
/// zero (a `reg` without sizes).
fn be_u64(bytes: &[u8]) -> Option<u64> {
    let split = bytes.len().saturating_sub(8);
    let (high, low) = bytes.split_at(split);
    if high.iter().any(|&b| b != 0) {
        return None;
    }
    Some(low.iter().fold(0u64, |acc, &b| acc << 8 | u64::from(b)))
}

/// Raw entries on the stack: nothing is allocated before the heap exists.
struct Entries {
    items: [(u64, u64, RegionKind); MAX_ENTRIES],
    len: usize,
}

impl Entries {
    fn new() -> Self {
        Self {
            items: [(0, 0, RegionKind::Reserved); MAX_ENTRIES],
            len: 0,
        }
    }

    fn push(&mut self, start: u64, len: u64, kind: RegionKind) -> Result<(), DtbError> {
        let slot = self
            .items
            .get_mut(self.len)
            .ok_or(DtbError::TooManyEntries)?;
        *slot = (start, len, kind);
        self.len += 1;
        Ok(())
    }

    fn as_slice(&self) -> &[(u64, u64, RegionKind)] {
        &self.items[..self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Built with `dtc` from `tests/fixtures/layout.dts`.
    const LAYOUT: &[u8] = include_bytes!("../tests/fixtures/layout.dtb");
    /// `qemu-system-riscv64 -machine virt,dumpdtb=virt-128m.dtb -m 128M`.
    const QEMU_VIRT: &[u8] = include_bytes!("../tests/fixtures/virt-128m.dtb");

    const NO_KERNEL: Range<PhysAddr> = PhysAddr::ZERO..PhysAddr::ZERO;

    fn usable(map: &MemoryMap) -> Vec<(u64, u64)> {
        map.usable()
            .map(|r| (r.start_address().as_u64(), r.end.start_address().as_u64()))
            .collect()
    }

    #[test]
    fn header_checks() {
        assert_eq!(total_size(&LAYOUT[..8]), Ok(LAYOUT.len()));
        assert_eq!(
            total_size(&LAYOUT[..7]),
            Err(DtbError::Truncated { needed: 8, got: 7 })
        );
        assert_eq!(total_size(&[0; 8]), Err(DtbError::BadMagic(0)));
        let short = &LAYOUT[..LAYOUT.len() - 1];
        assert_eq!(
            memory_map_from_fdt_at(short, 0, NO_KERNEL).unwrap_err(),
            DtbError::Truncated {
                needed: LAYOUT.len(),
                got: LAYOUT.len() - 1
            }
        );
        // SAFETY: the pointer is to a whole device tree in a static.
        let blob = unsafe { blob_from_ptr(LAYOUT.as_ptr()) }.unwrap();
        assert_eq!(blob.len(), LAYOUT.len());
    }

    #[test]
    fn qemu_virt_minus_kernel_and_blob() {
        let kernel = PhysAddr::new(0x8020_0000)..PhysAddr::new(0x8023_4567);
        let dtb_at = 0x8700_0000;
        let (map, rep) = memory_map_from_fdt_at(QEMU_VIRT, dtb_at, kernel).unwrap();
        let dtb_end = (dtb_at + QEMU_VIRT.len() as u64).next_multiple_of(0x1000);
        assert_eq!(
            usable(&map),
            [
                (0x8000_0000, 0x8020_0000),
                (0x8023_5000, dtb_at),
                (dtb_end, 0x8800_0000)
            ]
        );
        assert_eq!(
            rep.usable_overridden_bytes,
            0x3_4567 + QEMU_VIRT.len() as u64
        );
    }

    #[test]
    fn every_memory_node_and_every_reservation() {
        // layout.dts: two memory nodes (one with two reg entries), a
        // /memreserve/, reserved-memory children with and without reg.
        let (map, rep) = memory_map_from_fdt_at(LAYOUT, 0x9000_0000, NO_KERNEL).unwrap();
        assert_eq!(
            usable(&map),
            [
                (0x4000_0000, 0x4010_0000),
                (0x4010_2000, 0x4100_0000),
                (0x8000_0000, 0x8004_0000),
                (0x8006_0000, 0x9000_0000),
                (0x9000_1000, 0xa000_0000),
                (0x1_0000_0000, 0x1_0100_0000),
            ]
        );
        assert!(map.regions().any(|r| r.kind == RegionKind::DeviceTree));
        assert_eq!(
            rep.usable_overridden_bytes,
            0x2000 + 0x2_0000 + LAYOUT.len() as u64
        );
    }
}
