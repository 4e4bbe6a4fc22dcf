//! AdamW, gradient clipping and LR schedules against PyTorch / transformers numbers
//! (`tools/optim_fixtures.py` → `tests/fixtures/optim.safetensors`), optimizer state
//! save/restore, and gradient accumulation on the tiny model.

mod train_support;

use std::collections::HashMap;
use std::sync::OnceLock;

use candle_core::backprop::GradStore;
use candle_core::{DType, Device, Tensor, Var};
use lmmr1_model::optim::{accumulate_grads, clip_grad_norm};
use lmmr1_model::rng::Rng;
use lmmr1_model::{AdamW, AdamWConfig, Error, LrSchedule, ScheduleKind};
use train_support::*;

fn fx() -> &'static HashMap<String, Tensor> {
    static F: OnceLock<HashMap<String, Tensor>> = OnceLock::new();
    F.get_or_init(|| {
        candle_core::safetensors::load(fixtures().join("optim.safetensors"), &Device::Cpu)
            .expect("optim.safetensors")
    })
}

fn get(k: &str) -> Tensor {
    fx().get(k)
        .unwrap_or_else(|| panic!("fixture has no {k}"))
        .clone()
}

fn f64s(k: &str) -> Vec<f64> {
    get(k).to_vec1::<f64>().unwrap()
}

const N_PARAMS: usize = 3;

fn fixture_optimizer(dtype: DType) -> (Vec<(String, Var)>, AdamW, Vec<f64>) {
    let c = f64s("adamw.cfg");
    let cfg = AdamWConfig {
        lr: c[0],
        beta1: c[1],
        beta2: c[2],
        eps: c[3],
        weight_decay: c[4],
    };
    let vars: Vec<(String, Var)> = (0..N_PARAMS)
        .map(|i| {
            let t = get(&format!("adamw.p{i}.init")).to_dtype(dtype).unwrap();
            (format!("p{i}"), Var::from_tensor(&t).unwrap())
        })
        .collect();
    let opt = AdamW::new(vars.clone(), cfg).unwrap();
    (vars, opt, f64s("adamw.lrs"))
}

fn fixture_grads(vars: &[(String, Var)], s: usize) -> GradStore {
    let mut g = GradStore::default();
    for (i, (_, v)) in vars.iter().enumerate() {
        if let Some(t) = fx().get(&format!("adamw.p{i}.grad{s}")) {
            g.insert(v.as_tensor(), t.to_dtype(v.dtype()).unwrap());
        }
    }
    g
}

#[test]
fn adamw_matches_torch_adamw() {
    let (vars, mut opt, lrs) = fixture_optimizer(DType::F32);
    for (s, &lr) in lrs.iter().enumerate() {
        opt.step(&fixture_grads(&vars, s), lr).unwrap();
        for (i, (_, v)) in vars.iter().enumerate() {
            let d = max_abs_diff(v.as_tensor(), &get(&format!("adamw.p{i}.after{s}")));
            assert!(d <= 1e-6, "p{i} after step {s}: max diff {d}");
        }
    }
    assert_eq!(opt.steps(), lrs.len() as u64);
    let state: HashMap<String, Tensor> = opt.state_tensors().unwrap().into_iter().collect();
    for i in 0..N_PARAMS {
        for k in ["exp_avg", "exp_avg_sq"] {
            let ours = &state[&format!("p{i}.{k}")];
            assert_eq!(ours.dtype(), DType::F32);
            let want = get(&format!("adamw.p{i}.{k}"));
            let scale = max_abs_diff(&want, &want.zeros_like().unwrap()).max(1.0);
            let d = max_abs_diff(ours, &want);
            assert!(
                d <= 1e-6 * scale,
                "p{i}.{k}: max diff {d} (max |value| {scale})"
            );
        }
        // p2 had no gradient at one step: torch's per-parameter count is one lower.
        let step = state[&format!("p{i}.step")].to_vec1::<i64>().unwrap()[0];
        assert_eq!(
            step as f64,
            f64s(&format!("adamw.p{i}.step"))[0],
            "p{i}.step"
        );
    }
}

#[test]
fn adamw_state_restores_to_identical_updates() {
    let (vars_a, mut a, lrs) = fixture_optimizer(DType::F32);
    let k = 3;
    for (s, &lr) in lrs.iter().enumerate().take(k) {
        a.step(&fixture_grads(&vars_a, s), lr).unwrap();
    }
    // New optimizers over copies of the weights: one restored from the saved state, one fresh.
    let saved: HashMap<String, Tensor> = a.state_tensors().unwrap().into_iter().collect();
    let copy = || -> Vec<(String, Var)> {
        vars_a
            .iter()
            .map(|(n, v)| {
                (
                    n.clone(),
                    Var::from_tensor(&v.as_tensor().copy().unwrap()).unwrap(),
                )
            })
            .collect()
    };
    let (vars_b, vars_c) = (copy(), copy());
    let mut b = AdamW::new(vars_b.clone(), *a.config()).unwrap();
    b.load_state_tensors(&saved, a.steps()).unwrap();
    assert_eq!(b.steps(), k as u64);
    let mut c = AdamW::new(vars_c.clone(), *a.config()).unwrap();
    for (s, &lr) in lrs.iter().enumerate().skip(k) {
        a.step(&fixture_grads(&vars_a, s), lr).unwrap();
        b.step(&fixture_grads(&vars_b, s), lr).unwrap();
        c.step(&fixture_grads(&vars_c, s), lr).unwrap();
    }
    for ((n, va), (_, vb)) in vars_a.iter().zip(&vars_b) {
        assert_eq!(bits(va.as_tensor()), bits(vb.as_tensor()), "{n}");
    }
    // Without the restored moments the continuation differs (the check above can fail).
    assert_ne!(bits(vars_a[0].1.as_tensor()), bits(vars_c[0].1.as_tensor()));
}

#[test]
fn adamw_state_errors_name_the_tensor() {
    let (_, mut opt, _) = fixture_optimizer(DType::F32);
    let good: HashMap<String, Tensor> = opt.state_tensors().unwrap().into_iter().collect();

    let mut missing = good.clone();
    missing.remove("p1.exp_avg_sq");
    let e = opt.load_state_tensors(&missing, 1).unwrap_err().to_string();
    assert!(e.contains("p1.exp_avg_sq"), "{e}");

    let mut bad_shape = good.clone();
    bad_shape.insert(
        "p0.exp_avg".into(),
        Tensor::zeros((4, 3), DType::F32, &Device::Cpu).unwrap(),
    );
    let e = opt.load_state_tensors(&bad_shape, 1).unwrap_err();
    assert!(
        matches!(&e, Error::Shape { name, .. } if name == "p0.exp_avg"),
        "{e}"
    );

    let mut extra = good.clone();
    extra.insert(
        "q9.exp_avg".into(),
        Tensor::zeros(3, DType::F32, &Device::Cpu).unwrap(),
    );
    let e = opt.load_state_tensors(&extra, 1).unwrap_err().to_string();
    assert!(e.contains("q9.exp_avg"), "{e}");

    let mut bad_step = good;
    bad_step.insert(
        "p2.step".into(),
        Tensor::new(&[-1i64], &Device::Cpu).unwrap(),
    );
    let e = opt
        .load_state_tensors(&bad_step, 1)
        .unwrap_err()
        .to_string();
    assert!(e.contains("p2.step"), "{e}");

    let v = Var::zeros(2, DType::F32, &Device::Cpu).unwrap();
    let e = AdamW::new(
        vec![("w".into(), v.clone()), ("w".into(), v)],
        AdamWConfig::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("w"), "{e}");
}

#[test]
fn adamw_bf16_variables_keep_f32_moments() {
    let (vars32, mut opt32, lrs) = fixture_optimizer(DType::F32);
    let (vars16, mut opt16, _) = fixture_optimizer(DType::BF16);
    for (s, &lr) in lrs.iter().enumerate() {
        opt32.step(&fixture_grads(&vars32, s), lr).unwrap();
        opt16.step(&fixture_grads(&vars16, s), lr).unwrap();
    }
    for ((n, a), (_, b)) in vars32.iter().zip(&vars16) {
        assert_eq!(b.dtype(), DType::BF16);
        // Within bf16 rounding of the f32 run (|p| < 4: half an ulp of bf16 is ≤ 2^-7 · 2).
        let d = max_abs_diff(a.as_tensor(), b.as_tensor());
        assert!(d <= 0.03, "{n}: {d}");
    }
    for (k, t) in opt16.state_tensors().unwrap() {
        if !k.ends_with(".step") {
            assert_eq!(t.dtype(), DType::F32, "{k}");
        }
    }
}

#[test]
fn clip_grad_norm_matches_torch() {
    let gs: Vec<Tensor> = (0..3).map(|i| get(&format!("clip.g{i}"))).collect();
    let vars: Vec<(String, Var)> = gs
        .iter()
        .enumerate()
        .map(|(i, g)| {
            (
                format!("g{i}"),
                Var::zeros(g.shape(), DType::F32, &Device::Cpu).unwrap(),
            )
        })
        .collect();
    let store = |gs: &[Tensor]| {
        let mut s = GradStore::default();
        for ((_, v), g) in vars.iter().zip(gs) {
            s.insert(v.as_tensor(), g.clone());
        }
        s
    };
    let want_norm = f64s("clip.norm")[0];
    for (k, &max_norm) in f64s("clip.max_norms").iter().enumerate() {
        let mut s = store(&gs);
        let norm = clip_grad_norm(&mut s, &vars, max_norm).unwrap();
        assert!(
            (norm - want_norm).abs() <= 1e-6 * want_norm,
            "{norm} vs {want_norm}"
        );
        for (i, (_, v)) in vars.iter().enumerate() {
            let d = max_abs_diff(
                s.get(v.as_tensor()).unwrap(),
                &get(&format!("clip.m{k}.g{i}")),
            );
            assert!(d <= 1e-6, "max_norm {max_norm}, g{i}: {d}");
        }
    }
    // max_norm <= 0: measure only.
    let mut s = store(&gs);
    clip_grad_norm(&mut s, &vars, 0.0).unwrap();
    assert_eq!(bits(s.get(vars[0].1.as_tensor()).unwrap()), bits(&gs[0]));
    // A non-finite norm leaves the gradients alone.
    let mut bad = gs.clone();
    bad[1] = Tensor::new(&[f32::NAN; 7], &Device::Cpu).unwrap();
    let mut s = store(&bad);
    let norm = clip_grad_norm(&mut s, &vars, 1.0).unwrap();
    assert!(norm.is_nan());
    assert_eq!(bits(s.get(vars[0].1.as_tensor()).unwrap()), bits(&gs[0]));
}

#[test]
fn lr_schedules_match_transformers() {
    for name in [
        "cosine",
        "cosine_nowarmup",
        "cosine_zero_min",
        "constant",
        "constant_nowarmup",
    ] {
        let c = f64s(&format!("sched.{name}.cfg"));
        let sched = LrSchedule {
            kind: if c[3] < 0.0 {
                ScheduleKind::Constant
            } else {
                ScheduleKind::Cosine
            },
            peak_lr: c[0],
            warmup_steps: c[1] as u64,
            total_steps: c[2] as u64,
            min_lr_ratio: c[3].max(0.0),
        };
        for (k, want) in f64s(&format!("sched.{name}.lrs")).into_iter().enumerate() {
            let got = sched.lr_at(k as u64);
            assert!(
                (got - want).abs() <= 1e-12 * c[0],
                "{name} step {k}: {got} vs {want}"
            );
        }
    }
    // OpenRLHF's construction: warm-up ceil(total · ratio), min 0.1 · peak.
    let s = LrSchedule::openrlhf_cosine(1e-3, 20, 0.1);
    assert_eq!(s.warmup_steps, 2);
    assert!((s.lr_at(20) - 1e-4).abs() < 1e-15);
}

/// Micro-batches whose losses are divided by the whole batch's token count accumulate to the
/// full-batch gradient.
#[test]
fn accumulated_micro_batch_gradients_equal_the_full_batch_gradient() {
    let (_, varmap, model) = trainable("tiny");
    let vars = named_vars(&varmap);
    let mut rng = Rng::new(11);
    // Rows of different lengths (left padding), 4 prompt tokens each.
    let rows: Vec<Vec<u32>> = [12usize, 9, 12, 7]
        .iter()
        .flat_map(|&l| random_rows(&mut rng, 1, l))
        .collect();
    let (full, mask) = sft_batch(&rows, 4);
    let count = mask.sum_all().unwrap().to_scalar::<f32>().unwrap() as f64;
    let full_grads = sft_loss(&model, &full, &mask, count).backward().unwrap();

    let t = full.seq_len;
    let mut acc = None;
    for (start, len) in [(0usize, 1usize), (1, 2), (3, 1)] {
        let ids = full.input_ids[start * t..(start + len) * t].to_vec();
        let att = full.attention_mask[start * t..(start + len) * t].to_vec();
        let inp = lmmr1_model::model::Inputs::text(len, ids, att).unwrap();
        let m = mask.narrow(0, start, len).unwrap();
        let g = sft_loss(&model, &inp, &m, count).backward().unwrap();
        accumulate_grads(&mut acc, g, &vars).unwrap();
    }
    let acc = acc.unwrap();
    let (mut worst, mut with_grad) = (0f32, 0);
    for (n, v) in &vars {
        // Text-only batches give the vision tower no gradient, in both ways.
        let (a, f) = (acc.get(v.as_tensor()), full_grads.get(v.as_tensor()));
        assert_eq!(a.is_some(), f.is_some(), "{n}");
        if let (Some(a), Some(f)) = (a, f) {
            worst = worst.max(max_abs_diff(a, f));
            with_grad += 1;
        }
    }
    assert!(worst <= 1e-5, "max diff {worst}");
    assert_eq!(
        with_grad,
        vars.iter()
            .filter(|(n, _)| !n.starts_with("visual"))
            .count()
    );
    // Only the variables' gradients are kept.
    assert_eq!(acc.get_ids().count(), with_grad);
    // The check can fail: one micro-batch alone is not the full gradient.
    let (n0, v0) = vars.iter().find(|(n, _)| n == "lm_head.weight").unwrap();
    let one = {
        let inp = lmmr1_model::model::Inputs::text(
            1,
            full.input_ids[..t].to_vec(),
            full.attention_mask[..t].to_vec(),
        )
        .unwrap();
        sft_loss(&model, &inp, &mask.narrow(0, 0, 1).unwrap(), count)
            .backward()
            .unwrap()
    };
    let d = max_abs_diff(
        one.get(v0.as_tensor()).unwrap(),
        full_grads.get(v0.as_tensor()).unwrap(),
    );
    assert!(d > 1e-4, "{n0}: {d}");
}

/// Mixed precision: a bf16 policy trains f32 masters. One AdamW step at lr 1e-6 (LMM-R1's
/// scale) moves every master that has a gradient by about the learning rate, and the bf16
/// variables are the masters rounded; the same step on the bf16 weights alone (no masters)
/// leaves almost all of them unchanged, because the update is far below half a bf16 step.
#[test]
fn bf16_masters_move_at_a_small_learning_rate() {
    use lmmr1_model::{Policy, PolicyOptions};
    let cfg = lmmr1_model::Config::from_file(fixtures().join("tiny/config.json")).unwrap();
    let dev = Device::Cpu;
    let policy = |seed| Policy::random(&cfg, seed, DType::BF16, &dev, &PolicyOptions::default());
    let mut rng = Rng::new(4);
    let (inp, mask) = sft_batch(&random_rows(&mut rng, 4, 12), 6);
    let loss_of = |p: &Policy| {
        p.forward_backward(&inp, 1, false, |lp| lmmr1_model::sft_loss(lp, &mask))
            .unwrap()
            .1
    };
    let lr = 1e-6;
    let adam = AdamWConfig::default();

    // With masters.
    let p = policy(1).unwrap();
    let params = p.trainable_params();
    assert!(params
        .iter()
        .all(|q| q.master.is_some() && q.var.dtype() == DType::BF16));
    let before: Vec<Tensor> = params.iter().map(|q| q.value().copy().unwrap()).collect();
    let grads = loss_of(&p);
    let mut opt = AdamW::new(params.clone(), adam).unwrap();
    opt.step(&grads, lr).unwrap();
    let (mut moved, mut total) = (0usize, 0usize);
    for (q, b) in params.iter().zip(&before) {
        let d = (q.value() - b)
            .unwrap()
            .abs()
            .unwrap()
            .flatten_all()
            .unwrap();
        let d = d.to_vec1::<f32>().unwrap();
        assert!(
            d.iter().all(|&x| x <= 2.5 * lr as f32),
            "{}: step above lr",
            q.name
        );
        let rounded = q.value().to_dtype(DType::BF16).unwrap();
        assert_eq!(bits(&rounded), bits(q.var.as_tensor()), "{}", q.name);
        // Entries with a gradient (text-only inputs leave the vision tower and the rows of
        // unused tokens without one).
        let Some(g) = grads.get(q.var.as_tensor()) else {
            continue;
        };
        let g = g.to_dtype(DType::F32).unwrap().flatten_all().unwrap();
        for (&x, &gv) in d.iter().zip(&g.to_vec1::<f32>().unwrap()) {
            if gv != 0.0 {
                total += 1;
                moved += (x > 0.0) as usize;
            }
        }
    }
    assert!(moved * 10 >= total * 9, "masters moved: {moved} of {total}");

    // Without masters: AdamW on the bf16 variables themselves.
    let p = policy(1).unwrap();
    let vars = p.trainable_vars();
    let before: Vec<Tensor> = vars
        .iter()
        .map(|(_, v)| v.as_tensor().copy().unwrap())
        .collect();
    let grads = loss_of(&p);
    let mut opt = AdamW::new(vars.clone(), adam).unwrap();
    opt.step(&grads, lr).unwrap();
    let (mut changed, mut total) = (0usize, 0usize);
    for ((_, v), b) in vars.iter().zip(&before) {
        let (x, y) = (bits(v.as_tensor()), bits(b));
        total += x.len();
        changed += x.iter().zip(&y).filter(|(a, b)| a != b).count();
    }
    assert!(
        changed * 100 <= total,
        "pure bf16 changed {changed} of {total}"
    );
}
