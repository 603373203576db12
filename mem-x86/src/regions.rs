//! The boot memory map from `bootloader_api`, as a [`MemoryMap`].

use bootloader_api::info::{MemoryRegion as BootRegion, MemoryRegionKind};
use mem_core::{MemoryMap, NormalizeReport, RegionKind};

/// Memory below this address (the first 1 MiB: real-mode IVT, BIOS data
/// area, EBDA, VGA and option ROMs) is always reserved, whatever the
/// firmware says.
///
/// Frame 0 in particular is never handed out, so a physical address of zero
/// always means a bug. The rest of low memory is a few hundred KiB, and it is
/// what firmware maps get wrong most often (E820 maps that call the BIOS data
/// area usable); it is also where application-processor start-up code must
/// live if SMP is added. Linux reserves at least the first 64 KiB for the same
/// reasons.
pub const LOW_MEMORY_END: u64 = 0x10_0000;

/// The kind of a bootloader region.
///
/// Firmware types the bootloader passes on raw are translated where the
/// meaning is standard (UEFI memory types, E820 types); anything else stays
/// [`RegionKind::Unknown`] with the raw value. Only
/// [`MemoryRegionKind::Usable`] becomes usable.
pub fn region_kind(kind: MemoryRegionKind) -> RegionKind {
    match kind {
        MemoryRegionKind::Usable => RegionKind::Usable,
        MemoryRegionKind::Bootloader => RegionKind::Bootloader,
        MemoryRegionKind::UnknownUefi(t) => match t {
            // EfiReservedMemoryType, EfiMemoryMappedIO, EfiMemoryMappedIOPortSpace.
            0 | 11 | 12 => RegionKind::Reserved,
            // EfiRuntimeServicesCode/Data, EfiPalCode.
            5 | 6 | 13 => RegionKind::Firmware,
            8 => RegionKind::BadMemory,
            9 => RegionKind::AcpiReclaimable,
            10 => RegionKind::AcpiNvs,
            other => RegionKind::Unknown(other),
        },
        MemoryRegionKind::UnknownBios(t) => match t {
            2 => RegionKind::Reserved,
            3 => RegionKind::AcpiReclaimable,
            4 => RegionKind::AcpiNvs,
            5 => RegionKind::BadMemory,
            other => RegionKind::Unknown(other),
        },
        // A kind added to `bootloader_api` after this code was written.
        _ => RegionKind::Unknown(u32::MAX),
    }
}

/// Builds and normalises the memory map from the bootloader's regions.
///
/// Every region is taken as untrusted input (see [`MemoryMap::add`]). The
/// bootloader's own regions (page tables, boot info, the kernel image and
/// stack it loaded) stay reserved, and so does the first 1 MiB
/// ([`LOW_MEMORY_END`]). The report says what was dropped; log it.
///
/// ```
/// use bootloader_api::info::{MemoryRegion, MemoryRegionKind};
/// use mem_x86::regions::memory_map_from_bootloader;
///
/// let regions = [
///     MemoryRegion { start: 0, end: 0x9_f000, kind: MemoryRegionKind::Usable },
///     MemoryRegion { start: 0x10_0000, end: 0x40_0000, kind: MemoryRegionKind::Bootloader },
///     MemoryRegion { start: 0x40_0000, end: 0x800_0000, kind: MemoryRegionKind::Usable },
/// ];
/// let (map, report) = memory_map_from_bootloader(&regions);
/// assert_eq!(map.usable_bytes(), 0x800_0000 - 0x40_0000);
/// assert_eq!(report.usable_overridden_bytes, 0x9_f000);
/// ```
pub fn memory_map_from_bootloader(regions: &[BootRegion]) -> (MemoryMap, NormalizeReport) {
    let mut map = MemoryMap::new();
    let low = (0, LOW_MEMORY_END, RegionKind::Firmware);
    map.extend_from(
        core::iter::once(low).chain(
            regions
                .iter()
                .map(|r| (r.start, r.end.wrapping_sub(r.start), region_kind(r.kind)))
                // An inverted region (end < start) is garbage: drop it as
                // empty rather than read it as a wrapped, huge one.
                .map(|(s, l, k)| {
                    if l > u64::MAX / 2 && s > 0 {
                        (s, 0, k)
                    } else {
                        (s, l, k)
                    }
                }),
        ),
    );
    let report = map.normalize();
    (map, report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(start: u64, end: u64, kind: MemoryRegionKind) -> BootRegion {
        BootRegion { start, end, kind }
    }

    #[test]
    fn qemu_bios_like_map() {
        // Shaped after what bootloader 0.11 reports under QEMU (BIOS, 128 MiB).
        let regions = [
            r(0x0, 0x1000, MemoryRegionKind::Bootloader),
            r(0x1000, 0x9_fc00, MemoryRegionKind::Usable),
            r(0x9_fc00, 0xa_0000, MemoryRegionKind::UnknownBios(2)),
            r(0xf_0000, 0x10_0000, MemoryRegionKind::UnknownBios(2)),
            r(0x10_0000, 0x48_1000, MemoryRegionKind::Bootloader),
            r(0x48_1000, 0x7fe_0000, MemoryRegionKind::Usable),
            r(0x7fe_0000, 0x800_0000, MemoryRegionKind::UnknownBios(2)),
            r(0xfffc_0000, 0x1_0000_0000, MemoryRegionKind::UnknownBios(2)),
        ];
        let (map, rep) = memory_map_from_bootloader(&regions);
        let usable: Vec<_> = map
            .usable()
            .map(|f| (f.start_address().as_u64(), f.end.start_address().as_u64()))
            .collect();
        assert_eq!(usable, [(0x48_1000, 0x7fe_0000)]);
        assert_eq!(rep.usable_overridden_bytes, 0x9_fc00 - 0x1000);
        assert_eq!(rep.trimmed, 0);
        assert!(map.regions().any(|r| r.kind == RegionKind::Reserved));
    }

    #[test]
    fn unknown_kinds_are_never_usable() {
        for kind in [
            MemoryRegionKind::UnknownUefi(7), // conventional, but not passed on as usable
            MemoryRegionKind::UnknownUefi(0x7000_0000),
            MemoryRegionKind::UnknownBios(1),
            MemoryRegionKind::UnknownBios(12),
        ] {
            let regions = [
                r(0x20_0000, 0x40_0000, MemoryRegionKind::Usable),
                r(0x30_0000, 0x30_1000, kind),
            ];
            let (map, _) = memory_map_from_bootloader(&regions);
            assert_eq!(map.usable_bytes(), 0x20_0000 - 0x1000, "{kind:?}");
        }
        assert_eq!(
            region_kind(MemoryRegionKind::UnknownUefi(9)),
            RegionKind::AcpiReclaimable
        );
        assert_eq!(
            region_kind(MemoryRegionKind::UnknownBios(4)),
            RegionKind::AcpiNvs
        );
        assert_eq!(
            region_kind(MemoryRegionKind::UnknownBios(77)),
            RegionKind::Unknown(77)
        );
    }

    #[test]
    fn hostile_regions() {
        let regions = [
            r(0x20_0800, 0x30_0000, MemoryRegionKind::Usable), // unaligned start
            r(0x50_0000, 0x40_0000, MemoryRegionKind::Usable), // inverted
            r(0x60_0000, 0x60_0000, MemoryRegionKind::Usable), // empty
            r(u64::MAX - 0xfff, u64::MAX, MemoryRegionKind::Usable), // above the limit
        ];
        let (map, rep) = memory_map_from_bootloader(&regions);
        assert_eq!(map.usable_bytes(), 0x30_0000 - 0x20_1000);
        assert_eq!(rep.zero_length, 2);
        assert_eq!(rep.above_limit, 1);
        assert_eq!(rep.trimmed, 1);
    }

    #[test]
    fn frame_zero_and_low_memory_stay_reserved() {
        let (map, _) = memory_map_from_bootloader(&[r(0, 0x20_0000, MemoryRegionKind::Usable)]);
        let first = map.usable().next().unwrap();
        assert_eq!(first.start_address().as_u64(), LOW_MEMORY_END);
    }
}
