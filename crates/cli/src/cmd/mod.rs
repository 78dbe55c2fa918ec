//! One module per command.

pub(crate) mod gaia;
pub(crate) mod report;
pub(crate) mod scenario;
pub(crate) mod serve;
pub(crate) mod simulate;
