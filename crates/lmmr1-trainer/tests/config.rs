//! The configuration: the shipped stage files parse, unknown keys and bad values are errors that
//! name the key, `--set` overrides work and the resolved config round-trips.

use std::path::Path;

use lmmr1_trainer::Config;

fn repo() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

#[test]
fn every_shipped_config_parses_and_validates() {
    let mut n = 0;
    for entry in std::fs::read_dir(repo().join("configs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            Config::from_file(&path, &[]).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            n += 1;
        }
    }
    assert!(n >= 1);
}

/// Every stage has its example and config, and all stages share one warm-started base: the same
/// `[warm_start]` section (so the cached base of one stage is reused by the others) and, for the
/// embedded policy, the same model seed.
#[test]
fn every_stage_has_an_example_and_they_share_one_base() {
    let stages = [
        "fre_text",
        "fre_multi",
        "mgt_geo",
        "mgt_perce_reason",
        "mgt_sokoban",
        "mgt_football",
        "direct_rl_geo",
    ];
    let cfgs: Vec<Config> = stages
        .iter()
        .map(|s| {
            assert!(repo().join(format!("examples/{s}.rs")).is_file(), "{s}");
            Config::from_file(&repo().join(format!("configs/{s}.toml")), &[]).unwrap()
        })
        .collect();
    for (s, c) in stages.iter().zip(&cfgs) {
        assert_eq!(
            c.warm_start, cfgs[0].warm_start,
            "{s}: [warm_start] differs"
        );
        assert_eq!(c.model.seed, cfgs[0].model.seed, "{s}: model.seed differs");
        let starts_from_fre_text = c.model.init_from.contains("fre_text");
        assert_eq!(
            starts_from_fre_text,
            s.starts_with("mgt_"),
            "{s}: model.init_from"
        );
    }
    let task = |s: &str| cfgs[stages.iter().position(|x| *x == s).unwrap()].data.task;
    assert_eq!(task("mgt_geo"), task("direct_rl_geo"));
    let by_name = |s: &str| &cfgs[stages.iter().position(|x| *x == s).unwrap()];
    // Equal budgets for the two-stage vs direct comparison.
    let (a, b) = (by_name("mgt_geo"), by_name("direct_rl_geo"));
    assert_eq!(
        (&a.rollout, &a.algorithm, &a.optimizer),
        (&b.rollout, &b.algorithm, &b.optimizer)
    );
    assert_eq!(a.train.steps, b.train.steps);
}

#[test]
fn unknown_keys_are_rejected_with_their_name() {
    let e = Config::from_toml_str("[rollout]\nn_samples = 4\n", "x.toml", &[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("x.toml") && e.contains("n_samples"), "{e}");
    let e = Config::from_toml_str("", "x.toml", &["rollout.n_sample=4".into()])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("rollout.n_sample") && e.contains("unknown key"),
        "{e}"
    );
}

#[test]
fn bad_values_name_the_key() {
    for (set, key) in [
        (
            "rollout.n_samples_per_prompt=0",
            "rollout.n_samples_per_prompt",
        ),
        ("algorithm.estimator=\"grpo2\"", "algorithm.estimator"),
        ("rollout.top_p=1.5", "rollout.top_p"),
        ("optimizer.lr=-1.0", "optimizer.lr"),
        (
            "algorithm.train_batch_size=100",
            "algorithm.train_batch_size",
        ),
        ("train.on_nonfinite=\"ignore\"", "train.on_nonfinite"),
        ("model.dtype=\"f8\"", "model.dtype"),
        ("algorithm.micro_batch_size=0", "algorithm.micro_batch_size"),
        (
            "algorithm.micro_batch_size=-2",
            "algorithm.micro_batch_size",
        ),
        (
            "rollout.generation_batch=\"all\"",
            "rollout.generation_batch",
        ),
        ("model.recompute=\"maybe\"", "model.recompute"),
        ("model.memory_budget_gb=nan", "model.memory_budget_gb"),
        ("algorithm.kl_coef=nan", "algorithm.kl_coef"),
        ("algorithm.gamma=inf", "algorithm.gamma"),
        ("warm_start.batch_size=0", "warm_start.batch_size"),
        ("optimizer.schedule=\"linear\"", "optimizer.schedule"),
        ("data.task=\"chess\"", "data.task"),
        ("data.bad_rows=\"ignore\"", "data.bad_rows"),
        ("algorithm.kl_estimator=\"k4\"", "algorithm.kl_estimator"),
        ("algorithm.policy_loss=\"trpo\"", "algorithm.policy_loss"),
        ("algorithm.kl_controller=\"pid\"", "algorithm.kl_controller"),
        (
            "algorithm.loss_aggregation=\"mean\"",
            "algorithm.loss_aggregation",
        ),
        ("algorithm.dual_clip=0.5", "algorithm.dual_clip"),
        ("algorithm.dual_clip=nan", "algorithm.dual_clip"),
        (
            "algorithm.max_sampling_rounds=0",
            "algorithm.max_sampling_rounds",
        ),
        (
            "algorithm.overlong_buffer=100000",
            "algorithm.overlong_buffer",
        ),
        (
            "algorithm.overlong_penalty=-1.0",
            "algorithm.overlong_penalty",
        ),
        ("algorithm.value_clip=-0.1", "algorithm.value_clip"),
        (
            "algorithm.dynamic_sampling=\"yes\"",
            "algorithm.dynamic_sampling",
        ),
    ] {
        let e = Config::from_toml_str("", "x.toml", &[set.into()])
            .unwrap_err()
            .to_string();
        assert!(e.contains(key), "--set {set}: {e}");
    }
    // A wrongly typed value is a serde error naming the field.
    let e = Config::from_toml_str("[train]\nsteps = \"many\"\n", "x.toml", &[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("steps"), "{e}");
}

#[test]
fn overrides_apply_and_the_resolved_config_round_trips() {
    let cfg = Config::from_toml_str(
        "[rollout]\nn_samples_per_prompt = 4\n",
        "x.toml",
        &[
            "rollout.n_samples_per_prompt=16".into(),
            "algorithm.estimator=gae".into(),
            "data.generator_levels=[1, 3]".into(),
        ],
    )
    .unwrap();
    assert_eq!(cfg.rollout.n_samples_per_prompt, 16);
    assert_eq!(
        cfg.algorithm.estimator,
        lmmr1_algos::AdvantageEstimator::Gae
    );
    assert_eq!(cfg.data.generator_levels, vec![1, 3]);
    assert!(cfg.needs_critic());
    let again = Config::from_toml_str(&cfg.to_toml().unwrap(), "resolved.toml", &[]).unwrap();
    assert_eq!(again, cfg);
}

#[test]
fn every_estimator_name_is_accepted() {
    for est in [
        "reinforce_baseline",
        "gae",
        "group_norm",
        "dr_grpo",
        "rloo",
        "reinforce",
    ] {
        Config::from_toml_str("", "x.toml", &[format!("algorithm.estimator={est}")])
            .unwrap_or_else(|e| panic!("{est}: {e}"));
    }
}

/// `"auto"` or a value: the `"auto"` settings parse both ways and round-trip.
#[test]
fn auto_settings_take_auto_or_a_value() {
    use lmmr1_trainer::config::Auto;
    let cfg = Config::from_toml_str("", "x.toml", &[]).unwrap();
    assert_eq!(cfg.model.recompute, Auto::Auto);
    assert_eq!(cfg.algorithm.micro_batch_size, Auto::Auto);
    let cfg = Config::from_toml_str(
        "[model]\nrecompute = true\n[algorithm]\nmicro_batch_size = 8\n",
        "x.toml",
        &["rollout.generation_batch=32".into()],
    )
    .unwrap();
    assert_eq!(cfg.model.recompute, Auto::Set(true));
    assert_eq!(cfg.algorithm.micro_batch_size, Auto::Set(8));
    assert_eq!(cfg.rollout.generation_batch, Auto::Set(32));
    let back = Config::from_toml_str(&cfg.to_toml().unwrap(), "back.toml", &[]).unwrap();
    assert_eq!(back, cfg);
    let auto = Config::from_toml_str("", "x.toml", &["model.recompute=auto".into()]).unwrap();
    assert_eq!(auto.model.recompute, Auto::Auto);
}

#[test]
fn system_prompts_are_named_or_literal_and_round_trip() {
    use lmmr1_trainer::config::SystemPrompt;
    for (text, want) in [
        ("auto", SystemPrompt::Auto),
        ("r1", SystemPrompt::R1),
        ("none", SystemPrompt::None),
        ("", SystemPrompt::None),
        ("Think first.", SystemPrompt::Text("Think first.".into())),
    ] {
        let set = format!("data.system_prompt={text:?}");
        let cfg = Config::from_toml_str("", "x.toml", &[set]).unwrap();
        assert_eq!(cfg.data.system_prompt, want, "{text:?}");
        let back = Config::from_toml_str(&cfg.to_toml().unwrap(), "back.toml", &[]).unwrap();
        assert_eq!(back.data.system_prompt, cfg.data.system_prompt);
    }
    let e = Config::from_toml_str("", "x.toml", &["data.system_prompt=3".into()]).unwrap_err();
    assert!(e.to_string().contains("data.system_prompt"), "{e}");
}

/// `--plan`'s resolution: the embedded policy does not recompute and takes the stage's batch
/// sizes; the 3B recipe at 80 GB resolves `"auto"` to sizes that fit, in f32 it does not fit.
#[test]
fn the_memory_plan_resolves_auto_settings() {
    let stage = Config::from_file(&repo().join("configs/fre_text.toml"), &[]).unwrap();
    let p = lmmr1_trainer::plan::plan_run(&stage).unwrap();
    assert!(!p.recompute && p.micro_batch == 128 && p.generation_batch == 256);
    assert!(p.fits(), "{}", p.report(&stage));
    let model = repo().join("configs/models/qwen2.5-vl-3b-instruct");
    let set = |extra: &[&str]| {
        let mut o = vec![
            format!("model.dir={:?}", model.display().to_string()),
            "model.memory_budget_gb=80".to_string(),
        ];
        o.extend(extra.iter().map(|s| s.to_string()));
        Config::from_file(&repo().join("configs/fre_text_3b.toml"), &o).unwrap()
    };
    let cfg = set(&[]);
    let p = lmmr1_trainer::plan::plan_run(&cfg).unwrap();
    assert!(p.recompute && p.fits(), "{}", p.report(&cfg));
    assert!(
        p.micro_batch >= 1 && p.generation_batch >= 16,
        "{:?}",
        p.json()
    );
    let json = p.json();
    for k in [
        "weights",
        "master_weights",
        "gradients",
        "optimizer",
        "reference",
        "critic",
        "activations",
        "kv_cache",
        "logits",
    ] {
        assert!(json["components"][k].is_u64(), "{k}");
    }
    let f32 = set(&["model.dtype=\"f32\""]);
    let p = lmmr1_trainer::plan::plan_run(&f32).unwrap();
    assert!(!p.fits());
    assert!(
        p.report(&f32).contains("model.dtype=\"bf16\""),
        "{}",
        p.report(&f32)
    );
}

/// An unknown name lists the valid ones, and a bad `--set` value names the override, on one
/// line.
#[test]
fn unknown_names_list_the_valid_ones_and_name_their_source() {
    let e = Config::from_toml_str("", "x.toml", &["algorithm.kl_estimator=\"k4\"".into()])
        .unwrap_err()
        .to_string();
    assert!(!e.contains('\n'), "{e}");
    assert!(
        e.contains("--set algorithm.kl_estimator=\"k4\"") && e.contains("`k1`, `k2`, `k3`"),
        "{e}"
    );
    let e = Config::from_toml_str("[algorithm]\npolicy_loss = \"trpo\"\n", "x.toml", &[])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("x.toml") && e.contains("algorithm.policy_loss") && e.contains("`gspo`"),
        "{e}"
    );
    let e = Config::from_toml_str(
        "",
        "x.toml",
        &[
            "algorithm.kl_controller=\"adaptive\"".into(),
            "algorithm.kl_target=0".into(),
        ],
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("algorithm.kl_target"), "{e}");
    let e = Config::from_toml_str(
        "",
        "x.toml",
        &[
            "algorithm.dynamic_sampling=true".into(),
            "rollout.n_samples_per_prompt=1".into(),
            "algorithm.train_batch_size=16".into(),
        ],
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("algorithm.dynamic_sampling"), "{e}");
}

/// Each `[algorithm]` setting reaches the library configuration the loop uses.
#[test]
fn algorithm_settings_reach_the_library_configs() {
    use lmmr1_algos::{KlController, KlEstimator, LossAggregation, RatioLevel};
    let cfg = |sets: &[&str]| {
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        Config::from_toml_str("", "x.toml", &sets)
            .unwrap()
            .algorithm
    };
    let d = cfg(&[]);
    assert_eq!(d.policy_loss().dual_clip, None);
    assert_eq!(d.policy_loss().ratio_level, RatioLevel::Token);
    assert_eq!(d.kl_controller(), KlController::Fixed { coef: 0.001 });
    assert!(d.kl_in_reward());

    let a = cfg(&[
        "algorithm.dual_clip=3.0",
        "algorithm.policy_loss=\"gspo\"",
        "algorithm.clip_high=0.28",
        "algorithm.entropy_coef=0.01",
        "algorithm.loss_aggregation=\"seq-mean-token-sum-norm\"",
        "algorithm.kl_estimator=\"low_var_kl\"",
        "algorithm.kl_coef=0.05",
        "algorithm.kl_controller=\"adaptive\"",
        "algorithm.kl_target=0.2",
        "algorithm.kl_horizon=500",
        "algorithm.value_clip=0",
        "algorithm.use_kl_loss=true",
        "algorithm.estimator=\"rloo\"",
        "algorithm.gamma=0.9",
    ]);
    let pl = a.policy_loss();
    assert_eq!(pl.dual_clip, Some(3.0));
    assert_eq!(pl.ratio_level, RatioLevel::Sequence);
    assert_eq!((pl.clip_high, pl.entropy_coef), (0.28, 0.01));
    assert_eq!(pl.aggregation, LossAggregation::SeqMeanTokenSumNorm);
    assert_eq!(a.kl().estimator, KlEstimator::K3);
    assert_eq!(
        a.kl_controller(),
        KlController::Adaptive {
            coef: 0.05,
            target: 0.2,
            horizon: 500.0
        }
    );
    assert_eq!(a.value_loss().value_clip, None);
    assert_eq!(
        a.value_loss().aggregation,
        LossAggregation::SeqMeanTokenSumNorm
    );
    assert!(!a.kl_in_reward());
    let adv = a.advantage(8);
    assert_eq!(adv.estimator, lmmr1_algos::AdvantageEstimator::Rloo);
    assert_eq!((adv.n_samples_per_prompt, adv.gamma), (8, 0.9));

    let o = Config::from_toml_str("", "x.toml", &["optimizer.schedule=\"constant\"".into()])
        .unwrap()
        .optimizer;
    let s = o.schedule(1e-3, 100);
    assert_eq!(s.kind, lmmr1_model::optim::ScheduleKind::Constant);
    assert_eq!((s.warmup_steps, s.total_steps), (3, 100));
}
