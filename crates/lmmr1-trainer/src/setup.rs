//! Where a run starts: the policy (a checkpoint directory, or the embedded policy with its
//! supervised warm start, cached by its settings) and the prompt encoder.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::{DType, Device};
use lmmr1_model::checkpoint::{save_hf, write_atomic};
use lmmr1_model::policy::{Policy, PolicyOptions};
use lmmr1_model::processor::ImageProcessor;
use lmmr1_model::tokenizer::Tokenizer;
use lmmr1_rollout::PromptEncoder;

use crate::config::Config;
use crate::output::progress_bar;
use crate::{data, embedded, io_err, warm_start, Error, Result};

/// What identifies a warm-started base: the embedded policy (its config and tokenizer, by
/// FNV-1a hash, and its seed) and the `[warm_start]` settings (its `cache` path aside).
fn warm_start_key(cfg: &Config) -> Result<String> {
    let mut ws = cfg.warm_start.clone();
    ws.cache.clear();
    let text = toml::to_string(&ws).map_err(|e| Error::Other(e.to_string()))?;
    let fnv1a = |bytes: &[u8]| {
        bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
    };
    Ok(format!(
        "model.config = {:016x}\nmodel.tokenizer = {:016x}\nmodel.seed = {}\nmodel.dtype = {:?}\n[warm_start]\n{text}",
        fnv1a(embedded::CONFIG_JSON.as_bytes()),
        fnv1a(embedded::TOKENIZER_JSON.as_bytes()),
        cfg.model.seed,
        cfg.model.dtype
    ))
}

/// Policy, tokenizer and where its starting weights live.
pub(crate) struct Setup {
    pub(crate) policy: Policy,
    pub(crate) encoder: PromptEncoder,
    /// Directory with the starting weights (HF layout): the reference model and resumes load it.
    pub(crate) base: PathBuf,
    pub(crate) label: String,
    /// Seconds the warm start took (0 when none ran).
    pub(crate) warm_start_s: f64,
}

/// Loads or builds the policy and saves its starting weights to `out/base` when they are not a
/// directory already (embedded policy, or a warm start).
#[allow(clippy::too_many_arguments)]
pub(crate) fn setup(
    cfg: &Config,
    out: &Path,
    device: &Device,
    dtype: DType,
    fresh: bool,
    exclude: &HashSet<u64>,
    progress: bool,
    recompute: bool,
) -> Result<Setup> {
    let popts = PolicyOptions {
        freeze: cfg.model.freeze.clone(),
        recompute,
    };
    let start_dir = cfg.start_dir();
    let embedded = start_dir.is_none();
    let base_out = out.join("base");
    let (tokenizer, model_cfg, label) = match &start_dir {
        None => (
            embedded::tokenizer()?,
            embedded::config()?,
            "embedded-tiny".to_string(),
        ),
        Some(dir) => (
            Tokenizer::from_file(dir.join("tokenizer.json"))?,
            lmmr1_model::Config::from_file(dir.join("config.json"))?,
            dir.display().to_string(),
        ),
    };
    let warm = cfg.warm_start.steps > 0 && (embedded || cfg.warm_start.always);
    let encoder = PromptEncoder {
        tokenizer: tokenizer.clone(),
        processor: ImageProcessor {
            min_pixels: cfg.model.min_pixels,
            max_pixels: cfg.model.max_pixels,
            patch_size: model_cfg.vision_config.patch_size,
            temporal_patch_size: model_cfg.vision_config.temporal_patch_size,
            merge_size: model_cfg.vision_config.spatial_merge_size,
            ..ImageProcessor::default()
        },
        merge_size: model_cfg.vision_config.spatial_merge_size,
        max_prompt_len: cfg.data.max_prompt_len,
        device: device.clone(),
    };
    if !fresh && (embedded || warm) {
        // Resuming: the starting weights were exported by the first run.
        let policy = Policy::from_dir(&base_out, dtype, device, &popts)?;
        return Ok(Setup {
            policy,
            encoder,
            base: base_out,
            label,
            warm_start_s: 0.0,
        });
    }
    // The warm start trains every parameter (it stands in for pre-training); RL then freezes
    // what `model.freeze` names.
    let build_opts = if embedded || warm {
        PolicyOptions {
            freeze: Vec::new(),
            recompute,
        }
    } else {
        popts.clone()
    };
    let policy = match &start_dir {
        None => Policy::random(&model_cfg, cfg.model.seed, dtype, device, &build_opts)?,
        Some(dir) => Policy::from_dir(dir, dtype, device, &build_opts)?,
    };
    if !(embedded || warm) {
        return Ok(Setup {
            policy,
            encoder,
            base: start_dir.unwrap_or_default(),
            label,
            warm_start_s: 0.0,
        });
    }
    // A cached base with the same warm-start settings is reused as is.
    let cache = (!cfg.warm_start.cache.is_empty()).then(|| PathBuf::from(&cfg.warm_start.cache));
    let key = warm_start_key(cfg)?;
    if let (Some(c), true) = (&cache, embedded) {
        let same = std::fs::read_to_string(c.join("warm_start.key")).is_ok_and(|k| k == key);
        if same {
            let policy = Policy::from_dir(c, dtype, device, &popts)?;
            eprintln!("warm start: reusing the base cached in {}", c.display());
            save_hf(&base_out, &model_cfg, &policy.named_tensors(), dtype)?;
            write_atomic(
                &base_out.join("tokenizer.json"),
                embedded::TOKENIZER_JSON.as_bytes(),
            )?;
            return Ok(Setup {
                policy,
                encoder,
                base: base_out,
                label,
                warm_start_s: 0.0,
            });
        }
    }
    let t = Instant::now();
    let system = data::system_prompt(cfg);
    let pb = progress_bar(progress, cfg.warm_start.steps as u64, "warm start");
    let kinds = cfg.warm_start_tasks()?;
    let losses = warm_start::warm_start(
        &policy,
        &encoder,
        &cfg.warm_start,
        &kinds,
        system.as_deref(),
        exclude,
        &mut |i, loss| {
            pb.set_position(i as u64);
            pb.set_message(format!("sft loss {loss:.4}"));
            if !progress && i % (cfg.warm_start.steps / 10).max(1) == 0 {
                eprintln!(
                    "warm start {i}/{}: sft loss {loss:.4}",
                    cfg.warm_start.steps
                );
            }
        },
    )?;
    pb.finish_and_clear();
    let warm_start_s = t.elapsed().as_secs_f64();
    if let (Some(first), Some(last)) = (losses.first(), losses.last()) {
        eprintln!(
            "warm start: {} steps, sft loss {first:.3} → {last:.3} ({:.0} s)",
            losses.len(),
            warm_start_s
        );
    }
    save_hf(&base_out, &model_cfg, &policy.named_tensors(), dtype)?;
    let tok_path = base_out.join("tokenizer.json");
    let tok_json = match &start_dir {
        None => embedded::TOKENIZER_JSON.as_bytes().to_vec(),
        Some(dir) => {
            let p = dir.join("tokenizer.json");
            std::fs::read(&p).map_err(io_err(p))?
        }
    };
    write_atomic(&tok_path, &tok_json)?;
    if let (Some(c), true) = (&cache, embedded) {
        // Written next to the cache and renamed, so a half-written cache is never used.
        let tmp = c.with_extension("partial");
        let _ = std::fs::remove_dir_all(&tmp);
        save_hf(&tmp, &model_cfg, &policy.named_tensors(), dtype)?;
        write_atomic(&tmp.join("tokenizer.json"), &tok_json)?;
        write_atomic(&tmp.join("warm_start.key"), key.as_bytes())?;
        let _ = std::fs::remove_dir_all(c);
        if let Some(parent) = c.parent() {
            std::fs::create_dir_all(parent).map_err(io_err(parent))?;
        }
        std::fs::rename(&tmp, c).map_err(io_err(c))?;
    }
    let policy = if popts.freeze.is_empty() {
        policy
    } else {
        Policy::from_dir(&base_out, dtype, device, &popts)?
    };
    Ok(Setup {
        policy,
        encoder,
        base: base_out,
        label,
        warm_start_s,
    })
}
