//! The image processor against transformers' `Qwen2VLImageProcessorPil` outputs.

mod common;

use candle_core::Device;
use common::*;
use lmmr1_model::processor::{resize_bicubic, smart_resize, ImageProcessor, RgbImage};

fn img(key: &str) -> RgbImage {
    let t = get(key);
    let (h, w, _) = t.dims3().unwrap();
    let data = t.flatten_all().unwrap().to_vec1::<u8>().unwrap();
    RgbImage::new(h, w, data).unwrap()
}

fn check(proc: &ImageProcessor, images: &[RgbImage], pv_key: &str, grid_key: &str) -> f32 {
    let out = proc.preprocess(images, &Device::Cpu).unwrap();
    let want_grid: Vec<[usize; 3]> = ints(grid_key)
        .chunks(3)
        .map(|c| [c[0] as usize, c[1] as usize, c[2] as usize])
        .collect();
    assert_eq!(out.image_grid_thw, want_grid, "{grid_key}");
    max_abs_diff(&out.pixel_values, &get(pv_key))
}

#[test]
fn pixel_values_match_the_pil_processor() {
    let mut worst = 0f32;
    for name in ["p56", "p100x150", "p20x30", "p300x220", "p61x97"] {
        let mm = ints(&format!("proc.{name}.min_max_pixels"));
        let proc = ImageProcessor {
            min_pixels: mm[0] as usize,
            max_pixels: mm[1] as usize,
            ..ImageProcessor::default()
        };
        let d = check(
            &proc,
            &[img(&format!("proc.{name}.uint8_hwc"))],
            &format!("proc.{name}.pixel_values"),
            &format!("proc.{name}.image_grid_thw"),
        );
        eprintln!("{name}: max |Δpixel_values| = {d:.3e}");
        worst = worst.max(d);
    }
    // Several images of different sizes in one call (one resized).
    let proc = ImageProcessor {
        min_pixels: 3136,
        max_pixels: 1003520,
        ..ImageProcessor::default()
    };
    let d = check(
        &proc,
        &[
            img("images.img84x112.uint8_hwc"),
            img("images.img100x150.uint8_hwc"),
        ],
        "image_multi.pixel_values",
        "image_multi.image_grid_thw",
    );
    eprintln!("image_multi: max |Δpixel_values| = {d:.3e}");
    worst = worst.max(d);
    // One u8 step is 1/255/0.27 ≈ 0.0146 after normalisation: this bound means identical pixels.
    assert!(worst <= 1e-5, "{worst}");
}

#[test]
fn processed_image_gives_reference_logits() {
    let m = model("tiny");
    let proc = ImageProcessor::default();
    let out = proc
        .preprocess(&[img("images.img112x168.uint8_hwc")], &Device::Cpu)
        .unwrap();
    assert_eq!(out.tokens_per_image(2), vec![24]);
    let mut inp = inputs("image");
    inp.pixel_values = Some(out.pixel_values);
    inp.image_grid_thw = out.image_grid_thw;
    let d = max_diff_masked(
        &m.forward(&inp).unwrap(),
        &get("image.logits"),
        &inp.attention_mask,
    );
    assert!(d <= 1e-4, "{d}");
}

#[test]
fn smart_resize_cases() {
    assert_eq!(
        smart_resize(100, 150, 28, 3136, 1003520).unwrap(),
        (112, 140)
    );
    assert_eq!(
        smart_resize(448, 448, 28, 3136, 1003520).unwrap(),
        (448, 448)
    );
    // Python rounds half to even: 42/28 = 1.5 → 2, 70/28 = 2.5 → 2.
    assert_eq!(smart_resize(42, 70, 28, 0, 1 << 30).unwrap(), (56, 56));
    // Too small: scaled up to at least min_pixels.
    let (h, w) = smart_resize(20, 30, 28, 3136, 1003520).unwrap();
    assert!(h * w >= 3136 && h % 28 == 0 && w % 28 == 0);
    // Too large: scaled down below max_pixels.
    let (h, w) = smart_resize(4000, 3000, 28, 3136, 1003520).unwrap();
    assert!(h * w <= 1003520 && h % 28 == 0 && w % 28 == 0);
    assert!(smart_resize(10, 2500, 28, 3136, 1003520).is_err());
    assert!(smart_resize(0, 10, 28, 3136, 1003520).is_err());
    assert!(RgbImage::new(2, 2, vec![0; 11]).is_err());
}

#[test]
fn resize_identity_and_constant() {
    let im = RgbImage::new(3, 4, (0..36).map(|v| v as u8).collect()).unwrap();
    assert_eq!(resize_bicubic(&im, 3, 4), im);
    // A constant image stays constant (weights sum to one in fixed point).
    let c = RgbImage::new(30, 50, vec![77; 30 * 50 * 3]).unwrap();
    let r = resize_bicubic(&c, 56, 28);
    assert!(r.data.iter().all(|&v| v == 77));
}
