//! The multimodal and agent stages on the embedded policy, scaled to seconds: every task family
//! trains end to end (images through rollout, reward, PPO and evaluation), agent tasks also as
//! multi-turn episodes, a cached warm-started base is reused, and `model.init_from` starts a
//! second stage from the first stage's final weights.

use std::path::Path;

use lmmr1_trainer::{run, Config, RunOptions};
use serde_json::Value;

fn small(extra: &[String]) -> Config {
    let mut sets: Vec<String> = [
        "warm_start.steps=2",
        "warm_start.batch_size=4",
        "data.generator_count=40",
        "data.held_out=4",
        "data.generator_levels=[1]",
        "rollout.prompts_per_step=2",
        "rollout.n_samples_per_prompt=2",
        "rollout.max_new_tokens=8",
        "algorithm.train_batch_size=4",
        "algorithm.micro_batch_size=2",
        "train.steps=1",
        "train.eval_every=0",
        "train.eval_prompts=4",
        "train.eval_pass_k=2",
        "train.checkpoint_every=0",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    sets.extend(extra.iter().cloned());
    Config::from_toml_str("", "test.toml", &sets).unwrap()
}

fn opts(out: &Path) -> RunOptions {
    RunOptions {
        progress: false,
        ..RunOptions::new(out)
    }
}

fn summary(out: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap()
}

#[test]
fn every_task_family_trains_end_to_end() {
    for (task, estimator) in [
        ("visual_math", "reinforce_baseline"),
        ("geo", "gae"),
        ("perce_reason", "reinforce_baseline"),
        ("sokoban", "gae"),
        ("football", "gae"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let cfg = small(&[
            format!("data.task={task:?}"),
            format!("algorithm.estimator={estimator:?}"),
            "model.freeze=[\"visual\"]".into(),
            // A gradient even when every sample of a group scores the same, and a non-zero
            // learning rate at the first update.
            "algorithm.entropy_coef=0.01".into(),
            "optimizer.warmup_ratio=0.0".into(),
        ]);
        let s = run(&cfg, &opts(dir.path())).unwrap_or_else(|e| panic!("{task}: {e}"));
        assert_eq!(s.task, task);
        let v = summary(dir.path());
        let agent = matches!(task, "sokoban" | "football");
        assert_eq!(v["solve_rate_after"].is_number(), agent, "{task}: {v}");
        assert_eq!(v["magebench_score_after"].is_number(), agent, "{task}");
        // `visual` was frozen: its weights are the base's, while the language model moved.
        let load = |d: &str| {
            candle_core::safetensors::load(
                dir.path().join(d).join("model.safetensors"),
                &candle_core::Device::Cpu,
            )
            .unwrap()
        };
        let (base, fin) = (load("base"), load("final"));
        let same = |name: &str| {
            let d = (&base[name] - &fin[name]).unwrap().abs().unwrap();
            d.max_all().unwrap().to_scalar::<f32>().unwrap() == 0.0
        };
        let visual: Vec<&String> = base.keys().filter(|k| k.contains("visual")).collect();
        assert!(
            !visual.is_empty() && visual.iter().all(|k| same(k)),
            "{task}"
        );
        assert!(
            base.keys()
                .filter(|k| !k.contains("visual"))
                .any(|k| !same(k)),
            "{task}: the language model did not move"
        );
    }
}

#[test]
fn agent_tasks_train_as_multi_turn_episodes() {
    for task in ["sokoban", "football"] {
        let dir = tempfile::tempdir().unwrap();
        let cfg = small(&[
            format!("data.task={task:?}"),
            "algorithm.estimator=\"gae\"".into(),
            "algorithm.kl_coef=0.0".into(),
            "episode.multi_turn=true".into(),
            "episode.max_turns=3".into(),
            // The previous turn (its image and answer) stays in the prompt: rows with two images.
            "episode.history=1".into(),
        ]);
        run(&cfg, &opts(dir.path())).unwrap_or_else(|e| panic!("{task}: {e}"));
        let rows: Vec<Value> = std::fs::read_to_string(dir.path().join("metrics.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let train = rows.iter().find(|r| r["phase"] == "train").unwrap();
        let turns = train["episode/turns"].as_f64().unwrap();
        assert!((1.0..=3.0).contains(&turns), "{task}: {turns}");
        assert!(train["critic/vf_loss"].as_f64().unwrap().is_finite());
    }
    // Group estimators need equal groups: rejected for multi-turn, naming the keys.
    let e = Config::from_toml_str(
        "[data]\ntask = \"sokoban\"\n[episode]\nmulti_turn = true\n[algorithm]\nestimator = \"reinforce_baseline\"",
        "t.toml",
        &[],
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("episode.multi_turn") && e.contains("algorithm.estimator"),
        "{e}"
    );
}

#[test]
fn a_cached_base_is_reused_and_a_second_stage_starts_from_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("base-cache");
    let cache_set = format!("warm_start.cache={:?}", cache.display().to_string());
    let first = dir.path().join("first");
    run(&small(std::slice::from_ref(&cache_set)), &opts(&first)).unwrap();
    assert!(cache.join("warm_start.key").is_file());
    let base = std::fs::read(first.join("base/model.safetensors")).unwrap();

    // Same warm-start settings: the cached base is loaded (no warm start time), bit for bit.
    let second = dir.path().join("second");
    let s = run(
        &small(&[cache_set.clone(), "data.task=\"geo\"".into()]),
        &opts(&second),
    )
    .unwrap();
    assert_eq!(s.warm_start_s, 0.0);
    assert_eq!(
        std::fs::read(second.join("base/model.safetensors")).unwrap(),
        base
    );

    // Other settings: trained anew.
    let third = dir.path().join("third");
    let s = run(
        &small(&[cache_set, "warm_start.seed=9".into()]),
        &opts(&third),
    )
    .unwrap();
    assert!(s.warm_start_s > 0.0);

    // init_from: the second stage starts from the first stage's final weights (no warm start),
    // and falls back to the base when the directory does not exist.
    let init = format!(
        "model.init_from={:?}",
        first.join("final").display().to_string()
    );
    let mgt = dir.path().join("mgt");
    let s = run(&small(&[init, "data.task=\"geo\"".into()]), &opts(&mgt)).unwrap();
    assert_eq!(s.warm_start_s, 0.0);
    assert!(s.model.ends_with("final"), "{}", s.model);
    let missing = format!(
        "model.init_from={:?}",
        dir.path().join("nope").display().to_string()
    );
    let s = run(&small(&[missing]), &opts(&dir.path().join("direct"))).unwrap();
    assert_eq!(s.model, "embedded-tiny");
}
