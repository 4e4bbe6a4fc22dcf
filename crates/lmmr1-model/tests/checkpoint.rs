//! Checkpoints: HF export round trip (save → `Qwen25VL::load` → identical logits), training
//! checkpoints (atomic layout, `latest`, keep-last, leftovers of interrupted writes ignored),
//! and the kill/resume proof: a run interrupted after a checkpoint and rebuilt from it reaches
//! bitwise the same weights after the next step as an uninterrupted run.

mod train_support;

use std::collections::HashMap;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use lmmr1_model::checkpoint::{write_atomic, TrainingCheckpoint};
use lmmr1_model::model::Inputs;
use lmmr1_model::optim::clip_grad_norm;
use lmmr1_model::rng::Rng;
use lmmr1_model::{
    load_latest_checkpoint, save_checkpoint, save_hf, AdamW, AdamWConfig, Config, Error,
    LrSchedule, Qwen25VL,
};
use train_support::*;

fn image_inputs() -> Inputs {
    // Two rows, one 4-patch image each (grid 1×4×4 → 4 merged tokens), left padding in row 1.
    let (img, vs, ve, pad) = (1000u32, 1002, 1003, 1005);
    let row0 = [5, vs, img, img, img, img, ve, 17, 300, 42];
    let row1 = [pad, pad, vs, img, img, img, img, ve, 9, 801];
    let ids: Vec<u32> = row0.iter().chain(&row1).copied().collect();
    let att: Vec<u32> = ids.iter().map(|&t| (t != pad) as u32).collect();
    let mut rng = Rng::new(5);
    let pv: Vec<f32> = (0..32 * 1176).map(|_| rng.uniform() as f32 - 0.5).collect();
    let pv = Tensor::from_vec(pv, (32, 1176), &Device::Cpu).unwrap();
    Inputs::new(2, ids, att, Some(pv), vec![[1, 4, 4], [1, 4, 4]]).unwrap()
}

/// One AdamW step on an SFT loss so that exported weights differ from the fixture's.
fn train_one_step(model: &Qwen25VL, vars: &[(String, candle_core::Var)]) {
    let inp = image_inputs();
    let lp = model.token_logprobs(&inp).unwrap();
    let mask = Tensor::ones(lp.shape(), DType::F32, &Device::Cpu).unwrap();
    let loss = (lp * mask).unwrap().sum_all().unwrap().neg().unwrap();
    let grads = loss.backward().unwrap();
    let mut opt = AdamW::new(vars.to_vec(), AdamWConfig::default()).unwrap();
    opt.step(&grads, 1e-2).unwrap();
}

/// An inference model over the same tensors as the variables (plain tensors: fused path).
fn inference_copy(cfg: &Config, vars: &[(String, candle_core::Var)]) -> Qwen25VL {
    let ts: HashMap<String, Tensor> = snapshot(vars).into_iter().collect();
    Qwen25VL::new(cfg, VarBuilder::from_tensors(ts, DType::F32, &Device::Cpu)).unwrap()
}

#[test]
fn save_hf_round_trip_gives_identical_logits() {
    for name in ["tiny", "tiny_tied"] {
        let (cfg, varmap, model) = trainable(name);
        let vars = named_vars(&varmap);
        train_one_step(&model, &vars);
        let dir = Scratch::new("export");
        let out = dir.path().join("model");
        save_hf(&out, &cfg, &snapshot(&vars), DType::F32).unwrap();

        let names: Vec<String> =
            candle_core::safetensors::load(out.join("model.safetensors"), &Device::Cpu)
                .unwrap()
                .into_keys()
                .collect();
        assert_eq!(
            names.contains(&"lm_head.weight".to_string()),
            !cfg.tie_word_embeddings,
            "{name}"
        );
        assert!(names
            .iter()
            .all(|n| n.starts_with("model.") || n.starts_with("visual.") || n == "lm_head.weight"));
        assert_eq!(
            Config::from_file(out.join("config.json")).unwrap(),
            cfg,
            "{name}"
        );

        let inp = image_inputs();
        let loaded = Qwen25VL::load(&out, DType::F32, &Device::Cpu).unwrap();
        let reference = inference_copy(&cfg, &vars);
        let (a, b) = (
            loaded.forward(&inp).unwrap(),
            reference.forward(&inp).unwrap(),
        );
        assert_eq!(bits(&a), bits(&b), "{name}: logits differ");
        // And the export is not the fixture (the training step changed the weights).
        let orig = Qwen25VL::load(fixtures().join(name), DType::F32, &Device::Cpu).unwrap();
        assert!(
            max_abs_diff(&orig.forward(&inp).unwrap(), &a) > 1e-3,
            "{name}"
        );

        // bf16 export: loadable, config says so, logits near the f32 ones.
        let out16 = dir.path().join("model16");
        save_hf(&out16, &cfg, &snapshot(&vars), DType::BF16).unwrap();
        let cj: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out16.join("config.json")).unwrap())
                .unwrap();
        assert_eq!(cj["torch_dtype"], "bfloat16");
        let m16 = Qwen25VL::load(&out16, DType::F32, &Device::Cpu).unwrap();
        let d = max_abs_diff(&m16.forward(&inp).unwrap(), &a);
        assert!(d < 0.5, "{name} bf16: {d}");
    }
}

#[test]
fn save_hf_rejects_incomplete_or_misshapen_weights() {
    let (cfg, varmap, _) = trainable("tiny");
    let all = snapshot(&named_vars(&varmap));
    let dir = Scratch::new("export-bad");
    let out = dir.path().join("m");

    let missing: Vec<(String, Tensor)> = all
        .iter()
        .filter(|(n, _)| n != "model.norm.weight")
        .cloned()
        .collect();
    let e = save_hf(&out, &cfg, &missing, DType::F32).unwrap_err();
    assert!(
        matches!(&e, Error::MissingTensors { names, .. } if names == &["model.norm.weight"]),
        "{e}"
    );

    let mut bad = all.clone();
    for (n, t) in bad.iter_mut() {
        if n == "model.norm.weight" {
            *t = Tensor::zeros(3, DType::F32, &Device::Cpu).unwrap();
        }
    }
    let e = save_hf(&out, &cfg, &bad, DType::F32).unwrap_err();
    assert!(
        matches!(&e, Error::Shape { name, .. } if name == "model.norm.weight"),
        "{e}"
    );

    let mut extra = all.clone();
    extra.push((
        "score.weight".into(),
        Tensor::zeros((1, 64), DType::F32, &Device::Cpu).unwrap(),
    ));
    let e = save_hf(&out, &cfg, &extra, DType::F32).unwrap_err();
    assert!(e.to_string().contains("score.weight"), "{e}");
    // Nothing was written by the failed calls.
    assert!(!out.exists());
    // transformers-5 style names are accepted and written in hub layout.
    let renamed: Vec<(String, Tensor)> = all
        .iter()
        .map(|(n, t)| (n.replacen("model.", "model.language_model.", 1), t.clone()))
        .collect();
    save_hf(&out, &cfg, &renamed, DType::F32).unwrap();
    Qwen25VL::load(&out, DType::F32, &Device::Cpu).unwrap();
}

fn small_groups(v: f32) -> Vec<(&'static str, Vec<(String, Tensor)>)> {
    let t = |x: f32| Tensor::new(&[x, x + 1.0, x + 2.0], &Device::Cpu).unwrap();
    vec![
        ("policy", vec![("w".into(), t(v)), ("b".into(), t(-v))]),
        ("policy_optim", vec![("w.exp_avg".into(), t(2.0 * v))]),
    ]
}

#[test]
fn save_checkpoint_layout_latest_and_keep_last() {
    let root = Scratch::new("ckpt");
    let r = root.path().join("ckpts");
    for step in 1..=4u64 {
        let state = serde_json::json!({"step": step, "rng": u64::MAX - step});
        let dir = save_checkpoint(&r, step, &small_groups(step as f32), &state, 2).unwrap();
        assert_eq!(dir, r.join(format!("step-{step}")));
        assert_eq!(
            std::fs::read_to_string(r.join("latest")).unwrap(),
            format!("step-{step}\n")
        );
    }
    let mut entries: Vec<String> = std::fs::read_dir(&r)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    entries.sort();
    assert_eq!(entries, ["latest", "step-3", "step-4"]);
    let m: TrainingCheckpoint =
        serde_json::from_str(&std::fs::read_to_string(r.join("step-4/checkpoint.json")).unwrap())
            .unwrap();
    assert_eq!(
        (m.step, m.groups.clone()),
        (4, vec!["policy".to_string(), "policy_optim".to_string()])
    );

    let c = load_latest_checkpoint(&r).unwrap().unwrap().checkpoint;
    assert_eq!((c.step, c.dir.clone()), (4, r.join("step-4")));
    assert_eq!(c.state["rng"].as_u64(), Some(u64::MAX - 4));
    assert_eq!(
        c.groups["policy"]["w"].to_vec1::<f32>().unwrap(),
        [4.0, 5.0, 6.0]
    );
    assert_eq!(
        c.groups["policy_optim"]["w.exp_avg"]
            .to_vec1::<f32>()
            .unwrap(),
        [8.0, 9.0, 10.0]
    );

    // Re-saving a step replaces it.
    save_checkpoint(&r, 4, &small_groups(40.0), &serde_json::json!({}), 2).unwrap();
    let c = load_latest_checkpoint(&r).unwrap().unwrap().checkpoint;
    assert_eq!(
        c.groups["policy"]["w"].to_vec1::<f32>().unwrap(),
        [40.0, 41.0, 42.0]
    );

    // Bad group names are refused before anything is written.
    let e = save_checkpoint(&r, 5, &[("../x", vec![])], &serde_json::json!({}), 2).unwrap_err();
    assert!(e.to_string().contains("../x"), "{e}");
    assert!(!r.join("step-5").exists());

    // No checkpoint yet: None.
    assert!(load_latest_checkpoint(&root.path().join("nothing"))
        .unwrap()
        .is_none());

    // write_atomic replaces the content.
    let f = root.path().join("a.json");
    write_atomic(&f, b"one").unwrap();
    write_atomic(&f, b"two").unwrap();
    assert_eq!(std::fs::read(&f).unwrap(), b"two");
}

#[test]
fn interrupted_writes_are_ignored() {
    let root = Scratch::new("ckpt-crash");
    let r = root.path().to_path_buf();
    save_checkpoint(&r, 3, &small_groups(3.0), &serde_json::json!({"s": 3}), 0).unwrap();
    // A crash while writing step 5: its temporary directory holds part of the files.
    let tmp = r.join(".tmp-step-5-999-0-0");
    std::fs::create_dir(&tmp).unwrap();
    std::fs::write(tmp.join("policy.safetensors"), b"partial").unwrap();
    assert_eq!(
        load_latest_checkpoint(&r).unwrap().unwrap().checkpoint.step,
        3
    );

    // A crash after the rename of step 6 but before `latest` was replaced: `latest` (step 3)
    // is the commit point.
    save_checkpoint(&r, 6, &small_groups(6.0), &serde_json::json!({"s": 6}), 0).unwrap();
    write_atomic(&r.join("latest"), b"step-3\n").unwrap();
    assert_eq!(
        load_latest_checkpoint(&r).unwrap().unwrap().checkpoint.step,
        3
    );

    // `latest` missing: the newest complete step directory.
    std::fs::remove_file(r.join("latest")).unwrap();
    assert_eq!(
        load_latest_checkpoint(&r).unwrap().unwrap().checkpoint.step,
        6
    );

    // A damaged newest directory (no manifest) is skipped, and reported; `latest` naming it
    // falls back too.
    std::fs::create_dir(r.join("step-9")).unwrap();
    std::fs::write(r.join("step-9/policy.safetensors"), b"partial").unwrap();
    let found = load_latest_checkpoint(&r).unwrap().unwrap();
    assert_eq!(found.checkpoint.step, 6);
    assert_eq!(found.skipped.len(), 1);
    assert_eq!(found.skipped[0].dir, r.join("step-9"));
    assert!(
        found.skipped[0].reason.contains("checkpoint.json"),
        "{:?}",
        found.skipped
    );
    write_atomic(&r.join("latest"), b"step-9\n").unwrap();
    let found = load_latest_checkpoint(&r).unwrap().unwrap();
    assert_eq!(found.checkpoint.step, 6);
    assert_eq!(found.skipped.len(), 1);

    // The next save removes the leftovers.
    save_checkpoint(&r, 10, &small_groups(10.0), &serde_json::json!({}), 0).unwrap();
    assert!(!tmp.exists());
    assert_eq!(
        load_latest_checkpoint(&r).unwrap().unwrap().checkpoint.step,
        10
    );

    // A corrupt tensor file in the committed checkpoint: the previous one is taken, and the
    // skipped one is reported naming the file.
    std::fs::write(r.join("step-10/policy_optim.safetensors"), b"garbage").unwrap();
    let found = load_latest_checkpoint(&r).unwrap().unwrap();
    assert_eq!(found.checkpoint.step, 6);
    let reasons: Vec<&str> = found.skipped.iter().map(|s| s.reason.as_str()).collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(
        reasons[0].contains("policy_optim.safetensors"),
        "{reasons:?}"
    );

    // Checkpoints, none valid: an error naming the root and the newest one's fault, never
    // `None` (which would start the run over).
    for step in ["step-3", "step-6"] {
        std::fs::remove_file(r.join(step).join("checkpoint.json")).unwrap();
    }
    let e = load_latest_checkpoint(&r).unwrap_err().to_string();
    assert!(e.contains("none of its 4 checkpoints is valid"), "{e}");
    assert!(e.contains("policy_optim.safetensors"), "{e}");
    assert!(!e.contains('\n'), "{e}");
}

// ---------------------------------------------------------------------------------------------
// Kill/resume.

const ROWS: usize = 12;
const BATCH: usize = 3;
const K: u64 = 4; // steps before the "kill"; one epoch = ROWS / BATCH = 4 steps.

/// Everything a short SFT run holds in memory.
struct Run {
    varmap: candle_nn::VarMap,
    model: Qwen25VL,
    opt: AdamW,
    sched: LrSchedule,
    rng: Rng,
    order: Vec<usize>,
    pos: usize,
    data: Vec<Vec<u32>>,
}

fn dataset() -> Vec<Vec<u32>> {
    let mut rng = Rng::new(2024);
    (0..ROWS)
        .map(|i| random_rows(&mut rng, 1, 8 + i % 4).remove(0))
        .collect()
}

fn schedule() -> LrSchedule {
    LrSchedule::openrlhf_cosine(5e-3, 8, 0.2)
}

fn optim_config() -> AdamWConfig {
    AdamWConfig {
        lr: 5e-3,
        weight_decay: 0.01,
        ..AdamWConfig::default()
    }
}

impl Run {
    fn start() -> Self {
        let (_, varmap, model) = trainable("tiny");
        let opt = AdamW::new(named_vars(&varmap), optim_config()).unwrap();
        Run {
            varmap,
            model,
            opt,
            sched: schedule(),
            rng: Rng::new(77),
            order: Vec::new(),
            pos: 0,
            data: dataset(),
        }
    }

    fn step(&mut self) {
        if self.pos == 0 {
            // A new epoch: Fisher–Yates shuffle from the run's RNG.
            self.order = (0..ROWS).collect();
            for i in (1..ROWS).rev() {
                let j = (self.rng.next_u64() % (i as u64 + 1)) as usize;
                self.order.swap(i, j);
            }
        }
        let rows: Vec<Vec<u32>> = self.order[self.pos..self.pos + BATCH]
            .iter()
            .map(|&i| self.data[i].clone())
            .collect();
        self.pos = (self.pos + BATCH) % ROWS;
        let (inp, mask) = sft_batch(&rows, 3);
        let count = mask.sum_all().unwrap().to_scalar::<f32>().unwrap() as f64;
        let mut grads = sft_loss(&self.model, &inp, &mask, count)
            .backward()
            .unwrap();
        let vars = named_vars(&self.varmap);
        clip_grad_norm(&mut grads, &vars, 1.0).unwrap();
        let lr = self.sched.lr_at(self.opt.steps());
        self.opt.step(&grads, lr).unwrap();
    }

    fn save(&self, root: &std::path::Path) {
        let vars = named_vars(&self.varmap);
        let state = serde_json::json!({
            "rng": self.rng.state(),
            "order": self.order,
            "pos": self.pos,
            "optim_steps": self.opt.steps(),
        });
        save_checkpoint(
            root,
            self.opt.steps(),
            &[
                ("policy", snapshot(&vars)),
                ("policy_optim", self.opt.state_tensors().unwrap()),
            ],
            &state,
            2,
        )
        .unwrap();
    }

    /// A fresh process state rebuilt from the checkpoint alone.
    fn resume(root: &std::path::Path) -> Self {
        let ck = load_latest_checkpoint(root)
            .unwrap()
            .expect("a checkpoint")
            .checkpoint;
        let cfg = Config::from_file(fixtures().join("tiny/config.json")).unwrap();
        let (varmap, model) = trainable_from_config(&cfg);
        let weights = &ck.groups["policy"];
        for (name, var) in named_vars(&varmap) {
            var.set(&weights[&name]).unwrap();
        }
        let mut opt = AdamW::new(named_vars(&varmap), optim_config()).unwrap();
        let s = &ck.state;
        opt.load_state_tensors(
            &ck.groups["policy_optim"],
            s["optim_steps"].as_u64().unwrap(),
        )
        .unwrap();
        assert_eq!(ck.step, opt.steps());
        Run {
            varmap,
            model,
            opt,
            sched: schedule(),
            rng: Rng::new(s["rng"].as_u64().unwrap()),
            order: s["order"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as usize)
                .collect(),
            pos: s["pos"].as_u64().unwrap() as usize,
            data: dataset(),
        }
    }

    fn weights(&self) -> Vec<(String, Vec<u32>)> {
        snapshot(&named_vars(&self.varmap))
            .iter()
            .map(|(n, t)| (n.clone(), bits(t)))
            .collect()
    }
}

#[test]
fn resume_from_checkpoint_reproduces_the_next_step_bitwise() {
    // Run A: K + 1 steps without interruption.
    let mut a = Run::start();
    for _ in 0..=K {
        a.step();
    }
    // Run B: K steps, checkpoint, drop everything, rebuild from disk, one more step.
    let root = Scratch::new("resume");
    let mut b = Run::start();
    let mut before_last = None;
    for _ in 0..K {
        before_last = Some(b.weights());
        b.step();
    }
    b.save(root.path());
    // A leftover of a later, interrupted save must not be picked up.
    std::fs::create_dir(root.path().join(format!(".tmp-step-{}-1-2-3", K + 1))).unwrap();
    drop(b);
    let mut b = Run::resume(root.path());
    b.step();
    let (wa, wb) = (a.weights(), b.weights());
    assert_eq!(wa.len(), wb.len());
    for ((na, xa), (nb, xb)) in wa.iter().zip(&wb) {
        assert_eq!(na, nb);
        assert!(xa == xb, "{na} differs after resume");
    }
    // The step did change the (language) weights, so the comparison has teeth.
    let before = before_last.unwrap();
    let changed = before
        .iter()
        .zip(&wa)
        .filter(|((_, x), (_, y))| x != y)
        .count();
    assert!(changed > 10, "only {changed} tensors changed");

    // Resuming without the optimizer state or with a different data order would differ.
    let mut c = Run::resume(root.path());
    c.rng = Rng::new(78);
    c.pos = 0;
    c.step();
    assert!(c.weights() != wa);
}
