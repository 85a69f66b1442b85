//! ctp-codegen's one error type.

use std::path::PathBuf;

/// Why the bindings could not be generated, worded for whoever runs the generator.
#[derive(Debug, thiserror::Error)]
pub enum CodegenError {
    /// A header file cannot be read.
    #[error("cannot read the CTP header {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A header line the generator does not understand.
    #[error("{file} line {line}: {problem}: {text}")]
    Header {
        file: &'static str,
        line: usize,
        problem: String,
        /// The line as the header has it.
        text: String,
    },
    /// A class the bindings need is not in the headers.
    #[error("class {0} is not in the headers")]
    MissingClass(&'static str),
    /// rustfmt could not be run.
    #[error("cannot run rustfmt: {0}")]
    RustfmtRun(#[source] std::io::Error),
    /// rustfmt refused the generated text.
    #[error("rustfmt failed: {0}")]
    Rustfmt(String),
    /// bindgen could not read the headers.
    #[error("bindgen failed: {0}")]
    Bindgen(#[from] bindgen::BindgenError),
}
