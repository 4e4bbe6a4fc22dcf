//! The crate's error type.

use std::path::PathBuf;

/// Errors from loading, mixing and generating prompt data.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read.
    #[error("{}: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        error: std::io::Error,
    },
    /// A dataset row is malformed: `file:line: field `f`: what is wrong` (no field part when
    /// the line as a whole is wrong, e.g. not JSON).
    #[error("{}:{line}: {}{message}", path.display(), field_prefix(field))]
    Row {
        /// The jsonl file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The offending field, as a path such as `message[1].content[0].image`; empty when
        /// the line as a whole is wrong.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// An invalid argument (mixture weights, difficulty mix, saved position).
    #[error("{0}")]
    Invalid(String),
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

fn field_prefix(field: &str) -> String {
    if field.is_empty() {
        String::new()
    } else {
        format!("field `{field}`: ")
    }
}
