//! What this binary was built from (set by `build.rs`).

/// The package version, e.g. `0.1.0`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The git commit it was built from (12 hex digits), or `unknown` outside a checkout.
pub const COMMIT: &str = env!("WEBCTP_GIT_COMMIT");

/// `0.1.0 (commit 1fede68c0a1b)`, for `--version` and the banners.
pub const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("WEBCTP_GIT_COMMIT"),
    ")"
);
