//! Generation with the KV cache against transformers' greedy continuations (full re-forward).

mod common;

use common::*;
use lmmr1_model::generate::{generate, SamplingParams};
use lmmr1_model::rng::Rng;
use lmmr1_model::sampling::sample_row;

fn greedy(model_name: &str, case: &str) {
    let m = model(model_name);
    let inp = inputs(case);
    let want = ints(&format!("{case}.greedy"));
    let n = want.len() / inp.batch;
    let g = generate(
        &m,
        &inp,
        &SamplingParams {
            max_new_tokens: n,
            ..SamplingParams::default()
        },
    )
    .unwrap();
    for r in 0..inp.batch {
        let w: Vec<u32> = want[r * n..(r + 1) * n].iter().map(|&v| v as u32).collect();
        assert_eq!(g.tokens[r], w, "{case} row {r}");
        assert!(g.logprobs[r].iter().all(|&l| l <= 0.0 && l.is_finite()));
    }
}

#[test]
fn greedy_text() {
    greedy("tiny", "text");
}

#[test]
fn greedy_text_leftpad() {
    greedy("tiny", "text_leftpad");
}

#[test]
fn greedy_tied() {
    greedy("tiny_tied", "tied_text");
}

#[test]
fn greedy_image() {
    greedy("tiny", "image");
}

#[test]
fn greedy_image_multi() {
    greedy("tiny", "image_multi");
}

#[test]
fn greedy_image_batch() {
    greedy("tiny", "image_batch");
}

#[test]
fn first_logprob_equals_log_softmax_of_reference() {
    let m = model("tiny");
    let inp = inputs("text");
    let g = generate(
        &m,
        &inp,
        &SamplingParams {
            max_new_tokens: 1,
            ..Default::default()
        },
    )
    .unwrap();
    let logits = get("text.logits");
    let last = logits
        .get(0)
        .unwrap()
        .get(15)
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    let mx = last.iter().copied().fold(f32::MIN, f32::max);
    let lse = last
        .iter()
        .map(|&v| ((v - mx) as f64).exp())
        .sum::<f64>()
        .ln() as f32
        + mx;
    let tok = g.tokens[0][0] as usize;
    assert!((g.logprobs[0][0] - (last[tok] - lse)).abs() < 1e-4);
}

#[test]
fn sampling_is_seeded_and_stops() {
    let m = model("tiny");
    let inp = inputs("text_leftpad");
    let p = SamplingParams {
        temperature: 1.0,
        top_p: 0.9,
        top_k: 50,
        seed: 7,
        max_new_tokens: 12,
        stop_tokens: vec![],
        pad_token: 1005,
        suppress_tokens: vec![],
    };
    let a = generate(&m, &inp, &p).unwrap();
    let b = generate(&m, &inp, &p).unwrap();
    assert_eq!(a, b);
    assert!(a.tokens.iter().all(|t| t.len() == 12));
    let c = generate(
        &m,
        &inp,
        &SamplingParams {
            seed: 8,
            ..p.clone()
        },
    )
    .unwrap();
    assert_ne!(a.tokens, c.tokens);
    // Stop on the third token of row 0: row 0 ends there, row 1 continues.
    let stop = a.tokens[0][2];
    let s = generate(
        &m,
        &inp,
        &SamplingParams {
            stop_tokens: vec![stop],
            ..p.clone()
        },
    )
    .unwrap();
    let first = s.tokens[0].iter().position(|&t| t == stop).unwrap();
    assert_eq!(s.tokens[0].len(), first + 1);
    assert!(s.stopped[0]);
}

/// Plain sampling (no top-k, no top-p) follows `softmax(logits / T)`, at T = 1 and T = 2, with
/// and without a top-k that keeps every token (the sorted path): 20,000 seeded draws each.
#[test]
fn plain_sampling_follows_the_tempered_softmax() {
    let logits = [0.0f32, 3f32.ln(), f32::NEG_INFINITY, -30.0];
    for (t, expect) in [(1.0, 0.75), (2.0, 3f64.sqrt() / (1.0 + 3f64.sqrt()))] {
        for top_k in [0, 4] {
            let p = SamplingParams {
                temperature: t,
                top_k,
                ..Default::default()
            };
            let mut rng = Rng::new(11);
            let n = 20_000;
            let mut ones = 0;
            for _ in 0..n {
                match sample_row(&logits, &p, &mut rng) {
                    1 => ones += 1,
                    0 => {}
                    other => panic!("token {other} has (almost) no mass"),
                }
            }
            let f = ones as f64 / n as f64;
            assert!(
                (f - expect).abs() < 0.02,
                "T {t} top_k {top_k}: {f} vs {expect}"
            );
        }
    }
}

#[test]
fn top_k_one_is_greedy_and_top_p_keeps_the_mode() {
    let logits = [0.1f32, 3.0, -1.0, 2.9];
    let mut rng = Rng::new(1);
    for _ in 0..20 {
        let p = SamplingParams {
            temperature: 1.0,
            top_k: 1,
            ..Default::default()
        };
        assert_eq!(sample_row(&logits, &p, &mut rng), 1);
        let p = SamplingParams {
            temperature: 1.0,
            top_p: 0.01,
            ..Default::default()
        };
        assert_eq!(sample_row(&logits, &p, &mut rng), 1);
    }
    // With top_k = 2 only tokens 1 and 3 can appear.
    let p = SamplingParams {
        temperature: 5.0,
        top_k: 2,
        ..Default::default()
    };
    let seen: std::collections::BTreeSet<u32> = (0..200)
        .map(|_| sample_row(&logits, &p, &mut rng))
        .collect();
    assert_eq!(seen, [1, 3].into_iter().collect());
    // Suppressed tokens are never picked, greedy or sampled; the others keep their odds.
    let p = SamplingParams {
        temperature: 5.0,
        suppress_tokens: vec![1, 3],
        ..Default::default()
    };
    let seen: std::collections::BTreeSet<u32> = (0..200)
        .map(|_| sample_row(&logits, &p, &mut rng))
        .collect();
    assert_eq!(seen, [0, 2].into_iter().collect());
    let greedy = SamplingParams {
        suppress_tokens: vec![1],
        ..Default::default()
    };
    assert_eq!(sample_row(&logits, &greedy, &mut rng), 3);
}

#[test]
fn growing_cache_decodes_like_the_reference() {
    // KvCache::new starts at 16 positions and doubles: the 16-token prompt fills it, the first
    // decode step regrows it (copying the cached keys/values).
    let m = model("tiny");
    let inp = inputs("text_leftpad");
    let want = ints("text_leftpad.greedy");
    let mut cache = lmmr1_model::kv_cache::KvCache::new(m.text.num_layers());
    let (mut logits, deltas) = m.prefill(&inp, &mut cache).unwrap();
    let mut mask: Vec<Vec<u32>> = inp
        .attention_mask
        .chunks(inp.seq_len)
        .map(|r| r.to_vec())
        .collect();
    for step in 0..8 {
        let rows = logits.to_vec2::<f32>().unwrap();
        let next: Vec<u32> = rows
            .iter()
            .map(|r| {
                (0..r.len())
                    .max_by(|&a, &b| r[a].total_cmp(&r[b]).then(b.cmp(&a)))
                    .unwrap() as u32
            })
            .collect();
        for (r, &t) in next.iter().enumerate() {
            assert_eq!(t as i64, want[r * 8 + step], "row {r} step {step}");
        }
        mask.iter_mut().for_each(|m| m.push(1));
        let flat: Vec<u32> = mask.iter().flatten().copied().collect();
        logits = m.decode_step(&next, &flat, &deltas, &mut cache).unwrap();
    }
    assert_eq!(cache.len(), 16 + 8);
}

#[test]
fn generation_logprobs_equal_teacher_forced_logprobs() {
    // KV-cache decoding and a full forward over prompt + continuation must agree.
    let m = model("tiny");
    for case in ["image_batch", "text_leftpad"] {
        let inp = inputs(case);
        let g = generate(
            &m,
            &inp,
            &SamplingParams {
                max_new_tokens: 6,
                ..Default::default()
            },
        )
        .unwrap();
        let (b, t) = (inp.batch, inp.seq_len);
        let mut ids = Vec::new();
        let mut mask = Vec::new();
        for r in 0..b {
            ids.extend_from_slice(&inp.input_ids[r * t..(r + 1) * t]);
            ids.extend_from_slice(&g.tokens[r]);
            mask.extend_from_slice(&inp.attention_mask[r * t..(r + 1) * t]);
            mask.extend(std::iter::repeat_n(1, 6));
        }
        let full = lmmr1_model::model::Inputs::new(
            b,
            ids,
            mask,
            inp.pixel_values.clone(),
            inp.image_grid_thw.clone(),
        )
        .unwrap();
        let lp = m.token_logprobs(&full).unwrap().to_vec2::<f32>().unwrap();
        for (r, (row, gen)) in lp.iter().zip(&g.logprobs).enumerate() {
            for (j, &want) in gen.iter().enumerate() {
                let got = row[t - 1 + j];
                assert!(
                    (got - want).abs() < 1e-4,
                    "{case} row {r} token {j}: {got} vs {want}"
                );
            }
        }
    }
}

/// The portable path (the sampler, key mask, positions and rotary tables as device ops; the KV
/// cache in its GPU layout, every matmul checked against candle's CUDA GEMM rule) draws the
/// tokens the native path draws from the same seed, on text and image prompts, plain and
/// top-k/top-p sampling, with the same log-probabilities.
#[test]
fn portable_path_samples_what_the_native_path_samples() {
    use lmmr1_model::kernels::KernelSettings;
    let portable = KernelSettings {
        portable: true,
        check_gpu_layout: true,
    };
    for case in ["text_leftpad", "image_batch"] {
        let inp = inputs(case);
        for (top_k, top_p) in [(0, 1.0), (20, 0.9)] {
            let p = SamplingParams {
                temperature: 1.0,
                top_k,
                top_p,
                seed: 3,
                max_new_tokens: 10,
                suppress_tokens: vec![0],
                ..Default::default()
            };
            let native = KernelSettings::default().scope(|| generate(&model("tiny"), &inp, &p));
            let port = portable.scope(|| generate(&model("tiny"), &inp, &p));
            let (native, port) = (native.unwrap(), port.unwrap());
            assert_eq!(
                native.tokens, port.tokens,
                "{case} top_k {top_k} top_p {top_p}"
            );
            for (a, b) in native
                .logprobs
                .iter()
                .flatten()
                .zip(port.logprobs.iter().flatten())
            {
                assert!((a - b).abs() < 1e-4, "{case}: log-prob {a} vs {b}");
            }
        }
    }
}
