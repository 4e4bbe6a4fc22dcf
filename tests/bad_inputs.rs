//! The bad-input suite: each case runs a stage example (or the `logits` CLI) on one bad input
//! (a config, a data row, an image, a model directory, a tokenizer, a logits input, a damaged
//! checkpoint) and asserts the exit status, that nothing panicked, that the last line of stderr
//! names the culprit (file, row or key) and says what is wrong, and that a failed run left no
//! `summary.json` or final weights behind.
//!
//! The binaries are the debug builds of the examples, which `cargo test --workspace` builds
//! next to this test (`target/debug/examples/`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use candle_core::{DType, Device, Tensor};

/// The directory of the example binaries built with this test.
fn examples_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/debug/deps/bad_inputs-… → target/debug/examples
    exe.parent().unwrap().parent().unwrap().join("examples")
}

fn binary(name: &str) -> PathBuf {
    let p = examples_dir().join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        p.is_file(),
        "{} is not built: run `cargo test --workspace` (it builds every example), or \
         `cargo build --examples --workspace` first",
        p.display()
    );
    p
}

/// Settings that make a stage run take seconds in a debug build.
const TINY: &[&str] = &[
    "warm_start.steps=0",
    "data.generator_count=50",
    "data.held_out=4",
    "rollout.prompts_per_step=2",
    "rollout.n_samples_per_prompt=2",
    "rollout.max_new_tokens=8",
    "algorithm.train_batch_size=4",
    "algorithm.micro_batch_size=4",
    "train.steps=2",
    "train.eval_every=0",
    "train.eval_prompts=4",
    "train.checkpoint_every=1",
];

fn tiny_args() -> Vec<String> {
    let mut v = vec!["--quiet".to_string()];
    for s in TINY {
        v.push("--set".into());
        v.push(s.to_string());
    }
    v
}

/// A finished tiny run (checkpoints at steps 1 and 2, `final/` with weights and tokenizer),
/// made once and copied into the cases that need it.
fn finished_run() -> &'static Path {
    static RUN: OnceLock<PathBuf> = OnceLock::new();
    RUN.get_or_init(|| {
        let out = tempfile::tempdir().unwrap().keep().join("run");
        let o = Command::new(binary("fre_text"))
            .arg("--out")
            .arg(&out)
            .args(tiny_args())
            .env("RUST_BACKTRACE", "0")
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "the tiny run failed:\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
        out
    })
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// What a case starts from besides its own files.
#[derive(Clone, Copy, PartialEq)]
enum Start {
    Nothing,
    /// `{d}/run`: a copy of the finished run without its `final/` and `summary.json`.
    Run,
    /// `{d}/model`: a copy of the run's final model directory.
    Model,
}

type Prep = Box<dyn Fn(&Path) + Send + Sync>;

struct Case {
    name: &'static str,
    bin: &'static str,
    args: Vec<String>,
    start: Start,
    prep: Option<Prep>,
    /// Whether the command should succeed (a damaged checkpoint skipped with a warning).
    succeeds: bool,
    /// Substrings of the last line of stderr (`{d}` is the case's directory).
    last_line: Vec<&'static str>,
}

fn case(name: &'static str, bin: &'static str, args: &[&str], last_line: &[&'static str]) -> Case {
    Case {
        name,
        bin,
        args: args.iter().map(|s| s.to_string()).collect(),
        start: Start::Nothing,
        prep: None,
        succeeds: false,
        last_line: last_line.to_vec(),
    }
}

impl Case {
    fn start(mut self, s: Start) -> Self {
        self.start = s;
        self
    }
    /// Adds a step to the preparation (after the earlier ones).
    fn prep(mut self, f: impl Fn(&Path) + Send + Sync + 'static) -> Self {
        let prev = self.prep.take();
        self.prep = Some(Box::new(move |d| {
            if let Some(p) = &prev {
                p(d);
            }
            f(d);
        }));
        self
    }
    fn file(self, name: &'static str, content: impl Into<Vec<u8>>) -> Self {
        let content = content.into();
        self.prep(move |d| {
            let path = d.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, &content).unwrap();
        })
    }
    fn succeeds(mut self) -> Self {
        self.succeeds = true;
        self
    }
}

/// A stage run with the tiny settings and `extra` arguments.
fn stage(name: &'static str, extra: &[&str], last_line: &[&'static str]) -> Case {
    let mut args = vec!["--out", "{d}/out"];
    args.extend_from_slice(extra);
    case(name, "fre_text", &args, last_line)
}

/// A stage run with one `[section] key = value` config file.
fn config(name: &'static str, toml: &'static str, last_line: &[&'static str]) -> Case {
    stage(name, &["--config", "{d}/c.toml"], last_line).file("c.toml", toml)
}

/// A stage run with one `--set` override.
fn set(name: &'static str, kv: &'static str, last_line: &[&'static str]) -> Case {
    stage(name, &["--set", kv], last_line)
}

/// A run on a data file `{d}/t.jsonl`.
fn data(name: &'static str, jsonl: &'static str, last_line: &[&'static str]) -> Case {
    stage(
        name,
        &["--set", "data.train=[{path=\"{d}/t.jsonl\"}]"],
        last_line,
    )
    .file("t.jsonl", jsonl)
}

/// A visual-math run on `{d}/t.jsonl` whose one row shows `{d}/img.png`, written by `prep`
/// (evaluated on a text row of `{d}/e.jsonl`, so that the image row is trained on).
fn image(
    name: &'static str,
    last_line: &[&'static str],
    prep: impl Fn(&Path) + Send + Sync + 'static,
) -> Case {
    let row = "{\"problem\": \"How many?\", \"answer\": \"3\", \"image\": \"img.png\"}\n";
    stage(
        name,
        &[
            "--set",
            "data.task=\"visual_math\"",
            "--set",
            "data.train=[{path=\"{d}/t.jsonl\"}]",
            "--set",
            "data.eval=\"{d}/e.jsonl\"",
        ],
        last_line,
    )
    .file("t.jsonl", row)
    .file("e.jsonl", "{\"problem\": \"2+2?\", \"answer\": \"4\"}\n")
    .prep(prep)
}

fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_pixel(w, h, image::Rgb([200, 100, 50]));
    let mut bytes = std::io::Cursor::new(Vec::new());
    img.write_to(&mut bytes, image::ImageFormat::Png).unwrap();
    bytes.into_inner()
}

/// A run on the model directory `{d}/model` (a copy of the tiny run's final model), damaged by
/// `prep`.
fn model(
    name: &'static str,
    last_line: &[&'static str],
    prep: impl Fn(&Path) + Send + Sync + 'static,
) -> Case {
    stage(name, &["--model", "{d}/model"], last_line)
        .start(Start::Model)
        .prep(prep)
}

/// A rerun (one more step) in `{d}/run`, whose checkpoints `prep` damages.
fn resume(
    name: &'static str,
    last_line: &[&'static str],
    prep: impl Fn(&Path) + Send + Sync + 'static,
) -> Case {
    let mut c = stage(name, &["--set", "train.steps=3"], last_line)
        .start(Start::Run)
        .prep(prep);
    c.args[1] = "{d}/run".into();
    c
}

/// The `logits` CLI on `{d}/model` and `{d}/in.safetensors` (written by `prep`).
fn logits(
    name: &'static str,
    extra: &[&str],
    last_line: &[&'static str],
    prep: impl Fn(&Path) + Send + Sync + 'static,
) -> Case {
    let mut args = vec![
        "--model",
        "{d}/model",
        "--inputs",
        "{d}/in.safetensors",
        "--out",
        "{d}/logits.safetensors",
    ];
    // `extra` flags replace the defaults of the same name.
    for pair in extra.chunks(2) {
        match args.iter().position(|a| *a == pair[0]) {
            Some(i) => args[i + 1] = pair[1],
            None => args.extend_from_slice(pair),
        }
    }
    case(name, "logits", &args, last_line)
        .start(Start::Model)
        .prep(prep)
}

fn save(path: &Path, tensors: &[(&str, Tensor)]) {
    let map: std::collections::HashMap<String, Tensor> = tensors
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    candle_core::safetensors::save(&map, path).unwrap();
}

fn ids(v: &[i64], shape: (usize, usize)) -> Tensor {
    Tensor::from_slice(v, shape, &Device::Cpu).unwrap()
}

/// `input_ids` and an all-ones `attention_mask`, plus `more`.
fn inputs(d: &Path, v: &[i64], more: &[(&str, Tensor)]) {
    let mut t = vec![
        ("input_ids", ids(v, (1, v.len()))),
        ("attention_mask", ids(&vec![1; v.len()], (1, v.len()))),
    ];
    t.extend(more.iter().cloned());
    save(&d.join("in.safetensors"), &t)
}

fn ckpt(d: &Path, step: &str, file: &str) -> PathBuf {
    d.join("run/checkpoints").join(step).join(file)
}

fn edit_json(path: &Path, f: impl Fn(&mut serde_json::Value)) {
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(path, serde_json::to_string(&v).unwrap()).unwrap();
}

fn step_dirs(d: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(d.join("run/checkpoints"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("step-"))
        .collect();
    v.sort();
    v
}

fn cases() -> Vec<Case> {
    vec![
        // ---- Configs: files ------------------------------------------------------------
        stage("config file missing", &["--config", "{d}/nope.toml"], &["nope.toml"]),
        stage("config path is a directory", &["--config", "{d}"], &["{d}"]),
        config("config not TOML", "[train\nsteps = 2\n", &["c.toml:1:"]),
        config("unknown section", "[trainer]\nsteps = 2\n", &["c.toml", "trainer"]),
        config("unknown key", "[train]\nstepz = 2\n", &["c.toml", "train", "stepz"]),
        config("wrong type", "[rollout]\ntop_k = \"two\"\n", &["c.toml", "rollout.top_k"]),
        config("negative size", "[train]\nlog_samples = -2\n", &["c.toml", "train.log_samples"]),
        config("kl_coef nan", "[algorithm]\nkl_coef = nan\n", &["algorithm.kl_coef", "finite"]),
        config("warm-start batch 0", "[warm_start]\nbatch_size = 0\n", &["warm_start.batch_size"]),
        config("lr negative", "[optimizer]\nlr = -1e-6\n", &["optimizer.lr"]),
        config("lr infinite", "[optimizer]\nlr = inf\n", &["optimizer.lr"]),
        config("weight decay nan", "[optimizer]\nweight_decay = nan\n", &["optimizer.weight_decay"]),
        config("grad norm negative", "[optimizer]\nmax_grad_norm = -1.0\n", &["optimizer.max_grad_norm"]),
        config("betas out of range", "[optimizer]\nbetas = [0.9, 1.5]\n", &["optimizer.betas"]),
        config("unknown schedule", "[optimizer]\nschedule = \"linear\"\n", &["optimizer.schedule", "cosine"]),
        config("unknown estimator", "[algorithm]\nestimator = \"ppo2\"\n", &["algorithm.estimator", "gae"]),
        config("unknown kl estimator", "[algorithm]\nkl_estimator = \"k9\"\n", &["algorithm.kl_estimator", "k3"]),
        config("gamma above 1", "[algorithm]\ngamma = 2.0\n", &["algorithm.gamma"]),
        config("lambda negative", "[algorithm]\nlambda = -0.5\n", &["algorithm.lambda"]),
        config("clip negative", "[algorithm]\nclip_low = -0.2\n", &["algorithm.clip_low"]),
        config("epochs 0", "[algorithm]\nepochs = 0\n", &["algorithm.epochs"]),

        config("temperature inf", "[rollout]\ntemperature = inf\n", &["rollout.temperature"]),
        config("top_p 0", "[rollout]\ntop_p = 0.0\n", &["rollout.top_p"]),
        config("top_p above 1", "[rollout]\ntop_p = 1.5\n", &["rollout.top_p"]),
        set("micro-batch 0", "algorithm.micro_batch_size=0", &["algorithm.micro_batch_size"]),
        set("no samples", "rollout.n_samples_per_prompt=0", &["rollout.n_samples_per_prompt"]),
        set("no prompts", "rollout.prompts_per_step=0", &["rollout.prompts_per_step"]),
        set("no new tokens", "rollout.max_new_tokens=0", &["rollout.max_new_tokens"]),
        config("generation batch word", "[rollout]\ngeneration_batch = \"many\"\n", &["rollout.generation_batch", "auto"]),
        config("unknown dtype", "[model]\ndtype = \"f8\"\n", &["model.dtype"]),
        config("unknown device", "[model]\ndevice = \"tpu\"\n", &["model.device"]),
        config("unknown task", "[data]\ntask = \"chess\"\n", &["data.task", "arith"]),
        config("unknown bad_rows", "[data]\nbad_rows = \"maybe\"\n", &["data.bad_rows"]),
        config("pass@k 0", "[train]\neval_pass_k = 0\n", &["train.eval_pass_k"]),
        config("prompt length 0", "[data]\nmax_prompt_len = 0\n", &["data.max_prompt_len"]),
        // ---- Configs: --set overrides --------------------------------------------------
        set("override without =", "train.steps", &["train.steps", "key=value"]),
        set("override of an unknown key", "train.stepz=3", &["--set", "train.stepz"]),
        set("override with a bad value", "algorithm.clip_low=-1", &["--set", "algorithm.clip_low"]),
        set("override of the wrong type", "train.steps=\"two\"", &["--set", "train.steps"]),
        set("override batch not dividing", "algorithm.train_batch_size=3", &["algorithm.train_batch_size"]),
        // ---- Data files -----------------------------------------------------------------
        stage(
            "train file missing",
            &["--set", "data.train=[{path=\"{d}/none.jsonl\"}]"],
            &["none.jsonl", "No such file"],
        ),
        stage(
            "train file is a directory",
            &["--set", "data.train=[{path=\"{d}\"}]"],
            &["{d}"],
        ),
        data("train file empty", "", &["t.jsonl", "no training rows"]),
        data("row not JSON", "{\"problem\": \"1+1?\", \"answer\": \"2\"}\nnot json\n", &["t.jsonl:2"]),
        data("row without answer", "{\"problem\": \"1+1?\"}\n", &["t.jsonl:1", "answer"]),
        data("row without problem", "{\"answer\": \"2\"}\n", &["t.jsonl:1"]),
        data("message of the wrong type", "{\"message\": 5, \"answer\": \"2\"}\n", &["t.jsonl:1", "message"]),
        data("answer of the wrong type", "{\"problem\": \"1+1?\", \"answer\": [2]}\n", &["t.jsonl:1", "answer"]),
        data("row not UTF-8", "{\"problem\": \"1+1?\", \"answer\": \"2\"}\n", &["t.jsonl"])
            .file("t.jsonl", b"{\"problem\": \"\xff\xfe\", \"answer\": \"2\"}\n".to_vec()),
        stage(
            "eval file missing",
            &["--set", "data.eval=\"{d}/none.jsonl\""],
            &["none.jsonl"],
        ),
        stage(
            "eval row bad",
            &["--set", "data.eval=\"{d}/e.jsonl\""],
            &["e.jsonl:1", "answer"],
        )
        .file("e.jsonl", "{\"problem\": \"1+1?\"}\n"),
        stage(
            "mixture weight negative",
            &["--set", "data.train=[{path=\"{d}/t.jsonl\", weight=-1.0}]"],
            &["weight"],
        )
        .file("t.jsonl", "{\"problem\": \"1+1?\", \"answer\": \"2\"}\n"),
        stage(
            "prompt longer than max_prompt_len",
            &[
                "--set",
                "data.train=[{path=\"{d}/t.jsonl\"}]",
                "--set",
                "data.max_prompt_len=12",
            ],
            &["t.jsonl:", "max_prompt_len"],
        )
        .file(
            "t.jsonl",
            (1..=8)
                .map(|i| format!("{{\"problem\": \"What is {i} plus one plus one plus one plus one?\", \"answer\": \"{}\"}}\n", i + 4))
                .collect::<String>(),
        ),
        // ---- Images ---------------------------------------------------------------------
        image("image missing", &["t.jsonl:1", "img.png"], |_| {}),
        image("image not an image", &["t.jsonl:1", "img.png"], |d| {
            std::fs::write(d.join("img.png"), b"this is text").unwrap()
        }),
        image("image empty", &["t.jsonl:1", "img.png"], |d| {
            std::fs::write(d.join("img.png"), b"").unwrap()
        }),
        image("image truncated", &["t.jsonl:1", "img.png"], |d| {
            std::fs::write(d.join("img.png"), &png(64, 64)[..40]).unwrap()
        }),
        image("image aspect ratio 400", &["t.jsonl:1", "img.png", "aspect ratio"], |d| {
            std::fs::write(d.join("img.png"), png(2000, 5)).unwrap()
        }),
        image("image path is a directory", &["t.jsonl:1", "img.png"], |d| {
            std::fs::create_dir(d.join("img.png")).unwrap()
        }),
        // ---- Model directories and tokenizers -----------------------------------------
        stage("model directory missing", &["--model", "{d}/nowhere"], &["nowhere"]),
        model("config.json missing", &["config.json"], |d| {
            std::fs::remove_file(d.join("model/config.json")).unwrap()
        }),
        model("config.json not JSON", &["config.json"], |d| {
            std::fs::write(d.join("model/config.json"), "{ nope").unwrap()
        }),
        model("config.json without a field", &["config.json", "hidden_size"], |d| {
            edit_json(&d.join("model/config.json"), |v| {
                v.as_object_mut().unwrap().remove("hidden_size");
            })
        }),
        model("weights missing", &["model.safetensors"], |d| {
            std::fs::remove_file(d.join("model/model.safetensors")).unwrap()
        }),
        model("weights not safetensors", &["model.safetensors", "not a safetensors file"], |d| {
            std::fs::write(d.join("model/model.safetensors"), b"garbage garbage").unwrap()
        }),
        model("weights truncated", &["model.safetensors", "not a safetensors file"], |d| {
            let p = d.join("model/model.safetensors");
            let bytes = std::fs::read(&p).unwrap();
            std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap()
        }),
        model("weights lack tensors", &["missing tensors", "model.embed_tokens.weight", "more"], |d| {
            save(
                &d.join("model/model.safetensors"),
                &[("lm_head.weight", Tensor::zeros(2, DType::F32, &Device::Cpu).unwrap())],
            )
        }),
        model("weights index names a missing shard", &["model-00001.safetensors"], |d| {
            std::fs::remove_file(d.join("model/model.safetensors")).unwrap();
            std::fs::write(
                d.join("model/model.safetensors.index.json"),
                r#"{"weight_map": {"lm_head.weight": "model-00001.safetensors"}}"#,
            )
            .unwrap()
        }),
        model("weights index not JSON", &["model.safetensors.index.json"], |d| {
            std::fs::remove_file(d.join("model/model.safetensors")).unwrap();
            std::fs::write(d.join("model/model.safetensors.index.json"), "{").unwrap()
        }),
        model("tokenizer missing", &["tokenizer.json"], |d| {
            std::fs::remove_file(d.join("model/tokenizer.json")).unwrap()
        }),
        model("tokenizer not JSON", &["tokenizer.json"], |d| {
            std::fs::write(d.join("model/tokenizer.json"), "{ nope").unwrap()
        }),
        model("tokenizer of the wrong shape", &["tokenizer.json"], |d| {
            std::fs::write(d.join("model/tokenizer.json"), "{\"model\": 3}").unwrap()
        }),
        // ---- Checkpoints (a rerun that would resume) ------------------------------------
        resume("every manifest damaged", &["cannot resume", "--fresh", "checkpoint.json"], |d| {
            for s in step_dirs(d) {
                std::fs::write(ckpt(d, &s, "checkpoint.json"), "{").unwrap();
            }
        }),
        resume("every manifest missing", &["cannot resume", "--fresh"], |d| {
            for s in step_dirs(d) {
                std::fs::remove_file(ckpt(d, &s, "checkpoint.json")).unwrap();
            }
        }),
        resume("every optimizer file damaged", &["cannot resume", "policy_optim.safetensors"], |d| {
            for s in step_dirs(d) {
                std::fs::write(ckpt(d, &s, "policy_optim.safetensors"), b"garbage").unwrap();
            }
        }),
        resume("state of another version", &["version 99", "--fresh"], |d| {
            for s in step_dirs(d) {
                edit_json(&ckpt(d, &s, "checkpoint.json"), |v| v["state"]["version"] = 99.into());
            }
        }),
        resume("state without a field", &["state", "kl_controller"], |d| {
            for s in step_dirs(d) {
                edit_json(&ckpt(d, &s, "checkpoint.json"), |v| {
                    v["state"].as_object_mut().unwrap().remove("kl_controller");
                });
            }
        }),
        resume("checkpoint tensor missing", &["policy", "lacks tensor"], |d| {
            for s in step_dirs(d) {
                save(
                    &ckpt(d, &s, "policy.safetensors"),
                    &[("x", Tensor::zeros(1, DType::F32, &Device::Cpu).unwrap())],
                );
            }
        }),
        resume("base weights gone", &["base", "config.json"], |d| {
            std::fs::remove_dir_all(d.join("run/base")).unwrap()
        }),
        resume("newest checkpoint damaged: resumes from the one before", &["outputs in"], |d| {
            let newest = step_dirs(d).pop().unwrap();
            std::fs::write(ckpt(d, &newest, "policy.safetensors"), b"garbage").unwrap();
        })
        .succeeds(),
        // ---- The logits CLI -------------------------------------------------------------
        logits("logits: model missing", &["--model", "{d}/nowhere"], &["nowhere"], |d| {
            save(&d.join("in.safetensors"), &[("input_ids", ids(&[1, 2], (1, 2)))])
        }),
        logits("logits: inputs missing", &[], &["in.safetensors"], |_| {}),
        logits("logits: inputs not safetensors", &[], &["in.safetensors", "not a safetensors file"], |d| {
            std::fs::write(d.join("in.safetensors"), b"garbage").unwrap()
        }),
        logits("logits: no input_ids", &[], &["input_ids"], |d| {
            save(&d.join("in.safetensors"), &[("attention_mask", ids(&[1, 1], (1, 2)))])
        }),
        logits("logits: input_ids of rank 1", &[], &["input_ids", "rank"], |d| {
            let t = Tensor::from_slice(&[1i64, 2], 2, &Device::Cpu).unwrap();
            save(&d.join("in.safetensors"), &[("input_ids", t)])
        }),
        logits("logits: id beyond the vocabulary", &[], &["input_ids", "vocabulary"], |d| {
            inputs(d, &[1, 10_000_000], &[])
        }),
        logits("logits: negative id", &[], &["input_ids", "vocabulary"], |d| {
            inputs(d, &[1, -3], &[])
        }),
        logits("logits: mask of another shape", &[], &["attention_mask"], |d| {
            save(
                &d.join("in.safetensors"),
                &[
                    ("input_ids", ids(&[1, 2], (1, 2))),
                    ("attention_mask", ids(&[1, 1, 1], (1, 3))),
                ],
            )
        }),
        logits("logits: pixels without a grid", &[], &["image_grid_thw"], |d| {
            let pixels = Tensor::zeros((4, 1176), DType::F32, &Device::Cpu).unwrap();
            inputs(d, &[1, 2], &[("pixel_values", pixels)])
        }),
        logits("logits: unknown dtype", &["--dtype", "f8"], &["f8"], |d| {
            save(&d.join("in.safetensors"), &[("input_ids", ids(&[1, 2], (1, 2)))])
        }),
        logits("logits: unknown device", &["--device", "tpu"], &["tpu"], |d| {
            save(&d.join("in.safetensors"), &[("input_ids", ids(&[1, 2], (1, 2)))])
        }),
        logits("logits: output path is a directory", &["--out", "{d}"], &["writing {d}"], |d| {
            inputs(d, &[1, 2], &[])
        }),
    ]
}

/// Runs one case; `Err` says what was wrong.
fn check(c: &Case) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    match c.start {
        Start::Nothing => {}
        Start::Run => {
            copy_dir(finished_run(), &d.join("run"));
            std::fs::remove_dir_all(d.join("run/final")).unwrap();
            std::fs::remove_file(d.join("run/summary.json")).unwrap();
        }
        Start::Model => copy_dir(&finished_run().join("final"), &d.join("model")),
    }
    if let Some(p) = &c.prep {
        p(d);
    }
    let ds = d.display().to_string();
    let args: Vec<String> = c.args.iter().map(|a| a.replace("{d}", &ds)).collect();
    let mut cmd = Command::new(binary(c.bin));
    if c.bin != "logits" {
        // First, so that a case's own `--set` wins.
        cmd.args(tiny_args());
    }
    cmd.args(&args).env("RUST_BACKTRACE", "0");
    let metrics_before = std::fs::read(d.join("run/metrics.jsonl")).ok();
    let o = cmd.output().map_err(|e| e.to_string())?;
    let stderr = String::from_utf8_lossy(&o.stderr);
    let last = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    let stdout = String::from_utf8_lossy(&o.stdout);
    let shown = if c.succeeds {
        stdout.lines().last().unwrap_or("")
    } else {
        last
    };
    let fail = |why: String| Err(format!("{why}\n  last line: {shown}\n  stderr:\n{stderr}"));
    if stderr.contains("panicked") {
        return fail("panicked".into());
    }
    if o.status.success() != c.succeeds {
        return fail(format!("exit status {:?}", o.status.code()));
    }
    if !c.succeeds && o.status.code() != Some(1) {
        return fail(format!("exit status {:?}, expected 1", o.status.code()));
    }
    for want in &c.last_line {
        let want = want.replace("{d}", &ds);
        if !shown.contains(&want) {
            return fail(format!("the last line lacks {want:?}"));
        }
    }
    // Shown with `--nocapture`: the message of every case.
    println!("{}: {}", c.name, shown.trim());
    if c.succeeds {
        if !stderr.contains("warning: skipping damaged checkpoint") {
            return fail("no warning about the damaged checkpoint".into());
        }
        return Ok(());
    }
    for out in [d.join("out"), d.join("run")] {
        for f in ["summary.json", "final"] {
            if out.join(f).exists() {
                return fail(format!(
                    "a failed run left {} behind",
                    out.join(f).display()
                ));
            }
        }
    }
    if stderr.contains("cannot resume")
        && std::fs::read(d.join("run/metrics.jsonl")).ok() != metrics_before
    {
        return fail("a run that could not resume changed metrics.jsonl".into());
    }
    Ok(())
}

#[test]
fn every_bad_input_ends_in_one_line_naming_it() {
    let cases = cases();
    assert!(cases.len() >= 60, "{} cases", cases.len());
    finished_run();
    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(c) = cases.get(i) else { break };
                if let Err(why) = check(c) {
                    failures.lock().unwrap().push(format!("{}: {why}", c.name));
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    let _ = std::fs::remove_dir_all(finished_run().parent().unwrap());
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}
