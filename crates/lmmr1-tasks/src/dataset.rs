//! jsonl prompt datasets: LMM-R1's format (`shared/docs/method.md` §8.2) and plain
//! `{problem|question, answer[, image]}` rows, detected per row.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::rng::SplitMix64;
use crate::sample::{Content, Sample, Turn};

/// What to do with a malformed row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BadRows {
    /// Stop with an error naming `file:line` and the field (the default).
    #[default]
    Error,
    /// Skip the row and count it in [`Dataset::skipped`].
    Skip,
}

/// A list of prompts loaded from one source.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// The prompts, in file order (or shuffled by [`Dataset::split`]).
    pub samples: Vec<Sample>,
    /// Rows skipped as malformed ([`BadRows::Skip`]).
    pub skipped: usize,
    /// Where the samples come from (the file path, or a generator name).
    pub source: String,
}

/// A row-level problem: the field and what is wrong with it.
struct RowError {
    field: String,
    message: String,
}

fn bad<T>(
    field: impl Into<String>,
    message: impl Into<String>,
) -> std::result::Result<T, RowError> {
    Err(RowError {
        field: field.into(),
        message: message.into(),
    })
}

type RowResult<T> = std::result::Result<T, RowError>;

impl Dataset {
    /// A dataset from samples already in memory.
    pub fn new(source: impl Into<String>, samples: Vec<Sample>) -> Self {
        Self {
            samples,
            skipped: 0,
            source: source.into(),
        }
    }

    /// Loads a jsonl file. Each non-blank line is one of
    ///
    /// * an LMM-R1 row: `message` (a list of chat turns, or a JSON string holding one; a turn's
    ///   `content` is a string or a list of `{"type":"text","text":…}` and
    ///   `{"type":"image","image":"file://…"}` items), `answer`, optional `datasource`;
    /// * a plain row: `problem` or `question`, `answer`, optional `image` (a path or a list of
    ///   paths; the images come before the text), optional `datasource`.
    ///
    /// `answer` may be a string or a number; `id` (or `unique_id`) names the sample, else
    /// `file:line`. Image paths lose a `file://` prefix; relative ones are resolved against the
    /// jsonl file's directory (existence is not checked here). Other fields are ignored.
    ///
    /// A malformed row is an [`Error::Row`] naming the file, line and field, or is skipped and
    /// counted, as `bad_rows` says.
    pub fn from_jsonl(path: &Path, bad_rows: BadRows) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|error| Error::Io {
            path: path.to_path_buf(),
            error,
        })?;
        let base = path.parent().unwrap_or(Path::new(""));
        let file_name = path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut samples = Vec::new();
        let mut skipped = 0;
        for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
            let line = i + 1;
            let parsed = std::str::from_utf8(raw)
                .map_err(|e| RowError {
                    field: String::new(),
                    message: format!("not UTF-8: {e}"),
                })
                .and_then(|text| {
                    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
                    if text.trim().is_empty() {
                        return Ok(None);
                    }
                    parse_line(text, base, &format!("{file_name}:{line}")).map(Some)
                });
            match (parsed, bad_rows) {
                (Ok(Some(sample)), _) => samples.push(sample),
                (Ok(None), _) => {}
                (Err(_), BadRows::Skip) => skipped += 1,
                (Err(e), BadRows::Error) => {
                    return Err(Error::Row {
                        path: path.to_path_buf(),
                        line,
                        field: e.field,
                        message: e.message,
                    })
                }
            }
        }
        Ok(Self {
            samples,
            skipped,
            source: path.display().to_string(),
        })
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// `(train, held_out)`: the samples shuffled with `seed` (Fisher–Yates, SplitMix64), the
    /// first `min(held_out, len)` going to the held-out part. Same seed, same split.
    ///
    /// Rows are split, not questions: a dataset with repeated questions can have a question in
    /// both parts (see [`crate::generator::train_and_held_out`] for disjoint generated sets).
    pub fn split(self, held_out: usize, seed: u64) -> (Dataset, Dataset) {
        let Dataset {
            mut samples,
            skipped,
            source,
        } = self;
        SplitMix64::new(seed).shuffle(&mut samples);
        let train = samples.split_off(held_out.min(samples.len()));
        (
            Dataset {
                samples: train,
                skipped,
                source: source.clone(),
            },
            Dataset {
                samples,
                skipped: 0,
                source,
            },
        )
    }

    /// Applies [`Sample::with_system`] to every sample (rows with their own system turn keep it).
    pub fn with_system(mut self, system: &str) -> Self {
        self.samples = self
            .samples
            .into_iter()
            .map(|s| s.with_system(system))
            .collect();
        self
    }

    /// Drops the samples whose gold answer LMM-R1's reward cannot parse ([`gold_is_checkable`]):
    /// for those the reward gives accuracy 1 to every response, so they carry no signal.
    /// Returns how many were dropped.
    pub fn retain_checkable(&mut self) -> usize {
        let before = self.samples.len();
        self.samples.retain(|s| gold_is_checkable(&s.answer));
        before - self.samples.len()
    }
}

/// Whether `lmmr1_rewards::lmm_r1` can parse the gold answer (wrapped in `$…$` unless it
/// starts with `$`, LaTeX extraction, as [`lmmr1_rewards::lmm_r1::accuracy`] does).
///
/// ```
/// assert!(lmmr1_tasks::gold_is_checkable("\\frac{3}{4}"));
/// assert!(!lmmr1_tasks::gold_is_checkable(""));
/// ```
pub fn gold_is_checkable(answer: &str) -> bool {
    use lmmr1_rewards::{lmm_r1, math};
    let wrapped;
    let gold = if answer.starts_with('$') {
        answer
    } else {
        wrapped = format!("${answer}$");
        &wrapped
    };
    math::extract_with(gold, &lmm_r1::gold_config()).is_some()
}

fn parse_line(text: &str, base: &Path, default_id: &str) -> RowResult<Sample> {
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => return bad("", format!("not valid JSON: {e}")),
    };
    let Value::Object(row) = value else {
        return bad("", "expected a JSON object");
    };
    let messages = if let Some(m) = row.get("message") {
        parse_messages(m, base)?
    } else {
        parse_plain(&row, base)?
    };
    let answer = match row.get("answer") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(other) => {
            return bad(
                "answer",
                format!("expected a string or number, got {}", kind(other)),
            )
        }
        None => return bad("answer", "missing"),
    };
    let datasource = match row.get("datasource") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => {
            return bad(
                "datasource",
                format!("expected a string, got {}", kind(other)),
            )
        }
    };
    let id = match row.get("id").or_else(|| row.get("unique_id")) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => default_id.to_string(),
    };
    Ok(Sample {
        id,
        messages,
        answer,
        datasource,
        choices: Vec::new(),
    })
}

/// `{problem|question, answer[, image]}`.
fn parse_plain(row: &Map<String, Value>, base: &Path) -> RowResult<Vec<Turn>> {
    let (field, question) = match (row.get("problem"), row.get("question")) {
        (Some(q), _) => ("problem", q),
        (None, Some(q)) => ("question", q),
        (None, None) => {
            return bad(
                "message",
                "missing (a row needs `message`, `problem` or `question`)",
            )
        }
    };
    let Value::String(question) = question else {
        return bad(field, format!("expected a string, got {}", kind(question)));
    };
    let mut content = Vec::new();
    match row.get("image") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => content.push(Content::Image(resolve_image(s, base, "image")?)),
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let field = format!("image[{i}]");
                let Value::String(s) = item else {
                    return bad(field, format!("expected a path string, got {}", kind(item)));
                };
                content.push(Content::Image(resolve_image(s, base, &field)?));
            }
        }
        Some(other) => {
            return bad(
                "image",
                format!("expected a path or a list of paths, got {}", kind(other)),
            )
        }
    }
    content.push(Content::Text(question.clone()));
    Ok(vec![Turn {
        role: "user".to_string(),
        content,
    }])
}

/// LMM-R1's `message`: a list of `{role, content}` turns, or a JSON string holding one.
fn parse_messages(message: &Value, base: &Path) -> RowResult<Vec<Turn>> {
    let decoded;
    let list = match message {
        Value::String(s) => {
            decoded = serde_json::from_str::<Value>(s)
                .or_else(|e| bad("message", format!("string is not JSON: {e}")))?;
            &decoded
        }
        other => other,
    };
    let Value::Array(turns) = list else {
        return bad(
            "message",
            format!("expected a list of turns, got {}", kind(list)),
        );
    };
    if turns.is_empty() {
        return bad("message", "no turns");
    }
    turns
        .iter()
        .enumerate()
        .map(|(i, t)| parse_turn(t, base, &format!("message[{i}]")))
        .collect()
}

fn parse_turn(turn: &Value, base: &Path, at: &str) -> RowResult<Turn> {
    let Value::Object(turn) = turn else {
        return bad(at, format!("expected a turn object, got {}", kind(turn)));
    };
    let role = match turn.get("role") {
        Some(Value::String(r)) if !r.is_empty() => r.clone(),
        Some(other) => {
            return bad(
                format!("{at}.role"),
                format!("expected a role string, got {}", kind(other)),
            )
        }
        None => return bad(format!("{at}.role"), "missing"),
    };
    let content = match turn.get("content") {
        Some(Value::String(s)) => vec![Content::Text(s.clone())],
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(j, item)| parse_item(item, base, &format!("{at}.content[{j}]")))
            .collect::<RowResult<_>>()?,
        Some(other) => {
            return bad(
                format!("{at}.content"),
                format!("expected a string or a list of items, got {}", kind(other)),
            )
        }
        None => return bad(format!("{at}.content"), "missing"),
    };
    Ok(Turn { role, content })
}

/// `{"type":"text","text":…}` or `{"type":"image","image":…}` (also `image_url`, as
/// `qwen_vl_utils` accepts; `type` may be left out when the key says it).
fn parse_item(item: &Value, base: &Path, at: &str) -> RowResult<Content> {
    let Value::Object(item) = item else {
        return bad(
            at,
            format!("expected a content item object, got {}", kind(item)),
        );
    };
    let ty = match item.get("type") {
        Some(Value::String(t)) => t.as_str(),
        Some(other) => {
            return bad(
                format!("{at}.type"),
                format!("expected a string, got {}", kind(other)),
            )
        }
        None if item.contains_key("text") => "text",
        None if item.contains_key("image") => "image",
        None if item.contains_key("image_url") => "image_url",
        None => return bad(format!("{at}.type"), "missing"),
    };
    match ty {
        "text" => match item.get("text") {
            Some(Value::String(t)) => Ok(Content::Text(t.clone())),
            Some(other) => bad(
                format!("{at}.text"),
                format!("expected a string, got {}", kind(other)),
            ),
            None => bad(format!("{at}.text"), "missing"),
        },
        "image" | "image_url" => {
            let key = if item.contains_key("image") {
                "image"
            } else {
                "image_url"
            };
            let field = format!("{at}.{key}");
            let raw = match item.get(key) {
                Some(Value::String(s)) => s.as_str(),
                Some(Value::Object(o)) => match o.get("url") {
                    Some(Value::String(s)) => s.as_str(),
                    _ => return bad(format!("{field}.url"), "expected a string"),
                },
                Some(other) => {
                    return bad(
                        field,
                        format!("expected a path string, got {}", kind(other)),
                    )
                }
                None => return bad(field, "missing"),
            };
            Ok(Content::Image(resolve_image(raw, base, &field)?))
        }
        other => bad(
            format!("{at}.type"),
            format!("unsupported content type `{other}` (text and image are)"),
        ),
    }
}

/// Strips `file://`; a relative path is joined to `base` (the jsonl file's directory).
fn resolve_image(raw: &str, base: &Path, field: &str) -> RowResult<PathBuf> {
    let path = raw.strip_prefix("file://").unwrap_or(raw);
    if path.is_empty() {
        return bad(field, "empty image path");
    }
    if ["http://", "https://", "data:"]
        .iter()
        .any(|p| path.starts_with(p))
    {
        return bad(
            field,
            "only local image files are supported (no URLs or inline data)",
        );
    }
    let path = Path::new(path);
    Ok(if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    })
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}
