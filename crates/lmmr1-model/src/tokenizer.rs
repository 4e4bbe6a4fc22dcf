//! Tokenizer (`tokenizer.json` through the `tokenizers` crate, pure-Rust regex) and the
//! Qwen2-VL / Qwen2.5-VL chat template.
//!
//! The template, as in the released checkpoints: a default system turn when the first message
//! is not a system one, then `<|im_start|>{role}\n{content}<|im_end|>\n` per message, where an
//! image is `<|vision_start|><|image_pad|><|vision_end|>` (a video uses `<|video_pad|>`), and
//! `<|im_start|>assistant\n` as the generation prompt. [`expand_image_pads`] then repeats each
//! `<|image_pad|>` by its image's token count, as `Qwen2_5_VLProcessor` does.

use std::path::Path;

use crate::error::{input_err, Error, Result};

/// `<|image_pad|>`.
pub const IMAGE_PAD: &str = "<|image_pad|>";
/// `<|video_pad|>`.
pub const VIDEO_PAD: &str = "<|video_pad|>";
/// `<|vision_start|>`.
pub const VISION_START: &str = "<|vision_start|>";
/// `<|vision_end|>`.
pub const VISION_END: &str = "<|vision_end|>";
/// The default system prompt of the template.
pub const DEFAULT_SYSTEM: &str = "You are a helpful assistant.";

/// One part of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// Text.
    Text(String),
    /// An image placeholder.
    Image,
    /// A video placeholder.
    Video,
}

/// A chat turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// Its parts, in order.
    pub content: Vec<Content>,
}

impl Message {
    /// A text-only turn.
    pub fn text(role: &str, text: &str) -> Self {
        Self {
            role: role.to_string(),
            content: vec![Content::Text(text.to_string())],
        }
    }
}

/// Renders the Qwen2.5-VL chat template (without vision ids).
pub fn apply_chat_template(messages: &[Message], add_generation_prompt: bool) -> String {
    let mut s = String::new();
    for (i, m) in messages.iter().enumerate() {
        if i == 0 && m.role != "system" {
            s.push_str("<|im_start|>system\n");
            s.push_str(DEFAULT_SYSTEM);
            s.push_str("<|im_end|>\n");
        }
        s.push_str("<|im_start|>");
        s.push_str(&m.role);
        s.push('\n');
        for c in &m.content {
            match c {
                Content::Text(t) => s.push_str(t),
                Content::Image => {
                    s.push_str(VISION_START);
                    s.push_str(IMAGE_PAD);
                    s.push_str(VISION_END);
                }
                Content::Video => {
                    s.push_str(VISION_START);
                    s.push_str(VIDEO_PAD);
                    s.push_str(VISION_END);
                }
            }
        }
        s.push_str("<|im_end|>\n");
    }
    if add_generation_prompt {
        s.push_str("<|im_start|>assistant\n");
    }
    s
}

/// Repeats the `k`-th `<|image_pad|>` of `prompt` `tokens_per_image[k]` times; the number of
/// pads must equal the number of images.
pub fn expand_image_pads(prompt: &str, tokens_per_image: &[usize]) -> Result<String> {
    let parts: Vec<&str> = prompt.split(IMAGE_PAD).collect();
    if parts.len() - 1 != tokens_per_image.len() {
        return input_err(format!(
            "prompt has {} {IMAGE_PAD} but {} images were given",
            parts.len() - 1,
            tokens_per_image.len()
        ));
    }
    let mut s = String::from(parts[0]);
    for (n, rest) in tokens_per_image.iter().zip(&parts[1..]) {
        s.push_str(&IMAGE_PAD.repeat(*n));
        s.push_str(rest);
    }
    Ok(s)
}

/// A Hugging Face tokenizer.
#[derive(Clone)]
pub struct Tokenizer {
    inner: tokenizers::Tokenizer,
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokenizer")
            .field("vocab_size", &self.inner.get_vocab_size(true))
            .finish()
    }
}

fn tok_err(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Input(format!("tokenizer: {what}: {e}"))
}

impl Tokenizer {
    /// Loads a `tokenizer.json`.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let inner = tokenizers::Tokenizer::from_file(path).map_err(|e| Error::Json {
            path: path.to_path_buf(),
            msg: e.to_string(),
        })?;
        Ok(Self { inner })
    }

    /// Parses the contents of a `tokenizer.json`.
    pub fn from_json_str(json: &str) -> Result<Self> {
        let inner: tokenizers::Tokenizer = json.parse().map_err(|e| Error::Json {
            path: "<tokenizer.json string>".into(),
            msg: format!("{e}"),
        })?;
        Ok(Self { inner })
    }

    /// Ids of `text`; special tokens written in the text (`<|im_start|>` …) become their ids.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        Ok(self
            .inner
            .encode(text, false)
            .map_err(|e| tok_err("encode", e))?
            .get_ids()
            .to_vec())
    }

    /// Text of `ids`.
    pub fn decode(&self, ids: &[u32], skip_special_tokens: bool) -> Result<String> {
        self.inner
            .decode(ids, skip_special_tokens)
            .map_err(|e| tok_err("decode", e))
    }

    /// Id of a token string.
    pub fn token_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// Chat template + image-pad expansion + encoding: the prompt ids for `messages` with
    /// images of `tokens_per_image` LLM tokens each (see
    /// [`crate::processor::ProcessedImages::tokens_per_image`]).
    pub fn encode_chat(
        &self,
        messages: &[Message],
        tokens_per_image: &[usize],
        add_generation_prompt: bool,
    ) -> Result<Vec<u32>> {
        let p = apply_chat_template(messages, add_generation_prompt);
        self.encode(&expand_image_pads(&p, tokens_per_image)?)
    }
}
