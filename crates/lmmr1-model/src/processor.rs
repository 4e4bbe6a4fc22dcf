//! The Qwen2.5-VL image processor (transformers' `Qwen2VLImageProcessorPil`):
//! `smart_resize` to multiples of `patch·merge` (28) within `[min_pixels, max_pixels]`, bicubic
//! resize, rescale by 1/255, CLIP mean/std normalisation, duplication to `temporal_patch_size`
//! frames, and the patch order with 2×2 merge blocks.
//!
//! **Resize fidelity.** [`resize_bicubic`] re-implements Pillow's 8-bit two-pass resampler
//! (`Resample.c`: bicubic with `a = −0.5`, support scaled by the downscale factor, 22-bit
//! fixed-point coefficients, horizontal pass first, rounding and clamping to `u8` after each pass).
//! On the committed fixtures (up- and downscales, 20×30 to 300×220, odd sizes) it gives
//! **identical pixels**: `pixel_values` equal transformers' PIL backend exactly (max |Δ| = 0; the
//! `processor` tests assert ≤ 1e-5, well under one `u8` step ≈ 0.0146). transformers' torchvision backend resizes differently (up to 0.015 after
//! normalisation, assets.md §5); this module follows the PIL backend, which is the reference.

use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::error::{input_err, Error, Result};
use crate::rope::Grid;

/// An RGB image, `height × width × 3` bytes, row-major (HWC).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RgbImage {
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
    /// `height * width * 3` bytes.
    pub data: Vec<u8>,
}

impl RgbImage {
    /// Checks the buffer length.
    pub fn new(height: usize, width: usize, data: Vec<u8>) -> Result<Self> {
        if data.len() != height * width * 3 || height == 0 || width == 0 {
            return input_err(format!(
                "image buffer has {} bytes, expected {height}x{width}x3 (non-empty)",
                data.len()
            ));
        }
        Ok(Self {
            height,
            width,
            data,
        })
    }
}

fn d_min_pixels() -> usize {
    56 * 56
}
fn d_max_pixels() -> usize {
    28 * 28 * 1280
}
fn d_patch() -> usize {
    14
}
fn d_temporal() -> usize {
    2
}
fn d_merge() -> usize {
    2
}
fn d_mean() -> [f64; 3] {
    [0.48145466, 0.4578275, 0.40821073]
}
fn d_std() -> [f64; 3] {
    [0.26862954, 0.26130258, 0.27577711]
}
fn d_rescale() -> f64 {
    1.0 / 255.0
}

/// `preprocessor_config.json` (fields not listed are ignored; absent ones take the class
/// defaults of transformers).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageProcessor {
    /// Lower bound on `h·w` after resizing.
    #[serde(default = "d_min_pixels")]
    pub min_pixels: usize,
    /// Upper bound on `h·w` after resizing.
    #[serde(default = "d_max_pixels")]
    pub max_pixels: usize,
    /// Patch side.
    #[serde(default = "d_patch")]
    pub patch_size: usize,
    /// Frames per temporal patch.
    #[serde(default = "d_temporal")]
    pub temporal_patch_size: usize,
    /// Merge block side.
    #[serde(default = "d_merge")]
    pub merge_size: usize,
    /// Per-channel mean.
    #[serde(default = "d_mean")]
    pub image_mean: [f64; 3],
    /// Per-channel std.
    #[serde(default = "d_std")]
    pub image_std: [f64; 3],
    /// Usually 1/255.
    #[serde(default = "d_rescale")]
    pub rescale_factor: f64,
}

impl Default for ImageProcessor {
    fn default() -> Self {
        serde_json::from_str("{}").expect("defaults")
    }
}

/// Output of [`ImageProcessor::preprocess`].
#[derive(Debug, Clone)]
pub struct ProcessedImages {
    /// `(ΣN, C·T·P·P)` f32.
    pub pixel_values: Tensor,
    /// `[t, h, w]` in patches, per image.
    pub image_grid_thw: Vec<Grid>,
}

impl ProcessedImages {
    /// Number of `<|image_pad|>` tokens per image (`t·h·w / merge²`).
    pub fn tokens_per_image(&self, merge_size: usize) -> Vec<usize> {
        self.image_grid_thw
            .iter()
            .map(|g| g[0] * g[1] * g[2] / (merge_size * merge_size))
            .collect()
    }
}

/// Python's `round` (half to even) of a non-negative value.
fn round_half_even(x: f64) -> f64 {
    let r = x.round();
    if (x - x.trunc()).abs() == 0.5 && r % 2.0 != 0.0 {
        r - x.signum()
    } else {
        r
    }
}

/// transformers' `smart_resize`: the output `(height, width)`, multiples of `factor`.
pub fn smart_resize(
    height: usize,
    width: usize,
    factor: usize,
    min_pixels: usize,
    max_pixels: usize,
) -> Result<(usize, usize)> {
    if height == 0 || width == 0 {
        return input_err("image has a zero dimension");
    }
    let (h, w, f) = (height as f64, width as f64, factor as f64);
    if h.max(w) / h.min(w) > 200.0 {
        return input_err(format!(
            "absolute aspect ratio must be smaller than 200, got {}",
            h.max(w) / h.min(w)
        ));
    }
    let mut hb = round_half_even(h / f) * f;
    let mut wb = round_half_even(w / f) * f;
    if hb * wb > max_pixels as f64 {
        let beta = (h * w / max_pixels as f64).sqrt();
        hb = f.max((h / beta / f).floor() * f);
        wb = f.max((w / beta / f).floor() * f);
    } else if hb * wb < min_pixels as f64 {
        let beta = (min_pixels as f64 / (h * w)).sqrt();
        hb = (h * beta / f).ceil() * f;
        wb = (w * beta / f).ceil() * f;
    }
    Ok((hb as usize, wb as usize))
}

const PRECISION_BITS: u32 = 32 - 8 - 2;

fn bicubic(x: f64) -> f64 {
    let a = -0.5;
    let x = x.abs();
    if x < 1.0 {
        ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
    } else if x < 2.0 {
        (((x - 5.0) * x + 8.0) * x - 4.0) * a
    } else {
        0.0
    }
}

/// Pillow's `precompute_coeffs` + `normalize_coeffs_8bpc`: per output index, the first input
/// index and the fixed-point weights.
fn coeffs(in_size: usize, out_size: usize) -> Vec<(usize, Vec<i32>)> {
    let scale = in_size as f64 / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = 2.0 * filterscale;
    (0..out_size)
        .map(|xx| {
            let center = (xx as f64 + 0.5) * scale;
            let ss = 1.0 / filterscale;
            let xmin = ((center - support + 0.5) as i64).max(0) as usize;
            let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize;
            let n = xmax.saturating_sub(xmin);
            let mut k: Vec<f64> = (0..n)
                .map(|x| bicubic((x as f64 + xmin as f64 - center + 0.5) * ss))
                .collect();
            let ww: f64 = k.iter().sum();
            if ww != 0.0 {
                for v in &mut k {
                    *v /= ww;
                }
            }
            let one = (1u32 << PRECISION_BITS) as f64;
            let ki = k
                .iter()
                .map(|&v| {
                    if v < 0.0 {
                        (-0.5 + v * one) as i32
                    } else {
                        (0.5 + v * one) as i32
                    }
                })
                .collect();
            (xmin, ki)
        })
        .collect()
}

fn clip8(ss: i64) -> u8 {
    (ss >> PRECISION_BITS).clamp(0, 255) as u8
}

/// Bicubic resize of an RGB image, bit-identical to Pillow's `Image.resize(…, BICUBIC)` on
/// 8-bit images (see the module docs).
pub fn resize_bicubic(img: &RgbImage, out_h: usize, out_w: usize) -> RgbImage {
    if out_h == img.height && out_w == img.width {
        return img.clone();
    }
    let (h, w) = (img.height, img.width);
    let ch = coeffs(w, out_w);
    let cv = coeffs(h, out_h);
    let need_h = out_w != w;
    let need_v = out_h != h;
    let half = 1i64 << (PRECISION_BITS - 1);
    // Rows of the source actually used by the vertical pass.
    let y_first = cv.first().map(|c| c.0).unwrap_or(0);
    let y_last = cv.last().map(|c| c.0 + c.1.len()).unwrap_or(h);
    let (tmp, tmp_h, y_off) = if need_h {
        let rows = y_last - y_first;
        let mut t = vec![0u8; rows * out_w * 3];
        for y in 0..rows {
            let src = &img.data[(y + y_first) * w * 3..(y + y_first + 1) * w * 3];
            for (xx, (xmin, k)) in ch.iter().enumerate() {
                for c in 0..3 {
                    let mut ss = half;
                    for (x, &kv) in k.iter().enumerate() {
                        ss += src[(x + xmin) * 3 + c] as i64 * kv as i64;
                    }
                    t[(y * out_w + xx) * 3 + c] = clip8(ss);
                }
            }
        }
        (t, rows, y_first)
    } else {
        (img.data.clone(), h, 0)
    };
    if !need_v {
        return RgbImage {
            height: tmp_h,
            width: out_w,
            data: tmp,
        };
    }
    let mut out = vec![0u8; out_h * out_w * 3];
    for (yy, (ymin, k)) in cv.iter().enumerate() {
        let ymin = ymin - y_off;
        for x in 0..out_w {
            for c in 0..3 {
                let mut ss = half;
                for (y, &kv) in k.iter().enumerate() {
                    ss += tmp[((y + ymin) * out_w + x) * 3 + c] as i64 * kv as i64;
                }
                out[(yy * out_w + x) * 3 + c] = clip8(ss);
            }
        }
    }
    RgbImage {
        height: out_h,
        width: out_w,
        data: out,
    }
}

impl ImageProcessor {
    /// Reads `preprocessor_config.json`.
    pub fn from_file(path: impl AsRef<std::path::Path>) -> Result<Self> {
        let path = path.as_ref();
        let s = std::fs::read_to_string(path).map_err(|error| Error::Io {
            path: path.to_path_buf(),
            error,
        })?;
        let mut v: serde_json::Value = serde_json::from_str(&s).map_err(|e| Error::Json {
            path: path.to_path_buf(),
            msg: e.to_string(),
        })?;
        // transformers 5 writes `size {shortest_edge, longest_edge}` instead of min/max_pixels.
        if let Some(size) = v.get("size").cloned() {
            let o = v.as_object_mut().expect("object");
            if let Some(mn) = size.get("shortest_edge") {
                o.entry("min_pixels").or_insert(mn.clone());
            }
            if let Some(mx) = size.get("longest_edge") {
                o.entry("max_pixels").or_insert(mx.clone());
            }
        }
        serde_json::from_value(v).map_err(|e| Error::Json {
            path: path.to_path_buf(),
            msg: e.to_string(),
        })
    }

    /// The size an image is resized to.
    pub fn target_size(&self, height: usize, width: usize) -> Result<(usize, usize)> {
        smart_resize(
            height,
            width,
            self.patch_size * self.merge_size,
            self.min_pixels,
            self.max_pixels,
        )
    }

    /// Patches of one image: rows `(h/m, w/m, m, m)` merge-block order, columns `(C, T, P, P)`.
    pub fn patches(&self, img: &RgbImage) -> Result<(Vec<f32>, Grid)> {
        let (rh, rw) = self.target_size(img.height, img.width)?;
        let img = resize_bicubic(img, rh, rw);
        let (p, m, tp) = (self.patch_size, self.merge_size, self.temporal_patch_size);
        let (gh, gw) = (rh / p, rw / p);
        // Normalised channel planes, as f32 (rescale in f64 then cast, as numpy does).
        let mut norm = vec![0f32; 3 * rh * rw];
        for y in 0..rh {
            for x in 0..rw {
                for c in 0..3 {
                    let v = img.data[(y * rw + x) * 3 + c] as f64 * self.rescale_factor;
                    let v = v as f32;
                    norm[(c * rh + y) * rw + x] =
                        (v - self.image_mean[c] as f32) / self.image_std[c] as f32;
                }
            }
        }
        let dim = 3 * tp * p * p;
        let mut out = Vec::with_capacity(gh * gw * dim);
        for by in 0..gh / m {
            for bx in 0..gw / m {
                for iy in 0..m {
                    for ix in 0..m {
                        let (py0, px0) = ((by * m + iy) * p, (bx * m + ix) * p);
                        for c in 0..3 {
                            for _t in 0..tp {
                                for py in 0..p {
                                    let row = (c * rh + py0 + py) * rw + px0;
                                    out.extend_from_slice(&norm[row..row + p]);
                                }
                            }
                        }
                    }
                }
            }
        }
        Ok((out, [1, gh, gw]))
    }

    /// `pixel_values (ΣN, 1176)` and `image_grid_thw` for a list of images.
    pub fn preprocess(&self, images: &[RgbImage], device: &Device) -> Result<ProcessedImages> {
        let mut all = Vec::new();
        let mut grids = Vec::with_capacity(images.len());
        for img in images {
            let (v, g) = self.patches(img)?;
            all.extend(v);
            grids.push(g);
        }
        let dim = 3 * self.temporal_patch_size * self.patch_size * self.patch_size;
        let n = all.len() / dim;
        Ok(ProcessedImages {
            pixel_values: Tensor::from_vec(all, (n, dim), device)?,
            image_grid_thw: grids,
        })
    }
}
