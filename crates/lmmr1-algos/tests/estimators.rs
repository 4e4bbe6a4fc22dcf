//! Hand-computed and loop-vs-vectorized vectors for reward placement, every advantage estimator,
//! whitening, the DAPO helpers and the serde config names.

mod common;

use candle_core::DType;
use common::*;
use lmmr1_algos::*;

/// 2 groups × 3 samples, response lengths 3, 5, 4 | 2, 5, 3, padded to T = 5.
const LENS: [usize; 6] = [3, 5, 4, 2, 5, 3];
const T: usize = 5;
const R: [f64; 6] = [1.5, 0.0, 0.0, 1.0, 0.5, 1.5];

/// Per-token KL with non-zero garbage on padding (which must be ignored).
fn kl_rows() -> Vec<Vec<f64>> {
    (0..6)
        .map(|i| {
            (0..T)
                .map(|k| 0.1 * (i as f64 + 1.0) - 0.05 * k as f64)
                .collect()
        })
        .collect()
}

fn values_rows() -> Vec<Vec<f64>> {
    let v = lcg(7, 6 * T, -1.0, 1.0);
    v.chunks(T).map(<[f64]>::to_vec).collect()
}

// ---------- independent loop references ----------

fn ref_token_rewards(shaped: &[f64], kl: Option<&[Vec<f64>]>, beta: f64) -> Vec<Vec<f64>> {
    (0..shaped.len())
        .map(|i| {
            (0..T)
                .map(|k| {
                    if k >= LENS[i] {
                        return 0.0;
                    }
                    let pen = kl.map_or(0.0, |kl| -beta * kl[i][k]);
                    let last = if k == LENS[i] - 1 {
                        shaped[i].clamp(-10.0, 10.0)
                    } else {
                        0.0
                    };
                    pen + last
                })
                .collect()
        })
        .collect()
}

/// `G_t = Σ_{t' ≥ t} γ^{t'−t} r_{t'}` written as an explicit double sum.
fn ref_returns(r: &[Vec<f64>], gamma: f64) -> Vec<Vec<f64>> {
    (0..r.len())
        .map(|i| {
            (0..T)
                .map(|k| {
                    if k >= LENS[i] {
                        0.0
                    } else {
                        (k..LENS[i])
                            .map(|j| gamma.powi((j - k) as i32) * r[i][j])
                            .sum()
                    }
                })
                .collect()
        })
        .collect()
}

/// `A_t = Σ_k (γλ)^k δ_{t+k}` written as an explicit double sum.
fn ref_gae(
    r: &[Vec<f64>],
    v: &[Vec<f64>],
    gamma: f64,
    lambda: f64,
) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
    let val = |i: usize, k: usize| if k < LENS[i] { v[i][k] } else { 0.0 };
    let mut adv = vec![vec![0.0; T]; r.len()];
    let mut ret = vec![vec![0.0; T]; r.len()];
    for i in 0..r.len() {
        for k in 0..LENS[i] {
            let a: f64 = (k..LENS[i])
                .map(|j| {
                    let delta = r[i][j] + gamma * val(i, j + 1) - val(i, j);
                    (gamma * lambda).powi((j - k) as i32) * delta
                })
                .sum();
            adv[i][k] = a;
            ret[i][k] = a + v[i][k];
        }
    }
    (adv, ret)
}

fn ref_whiten(x: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let vals: Vec<f64> = (0..x.len())
        .flat_map(|i| x[i][..LENS[i]].to_vec())
        .collect();
    let n = vals.len() as f64;
    let mean = vals.iter().sum::<f64>() / n;
    let var = vals.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    let rstd = 1.0 / var.max(1e-8).sqrt();
    (0..x.len())
        .map(|i| {
            (0..T)
                .map(|k| {
                    if k < LENS[i] {
                        (x[i][k] - mean) * rstd
                    } else {
                        0.0
                    }
                })
                .collect()
        })
        .collect()
}

fn broadcast(per_seq: &[f64]) -> Vec<Vec<f64>> {
    (0..per_seq.len())
        .map(|i| {
            (0..T)
                .map(|k| if k < LENS[i] { per_seq[i] } else { 0.0 })
                .collect()
        })
        .collect()
}

fn cfg(estimator: AdvantageEstimator) -> AdvantageConfig {
    AdvantageConfig {
        estimator,
        n_samples_per_prompt: 3,
        ..AdvantageConfig::default()
    }
}

// ---------- reward placement ----------

#[test]
fn reward_goes_on_last_valid_token_clipped() {
    let mask = t2(&mask_rows(&[2, 4, 1], 4));
    let r = t1(&[25.0, -0.5, -30.0]);
    let tok = token_level_rewards(&r, &mask, None, 0.0, (-10.0, 10.0)).unwrap();
    assert_rows_close(
        &rows(&tok),
        &[
            vec![0.0, 10.0, 0.0, 0.0],
            vec![0.0, 0.0, 0.0, -0.5],
            vec![-10.0, 0.0, 0.0, 0.0],
        ],
        0.0,
    );
    // Custom clip range.
    let tok = token_level_rewards(&r, &mask, None, 0.0, (-1.0, 2.0)).unwrap();
    assert_eq!(rows(&tok)[0][1], 2.0);
    assert_eq!(rows(&tok)[2][0], -1.0);
}

#[test]
fn token_rewards_subtract_masked_kl() {
    // r_t = −β·kl_t + 1[eos]·R ; the KL on padding (9.0) is ignored.
    let mask = t2(&[vec![1.0, 1.0, 1.0, 0.0]]);
    let kl = t2(&[vec![0.1, -0.2, 0.3, 9.0]]);
    let tok = token_level_rewards(&t1(&[1.0]), &mask, Some(&kl), 0.1, (-10.0, 10.0)).unwrap();
    assert_rows_close(&rows(&tok), &[vec![-0.01, 0.02, 0.97, 0.0]], 1e-12);
}

#[test]
fn empty_response_is_an_error() {
    let mask = t2(&[vec![1.0, 0.0], vec![0.0, 0.0]]);
    let err = eos_one_hot(&mask).unwrap_err();
    assert!(matches!(err, AlgoError::EmptyResponse { row: 1 }), "{err}");
}

// ---------- group baselines (literal hand values) ----------

#[test]
fn group_statistics_by_hand() {
    let r = t1(&R);
    // Group means 0.5 and 1.0.
    let base = group_mean_baseline(&r, 3)
        .unwrap()
        .to_vec1::<f64>()
        .unwrap();
    assert_eq!(base, vec![1.0, -0.5, -0.5, 0.0, -0.5, 0.5]);
    // RLOO: R_i − mean of the other two.
    let rloo = rloo_baseline(&r, 3).unwrap().to_vec1::<f64>().unwrap();
    assert_rows_close(&[rloo], &[vec![1.5, -0.75, -0.75, 0.0, -0.75, 0.75]], 1e-12);
    // GRPO, n − 1 std: group 1 std = sqrt(1.5/2), group 2 std = 0.5.
    let s1 = 0.75f64.sqrt();
    let grpo = grpo_advantage(&r, 3, 0.0)
        .unwrap()
        .to_vec1::<f64>()
        .unwrap();
    assert_rows_close(
        &[grpo],
        &[vec![1.0 / s1, -0.5 / s1, -0.5 / s1, 0.0, -1.0, 1.0]],
        1e-12,
    );
    // ε enters the denominator: (R − mean)/(std + ε).
    let grpo = grpo_advantage(&r, 3, 0.5)
        .unwrap()
        .to_vec1::<f64>()
        .unwrap();
    assert_close(grpo[5], 0.5, 1e-12);
}

#[test]
fn groups_of_one_and_bad_layouts() {
    let r = t1(&[3.0, -1.0]);
    // n = 1: no std; the advantage is 0, never R (verl's gotcha).
    assert_eq!(
        grpo_advantage(&r, 1, 1e-6)
            .unwrap()
            .to_vec1::<f64>()
            .unwrap(),
        vec![0.0, 0.0]
    );
    assert_eq!(
        group_mean_baseline(&r, 1)
            .unwrap()
            .to_vec1::<f64>()
            .unwrap(),
        vec![0.0, 0.0]
    );
    assert!(matches!(
        rloo_baseline(&r, 1),
        Err(AlgoError::InvalidConfig(_))
    ));
    assert!(matches!(
        group_mean_baseline(&t1(&R), 4),
        Err(AlgoError::NotDivisible { batch: 6, group: 4 })
    ));
    assert!(grpo_advantage(&t1(&R), 0, 1e-6).is_err());
    // Through the dispatcher too.
    let mask = t2(&mask_rows(&LENS, T));
    let r_t = t1(&R);
    let mut c = cfg(AdvantageEstimator::GroupNorm);
    c.n_samples_per_prompt = 4;
    assert!(compute_advantages(&AdvantageInputs::new(&r_t, &mask), &c).is_err());
    c.n_samples_per_prompt = 1;
    let out = compute_advantages(&AdvantageInputs::new(&r_t, &mask), &c).unwrap();
    assert!(rows(&out.advantages).iter().flatten().all(|&a| a == 0.0));
}

// ---------- estimators through the dispatcher ----------

#[test]
fn reinforce_baseline_unwhitened_is_the_centred_reward_on_every_token() {
    let mask = t2(&mask_rows(&LENS, T));
    let r_t = t1(&R);
    let mut c = cfg(AdvantageEstimator::ReinforceBaseline);
    c.whiten = Some(false);
    let out = compute_advantages(&AdvantageInputs::new(&r_t, &mask), &c).unwrap();
    assert_rows_close(
        &rows(&out.advantages),
        &[
            vec![1.0, 1.0, 1.0, 0.0, 0.0],
            vec![-0.5, -0.5, -0.5, -0.5, -0.5],
            vec![-0.5, -0.5, -0.5, -0.5, 0.0],
            vec![0.0, 0.0, 0.0, 0.0, 0.0],
            vec![-0.5, -0.5, -0.5, -0.5, -0.5],
            vec![0.5, 0.5, 0.5, 0.0, 0.0],
        ],
        1e-12,
    );
    // Token mean of the advantages: (3·1 − 0.5·(5+4+5) + 0.5·3)/22 = −2.5/22.
    assert_close(out.metrics["adv/mean"], -2.5 / 22.0, 1e-12);
}

#[test]
fn reinforce_baseline_lmm_r1_recipe_matches_loop() {
    // R − mean_g, −β·k1 in the token reward, γ = 1 returns, global whitening.
    let mask = t2(&mask_rows(&LENS, T));
    let r_t = t1(&R);
    let kl = kl_rows();
    let kl_t = t2(&kl);
    let inputs = AdvantageInputs {
        kl: Some(&kl_t),
        kl_coef: 0.1,
        ..AdvantageInputs::new(&r_t, &mask)
    };
    let out = compute_advantages(&inputs, &cfg(AdvantageEstimator::ReinforceBaseline)).unwrap();
    let shaped = [1.0, -0.5, -0.5, 0.0, -0.5, 0.5];
    let tok = ref_token_rewards(&shaped, Some(&kl), 0.1);
    let ret = ref_returns(&tok, 1.0);
    assert_rows_close(&rows(&out.token_rewards), &tok, 1e-12);
    assert_rows_close(&rows(&out.returns), &ret, 1e-12);
    assert_rows_close(&rows(&out.advantages), &ref_whiten(&ret), 1e-12);
    // Whitened: masked mean 0 and population variance 1.
    assert_close(out.metrics["adv/mean"], 0.0, 1e-12);
    // Hand value of one token: row 3 (R' = 0, length 2), t = 0:
    // G_0 = −0.1·(kl[3][0] + kl[3][1]) = −0.1·(0.4 + 0.35) = −0.075.
    assert_close(rows(&out.returns)[3][0], -0.075, 1e-12);
}

#[test]
fn rloo_group_norm_dr_grpo_match_loop() {
    let mask = t2(&mask_rows(&LENS, T));
    let r = t1(&R);
    let s1 = 0.75f64.sqrt();
    let cases: [(AdvantageEstimator, [f64; 6], bool); 3] = [
        (
            AdvantageEstimator::Rloo,
            [1.5, -0.75, -0.75, 0.0, -0.75, 0.75],
            true,
        ),
        (
            AdvantageEstimator::GroupNorm,
            [1.0 / s1, -0.5 / s1, -0.5 / s1, 0.0, -1.0, 1.0],
            false,
        ),
        (
            AdvantageEstimator::DrGrpo,
            [1.0, -0.5, -0.5, 0.0, -0.5, 0.5],
            false,
        ),
    ];
    for (est, shaped, whitened) in cases {
        let out = compute_advantages(&AdvantageInputs::new(&r, &mask), &cfg(est)).unwrap();
        let ret = broadcast(&shaped);
        assert_rows_close(&rows(&out.returns), &ret, 1e-8);
        let want = if whitened { ref_whiten(&ret) } else { ret };
        assert_rows_close(&rows(&out.advantages), &want, 1e-8);
    }
}

#[test]
fn reinforce_discounted_returns_match_loop() {
    let mask = t2(&mask_rows(&LENS, T));
    let r_t = t1(&R);
    let kl = kl_rows();
    let kl_t = t2(&kl);
    let inputs = AdvantageInputs {
        kl: Some(&kl_t),
        kl_coef: 0.05,
        ..AdvantageInputs::new(&r_t, &mask)
    };
    let mut c = cfg(AdvantageEstimator::Reinforce);
    c.gamma = 0.5;
    let out = compute_advantages(&inputs, &c).unwrap();
    let tok = ref_token_rewards(&R, Some(&kl), 0.05);
    let ret = ref_returns(&tok, 0.5);
    assert_rows_close(&rows(&out.returns), &ret, 1e-12);
    assert_rows_close(&rows(&out.advantages), &ref_whiten(&ret), 1e-12);
}

#[test]
fn gae_gamma_lambda_one_with_per_token_kl_by_hand() {
    // A_t = (R − β Σ_{t'≥t} kl_{t'}) − V_t ; the KL and V on padding are ignored.
    let mask = t2(&[vec![1.0, 1.0, 1.0, 0.0]]);
    let one = t1(&[1.0]);
    let kl = t2(&[vec![0.1, -0.2, 0.3, 9.0]]);
    let v = t2(&[vec![0.5, 0.4, 0.2, 7.0]]);
    let tok = token_level_rewards(&t1(&[1.0]), &mask, Some(&kl), 0.1, (-10.0, 10.0)).unwrap();
    let (a, g) = gae_advantages_and_returns(&tok, &v, &mask, 1.0, 1.0).unwrap();
    assert_rows_close(&rows(&a), &[vec![0.48, 0.59, 0.77, 0.0]], 1e-12);
    assert_rows_close(&rows(&g), &[vec![0.98, 0.99, 0.97, 0.0]], 1e-12);
    // The same through the dispatcher (no whitening).
    let inputs = AdvantageInputs {
        kl: Some(&kl),
        kl_coef: 0.1,
        values: Some(&v),
        ..AdvantageInputs::new(&one, &mask)
    };
    let c = AdvantageConfig {
        estimator: AdvantageEstimator::Gae,
        whiten: Some(false),
        ..AdvantageConfig::default()
    };
    let out = compute_advantages(&inputs, &c).unwrap();
    assert_rows_close(
        &rows(&out.advantages),
        &[vec![0.48, 0.59, 0.77, 0.0]],
        1e-12,
    );
    assert_rows_close(&rows(&out.returns), &[vec![0.98, 0.99, 0.97, 0.0]], 1e-12);
}

#[test]
fn gae_matches_loop_and_is_whitened() {
    let mask = t2(&mask_rows(&LENS, T));
    let r_t = t1(&R);
    let kl = kl_rows();
    let kl_t = t2(&kl);
    let v = values_rows();
    let v_t = t2(&v);
    let inputs = AdvantageInputs {
        kl: Some(&kl_t),
        kl_coef: 0.2,
        values: Some(&v_t),
        ..AdvantageInputs::new(&r_t, &mask)
    };
    let mut c = cfg(AdvantageEstimator::Gae);
    c.gamma = 0.9;
    c.lambda = 0.8;
    let out = compute_advantages(&inputs, &c).unwrap();
    let tok = ref_token_rewards(&R, Some(&kl), 0.2);
    let (adv, ret) = ref_gae(&tok, &v, 0.9, 0.8);
    assert_rows_close(&rows(&out.returns), &ret, 1e-12);
    assert_rows_close(&rows(&out.advantages), &ref_whiten(&adv), 1e-12);
    // GAE without values is an error, not a panic.
    let no_v = AdvantageInputs::new(&r_t, &mask);
    assert!(matches!(
        compute_advantages(&no_v, &c),
        Err(AlgoError::MissingInput("values"))
    ));
}

#[test]
fn whitening_is_global_over_valid_tokens() {
    let mask = t2(&mask_rows(&LENS, T));
    let x = values_rows();
    let w = rows(&whiten(&t2(&x), &mask, true).unwrap());
    assert_rows_close(&w, &ref_whiten(&x), 1e-12);
    let valid: Vec<f64> = (0..6).flat_map(|i| w[i][..LENS[i]].to_vec()).collect();
    let n = valid.len() as f64;
    let mean = valid.iter().sum::<f64>() / n;
    let var = valid.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    assert_close(mean, 0.0, 1e-12);
    assert_close(var, 1.0, 1e-12);
    // Constant input: variance floor 1e-8 keeps it finite (all zeros after centring).
    let c = whiten(&t2(&vec![vec![2.0; T]; 6]), &mask, true).unwrap();
    assert!(rows(&c).iter().flatten().all(|&v| v == 0.0));
    // shift_mean = false keeps the mean.
    let keep = rows(&whiten(&t2(&x), &mask, false).unwrap());
    let mean_x = (0..6).flat_map(|i| x[i][..LENS[i]].to_vec()).sum::<f64>() / n;
    assert_close(keep[0][0] - w[0][0], mean_x, 1e-12);
}

#[test]
fn f32_inputs_give_f32_outputs() {
    let mask = t2(&mask_rows(&LENS, T)).to_dtype(DType::F32).unwrap();
    let r = t1(&R).to_dtype(DType::F32).unwrap();
    let out = compute_advantages(
        &AdvantageInputs::new(&r, &mask),
        &cfg(AdvantageEstimator::ReinforceBaseline),
    )
    .unwrap();
    assert_eq!(out.advantages.dtype(), DType::F32);
    let ret = broadcast(&[1.0, -0.5, -0.5, 0.0, -0.5, 0.5]);
    assert_rows_close(&rows(&out.advantages), &ref_whiten(&ret), 1e-6);
}

#[test]
fn shape_errors_are_reported() {
    let mask = t2(&mask_rows(&LENS, T));
    let r_t = t1(&R);
    let bad = t1(&[1.0, 2.0]);
    let err = compute_advantages(
        &AdvantageInputs::new(&bad, &mask),
        &cfg(AdvantageEstimator::Rloo),
    );
    assert!(matches!(
        err,
        Err(AlgoError::ShapeMismatch {
            name: "seq_rewards",
            ..
        })
    ));
    let kl = t2(&[vec![0.0; 3]]);
    let inputs = AdvantageInputs {
        kl: Some(&kl),
        kl_coef: 0.1,
        ..AdvantageInputs::new(&r_t, &mask)
    };
    assert!(matches!(
        compute_advantages(&inputs, &cfg(AdvantageEstimator::Rloo)),
        Err(AlgoError::ShapeMismatch { name: "kl", .. })
    ));
}

// ---------- DAPO ----------

#[test]
fn dynamic_sampling_drops_uniform_groups() {
    let r = [1.0, 1.0, 1.0, 0.0, 1.5, 0.0, 0.5, 0.5, 0.5, 0.0, 0.0, 1.0];
    let ds = dynamic_sampling(&r, 3).unwrap();
    assert_eq!(ds.kept_groups, vec![1, 3]);
    assert_eq!(ds.kept_samples, vec![3, 4, 5, 9, 10, 11]);
    assert_eq!(ds.dropped_groups, 2);
    assert_eq!(ds.metrics()["dapo/dropped_groups"], 2.0);
    assert!(dynamic_sampling(&r, 5).is_err());
}

#[test]
fn overlong_penalty_three_regimes() {
    // L_max = 20, L_buf = 4 → L_exp = 16.
    assert_eq!(overlong_penalty(10, 20, 4, 1.0).unwrap(), 0.0);
    assert_eq!(overlong_penalty(16, 20, 4, 1.0).unwrap(), 0.0);
    assert_eq!(overlong_penalty(18, 20, 4, 1.0).unwrap(), -0.5);
    assert_eq!(overlong_penalty(19, 20, 4, 2.0).unwrap(), -1.5);
    assert_eq!(overlong_penalty(20, 20, 4, 1.0).unwrap(), -1.0);
    assert_eq!(overlong_penalty(25, 20, 4, 1.0).unwrap(), -1.0);
    assert!(overlong_penalty(1, 20, 0, 1.0).is_err());
    assert!(overlong_penalty(1, 20, 21, 1.0).is_err());
}

#[test]
fn truncated_completions_are_masked_out() {
    let mask = t2(&mask_rows(&[2, 3], 3));
    let m = truncated_completion_mask(&mask, &[false, true]).unwrap();
    assert_rows_close(&rows(&m), &[vec![1.0, 1.0, 0.0], vec![0.0, 0.0, 0.0]], 0.0);
    assert!(truncated_completion_mask(&mask, &[true]).is_err());
}

// ---------- config names ----------

#[test]
fn config_names_match_openrlhf_and_verl() {
    let names = [
        ("reinforce_baseline", AdvantageEstimator::ReinforceBaseline),
        ("gae", AdvantageEstimator::Gae),
        ("group_norm", AdvantageEstimator::GroupNorm),
        ("dr_grpo", AdvantageEstimator::DrGrpo),
        ("rloo", AdvantageEstimator::Rloo),
        ("reinforce", AdvantageEstimator::Reinforce),
    ];
    for (name, want) in names {
        let got: AdvantageEstimator = serde_json::from_str(&format!("\"{name}\"")).unwrap();
        assert_eq!(got, want);
    }
    let aggs = [
        ("token-mean", LossAggregation::TokenMean),
        ("seq-mean-token-mean", LossAggregation::SeqMeanTokenMean),
        ("seq-mean-token-sum", LossAggregation::SeqMeanTokenSum),
        (
            "seq-mean-token-sum-norm",
            LossAggregation::SeqMeanTokenSumNorm,
        ),
    ];
    for (name, want) in aggs {
        let got: LossAggregation = serde_json::from_str(&format!("\"{name}\"")).unwrap();
        assert_eq!(got, want);
    }
    let k: KlEstimator = serde_json::from_str("\"low_var_kl\"").unwrap();
    assert_eq!(k, KlEstimator::K3);
    let c: AdvantageConfig =
        serde_json::from_str(r#"{"estimator": "gae", "lambd": 0.95, "n_samples_per_prompt": 16}"#)
            .unwrap();
    assert_eq!(c.estimator, AdvantageEstimator::Gae);
    assert_eq!(c.lambda, 0.95);
    assert_eq!(c.reward_clip, (-10.0, 10.0));
    let p: PolicyLossConfig =
        serde_json::from_str(r#"{"clip_high": 0.28, "aggregation": "seq-mean-token-mean"}"#)
            .unwrap();
    assert_eq!(p.clip_low, 0.2);
    assert_eq!(p.aggregation, LossAggregation::SeqMeanTokenMean);
    let ctl: KlController = serde_json::from_str(r#"{"type": "fixed", "coef": 0.001}"#).unwrap();
    assert_eq!(ctl.value(), 0.001);
    assert!(serde_json::from_str::<AdvantageEstimator>("\"grpo\"").is_err());
}

#[test]
fn integer_masks_are_accepted_as_float() {
    let mask = t2(&mask_rows(&LENS, T)).to_dtype(DType::U8).unwrap();
    let r = t1(&R);
    let out = compute_advantages(
        &AdvantageInputs::new(&r, &mask),
        &cfg(AdvantageEstimator::ReinforceBaseline),
    )
    .unwrap();
    assert_eq!(out.advantages.dtype(), DType::F32);
    let ret = broadcast(&[1.0, -0.5, -0.5, 0.0, -0.5, 0.5]);
    assert_rows_close(&rows(&out.returns), &ret, 1e-6);
}
