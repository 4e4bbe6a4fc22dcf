//! End to end on the embedded policy, scaled to seconds: a run writes its outputs, a second run
//! resumes from the checkpoint instead of starting over, and a non-finite update is caught.

use std::path::Path;

use lmmr1_trainer::{run, Config, RunOptions};
use serde_json::Value;

/// A tiny but complete configuration: warm start, rollouts, KL, PPO, eval, checkpoints.
fn small(extra: &[&str]) -> Config {
    let mut sets: Vec<String> = [
        "warm_start.steps=4",
        "warm_start.batch_size=8",
        "data.generator_count=200",
        "data.held_out=8",
        "data.generator_levels=[1]",
        "data.system_prompt=\"none\"",
        "rollout.prompts_per_step=4",
        "rollout.n_samples_per_prompt=4",
        "rollout.max_new_tokens=12",
        "algorithm.train_batch_size=8",
        "algorithm.micro_batch_size=4",
        "train.steps=2",
        "train.eval_every=1",
        "train.eval_prompts=8",
        "train.eval_pass_k=2",
        "train.checkpoint_every=1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    sets.extend(extra.iter().map(|s| s.to_string()));
    Config::from_toml_str("", "test.toml", &sets).unwrap()
}

fn opts(out: &Path) -> RunOptions {
    RunOptions {
        progress: false,
        ..RunOptions::new(out)
    }
}

fn metrics(out: &Path) -> Vec<Value> {
    std::fs::read_to_string(out.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn a_run_writes_its_outputs_and_resumes_from_its_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    let s = run(&small(&[]), &opts(out)).unwrap();
    assert_eq!(s.steps, 2);
    assert!((0.0..=1.0).contains(&s.accuracy_before) && (0.0..=1.0).contains(&s.accuracy_after));
    for f in [
        "summary.json",
        "config.toml",
        "metrics.jsonl",
        "samples.jsonl",
        "plots/reward.png",
        "plots/accuracy.png",
        "base/model.safetensors",
        "base/config.json",
        "base/tokenizer.json",
        "final/model.safetensors",
    ] {
        assert!(out.join(f).exists(), "missing {f}");
    }
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    for k in [
        "accuracy_before",
        "accuracy_after",
        "format_rate_before",
        "format_rate_after",
    ] {
        assert!(summary[k].is_number(), "{k}");
    }
    let rows = metrics(out);
    let train_steps: Vec<u64> = rows
        .iter()
        .filter(|r| r["phase"] == "train")
        .map(|r| r["step"].as_u64().unwrap())
        .collect();
    assert_eq!(train_steps, vec![1, 2]);
    assert!(rows
        .iter()
        .any(|r| r["phase"] == "train" && r["reward/mean"].is_number()));

    // Asking for 3 steps in the same directory resumes after step 2: only step 3 is trained.
    let s3 = run(&small(&["train.steps=3"]), &opts(out)).unwrap();
    assert_eq!(s3.steps, 3);
    assert_eq!(
        s3.accuracy_before, s.accuracy_before,
        "the baseline is kept"
    );
    let train_steps: Vec<u64> = metrics(out)
        .iter()
        .filter(|r| r["phase"] == "train")
        .map(|r| r["step"].as_u64().unwrap())
        .collect();
    assert_eq!(train_steps, vec![1, 2, 3]);

    // Starting fresh in the same directory replaces the old logs.
    let fresh = RunOptions {
        resume: false,
        ..opts(out)
    };
    run(&small(&["train.steps=1"]), &fresh).unwrap();
    // Its TensorBoard events replace the old run's too.
    let tb: Vec<_> = std::fs::read_dir(out.join("tb")).unwrap().collect();
    assert_eq!(tb.len(), 1, "{tb:?}");
    let rows = metrics(out);
    let steps: Vec<(u64, &str)> = rows
        .iter()
        .map(|r| (r["step"].as_u64().unwrap(), r["phase"].as_str().unwrap()))
        .collect();
    assert_eq!(steps, vec![(0, "eval"), (1, "train"), (1, "eval")]);
}

#[test]
fn a_non_finite_update_is_skipped_or_stops_the_run() {
    // A learning rate of 1e30 sends the weights to ±1e30 after the first update (the entropy
    // bonus gives a gradient even when every reward is 0), so the next step's log-probs, loss
    // and gradients are not finite.
    let blow_up = [
        "optimizer.lr=1e30",
        "optimizer.warmup_ratio=0.0",
        "algorithm.entropy_coef=0.01",
        "algorithm.train_batch_size=16",
        "train.eval_every=0",
    ];
    let dir = tempfile::tempdir().unwrap();
    let mut sets = blow_up.to_vec();
    sets.push("train.on_nonfinite=\"stop\"");
    let e = run(&small(&sets), &opts(dir.path())).unwrap_err();
    assert!(
        matches!(e, lmmr1_trainer::Error::NonFinite { step: 2, .. }),
        "{e}"
    );
    // The checkpoint of step 1 is intact: a rerun resumes from it (and stops again at step 2).
    let e = run(&small(&sets), &opts(dir.path())).unwrap_err();
    assert!(
        matches!(e, lmmr1_trainer::Error::NonFinite { step: 2, .. }),
        "{e}"
    );

    let dir = tempfile::tempdir().unwrap();
    let s = run(&small(&blow_up), &opts(dir.path())).unwrap();
    assert!(s.skipped_updates >= 1, "{s:?}");
    // Step metrics come only from the updates that happened: step 1 applied its one
    // update, step 2 skipped it, so step 2 reports no gradient norm (never a NaN).
    let train: Vec<Value> = metrics(dir.path())
        .into_iter()
        .filter(|r| r["phase"] == "train")
        .collect();
    assert_eq!(train[0]["actor/updates"], 1.0);
    assert!(train[0]["actor/grad_norm"].as_f64().unwrap().is_finite());
    assert_eq!(train[1]["actor/updates"], 0.0);
    assert!(train[1].get("actor/grad_norm").is_none(), "{}", train[1]);
}

/// The DAPO, GSPO, dual-clip and adaptive-KL settings, all on, in a 2-step run: each leaves its
/// trace in the metrics.
#[test]
fn every_algorithm_setting_runs_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small(&[
        "algorithm.policy_loss=\"gspo\"",
        "algorithm.dual_clip=3.0",
        "algorithm.epochs=2",
        "algorithm.kl_coef=0.05",
        "algorithm.kl_estimator=\"k3\"",
        "algorithm.kl_controller=\"adaptive\"",
        "algorithm.kl_target=0.001",
        "algorithm.kl_horizon=100",
        "algorithm.dynamic_sampling=true",
        "algorithm.max_sampling_rounds=2",
        "algorithm.overlong_buffer=6",
        "algorithm.overlong_penalty=0.5",
        "train.eval_every=0",
    ]);
    run(&cfg, &opts(dir.path())).unwrap();
    let train: Vec<Value> = metrics(dir.path())
        .into_iter()
        .filter(|r| r["phase"] == "train")
        .collect();
    assert_eq!(train.len(), 2);
    for r in &train {
        let rounds = r["dapo/sampling_rounds"].as_f64().unwrap();
        assert!((1.0..=2.0).contains(&rounds), "{r}");
        assert!(r["dapo/kept_groups"].as_f64().unwrap() <= 4.0, "{r}");
        assert!(r["reward/overlong_penalty"].as_f64().unwrap() <= 0.0, "{r}");
        if r["dapo/kept_groups"].as_f64().unwrap() > 0.0 {
            assert!(r["actor/pg_clipfrac_lower"].is_number(), "{r}");
        }
    }
    // The adaptive controller moved β between the steps (unless step 1 kept no group).
    if train[0].get("kl/coef").is_some() && train[1].get("kl/coef").is_some() {
        assert_ne!(train[0]["kl/coef"], train[1]["kl/coef"]);
    }
}

#[test]
fn every_estimator_runs_end_to_end() {
    // `gae` also builds and trains the critic; `use_kl_loss` moves the KL from the reward into
    // the loss.
    for (est, extra) in [
        ("reinforce_baseline", "algorithm.use_kl_loss=false"),
        ("gae", "algorithm.use_kl_loss=false"),
        ("group_norm", "algorithm.use_kl_loss=true"),
        (
            "dr_grpo",
            "algorithm.loss_aggregation=\"seq-mean-token-sum-norm\"",
        ),
        ("rloo", "algorithm.kl_estimator=\"k3\""),
        ("reinforce", "algorithm.kl_coef=0.0"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let estimator = format!("algorithm.estimator={est}");
        let cfg = small(&[
            &estimator,
            extra,
            "train.steps=1",
            "train.eval_every=0",
            "train.eval_prompts=4",
            "train.checkpoint_every=0",
        ]);
        let s = run(&cfg, &opts(dir.path())).unwrap_or_else(|e| panic!("{est}: {e}"));
        assert_eq!(s.estimator, est);
        let rows = metrics(dir.path());
        let train = rows.iter().find(|r| r["phase"] == "train").unwrap();
        assert!(train["actor/grad_norm"].is_number(), "{est}");
        if est == "gae" {
            assert!(train["critic/vf_loss"].as_f64().unwrap().is_finite());
        }
    }
}

#[test]
fn a_hugging_face_model_directory_trains() {
    // The committed tiny transformers checkpoint of lmmr1-model plus its tokenizer fixture form a
    // Hugging Face directory; `model.dir` trains it without a warm start (the CPU smoke test of
    // `--model`).
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../lmmr1-model/tests/fixtures");
    let model = tempfile::tempdir().unwrap();
    for (from, to) in [
        ("tiny/config.json", "config.json"),
        ("tiny/model.safetensors", "model.safetensors"),
        ("tokenizer/tokenizer.json", "tokenizer.json"),
    ] {
        std::fs::copy(fixtures.join(from), model.path().join(to)).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let model_dir = format!("model.dir={:?}", model.path().display().to_string());
    let cfg = small(&[&model_dir, "train.steps=1", "train.eval_prompts=4"]);
    let s = run(&cfg, &opts(dir.path())).unwrap();
    assert_eq!(s.model, model.path().display().to_string());
    assert_eq!(s.warm_start_s, 0.0, "no warm start for a model directory");
    assert!(dir.path().join("final/model.safetensors").exists());
    assert!(
        !dir.path().join("base").exists(),
        "the directory itself is the base"
    );
    // The exported weights load back as a model.
    lmmr1_model::Qwen25VL::load(
        dir.path().join("final"),
        candle_core::DType::F32,
        &candle_core::Device::Cpu,
    )
    .unwrap();
}
