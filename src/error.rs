//! Typed errors of the library. Each message says what went wrong and, where the user can
//! fix it, how.

use std::path::PathBuf;

/// Everything that can go wrong while loading a model or extracting.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A model file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file that failed.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// `erx.json` is missing a field, has a wrong value, or disagrees with the ONNX graph.
    #[error("invalid model card {path}: {message}")]
    ModelCard {
        /// The model card's path.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// `model.onnx` does not match the sha256 recorded in its model card.
    #[error("{path} does not match the sha256 in erx.json (expected {expected}, found {found}); re-export the model or restore the file")]
    Checksum {
        /// The ONNX file.
        path: PathBuf,
        /// The sha256 the card records.
        expected: String,
        /// The sha256 of the file on disk.
        found: String,
    },
    /// The tokenizer could not be loaded or failed on the input.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// The ONNX Runtime shared library could not be loaded.
    #[error("cannot load ONNX Runtime from {path}: {message}\n  fix: run `scripts/setup-ort.sh` (or set ORT_DYLIB_PATH to a libonnxruntime.so of version 1.22 or newer)")]
    RuntimeMissing {
        /// Where the library was looked for.
        path: PathBuf,
        /// The loader's message.
        message: String,
    },
    /// The requested execution provider could not be used.
    #[error("execution provider {provider} is not usable: {message}")]
    Device {
        /// The provider that was asked for (e.g. `cuda`).
        provider: String,
        /// Why it failed.
        message: String,
    },
    /// ONNX Runtime failed to build a session or to run the model.
    #[error("ONNX Runtime: {0}")]
    Runtime(String),
    /// The model returned outputs of an unexpected shape.
    #[error("model output {name} has shape {shape:?}, expected {expected}")]
    OutputShape {
        /// Output name.
        name: String,
        /// The shape returned.
        shape: Vec<usize>,
        /// What the model card implies.
        expected: String,
    },
    /// An option is out of range.
    #[error("invalid option: {0}")]
    Options(String),
}

impl From<ort::Error> for Error {
    fn from(e: ort::Error) -> Self {
        Error::Runtime(e.to_string())
    }
}

/// Result with the library's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
