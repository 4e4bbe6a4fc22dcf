//! KL estimators, the policy and value losses and loss aggregation: hand-computed values,
//! numerical gradient checks (central differences in f64) and micro-batch accumulation.

mod common;

use candle_core::{Tensor, Var};
use common::*;
use lmmr1_algos::*;

const ALL_AGGS: [LossAggregation; 4] = [
    LossAggregation::TokenMean,
    LossAggregation::SeqMeanTokenMean,
    LossAggregation::SeqMeanTokenSum,
    LossAggregation::SeqMeanTokenSumNorm,
];

/// A ragged batch: 4 sequences of lengths 2, 5, 3, 4 padded to 5.
const LENS: [usize; 4] = [2, 5, 3, 4];
const T: usize = 5;

fn batch(seed: u64, lo: f64, hi: f64) -> Vec<Vec<f64>> {
    lcg(seed, LENS.len() * T, lo, hi)
        .chunks(T)
        .map(<[f64]>::to_vec)
        .collect()
}

// ---------- KL ----------

#[test]
fn kl_estimators_by_hand() {
    // d = logπθ − logπref = [0.5, −28, 25].
    let lp = t2(&[vec![-1.0, -30.0, -1.0]]);
    let rf = t2(&[vec![-1.5, -2.0, -26.0]]);
    assert_rows_close(
        &rows(&kl_k1(&lp, &rf).unwrap()),
        &[vec![0.5, -28.0, 25.0]],
        1e-12,
    );
    assert_rows_close(
        &rows(&kl_k2(&lp, &rf).unwrap()),
        &[vec![0.125, 392.0, 312.5]],
        1e-12,
    );
    // k3 = exp(u) − u − 1, u = −d.
    let raw = rows(&kl_k3(&lp, &rf, false).unwrap());
    let want = [
        (-0.5f64).exp() + 0.5 - 1.0,
        28f64.exp() - 28.0 - 1.0,
        (-25f64).exp() + 25.0 - 1.0,
    ];
    for (g, w) in raw[0].iter().zip(want) {
        assert_close(*g, w, 1e-12 * w.abs().max(1.0));
    }
    assert_close(raw[0][0], 0.106_530_659_712_633_4, 1e-15);
    // Clamped (verl): u to ±20 then the value to ±10.
    let clamped = rows(&kl_k3(&lp, &rf, true).unwrap());
    assert_rows_close(
        &clamped,
        &[vec![0.106_530_659_712_633_4, 10.0, 10.0]],
        1e-12,
    );
    // k3 ≥ 0 and k3 ≈ k2 for small d.
    let small = rows(&kl_k3(&t2(&[vec![0.001]]), &t2(&[vec![0.0]]), true).unwrap());
    assert_close(small[0][0], 0.5e-6, 1e-9);
    // Dispatch through the config.
    let cfg = KlConfig {
        estimator: KlEstimator::K3,
        straight_through: false,
        clamp: true,
    };
    assert_rows_close(&rows(&kl_penalty(&lp, &rf, &cfg).unwrap()), &clamped, 0.0);
    assert!(kl_k1(&lp, &t2(&[vec![0.0; 2]])).is_err());
}

#[test]
fn kl_gradients_match_finite_differences() {
    let lp = batch(11, -2.0, -0.1);
    let rf = t2(&batch(12, -2.0, -0.1));
    let mask = t2(&mask_rows(&LENS, T));
    for estimator in [KlEstimator::K1, KlEstimator::K2, KlEstimator::K3] {
        for clamp in [false, true] {
            let cfg = KlConfig {
                estimator,
                straight_through: false,
                clamp,
            };
            let err = grad_check(&lp, |x| {
                kl_loss(
                    x,
                    &rf,
                    &mask,
                    &cfg,
                    LossAggregation::TokenMean,
                    &LossScale::default(),
                )
                .unwrap()
                .0
            });
            assert!(err < 1e-7, "{estimator:?} clamp={clamp}: {err}");
        }
    }
}

#[test]
fn straight_through_keeps_value_and_takes_k2_gradient() {
    let lp0 = vec![vec![-0.3, -1.2, -2.0]];
    let rf = t2(&[vec![-1.0, -1.0, -0.5]]);
    let st = KlConfig {
        estimator: KlEstimator::K3,
        straight_through: true,
        clamp: true,
    };
    let var = Var::from_tensor(&t2(&lp0)).unwrap();
    let v = kl_penalty(var.as_tensor(), &rf, &st).unwrap();
    // Forward = k3.
    assert_rows_close(
        &rows(&v),
        &rows(&kl_k3(&t2(&lp0), &rf, true).unwrap()),
        1e-12,
    );
    // Gradient of Σ = gradient of Σ ½d² = d.
    let g = v.sum_all().unwrap().backward().unwrap();
    let grad = rows(g.get(var.as_tensor()).unwrap());
    assert_rows_close(&grad, &[vec![0.7, -0.2, -1.5]], 1e-12);
}

#[test]
fn kl_controllers() {
    let mut fixed = KlController::Fixed { coef: 0.001 };
    fixed.update(100.0, 256).unwrap();
    assert_eq!(fixed.value(), 0.001);
    let mut ada = KlController::Adaptive {
        coef: 0.1,
        target: 6.0,
        horizon: 10_000.0,
    };
    // KL/target − 1 = 0.5, clipped to 0.2 → β·(1 + 0.2·256/10000).
    ada.update(9.0, 256).unwrap();
    assert_close(ada.value(), 0.1 * 1.00512, 1e-15);
    // On target: unchanged. Below: shrinks by at most 20 % of n/horizon.
    let before = ada.value();
    ada.update(6.0, 256).unwrap();
    assert_close(ada.value(), before, 1e-15);
    ada.update(0.0, 10_000).unwrap();
    assert_close(ada.value(), before * 0.8, 1e-15);
    let mut bad = KlController::Adaptive {
        coef: 0.1,
        target: 0.0,
        horizon: 1.0,
    };
    assert!(bad.update(1.0, 1).is_err());
}

// ---------- policy loss ----------

/// Six tokens, one per branch (old log-probs 0, so ρ = exp(logπθ)).
/// ρ = [1.5, 0.5, 4, 0.5, 1.1, 1], A = [1, 1, −1, −1, −2, 0.5].
fn branch_case() -> (Vec<Vec<f64>>, Tensor, Tensor, Tensor) {
    let ratios = [1.5f64, 0.5, 4.0, 0.5, 1.1, 1.0];
    let lp = vec![ratios.iter().map(|r| r.ln()).collect::<Vec<_>>()];
    let old = t2(&[vec![0.0; 6]]);
    let adv = t2(&[vec![1.0, 1.0, -1.0, -1.0, -2.0, 0.5]]);
    let mask = t2(&[vec![1.0; 6]]);
    (lp, old, adv, mask)
}

fn pg(
    lp: &Tensor,
    old: &Tensor,
    adv: &Tensor,
    mask: &Tensor,
    cfg: &PolicyLossConfig,
) -> (Tensor, Metrics) {
    let inputs = PolicyLossInputs {
        log_probs: lp,
        old_log_probs: old,
        advantages: adv,
        mask,
        entropy: None,
        scale: LossScale::default(),
    };
    ppo_clip_loss(&inputs, cfg).unwrap()
}

#[test]
fn ppo_clip_branches_by_hand() {
    let (lp, old, adv, mask) = branch_case();
    // Per token max(−Aρ, −A·clip(ρ, 0.8, 1.2)):
    // [−1.2 (clipped), −0.5, 4, 0.8 (clipped), 2.2, −0.5] → mean 4.8/6.
    let cfg = PolicyLossConfig::default();
    let (loss, m) = pg(&t2(&lp), &old, &adv, &mask, &cfg);
    assert_close(scalar(&loss), 0.8, 1e-12);
    assert_close(m["actor/pg_clipfrac"], 2.0 / 6.0, 1e-12);
    assert_close(m["actor/pg_clipfrac_lower"], 0.0, 0.0);
    assert_close(m["actor/ratio/max"], 4.0, 1e-12);
    assert_close(m["actor/ratio/min"], 0.5, 1e-12);
    assert_close(m["actor/ratio/mean"], 8.6 / 6.0, 1e-12);
    let lr_mean = [1.5f64, 0.5, 4.0, 0.5, 1.1, 1.0]
        .iter()
        .map(|r| r.ln())
        .sum::<f64>()
        / 6.0;
    assert_close(m["actor/ppo_kl"], -lr_mean, 1e-12);

    // Dual clip c = 3: A < 0 and ρ = 4 → min(4, −c·A = 3) = 3 → mean 3.8/6.
    let dual = PolicyLossConfig {
        dual_clip: Some(3.0),
        ..cfg
    };
    let var = Var::from_tensor(&t2(&lp)).unwrap();
    let (loss, m) = pg(var.as_tensor(), &old, &adv, &mask, &dual);
    assert_close(scalar(&loss), 3.8 / 6.0, 1e-12);
    assert_close(m["actor/pg_clipfrac_lower"], 1.0 / 6.0, 1e-12);
    // d/dlogπ: clipped and dual-clipped tokens give 0, the others −A·ρ, all over 6.
    let g = rows(loss.backward().unwrap().get(var.as_tensor()).unwrap());
    assert_rows_close(
        &g,
        &[vec![0.0, -0.5 / 6.0, 0.0, 0.0, 2.2 / 6.0, -0.5 / 6.0]],
        1e-12,
    );

    // Clip-higher ε_high = 0.28: token 0 becomes −1.28.
    let higher = PolicyLossConfig {
        clip_high: 0.28,
        ..cfg
    };
    let (loss, _) = pg(&t2(&lp), &old, &adv, &mask, &higher);
    assert_close(scalar(&loss), (4.8 - 0.08) / 6.0, 1e-12);
    // And ε_low = 0.1: token 3 (A < 0, ρ = 0.5) becomes −A·0.9 = 0.9.
    let lower = PolicyLossConfig {
        clip_low: 0.1,
        ..cfg
    };
    let (loss, _) = pg(&t2(&lp), &old, &adv, &mask, &lower);
    assert_close(scalar(&loss), (4.8 + 0.1) / 6.0, 1e-12);
}

#[test]
fn log_ratio_is_clamped_before_exp() {
    let lp = t2(&[vec![500.0]]);
    let old = t2(&[vec![0.0]]);
    let adv = t2(&[vec![-1.0]]);
    let mask = t2(&[vec![1.0]]);
    let (loss, m) = pg(&lp, &old, &adv, &mask, &PolicyLossConfig::default());
    assert!(scalar(&loss).is_finite());
    assert_close(scalar(&loss), 20f64.exp(), 1e-6 * 20f64.exp());
    assert_close(m["actor/ratio/max"], 20f64.exp(), 1e-6 * 20f64.exp());
}

#[test]
fn gspo_uses_the_length_normalised_sequence_ratio() {
    // One sequence, 2 valid tokens with log ρ = 0.3, −0.1 (+ padding) → ρ_seq = exp(0.1).
    let lp = t2(&[vec![0.3, -0.1, 7.0]]);
    let old = t2(&[vec![0.0; 3]]);
    let adv = t2(&[vec![2.0, 2.0, 2.0]]);
    let mask = t2(&[vec![1.0, 1.0, 0.0]]);
    let cfg = PolicyLossConfig {
        ratio_level: RatioLevel::Sequence,
        ..PolicyLossConfig::default()
    };
    let (loss, m) = pg(&lp, &old, &adv, &mask, &cfg);
    assert_close(scalar(&loss), -2.0 * 0.1f64.exp(), 1e-12);
    assert_close(m["actor/ratio/mean"], 0.1f64.exp(), 1e-12);
    // A sequence ratio beyond 1 + ε is clipped for every token.
    let lp = t2(&[vec![0.5, 0.3, 7.0]]);
    let (loss, m) = pg(&lp, &old, &adv, &mask, &cfg);
    assert_close(scalar(&loss), -2.0 * 1.2, 1e-12);
    assert_close(m["actor/pg_clipfrac"], 1.0, 1e-12);
}

#[test]
fn entropy_bonus_is_subtracted() {
    let (lp, old, adv, mask) = branch_case();
    let h = t2(&[vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]]);
    let cfg = PolicyLossConfig {
        entropy_coef: 0.01,
        ..PolicyLossConfig::default()
    };
    let lp = t2(&lp);
    let inputs = PolicyLossInputs {
        log_probs: &lp,
        old_log_probs: &old,
        advantages: &adv,
        mask: &mask,
        entropy: Some(&h),
        scale: LossScale::default(),
    };
    let (loss, m) = ppo_clip_loss(&inputs, &cfg).unwrap();
    assert_close(scalar(&loss), 0.8 - 0.01 * 3.5, 1e-12);
    assert_close(m["actor/entropy"], 3.5, 1e-12);
    assert_close(m["actor/pg_loss"], 0.8, 1e-12);
    // A non-zero coefficient without entropies is an error.
    let no_h = PolicyLossInputs {
        entropy: None,
        ..inputs
    };
    assert!(matches!(
        ppo_clip_loss(&no_h, &cfg),
        Err(AlgoError::MissingInput("entropy"))
    ));
}

#[test]
fn policy_loss_gradients_match_finite_differences() {
    let lp = batch(1, -1.5, -0.2);
    // Old log-probs within ±0.4 of the current ones: many tokens inside and outside the clip.
    let old_rows: Vec<Vec<f64>> = lp
        .iter()
        .zip(batch(2, -0.4, 0.4))
        .map(|(a, d)| a.iter().zip(d).map(|(x, y)| x + y).collect())
        .collect();
    let old = t2(&old_rows);
    let adv = t2(&batch(3, -2.0, 2.0));
    let mask = t2(&mask_rows(&LENS, T));
    let h_rows = batch(4, 0.5, 2.0);
    let h = t2(&h_rows);
    for agg in ALL_AGGS {
        for (dual, level, ent) in [
            (None, RatioLevel::Token, 0.0),
            (Some(3.0), RatioLevel::Token, 0.0),
            (Some(1.2), RatioLevel::Token, 0.01),
            (None, RatioLevel::Sequence, 0.0),
        ] {
            let cfg = PolicyLossConfig {
                clip_low: 0.2,
                clip_high: 0.28,
                dual_clip: dual,
                ratio_level: level,
                entropy_coef: ent,
                aggregation: agg,
                ..PolicyLossConfig::default()
            };
            let err = grad_check(&lp, |x| {
                let inputs = PolicyLossInputs {
                    log_probs: x,
                    old_log_probs: &old,
                    advantages: &adv,
                    mask: &mask,
                    entropy: Some(&h),
                    scale: LossScale::default(),
                };
                ppo_clip_loss(&inputs, &cfg).unwrap().0
            });
            assert!(err < 1e-7, "{agg:?} {dual:?} {level:?}: {err}");
        }
    }
}

#[test]
fn policy_loss_rejects_bad_inputs() {
    let (lp, old, adv, mask) = branch_case();
    let lp = t2(&lp);
    let short = t2(&[vec![0.0; 5]]);
    let inputs = PolicyLossInputs {
        log_probs: &lp,
        old_log_probs: &short,
        advantages: &adv,
        mask: &mask,
        entropy: None,
        scale: LossScale::default(),
    };
    assert!(matches!(
        ppo_clip_loss(&inputs, &PolicyLossConfig::default()),
        Err(AlgoError::ShapeMismatch {
            name: "old_log_probs",
            ..
        })
    ));
    let inputs = PolicyLossInputs {
        old_log_probs: &old,
        ..inputs
    };
    let bad = PolicyLossConfig {
        dual_clip: Some(0.5),
        ..PolicyLossConfig::default()
    };
    assert!(ppo_clip_loss(&inputs, &bad).is_err());
}

// ---------- value loss ----------

#[test]
fn value_loss_by_hand() {
    // G = 1 everywhere; V_old = 0.5; ε_v = 0.2.
    // V = 1.0: unclipped 0, clipped (0.7 − 1)² = 0.09 → 0.09 (clipped branch).
    // V = 0.6: unclipped 0.16, clipped 0.16 (inside) → 0.16.
    // V = 0.0: unclipped 1, clipped (0.3 − 1)² = 0.49 → 1.
    // V = 1.4: unclipped 0.16, clipped 0.09 → 0.16. Padding token ignored.
    let v = t2(&[vec![1.0, 0.6, 0.0, 1.4, 9.0]]);
    let old = t2(&[vec![0.5; 5]]);
    let g = t2(&[vec![1.0; 5]]);
    let mask = t2(&[vec![1.0, 1.0, 1.0, 1.0, 0.0]]);
    let (loss, m) = value_loss(
        &v,
        &old,
        &g,
        &mask,
        &ValueLossConfig::default(),
        &LossScale::default(),
    )
    .unwrap();
    assert_close(scalar(&loss), 0.5 * (0.09 + 0.16 + 1.0 + 0.16) / 4.0, 1e-12);
    assert_close(m["critic/vf_clipfrac"], 0.25, 1e-12);
    assert_close(m["critic/vpred_mean"], 3.0 / 4.0, 1e-12);
    let unclipped = ValueLossConfig {
        value_clip: None,
        ..ValueLossConfig::default()
    };
    let (loss, _) = value_loss(&v, &old, &g, &mask, &unclipped, &LossScale::default()).unwrap();
    assert_close(scalar(&loss), 0.5 * (0.0 + 0.16 + 1.0 + 0.16) / 4.0, 1e-12);
}

#[test]
fn value_loss_gradients_match_finite_differences() {
    let v = batch(21, -1.0, 1.0);
    let old = t2(&batch(22, -1.0, 1.0));
    let g = t2(&batch(23, -1.0, 1.0));
    let mask = t2(&mask_rows(&LENS, T));
    for agg in ALL_AGGS {
        for clip in [None, Some(0.2)] {
            let cfg = ValueLossConfig {
                value_clip: clip,
                aggregation: agg,
            };
            let err = grad_check(&v, |x| {
                value_loss(x, &old, &g, &mask, &cfg, &LossScale::default())
                    .unwrap()
                    .0
            });
            assert!(err < 1e-7, "{agg:?} {clip:?}: {err}");
        }
    }
}

// ---------- aggregation ----------

/// Independent loop implementation of the four modes.
fn ref_agg(l: &[Vec<f64>], lens: &[usize], mode: LossAggregation, l_norm: f64) -> f64 {
    let b = l.len() as f64;
    let sums: Vec<f64> = l
        .iter()
        .zip(lens)
        .map(|(r, &n)| r[..n].iter().sum())
        .collect();
    match mode {
        LossAggregation::TokenMean => sums.iter().sum::<f64>() / lens.iter().sum::<usize>() as f64,
        LossAggregation::SeqMeanTokenMean => {
            sums.iter()
                .zip(lens)
                .map(|(s, &n)| s / n as f64)
                .sum::<f64>()
                / b
        }
        LossAggregation::SeqMeanTokenSum => sums.iter().sum::<f64>() / b,
        LossAggregation::SeqMeanTokenSumNorm => sums.iter().sum::<f64>() / (b * l_norm),
    }
}

#[test]
fn aggregation_modes_match_loop_and_hand_values() {
    let l = batch(31, -1.0, 3.0);
    let mask = t2(&mask_rows(&LENS, T));
    for mode in ALL_AGGS {
        let got = scalar(&aggregate_loss(&t2(&l), &mask, mode, &LossScale::default()).unwrap());
        assert_close(got, ref_agg(&l, &LENS, mode, T as f64), 1e-12);
    }
    // By hand: rows [1, 2 | pad] and [3, 3, 3] (lengths 2 and 3).
    let l = t2(&[vec![1.0, 2.0, 100.0], vec![3.0, 3.0, 3.0]]);
    let m = t2(&mask_rows(&[2, 3], 3));
    let s = LossScale::default();
    let agg = |mode| scalar(&aggregate_loss(&l, &m, mode, &s).unwrap());
    assert_close(agg(LossAggregation::TokenMean), 12.0 / 5.0, 1e-12);
    assert_close(
        agg(LossAggregation::SeqMeanTokenMean),
        (1.5 + 3.0) / 2.0,
        1e-12,
    );
    assert_close(agg(LossAggregation::SeqMeanTokenSum), 12.0 / 2.0, 1e-12);
    assert_close(
        agg(LossAggregation::SeqMeanTokenSumNorm),
        12.0 / (2.0 * 3.0),
        1e-12,
    );
    let s = LossScale {
        norm_length: Some(4.0),
        dp_size: 2,
        ..LossScale::default()
    };
    let got = scalar(&aggregate_loss(&l, &m, LossAggregation::SeqMeanTokenSumNorm, &s).unwrap());
    assert_close(got, 2.0 * 12.0 / (2.0 * 4.0), 1e-12);
    assert!(aggregate_loss(&l, &t2(&[vec![1.0; 3]]), LossAggregation::TokenMean, &s).is_err());
    // A row with no valid token contributes 0 and never divides by zero.
    let empty = t2(&[vec![0.0; 3], vec![1.0, 1.0, 0.0]]);
    for mode in ALL_AGGS {
        let got = scalar(&aggregate_loss(&l, &empty, mode, &LossScale::default()).unwrap());
        assert!(got.is_finite(), "{mode:?}");
    }
    let got = scalar(
        &aggregate_loss(
            &l,
            &empty,
            LossAggregation::SeqMeanTokenMean,
            &LossScale::default(),
        )
        .unwrap(),
    );
    assert_close(got, (0.0 + 3.0) / 2.0, 1e-12);
    let none = t2(&[vec![0.0; 3], vec![0.0; 3]]);
    let got = scalar(
        &aggregate_loss(&l, &none, LossAggregation::TokenMean, &LossScale::default()).unwrap(),
    );
    assert_eq!(got, 0.0);
}

/// Splits rows `[a, b)` of a right-padded `(B, T)` tensor and trims the padding to the longest
/// sequence of the micro-batch (so micro-batches have different padded lengths).
fn micro(x: &Tensor, lens: &[usize], a: usize, b: usize) -> Tensor {
    let t = *lens[a..b].iter().max().unwrap();
    x.narrow(0, a, b - a).unwrap().narrow(1, 0, t).unwrap()
}

#[test]
fn micro_batch_accumulation_equals_full_batch() {
    // Uneven lengths, uneven micro-batches (1, 3, 2 sequences, padded to 7, 3, 6).
    let lens = [7usize, 1, 3, 2, 6, 4];
    let t = 7;
    let n_tok: usize = lens.iter().sum();
    let splits = [(0, 1), (1, 4), (4, 6)];
    let lp0: Vec<Vec<f64>> = lcg(41, 6 * t, -1.5, -0.2)
        .chunks(t)
        .map(<[f64]>::to_vec)
        .collect();
    let old = t2(&lcg(42, 6 * t, -1.5, -0.2)
        .chunks(t)
        .map(<[f64]>::to_vec)
        .collect::<Vec<_>>());
    let adv = t2(&lcg(43, 6 * t, -2.0, 2.0)
        .chunks(t)
        .map(<[f64]>::to_vec)
        .collect::<Vec<_>>());
    let mask = t2(&mask_rows(&lens, t));
    let global = LossScale {
        global_token_count: Some(n_tok as f64),
        global_seq_count: Some(6.0),
        norm_length: Some(t as f64),
        dp_size: 1,
    };
    for agg in ALL_AGGS {
        let cfg = PolicyLossConfig {
            aggregation: agg,
            dual_clip: Some(3.0),
            ..PolicyLossConfig::default()
        };
        let run = |lp: &Tensor, old: &Tensor, adv: &Tensor, mask: &Tensor, scale: LossScale| {
            let inputs = PolicyLossInputs {
                log_probs: lp,
                old_log_probs: old,
                advantages: adv,
                mask,
                entropy: None,
                scale,
            };
            ppo_clip_loss(&inputs, &cfg).unwrap().0
        };
        // Full batch, f32 as in training.
        let full_var =
            Var::from_tensor(&t2(&lp0).to_dtype(candle_core::DType::F32).unwrap()).unwrap();
        let f32 = |x: &Tensor| x.to_dtype(candle_core::DType::F32).unwrap();
        let (old32, adv32, mask32) = (f32(&old), f32(&adv), f32(&mask));
        let full = run(
            full_var.as_tensor(),
            &old32,
            &adv32,
            &mask32,
            LossScale::default(),
        );
        let full_grad = rows(full.backward().unwrap().get(full_var.as_tensor()).unwrap());
        // Micro-batches: separate backward passes, gradients accumulated.
        let mut acc_loss = 0.0;
        let mut acc_grad = vec![vec![0.0; t]; 6];
        for &(a, b) in &splits {
            let var = Var::from_tensor(&micro(&f32(&t2(&lp0)), &lens, a, b)).unwrap();
            let l = run(
                var.as_tensor(),
                &micro(&old32, &lens, a, b),
                &micro(&adv32, &lens, a, b),
                &micro(&mask32, &lens, a, b),
                global,
            );
            acc_loss += scalar(&l);
            let g = rows(l.backward().unwrap().get(var.as_tensor()).unwrap());
            for (i, row) in g.iter().enumerate() {
                for (k, v) in row.iter().enumerate() {
                    acc_grad[a + i][k] += v;
                }
            }
        }
        assert_close(acc_loss, scalar(&full), 1e-6);
        assert_rows_close(&acc_grad, &full_grad, 1e-6);
    }
    // Without the global count (LMM-R1's old per-micro-batch token mean, averaged over
    // micro-batches) the result differs: the bug the global normaliser fixes.
    let cfg = PolicyLossConfig::default();
    let mut naive = 0.0;
    for &(a, b) in &splits {
        let inputs = PolicyLossInputs {
            log_probs: &micro(&t2(&lp0), &lens, a, b),
            old_log_probs: &micro(&old, &lens, a, b),
            advantages: &micro(&adv, &lens, a, b),
            mask: &micro(&mask, &lens, a, b),
            entropy: None,
            scale: LossScale::default(),
        };
        naive += scalar(&ppo_clip_loss(&inputs, &cfg).unwrap().0) / 3.0;
    }
    let lp_full = t2(&lp0);
    let inputs = PolicyLossInputs {
        log_probs: &lp_full,
        old_log_probs: &old,
        advantages: &adv,
        mask: &mask,
        entropy: None,
        scale: LossScale::default(),
    };
    let full = scalar(&ppo_clip_loss(&inputs, &cfg).unwrap().0);
    assert!((naive - full).abs() > 1e-3, "naive {naive} vs full {full}");
}

#[test]
fn data_parallel_scaling_averages_to_the_global_mean() {
    // Two "ranks" with 1 and 3 sequences; averaging dp·(Σ_rank m·L / N_tok) over ranks gives
    // the global token mean.
    let l = batch(51, -1.0, 1.0);
    let mask = t2(&mask_rows(&LENS, T));
    let n_tok: usize = LENS.iter().sum();
    let full = scalar(
        &aggregate_loss(
            &t2(&l),
            &mask,
            LossAggregation::TokenMean,
            &LossScale::default(),
        )
        .unwrap(),
    );
    let scale = LossScale {
        global_token_count: Some(n_tok as f64),
        dp_size: 2,
        ..LossScale::default()
    };
    let lt = t2(&l);
    let r0 = aggregate_loss(
        &lt.narrow(0, 0, 1).unwrap(),
        &mask.narrow(0, 0, 1).unwrap(),
        LossAggregation::TokenMean,
        &scale,
    )
    .unwrap();
    let r1 = aggregate_loss(
        &lt.narrow(0, 1, 3).unwrap(),
        &mask.narrow(0, 1, 3).unwrap(),
        LossAggregation::TokenMean,
        &scale,
    )
    .unwrap();
    assert_close((scalar(&r0) + scalar(&r1)) / 2.0, full, 1e-12);
}
