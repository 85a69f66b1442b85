//! Backends: the one interface through which the gateway drives CTP (defined with the
//! wire types in `webctp-protocol`, re-exported here), and its two implementations —
//! [`sim`], an embedded exchange (`webctp-sim`), and [`native`], the official libraries
//! loaded at run time (`webctp-native`). Nothing above this module knows which one runs.

use std::sync::Arc;

pub use webctp_native as native;
pub use webctp_protocol::backend::*;
pub use webctp_sim as sim;

/// Opens the configured backend: the sim by default, the official libraries when
/// fronts are configured.
pub fn open(config: &crate::config::Config) -> Result<Arc<dyn Backend>, BackendError> {
    match config.backend {
        crate::config::BackendKind::Sim => Ok(Arc::new(sim::SimBackend::start(
            config.sim.clone(),
            &config.data_dir,
        )?)),
        crate::config::BackendKind::Native => Ok(Arc::new(native::NativeBackend::load(config)?)),
    }
}
