//! The one error type of the input side. Every variant names the file; most name a line
//! (and column where known) or a field path, what was found and what was expected.

use suandian_core::ModelError;

/// Something wrong with an input file. `Display` gives a one-line message that starts with
/// the file, e.g. `scenario.toml: line 12: sites[1].battery.soc_min: found 1.5, expected a
/// fraction 0..=1`.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The file could not be opened or read.
    #[error("{file}: cannot read the file: {message}")]
    Io { file: String, message: String },
    /// The file is not well-formed TOML / CSV / JSON, or has an unknown or missing key.
    #[error("{file}: {}{message}", at(*.line, *.column))]
    Syntax {
        file: String,
        line: Option<usize>,
        column: Option<usize>,
        message: String,
    },
    /// A value is out of range or of the wrong kind.
    #[error("{file}: {}{field}: found {found}, expected {expected}", at(*.line, None))]
    Value {
        file: String,
        line: Option<usize>,
        field: String,
        found: String,
        expected: String,
    },
    /// The data as a whole is unusable (repeated timestamps, gaps, too short a series...).
    #[error("{file}: {}{message}", at(*.line, None))]
    Data {
        file: String,
        line: Option<usize>,
        message: String,
    },
    /// The resolved scenario broke an invariant of the core model.
    #[error("{file}: {source}")]
    Model { file: String, source: ModelError },
}

fn at(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!("line {l}, column {c}: "),
        (Some(l), None) => format!("line {l}: "),
        _ => String::new(),
    }
}

impl InputError {
    /// The file the error is about.
    pub fn file(&self) -> &str {
        match self {
            InputError::Io { file, .. }
            | InputError::Syntax { file, .. }
            | InputError::Value { file, .. }
            | InputError::Data { file, .. }
            | InputError::Model { file, .. } => file,
        }
    }

    /// The 1-based line the error is about, where known.
    pub fn line(&self) -> Option<usize> {
        match self {
            InputError::Syntax { line, .. }
            | InputError::Value { line, .. }
            | InputError::Data { line, .. } => *line,
            _ => None,
        }
    }

    pub(crate) fn io(file: impl Into<String>, e: impl std::fmt::Display) -> Self {
        InputError::Io {
            file: file.into(),
            message: e.to_string(),
        }
    }

    /// A value out of range or of the wrong kind (the readers of other crates, GAIA's formats
    /// in `suandian-gaia`, build theirs with it too).
    pub fn value(
        file: impl Into<String>,
        line: Option<usize>,
        field: impl Into<String>,
        found: impl std::fmt::Display,
        expected: impl Into<String>,
    ) -> Self {
        InputError::Value {
            file: file.into(),
            line,
            field: field.into(),
            found: found.to_string(),
            expected: expected.into(),
        }
    }

    /// Data unusable as a whole.
    pub fn data(file: impl Into<String>, line: Option<usize>, message: impl Into<String>) -> Self {
        InputError::Data {
            file: file.into(),
            line,
            message: message.into(),
        }
    }

    pub(crate) fn syntax(
        file: impl Into<String>,
        line: Option<usize>,
        column: Option<usize>,
        message: impl Into<String>,
    ) -> Self {
        InputError::Syntax {
            file: file.into(),
            line,
            column,
            message: message.into(),
        }
    }
}
