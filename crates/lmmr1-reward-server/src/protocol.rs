//! OpenRLHF's remote reward protocol: the request (`query`, `prompts`, `labels`), how the response
//! is found inside a query, and the `--dataset` map from prompts to labels for clients that
//! send none (LMM-R1's older protocol).

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;

use crate::Error;

/// The body of `POST /get_reward`. OpenRLHF's client (`openrlhf/utils/remote_rm_utils.py`)
/// posts `{"query": [...], "prompts": [...], "labels": [...]}`; LMM-R1's math verifier
/// (`openrlhf/models/remote_rm/math_verifier.py`) receives `{"query": [...], "prompts": [...]}`
/// and looks the answers up by prompt. Unknown fields are ignored.
#[derive(Debug, Clone, Deserialize)]
pub struct RewardRequest {
    /// Prompt + response of each sample, decoded with special tokens kept.
    pub query: Vec<String>,
    /// The prompt of each sample (stripped from its query), or the problem text.
    #[serde(default)]
    pub prompts: Option<Vec<Option<String>>>,
    /// The gold label of each sample (an answer, or a Sokoban level in XSB text).
    #[serde(default)]
    pub labels: Option<Vec<Option<serde_json::Value>>>,
}

/// How to find the response in a query when its prompt is not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PromptTemplate {
    /// Chat-ML (`<|im_start|>assistant\n` opens the response); Qwen2/2.5(-VL) use it.
    Chatml,
    /// Qwen2's template: the same markers as Chat-ML.
    Qwen2,
    /// The whole query is the response.
    None,
}

/// The end-of-turn and padding tokens removed from the end of a response.
pub const END_TOKENS: [&str; 4] = [
    "<|im_end|>",
    "<|endoftext|>",
    "<\u{ff5c}end\u{2581}of\u{2581}sentence\u{ff5c}>",
    "<end_of_turn>",
];

const ASSISTANT: &str = "<|im_start|>assistant\n";
const USER: &str = "<|im_start|>user\n";

/// The response inside `query`: the query minus its `prompt` when it starts with it, else
/// what follows the template's last assistant marker; then trailing end-of-turn tokens, padding
/// and whitespace removed.
pub fn response_of<'a>(query: &'a str, prompt: Option<&str>, template: PromptTemplate) -> &'a str {
    let mut r = match prompt
        .filter(|p| !p.is_empty())
        .and_then(|p| query.strip_prefix(p))
    {
        Some(rest) => rest,
        None => match template {
            PromptTemplate::Chatml | PromptTemplate::Qwen2 => query
                .rfind(ASSISTANT)
                .map_or(query, |i| &query[i + ASSISTANT.len()..]),
            PromptTemplate::None => query,
        },
    };
    loop {
        let trimmed = r.trim_end();
        match END_TOKENS.iter().find_map(|t| trimmed.strip_suffix(t)) {
            Some(shorter) => r = shorter,
            None => return trimmed.trim_start(),
        }
    }
}

/// The problem text of a Chat-ML query (its last user turn), to look a label up by.
pub fn problem_of(query: &str) -> Option<&str> {
    let start = query.rfind(USER)? + USER.len();
    let rest = &query[start..];
    Some(
        rest.find("<|im_end|>")
            .map_or(rest, |end| &rest[..end])
            .trim(),
    )
}

/// Prompt → label, read from jsonl or json datasets (`--dataset a.jsonl,b.json`).
pub fn load_labels(
    paths: &str,
    input_key: &str,
    label_key: &str,
) -> Result<HashMap<String, String>, Error> {
    let mut map = HashMap::new();
    for path in paths.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let bad = |msg: String| Error::Dataset(format!("{path}: {msg}"));
        let text = std::fs::read_to_string(Path::new(path)).map_err(|e| bad(e.to_string()))?;
        let rows: Vec<(usize, serde_json::Value)> = if path.ends_with(".json") {
            let all: Vec<serde_json::Value> =
                serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
            all.into_iter()
                .enumerate()
                .map(|(i, v)| (i + 1, v))
                .collect()
        } else {
            let mut rows = Vec::new();
            for (i, line) in text
                .lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty())
            {
                let v =
                    serde_json::from_str(line).map_err(|e| bad(format!("line {}: {e}", i + 1)))?;
                rows.push((i + 1, v));
            }
            rows
        };
        for (n, row) in rows {
            let field = |k: &str| -> Result<String, Error> {
                row.get(k)
                    .and_then(label_text)
                    .ok_or_else(|| bad(format!("row {n}: no string field `{k}`")))
            };
            map.insert(field(input_key)?, field(label_key)?);
        }
    }
    Ok(map)
}

/// A label as text: strings as they are, numbers printed.
pub fn label_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_response_is_found_with_or_without_its_prompt() {
        let prompt = "<|im_start|>user\nWhat is 1+1?<|im_end|>\n<|im_start|>assistant\n";
        let query = format!(
            "{prompt}<think>1+1</think><answer>2</answer><|im_end|><|endoftext|><|endoftext|>"
        );
        let want = "<think>1+1</think><answer>2</answer>";
        assert_eq!(
            response_of(&query, Some(prompt), PromptTemplate::None),
            want
        );
        assert_eq!(response_of(&query, None, PromptTemplate::Chatml), want);
        assert_eq!(
            response_of(&query, Some("other"), PromptTemplate::Qwen2),
            want
        );
        assert_eq!(
            response_of("<answer>2</answer> \n", None, PromptTemplate::None),
            "<answer>2</answer>"
        );
        assert_eq!(problem_of(&query), Some("What is 1+1?"));
    }
}
