//! What a checkpoint holds besides the weights: [`TrainState`], typed and versioned, written
//! and read in one place ([`save`], [`restore`]).

use std::collections::HashMap;
use std::path::Path;

use candle_core::Tensor;
use lmmr1_algos::KlController;
use lmmr1_model::checkpoint::{save_checkpoint, LoadedCheckpoint};
use lmmr1_model::optim::{AdamW, TrainParam};
use lmmr1_tasks::MixturePosition;
use serde::{Deserialize, Serialize};

use crate::eval::EvalResult;
use crate::{Error, Result};

/// The version of [`TrainState`] this build writes and reads.
pub const TRAIN_STATE_VERSION: u32 = 3;

/// The loop's state at a checkpoint. Every field is required when read back: a checkpoint
/// that lacks one (or has one this build does not know) is an error naming it, never a
/// silent reset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainState {
    /// [`TRAIN_STATE_VERSION`] when written.
    pub version: u32,
    /// Where the training data order stands.
    pub data_position: MixturePosition,
    /// The evaluation before RL (the run's baseline).
    pub before: EvalResult,
    /// The latest evaluation (the final one once the last step is done).
    pub last: EvalResult,
    /// Optimizer updates planned so far (the LR schedule's position; skipped ones count).
    pub update: u64,
    /// Steps the actor's AdamW took (its bias correction).
    pub actor_opt_steps: u64,
    /// Steps the critic's AdamW took.
    pub critic_opt_steps: u64,
    /// Updates skipped for a non-finite loss or gradient.
    pub skipped_updates: usize,
    /// The KL coefficient's controller (β moves under the adaptive one).
    pub kl_controller: KlController,
}

/// A model's trainable parameters and their optimizer, as one checkpoint group pair.
pub(crate) struct Trained<'a> {
    /// Group name of the weights (`policy`, `critic`).
    pub(crate) name: &'static str,
    /// The parameters (f32 masters in mixed precision).
    pub(crate) params: &'a [TrainParam],
    /// Their optimizer (group `<name>_optim`).
    pub(crate) opt: &'a AdamW,
}

/// Writes checkpoint `step` under `root` atomically (weights at full precision, optimizer
/// moments, the state), keeping the newest `keep`.
pub(crate) fn save(
    root: &Path,
    step: usize,
    models: &[Trained<'_>],
    state: &TrainState,
    keep: usize,
) -> Result<()> {
    let mut groups = Vec::with_capacity(2 * models.len());
    let optim_names: Vec<String> = models.iter().map(|m| format!("{}_optim", m.name)).collect();
    for (m, optim) in models.iter().zip(&optim_names) {
        let named = m
            .params
            .iter()
            .map(|p| (p.name.clone(), p.value()))
            .collect();
        groups.push((m.name, named));
        groups.push((optim.as_str(), m.opt.state_tensors()?));
    }
    let state = serde_json::to_value(state).map_err(|e| Error::Other(e.to_string()))?;
    save_checkpoint(root, step as u64, &groups, &state, keep)?;
    Ok(())
}

/// The state of a loaded checkpoint, checked: the version must be this build's and every field
/// present.
pub(crate) fn read_state(ck: &LoadedCheckpoint) -> Result<TrainState> {
    let bad = |msg: String| Error::Other(format!("checkpoint {}: state: {msg}", ck.dir.display()));
    let version = ck.state.get("version").and_then(|v| v.as_u64());
    if version != Some(u64::from(TRAIN_STATE_VERSION)) {
        return Err(bad(format!(
            "version {} but this build reads version {TRAIN_STATE_VERSION} (written by another lmm-r1-rs version; start over with --fresh)",
            version.map_or_else(|| "missing".to_string(), |v| v.to_string())
        )));
    }
    serde_json::from_value(ck.state.clone()).map_err(|e| bad(e.to_string()))
}

/// Copies a checkpoint's weights into `model.params` (masters and variables, by name; every
/// parameter must be present) and its optimizer state into `opt`.
pub(crate) fn restore(
    ck: &LoadedCheckpoint,
    name: &str,
    params: &[TrainParam],
    opt: &mut AdamW,
    opt_steps: u64,
) -> Result<()> {
    let group = |g: &str| -> Result<&HashMap<String, Tensor>> {
        ck.groups.get(g).ok_or_else(|| {
            Error::Other(format!(
                "checkpoint {} has no `{g}` group",
                ck.dir.display()
            ))
        })
    };
    let weights = group(name)?;
    for p in params {
        let t = weights.get(&p.name).ok_or_else(|| {
            Error::Other(format!(
                "checkpoint {}: `{name}` lacks tensor {}",
                ck.dir.display(),
                p.name
            ))
        })?;
        p.set(t)?;
    }
    opt.load_state_tensors(group(&format!("{name}_optim"))?, opt_steps)?;
    Ok(())
}
