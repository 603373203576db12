//! Random map/unmap/protect/split sequences on Sv39Mapper against the
//! reference model (mem-core's shared `model_prop` driver): translations,
//! errors, returned frames and the exact set of tables agree after every
//! step, and unmapping everything gives every table frame back.

use mem_core::paging::sim::SimFrames;
use mem_core::paging::sim::model_prop::{self, Layout};
use mem_riscv::Sv39Mapper;
use proptest::prelude::*;

const LAYOUT: Layout = Layout {
    // The bottom of the lower half, its top (ending at the non-canonical
    // hole) and the start of the upper half.
    windows: [0, 0x0000_003f_0000_0000, 0xffff_ffc0_0000_0000],
    levels: 3,
};

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn sv39_mapper_matches_model(steps in model_prop::steps(LAYOUT)) {
        let new_mapper = |sim: &mut SimFrames| {
            let offset = sim.phys_offset();
            // SAFETY: the simulated frames live at `offset` and are unused.
            unsafe { Sv39Mapper::new_empty(sim, offset) }.unwrap()
        };
        let table_count = |mapper: &Sv39Mapper| mapper.engine().table_count();
        // SAFETY: the mapper's tables and frames are the simulated ones.
        unsafe { model_prop::run(LAYOUT, &steps, new_mapper, table_count) }?;
    }
}
