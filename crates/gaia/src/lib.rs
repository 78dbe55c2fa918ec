//! suandian-gaia: GAIA (Hanafy et al., ASPLOS'24; umassos/GAIA) inside suandian, so that
//! suandian's numbers can be compared with GAIA's line by line (`suandian gaia`).
//!
//! - [`engine`]: GAIA's batch policies on its 5-second clock, bit-exact (pure, no I/O);
//!   re-exported at the crate root.
//! - [`formats`]: GAIA's carbon and trace files, and its three output files, as GAIA's own code
//!   reads and writes them.
//!
//! It is a study of GAIA's model, apart from suandian's: the simulator does not use it. A
//! scenario can still name a GAIA job trace as its work; that reader is one of the scenario's
//! trace formats, in `suandian_io::traces`. The semantics and every quirk kept on purpose:
//! docs/gaia.md.

pub mod engine;
pub mod formats;

pub use engine::*;
