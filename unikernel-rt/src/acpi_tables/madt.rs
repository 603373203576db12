//! The MADT ("APIC" table): processors and interrupt controllers.
//!
//! The entries are walked here rather than with the `acpi` crate's iterator
//! because that one trusts each entry's length byte (a zero length loops
//! forever, an oversized one underflows its remaining-length counter).

use core::fmt;

use super::{HEADER_LEN, TableError, read_u8, read_u32, read_u64};

/// Processors whose APIC ids are kept; further enabled processors are
/// still counted.
pub(crate) const MAX_CPUS: usize = 256;
/// I/O APICs kept; further ones are counted but not described.
pub(crate) const MAX_IO_APICS: usize = 8;

/// Where the MADT's entries start: header, local APIC address, flags.
const ENTRIES_OFFSET: usize = HEADER_LEN + 8;

const LOCAL_APIC: u8 = 0;
const IO_APIC: u8 = 1;
const LOCAL_APIC_ADDRESS_OVERRIDE: u8 = 5;
const LOCAL_X2APIC: u8 = 9;

/// Processor flags (local APIC and x2APIC entries).
const FLAG_ENABLED: u32 = 1 << 0;
const FLAG_ONLINE_CAPABLE: u32 = 1 << 1;

/// One I/O APIC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct IoApic {
    /// Its APIC id.
    pub(crate) id: u8,
    /// Physical address of its registers.
    pub(crate) address: u32,
    /// First global system interrupt it serves.
    pub(crate) gsi_base: u32,
}

/// What the runtime takes from the MADT.
#[derive(Debug, Clone)]
pub(crate) struct Madt {
    /// Physical address of the local APIC (the 64-bit override if present).
    pub(crate) local_apic_address: u64,
    /// Whether the machine also has dual 8259 PICs (`PCAT_COMPAT`), which
    /// must be masked before the APICs are used.
    pub(crate) has_8259: bool,
    /// Processors that are enabled (running now), duplicates removed.
    pub(crate) cpus: usize,
    /// Processors that are disabled but may be hot-added later.
    pub(crate) hotpluggable_cpus: usize,
    apic_ids: [u32; MAX_CPUS],
    apic_count: usize,
    io_apics: [IoApic; MAX_IO_APICS],
    io_apic_count: usize,
    /// I/O APICs listed, including any beyond [`MAX_IO_APICS`].
    pub(crate) io_apics_listed: usize,
}

impl Madt {
    /// APIC ids of the enabled processors, in table order (the boot
    /// processor first, as the specification asks), at most [`MAX_CPUS`].
    pub(crate) fn apic_ids(&self) -> &[u32] {
        &self.apic_ids[..self.apic_count]
    }

    /// The I/O APICs, at most [`MAX_IO_APICS`].
    pub(crate) fn io_apics(&self) -> &[IoApic] {
        &self.io_apics[..self.io_apic_count]
    }

    fn add_processor(&mut self, apic_id: u32, flags: u32) {
        if flags & FLAG_ENABLED == 0 {
            if flags & FLAG_ONLINE_CAPABLE != 0 {
                self.hotpluggable_cpus += 1;
            }
            return;
        }
        // Firmware may describe one processor in both entry kinds.
        if self.apic_ids().contains(&apic_id) {
            return;
        }
        self.cpus += 1;
        if self.apic_count < MAX_CPUS {
            self.apic_ids[self.apic_count] = apic_id;
            self.apic_count += 1;
        }
    }
}

/// Why a MADT was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MadtError {
    /// The table is shorter than its fixed part.
    Table(TableError),
    /// An entry's length byte is below the entry's size, or runs past the
    /// end of the table.
    BadEntry {
        /// Byte offset of the entry in the table.
        offset: usize,
        /// Entry type.
        kind: u8,
        /// Its length byte.
        length: u8,
    },
}

impl fmt::Display for MadtError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MadtError::Table(e) => e.fmt(f),
            MadtError::BadEntry {
                offset,
                kind,
                length,
            } => write!(
                f,
                "MADT entry of type {kind} at offset {offset} has a bad length {length}"
            ),
        }
    }
}

impl core::error::Error for MadtError {}

/// The fixed size of the entry types we read (the specification allows
/// longer entries in later revisions, never shorter ones).
fn min_entry_len(kind: u8) -> u8 {
    match kind {
        LOCAL_APIC => 8,
        IO_APIC | LOCAL_APIC_ADDRESS_OVERRIDE => 12,
        LOCAL_X2APIC => 16,
        // Every entry has at least its type and length bytes; a smaller
        // length would never advance the walk.
        _ => 2,
    }
}

/// Reads a MADT that [`super::validate`] accepted (`table` is exactly the
/// table's length).
pub(crate) fn parse(table: &[u8]) -> Result<Madt, MadtError> {
    let fixed = |needed| {
        MadtError::Table(TableError::Truncated {
            signature: *b"APIC",
            available: table.len(),
            needed,
        })
    };
    let local_apic = read_u32(table, HEADER_LEN).ok_or(fixed(ENTRIES_OFFSET))?;
    let flags = read_u32(table, HEADER_LEN + 4).ok_or(fixed(ENTRIES_OFFSET))?;
    let mut madt = Madt {
        local_apic_address: u64::from(local_apic),
        has_8259: flags & 1 != 0,
        cpus: 0,
        hotpluggable_cpus: 0,
        apic_ids: [0; MAX_CPUS],
        apic_count: 0,
        io_apics: [IoApic::default(); MAX_IO_APICS],
        io_apic_count: 0,
        io_apics_listed: 0,
    };

    let mut offset = ENTRIES_OFFSET;
    while offset < table.len() {
        // An entry needs its two-byte header inside the table.
        let (Some(kind), Some(length)) = (read_u8(table, offset), read_u8(table, offset + 1))
        else {
            return Err(MadtError::BadEntry {
                offset,
                kind: table[offset],
                length: 0,
            });
        };
        let bad = MadtError::BadEntry {
            offset,
            kind,
            length,
        };
        if length < min_entry_len(kind) {
            return Err(bad);
        }
        let entry = table.get(offset..offset + usize::from(length)).ok_or(bad)?;
        // The lengths were checked above, so these reads cannot fail; the
        // `ok_or` keeps that an error rather than a panic if they did.
        match kind {
            LOCAL_APIC => {
                let id = read_u8(entry, 3).ok_or(bad)?;
                let flags = read_u32(entry, 4).ok_or(bad)?;
                madt.add_processor(u32::from(id), flags);
            }
            LOCAL_X2APIC => {
                let id = read_u32(entry, 4).ok_or(bad)?;
                let flags = read_u32(entry, 8).ok_or(bad)?;
                madt.add_processor(id, flags);
            }
            IO_APIC => {
                madt.io_apics_listed += 1;
                if madt.io_apic_count < MAX_IO_APICS {
                    madt.io_apics[madt.io_apic_count] = IoApic {
                        id: read_u8(entry, 2).ok_or(bad)?,
                        address: read_u32(entry, 4).ok_or(bad)?,
                        gsi_base: read_u32(entry, 8).ok_or(bad)?,
                    };
                    madt.io_apic_count += 1;
                }
            }
            LOCAL_APIC_ADDRESS_OVERRIDE => {
                madt.local_apic_address = read_u64(entry, 4).ok_or(bad)?;
            }
            // Other entry kinds (NMI wiring, source overrides, GIC, ...)
            // are not needed yet; their length was still checked.
            _ => {}
        }
        offset += usize::from(length);
    }
    Ok(madt)
}

#[cfg(test)]
mod tests {
    use super::super::fixture::table;
    use super::super::validate;
    use super::*;

    fn body(entries: &[&[u8]]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&0xfee0_0000u32.to_le_bytes());
        b.extend_from_slice(&1u32.to_le_bytes()); // PCAT_COMPAT
        for e in entries {
            b.extend_from_slice(e);
        }
        b
    }

    fn local_apic(uid: u8, apic_id: u8, flags: u32) -> Vec<u8> {
        let mut e = vec![LOCAL_APIC, 8, uid, apic_id];
        e.extend_from_slice(&flags.to_le_bytes());
        e
    }

    fn x2apic(apic_id: u32, flags: u32) -> Vec<u8> {
        let mut e = vec![LOCAL_X2APIC, 16, 0, 0];
        e.extend_from_slice(&apic_id.to_le_bytes());
        e.extend_from_slice(&flags.to_le_bytes());
        e.extend_from_slice(&7u32.to_le_bytes());
        e
    }

    fn io_apic(id: u8, address: u32, gsi_base: u32) -> Vec<u8> {
        let mut e = vec![IO_APIC, 12, id, 0];
        e.extend_from_slice(&address.to_le_bytes());
        e.extend_from_slice(&gsi_base.to_le_bytes());
        e
    }

    fn parse_entries(entries: &[&[u8]]) -> Result<Madt, MadtError> {
        let t = table(b"APIC", 3, &body(entries));
        parse(validate(&t, b"APIC").unwrap())
    }

    /// The shape QEMU's `-smp 2` MADT has: two enabled local APICs, one
    /// I/O APIC, interrupt source overrides and a local APIC NMI entry.
    #[test]
    fn reads_a_qemu_like_two_cpu_table() {
        let iso = [2u8, 10, 0, 0, 2, 0, 0, 0, 0, 0];
        let nmi = [4u8, 6, 0xff, 0, 0, 1];
        let madt = parse_entries(&[
            &local_apic(0, 0, 1),
            &local_apic(1, 1, 1),
            &io_apic(0, 0xfec0_0000, 0),
            &iso,
            &nmi,
        ])
        .unwrap();
        assert_eq!(madt.cpus, 2);
        assert_eq!(madt.apic_ids(), &[0, 1]);
        assert_eq!(madt.hotpluggable_cpus, 0);
        assert_eq!(madt.local_apic_address, 0xfee0_0000);
        assert!(madt.has_8259);
        assert_eq!(
            madt.io_apics(),
            &[IoApic {
                id: 0,
                address: 0xfec0_0000,
                gsi_base: 0
            }]
        );
    }

    #[test]
    fn counts_only_enabled_processors_and_removes_duplicates() {
        let madt = parse_entries(&[
            &local_apic(0, 0, FLAG_ENABLED),
            &local_apic(1, 1, FLAG_ONLINE_CAPABLE), // `-smp 1,maxcpus=2`
            &local_apic(2, 2, 0),                   // unusable
            &x2apic(0, FLAG_ENABLED),               // same processor again
            &x2apic(300, FLAG_ENABLED),
        ])
        .unwrap();
        assert_eq!(madt.cpus, 2);
        assert_eq!(madt.apic_ids(), &[0, 300]);
        assert_eq!(madt.hotpluggable_cpus, 1);
    }

    #[test]
    fn the_address_override_wins() {
        let mut over = vec![LOCAL_APIC_ADDRESS_OVERRIDE, 12, 0, 0];
        over.extend_from_slice(&0x1_2345_6000u64.to_le_bytes());
        let madt = parse_entries(&[&local_apic(0, 0, 1), &over]).unwrap();
        assert_eq!(madt.local_apic_address, 0x1_2345_6000);
    }

    #[test]
    fn keeps_at_most_max_cpus_ids_but_counts_all() {
        let entries: Vec<Vec<u8>> = (0..MAX_CPUS as u32 + 4).map(|i| x2apic(i, 1)).collect();
        let refs: Vec<&[u8]> = entries.iter().map(Vec::as_slice).collect();
        let madt = parse_entries(&refs).unwrap();
        assert_eq!(madt.cpus, MAX_CPUS + 4);
        assert_eq!(madt.apic_ids().len(), MAX_CPUS);
        assert_eq!(madt.apic_ids()[MAX_CPUS - 1], MAX_CPUS as u32 - 1);
    }

    #[test]
    fn keeps_at_most_max_io_apics() {
        let entries: Vec<Vec<u8>> = (0..MAX_IO_APICS as u8 + 2)
            .map(|i| io_apic(i, 0xfec0_0000 + u32::from(i) * 0x1000, u32::from(i) * 24))
            .collect();
        let refs: Vec<&[u8]> = entries.iter().map(Vec::as_slice).collect();
        let madt = parse_entries(&refs).unwrap();
        assert_eq!(madt.io_apics().len(), MAX_IO_APICS);
        assert_eq!(madt.io_apics_listed, MAX_IO_APICS + 2);
        assert_eq!(madt.io_apics()[3].gsi_base, 72);
    }

    #[test]
    fn skips_unknown_entries_by_their_length() {
        let oem = [0x80u8, 5, 9, 9, 9];
        let madt = parse_entries(&[&oem, &local_apic(0, 3, 1)]).unwrap();
        assert_eq!(madt.apic_ids(), &[3]);
    }

    #[test]
    fn rejects_a_zero_length_entry_instead_of_looping() {
        let zero = [0x42u8, 0];
        assert_eq!(
            parse_entries(&[&local_apic(0, 0, 1), &zero]).unwrap_err(),
            MadtError::BadEntry {
                offset: ENTRIES_OFFSET + 8,
                kind: 0x42,
                length: 0
            }
        );
    }

    #[test]
    fn rejects_entries_shorter_than_their_kind() {
        let mut short = local_apic(0, 0, 1);
        short[1] = 6;
        short.truncate(6);
        assert!(matches!(
            parse_entries(&[&short]),
            Err(MadtError::BadEntry {
                kind: LOCAL_APIC,
                length: 6,
                ..
            })
        ));
    }

    #[test]
    fn rejects_an_entry_running_past_the_table() {
        let mut long = local_apic(0, 0, 1);
        long[1] = 40;
        assert!(matches!(
            parse_entries(&[&long]),
            Err(MadtError::BadEntry { length: 40, .. })
        ));
        // A lone type byte at the very end.
        assert!(matches!(
            parse_entries(&[&[LOCAL_APIC]]),
            Err(MadtError::BadEntry { length: 0, .. })
        ));
    }

    #[test]
    fn rejects_a_table_without_its_fixed_part() {
        let t = table(b"APIC", 1, &[0; 4]);
        assert!(matches!(
            parse(validate(&t, b"APIC").unwrap()),
            Err(MadtError::Table(TableError::Truncated { needed: 44, .. }))
        ));
    }
}
