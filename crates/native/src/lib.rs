//! The official CTP libraries (thostmduserapi_se / thosttraderapi_se, 6.7.11), loaded
//! at run time with dlopen and driven through their C++ vtables.
//!
//! - [`loader`] finds the two `.so` files, resolves the factories and checks the
//!   version; [`flow`] names the flow-file directories.
//! - [`md`] and [`td`] hold the sessions: an API object each, with an SPI object whose
//!   vtable ([`spi_glue`], generated) turns every callback into a [`webctp_protocol::Reply`];
//!   [`handle`] releases both off the library's threads; [`settlement`] joins statements.
//! - [`ffi`], [`vtables`], [`convert`] and [`spi_glue`] are generated from the headers
//!   by `tools/ctp-codegen` (`scripts/regen-ctp-bindings.sh`) and live in
//!   `src/generated/`; everything else is written by hand.
//!
//! Everything here is exercised offline against `fakectp`, a library built from this
//! repository that exports the same symbols and vtables (see `tests/native.rs`).

pub mod cstr;
pub mod flow;
pub mod generated;
pub mod handle;
pub mod loader;
pub mod md;
pub mod settlement;
pub mod spi;
pub mod td;

pub use generated::{convert, ffi, spi_glue, vtables};

use std::ffi::CString;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use self::loader::{CreateMdApi, CreateTraderApi, Loaded};
use self::vtables::{
    THOST_TE_RESUME_TYPE, THOST_TERT_QUICK, THOST_TERT_RESTART, THOST_TERT_RESUME,
};
use webctp_config::{Config, ResumeType};
use webctp_protocol::backend::{Backend, BackendError, MdEvents, MdSession, TdEvents, TdSession};

/// Splits a configured front address into the fronts to register (a comma-separated
/// list registers several; the library picks one that answers).
fn parse_fronts(what: &str, value: Option<&str>) -> Result<Vec<(String, CString)>, BackendError> {
    let mut out = Vec::new();
    for front in value.unwrap_or("").split(',').map(str::trim) {
        if front.is_empty() {
            continue;
        }
        if !front.contains("://") {
            return Err(BackendError::Session(format!(
                "{what} {front:?} is not a front address; write it as tcp://host:port"
            )));
        }
        let c = CString::new(front)
            .map_err(|_| BackendError::Session(format!("{what} {front:?} contains a NUL byte")))?;
        out.push((front.to_string(), c));
    }
    Ok(out)
}

fn resume_type(r: ResumeType) -> THOST_TE_RESUME_TYPE {
    match r {
        ResumeType::Restart => THOST_TERT_RESTART,
        ResumeType::Resume => THOST_TERT_RESUME,
        ResumeType::Quick => THOST_TERT_QUICK,
    }
}

/// The official libraries as a [`Backend`].
pub struct NativeBackend {
    md_lib: Loaded<CreateMdApi>,
    td_lib: Loaded<CreateTraderApi>,
    md_fronts: Vec<(String, CString)>,
    td_fronts: Vec<(String, CString)>,
    data_dir: PathBuf,
    resume: THOST_TE_RESUME_TYPE,
    query_interval: Duration,
    flows: flow::FlowDirs,
}

impl NativeBackend {
    /// Finds and loads both libraries (see [`loader::search_dirs`]) and checks that
    /// they are CTP 6.7.x. Nothing connects until a session is opened.
    pub fn load(config: &Config) -> Result<NativeBackend, BackendError> {
        let md_fronts = parse_fronts("MdFrontAddress", config.md_front_address.as_deref())?;
        let td_fronts = parse_fronts("TdFrontAddress", config.td_front_address.as_deref())?;
        let (md_path, td_path) = loader::locate(config.ctp_lib_dir.as_deref())?;
        loader::warn_if_no_gbk_locale();
        let md_lib = loader::load_md(&md_path)?;
        let td_lib = loader::load_td(&td_path)?;
        tracing::info!(
            md = %md_lib.path.display(),
            td = %td_lib.path.display(),
            version = %md_lib.version,
            "CTP libraries loaded"
        );
        if md_lib.version != td_lib.version {
            tracing::warn!(
                md = %md_lib.version,
                td = %td_lib.version,
                "the two CTP libraries report different versions"
            );
        }
        Ok(NativeBackend {
            md_lib,
            td_lib,
            md_fronts,
            td_fronts,
            data_dir: config.data_dir.clone(),
            resume: resume_type(config.resume_type),
            query_interval: config.query_interval,
            flows: flow::FlowDirs::default(),
        })
    }

    fn c_fronts(fronts: &[(String, CString)]) -> Vec<CString> {
        fronts.iter().map(|(_, c)| c.clone()).collect()
    }
}

impl Backend for NativeBackend {
    fn name(&self) -> &'static str {
        "native"
    }

    fn version(&self) -> String {
        if self.md_lib.version == self.td_lib.version {
            format!("CTP {}", self.md_lib.version)
        } else {
            format!(
                "CTP md {} / td {}",
                self.md_lib.version, self.td_lib.version
            )
        }
    }

    fn md_session(&self, events: Arc<dyn MdEvents>) -> Result<Arc<dyn MdSession>, BackendError> {
        let Some((first, _)) = self.md_fronts.first() else {
            tracing::warn!("no MdFrontAddress configured: market data is unavailable");
            return Ok(Arc::new(md::NoMdFront));
        };
        let flow = self.flows.lease(&flow::md_dir(&self.data_dir, first));
        let session = md::NativeMdSession::open(
            self.md_lib.create,
            flow,
            &Self::c_fronts(&self.md_fronts),
            events,
        )?;
        Ok(Arc::new(session))
    }

    fn td_session(
        &self,
        events: Arc<dyn TdEvents>,
        user: &str,
    ) -> Result<Arc<dyn TdSession>, BackendError> {
        let Some((first, _)) = self.td_fronts.first() else {
            return Err(BackendError::Session(
                "no TdFrontAddress is configured, so trading is unavailable".into(),
            ));
        };
        let flow = self.flows.lease(&flow::td_dir(&self.data_dir, user, first));
        let session = td::NativeTdSession::open(
            self.td_lib.create,
            flow,
            &Self::c_fronts(&self.td_fronts),
            self.resume,
            events,
        )?;
        Ok(Arc::new(session))
    }

    fn query_interval(&self) -> Duration {
        self.query_interval
    }

    fn drop_front(&self, duration: Duration) -> Result<(), BackendError> {
        // Only the fake library (tests) can be told to drop its front.
        let Some(drop_front) = self.td_lib.drop_front else {
            return Err(BackendError::Refused(
                "the official CTP libraries cannot drop their front".into(),
            ));
        };
        match unsafe { drop_front(duration.as_secs_f64()) } {
            0 => Ok(()),
            code => Err(BackendError::Refused(format!(
                "the fake CTP library refused to drop its front ({code})"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fronts_are_checked_and_split() {
        let f = parse_fronts("TdFrontAddress", Some("tcp://1.2.3.4:1, tcp://5.6.7.8:2,")).unwrap();
        assert_eq!(f.len(), 2);
        assert_eq!(f[1].0, "tcp://5.6.7.8:2");
        assert!(parse_fronts("TdFrontAddress", None).unwrap().is_empty());
        let e = parse_fronts("MdFrontAddress", Some("1.2.3.4:40011")).unwrap_err();
        assert!(e.to_string().contains("tcp://host:port"), "{e}");
    }
}
