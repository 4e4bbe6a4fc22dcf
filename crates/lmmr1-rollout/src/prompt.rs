//! Prompts: a task sample through the Qwen2.5-VL chat template into token ids and image patches.

use candle_core::{Device, Tensor};
use lmmr1_model::processor::{ImageProcessor, RgbImage};
use lmmr1_model::rope::Grid;
use lmmr1_model::tokenizer::{Content as ChatContent, Message, Tokenizer};
use lmmr1_tasks::{Content, Sample};

use crate::{Error, Result};

/// One encoded prompt (ends with `<|im_start|>assistant\n`).
#[derive(Debug, Clone)]
pub struct EncodedPrompt {
    /// Token ids.
    pub ids: Vec<u32>,
    /// `(N, patch_dim)` patches of the prompt's images, in order.
    pub pixel_values: Option<Tensor>,
    /// One grid per image.
    pub grids: Vec<Grid>,
}

/// Renders samples with the chat template and encodes them.
#[derive(Debug, Clone)]
pub struct PromptEncoder {
    /// The tokenizer.
    pub tokenizer: Tokenizer,
    /// The image processor (`min_pixels` / `max_pixels` as configured).
    pub processor: ImageProcessor,
    /// The vision merge size (tokens per image = patches / merge²).
    pub merge_size: usize,
    /// Prompts longer than this are an error (LMM-R1: `prompt_max_len`).
    pub max_prompt_len: usize,
    /// Where image patches are put.
    pub device: Device,
}

/// Decodes an image file into RGB.
pub fn load_image(path: &std::path::Path) -> Result<RgbImage> {
    let img = image::open(path).map_err(|e| Error::Image {
        path: path.to_path_buf(),
        msg: e.to_string(),
    })?;
    let rgb = img.to_rgb8();
    let (w, h) = rgb.dimensions();
    Ok(RgbImage::new(h as usize, w as usize, rgb.into_raw())?)
}

impl PromptEncoder {
    /// The chat messages of a sample (images become placeholders).
    pub fn messages(sample: &Sample) -> Vec<Message> {
        sample
            .messages
            .iter()
            .map(|t| Message {
                role: t.role.clone(),
                content: t
                    .content
                    .iter()
                    .map(|c| match c {
                        Content::Text(s) => ChatContent::Text(s.clone()),
                        Content::Image(_) | Content::Pixels(_) => ChatContent::Image,
                    })
                    .collect(),
            })
            .collect()
    }

    /// Encodes one sample: template, image patches, `<|image_pad|>` expansion, ids.
    pub fn encode(&self, sample: &Sample) -> Result<EncodedPrompt> {
        let parts = sample.image_parts();
        let (pixel_values, grids, per_image) = if parts.is_empty() {
            (None, Vec::new(), Vec::new())
        } else {
            // Each image is read and size-checked alone, so that an error names it and its row.
            let imgs = parts
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let img = match c {
                        Content::Image(p) => load_image(p),
                        Content::Pixels(p) => Ok(RgbImage::new(
                            p.height as usize,
                            p.width as usize,
                            p.rgb.as_ref().clone(),
                        )?),
                        Content::Text(_) => Err(Error::Input("image_parts returned text".into())),
                    };
                    let img = img.and_then(|img| {
                        self.processor.target_size(img.height, img.width)?;
                        Ok(img)
                    });
                    img.map_err(|e| {
                        let what = match (c, e) {
                            (Content::Image(_), Error::Image { msg, .. }) => msg,
                            (_, e) => e.to_string(),
                        };
                        let image = match c {
                            Content::Image(p) => p.display().to_string(),
                            _ => format!("#{} (pixels in memory)", i + 1),
                        };
                        Error::Input(format!("sample {}: image {image}: {what}", sample.id))
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            let processed = self.processor.preprocess(&imgs, &self.device)?;
            let per = processed.tokens_per_image(self.merge_size);
            (Some(processed.pixel_values), processed.image_grid_thw, per)
        };
        let ids = self
            .tokenizer
            .encode_chat(&Self::messages(sample), &per_image, true)?;
        if ids.len() > self.max_prompt_len {
            return Err(Error::Input(format!(
                "sample {}: prompt has {} tokens, more than max_prompt_len {}",
                sample.id,
                ids.len(),
                self.max_prompt_len
            )));
        }
        Ok(EncodedPrompt {
            ids,
            pixel_values,
            grids,
        })
    }
}
