//! One prompt: chat turns (text and image parts), the gold answer and its source.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// An RGB image held in memory (a generated diagram, a rendered board or game frame).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Picture {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Row-major RGB bytes, `width · height · 3` of them (shared: cloning a sample is cheap).
    pub rgb: Arc<Vec<u8>>,
}

impl Picture {
    /// Wraps an [`image::RgbImage`].
    pub fn from_rgb_image(img: image::RgbImage) -> Self {
        let (width, height) = img.dimensions();
        Self {
            width,
            height,
            rgb: Arc::new(img.into_raw()),
        }
    }

    /// A copy as an [`image::RgbImage`].
    pub fn to_rgb_image(&self) -> image::RgbImage {
        image::RgbImage::from_raw(self.width, self.height, self.rgb.as_ref().clone())
            .unwrap_or_else(|| image::RgbImage::new(self.width, self.height))
    }

    /// Writes the picture as a PNG file.
    pub fn save_png(&self, path: &Path) -> crate::Result<()> {
        self.to_rgb_image()
            .save_with_format(path, image::ImageFormat::Png)
            .map_err(|e| crate::Error::Io {
                path: path.to_path_buf(),
                error: std::io::Error::other(e.to_string()),
            })
    }
}

/// One part of a chat turn.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Content {
    /// Text.
    Text(String),
    /// An image file. Paths from jsonl files are resolved when loading: a `file://` prefix is
    /// stripped and a relative path is taken relative to the jsonl file's directory.
    Image(PathBuf),
    /// An image in memory (generated tasks, environment frames); not serialisable.
    #[serde(skip)]
    Pixels(Picture),
}

/// A chat turn.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Turn {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// Its parts, in order.
    pub content: Vec<Content>,
}

impl Turn {
    /// A text-only turn.
    pub fn text(role: &str, text: &str) -> Self {
        Self {
            role: role.to_string(),
            content: vec![Content::Text(text.to_string())],
        }
    }

    /// The turn's text parts, concatenated.
    pub fn text_content(&self) -> String {
        self.content
            .iter()
            .filter_map(|c| match c {
                Content::Text(t) => Some(t.as_str()),
                Content::Image(_) | Content::Pixels(_) => None,
            })
            .collect()
    }
}

/// One prompt with its gold answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sample {
    /// The row's `id` (or `unique_id`), else `file:line`.
    pub id: String,
    /// The prompt turns (LMM-R1 rows usually start with their own system turn).
    pub messages: Vec<Turn>,
    /// The gold answer as written in the data (`$…$` optional: LMM-R1's reward wraps it).
    pub answer: String,
    /// The row's `datasource`, used for per-source metrics.
    pub datasource: Option<String>,
    /// Multiple-choice options in letter order (A, B, …), when the question has them
    /// (Geometry3K / GeoQA style); `answer` is then the letter or the value of the right one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<String>,
}

impl Sample {
    /// A single-user-turn text prompt.
    pub fn text(id: &str, question: &str, answer: &str) -> Self {
        Self {
            id: id.to_string(),
            messages: vec![Turn::text("user", question)],
            answer: answer.to_string(),
            datasource: None,
            choices: Vec::new(),
        }
    }

    /// The image paths of all turns, in order (in-memory pictures are not listed).
    pub fn images(&self) -> Vec<&Path> {
        self.messages
            .iter()
            .flat_map(|t| &t.content)
            .filter_map(|c| match c {
                Content::Image(p) => Some(p.as_path()),
                Content::Text(_) | Content::Pixels(_) => None,
            })
            .collect()
    }

    /// The image parts of all turns, in order (files and in-memory pictures).
    pub fn image_parts(&self) -> Vec<&Content> {
        self.messages
            .iter()
            .flat_map(|t| &t.content)
            .filter(|c| !matches!(c, Content::Text(_)))
            .collect()
    }

    /// Prepends a `system` turn holding `system`, unless the prompt already has a system turn.
    ///
    /// ```
    /// use lmmr1_tasks::{prompts, Sample};
    /// let s = Sample::text("q1", "What is 2+3?", "5").with_system(prompts::R1_MATH);
    /// assert_eq!(s.messages[0].role, "system");
    /// assert_eq!(s.clone().with_system("other").messages.len(), 2); // kept as is
    /// ```
    pub fn with_system(mut self, system: &str) -> Self {
        if !self.messages.iter().any(|t| t.role == "system") {
            self.messages.insert(0, Turn::text("system", system));
        }
        self
    }

    /// The question: the text parts of the user turns (turns joined by a newline).
    pub fn question_text(&self) -> String {
        self.messages
            .iter()
            .filter(|t| t.role == "user")
            .map(Turn::text_content)
            .collect::<Vec<_>>()
            .join("\n")
    }
}
