//! Errors of this crate. Every variant names the file, field or tensor at fault.

use std::path::PathBuf;

/// Errors from loading, preprocessing and running the model.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        error: std::io::Error,
    },
    /// `config.json` (or another JSON file) is malformed or misses a required field.
    #[error("{path}: {msg}")]
    Json {
        /// The file (or `<string>`).
        path: PathBuf,
        /// What is wrong; serde's message names the missing field.
        msg: String,
    },
    /// Tensors the architecture needs are absent from the checkpoint.
    #[error("checkpoint {dir}: {} missing tensors: {}", names.len(), some(names))]
    MissingTensors {
        /// The checkpoint directory.
        dir: PathBuf,
        /// The missing (normalised) names.
        names: Vec<String>,
    },
    /// Tensors in the checkpoint that the architecture does not use.
    #[error("checkpoint {dir}: {} unexpected tensors: {}", names.len(), some(names))]
    ExtraTensors {
        /// The checkpoint directory.
        dir: PathBuf,
        /// The unexpected names, as stored.
        names: Vec<String>,
    },
    /// A tensor has the wrong shape.
    #[error("tensor {name}: expected shape {expected:?}, found {found:?}")]
    Shape {
        /// The tensor name.
        name: String,
        /// The shape the config implies.
        expected: Vec<usize>,
        /// The shape found.
        found: Vec<usize>,
    },
    /// Bad model inputs (shapes, image-token counts, ids).
    #[error("invalid input: {0}")]
    Input(String),
    /// Optimizer state that does not fit the optimized variables (missing, unexpected or
    /// misshapen tensors, duplicate names).
    #[error("optimizer state: {0}")]
    OptimState(String),
    /// A training checkpoint (or exported model directory) that cannot be written or read.
    #[error("checkpoint {path}: {msg}")]
    Checkpoint {
        /// The file or directory at fault.
        path: PathBuf,
        /// What is wrong.
        msg: String,
    },
    /// A safetensors file that cannot be read: missing, not safetensors, truncated or damaged.
    #[error("{path}: {msg}")]
    Tensors {
        /// The file.
        path: PathBuf,
        /// What is wrong, in words.
        msg: String,
    },
    /// An error from candle.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

/// Result with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

pub(crate) fn input_err<T>(msg: impl Into<String>) -> Result<T> {
    Err(Error::Input(msg.into()))
}

/// The first few names of a list, and how many more (an error stays one readable line).
fn some(names: &[String]) -> String {
    const SHOWN: usize = 5;
    let head = names[..names.len().min(SHOWN)].join(", ");
    match names.len().saturating_sub(SHOWN) {
        0 => head,
        more => format!("{head} and {more} more"),
    }
}
