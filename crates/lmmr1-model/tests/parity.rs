//! Parity with transformers 5.24 on the committed tiny checkpoints
//! (`tools/qwen25vl_fixtures.py`): positions, vision embeddings, logits (≤ 1e-4 at non-pad
//! positions).

mod common;

use common::*;
use lmmr1_model::rope::get_rope_index;
use lmmr1_model::vision::window_index;

const TOL: f32 = 1e-4;

fn check_logits(model_name: &str, case: &str) -> f32 {
    let m = model(model_name);
    let inp = inputs(case);
    let logits = m.forward(&inp).unwrap();
    let d = max_diff_masked(
        &logits,
        &get(&format!("{case}.logits")),
        &inp.attention_mask,
    );
    eprintln!("{case}: max |Δlogits| = {d:.3e}");
    assert!(d <= TOL, "{case}: max |Δlogits| = {d}");
    d
}

#[test]
fn text_logits() {
    check_logits("tiny", "text");
}

#[test]
fn text_leftpad_logits() {
    check_logits("tiny", "text_leftpad");
}

#[test]
fn tied_text_logits() {
    check_logits("tiny_tied", "tied_text");
}

#[test]
fn image_logits() {
    check_logits("tiny", "image");
}

#[test]
fn image_multi_logits() {
    check_logits("tiny", "image_multi");
}

#[test]
fn image_batch_logits() {
    check_logits("tiny", "image_batch");
}

#[test]
fn position_ids_match_at_real_tokens() {
    let m = model("tiny");
    for case in [
        "text",
        "text_leftpad",
        "image",
        "image_multi",
        "image_batch",
    ] {
        let inp = inputs(case);
        let idx = get_rope_index(
            &m.cfg,
            &inp.input_ids,
            &inp.attention_mask,
            inp.batch,
            &inp.image_grid_thw,
            &[],
            None,
        )
        .unwrap();
        let want = ints(&format!("{case}.position_ids"));
        let n = inp.batch * inp.seq_len;
        for s in 0..3 {
            for p in 0..n {
                if inp.attention_mask[p] != 0 {
                    assert_eq!(idx.pos[s][p], want[s * n + p], "{case} stream {s} pos {p}");
                }
            }
        }
    }
}

#[test]
fn vision_window_index_and_embeddings() {
    let m = model("tiny");
    for case in ["image", "image_multi", "image_batch"] {
        let inp = inputs(case);
        let (widx, cu) = window_index(&m.cfg.vision_config, &inp.image_grid_thw);
        let want: Vec<usize> = ints(&format!("{case}.vision.window_index"))
            .iter()
            .map(|&v| v as usize)
            .collect();
        assert_eq!(widx, want, "{case} window_index");
        let want: Vec<usize> = ints(&format!("{case}.vision.cu_window_seqlens"))
            .iter()
            .map(|&v| v as usize)
            .collect();
        assert_eq!(cu, want, "{case} cu_window_seqlens");
        let emb = m
            .vision
            .forward(
                inp.pixel_values.as_ref().unwrap(),
                &inp.image_grid_thw,
                m.mode,
            )
            .unwrap();
        let d = max_abs_diff(&emb, &get(&format!("{case}.vision.image_embeds")));
        eprintln!("{case}: max |Δimage_embeds| = {d:.3e}");
        assert!(d <= TOL, "{case}: image embeds differ by {d}");
    }
}

#[test]
fn video_and_image_logits_and_positions() {
    let m = model("tiny");
    let g = ints("video.video_grid_thw");
    let spg: Vec<f64> = get("video.second_per_grid_ts")
        .to_vec1::<f32>()
        .unwrap()
        .iter()
        .map(|&v| v as f64)
        .collect();
    let inp = inputs("video")
        .with_videos(
            get("video.pixel_values_videos"),
            vec![[g[0] as usize, g[1] as usize, g[2] as usize]],
            spg,
        )
        .unwrap();
    let idx = m.rope_index(&inp).unwrap();
    let want = ints("video.position_ids");
    let n = inp.seq_len;
    for s in 0..3 {
        assert_eq!(idx.pos[s], want[s * n..(s + 1) * n].to_vec(), "stream {s}");
    }
    let emb = m
        .vision
        .forward(
            inp.pixel_values_videos.as_ref().unwrap(),
            &inp.video_grid_thw,
            m.mode,
        )
        .unwrap();
    let d = max_abs_diff(&emb, &get("video.vision.video_embeds"));
    assert!(d <= TOL, "video embeds: {d}");
    let logits = m.forward(&inp).unwrap();
    let d = max_diff_masked(&logits, &get("video.logits"), &inp.attention_mask);
    eprintln!("video: max |Δlogits| = {d:.3e}");
    assert!(d <= TOL, "video: {d}");
    // Video tokens without video inputs are an error.
    let e = m.forward(&inputs("video")).unwrap_err().to_string();
    assert!(e.contains("video"), "{e}");
}

/// bf16 and f16 compute (weights and activations in the half type; RMSNorm and softmax in f32)
/// against the f32 reference logits, natively and on the portable path: within the stated
/// tolerance.
#[test]
fn bf16_logits_within_tolerance_of_f32() {
    use candle_core::{DType, Device};
    use lmmr1_model::kernels::KernelSettings;
    // Measured: bf16 max |Δ| 0.035 (text) to 0.085 (image) on these cases, natively and
    // portably; f16 (3 more mantissa bits) 0.004 (text) to 0.010 (image).
    const BF16_TOL: f32 = 0.15;
    for (dtype, tol) in [(DType::BF16, BF16_TOL), (DType::F16, BF16_TOL / 8.0)] {
        for portable in [false, true] {
            let settings = KernelSettings {
                portable,
                check_gpu_layout: portable,
            };
            settings.scope(|| {
                let m = lmmr1_model::Qwen25VL::load(fixtures().join("tiny"), dtype, &Device::Cpu)
                    .unwrap();
                for case in ["text", "text_leftpad", "image", "image_batch"] {
                    let inp = inputs(case);
                    let logits = m.forward(&inp).unwrap().to_dtype(DType::F32).unwrap();
                    let d = max_diff_masked(
                        &logits,
                        &get(&format!("{case}.logits")),
                        &inp.attention_mask,
                    );
                    eprintln!("{dtype:?} {case} (portable {portable}): max |Δlogits| = {d:.3e}");
                    assert!(d <= tol, "{dtype:?} {case}: {d}");
                }
            });
        }
    }
}
