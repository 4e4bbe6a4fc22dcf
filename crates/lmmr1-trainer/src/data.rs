//! Training and held-out data: files (mixed by weight) or the seeded generator, a held-out
//! split whose questions never occur in training, and the resumable draw order
//! ([`lmmr1_tasks::Mixture`]).

use std::collections::HashSet;
use std::path::Path;

use lmmr1_tasks::{Dataset, Mixture, Sample};

use crate::config::{Config, SystemPrompt};
use crate::{Error, Result};

/// Training prompts and the held-out evaluation prompts.
#[derive(Debug, Clone)]
pub struct Data {
    /// Training samples, drawn by weight in reshuffled passes.
    pub train: Mixture,
    /// Held-out samples.
    pub eval: Vec<Sample>,
    /// Malformed rows skipped while loading.
    pub skipped: usize,
    /// Rows dropped because their gold answer cannot be parsed (every response would count as
    /// correct on them).
    pub uncheckable: usize,
}

/// Whether the policy is the embedded tiny one or trained from it: no `model.dir` and no
/// existing `model.init_from`, or a model directory whose vocabulary is the tiny one's (< 1000).
pub fn tiny_lineage(cfg: &Config) -> bool {
    let dir = cfg.start_dir();
    match dir {
        None => true,
        Some(d) => std::fs::read_to_string(d.join("config.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|v| v.get("vocab_size").and_then(|x| x.as_u64()))
            .is_some_and(|v| v < 1000),
    }
}

/// The system prompt text of a run (see [`SystemPrompt`]).
pub fn system_prompt(cfg: &Config) -> Option<String> {
    match &cfg.data.system_prompt {
        SystemPrompt::Auto if tiny_lineage(cfg) => None,
        SystemPrompt::Auto | SystemPrompt::R1 => Some(lmmr1_tasks::prompts::R1_MATH.to_string()),
        SystemPrompt::None => None,
        SystemPrompt::Text(text) => Some(text.clone()),
    }
}

/// Loads (or generates) the data of a config. Relative paths are resolved against `base_dir`.
pub fn load(cfg: &Config, base_dir: &Path) -> Result<Data> {
    let d = &cfg.data;
    let bad = d.bad_rows;
    let (mut skipped, mut uncheckable) = (0, 0);
    let (mut parts, mut eval): (Vec<(Dataset, f64)>, Vec<Sample>) = (Vec::new(), Vec::new());
    let read_eval = |skipped: &mut usize, uncheckable: &mut usize| -> Result<Vec<Sample>> {
        let mut ds = Dataset::from_jsonl(&base_dir.join(&d.eval), bad)?;
        *skipped += ds.skipped;
        *uncheckable += ds.retain_checkable();
        Ok(ds.samples)
    };
    if d.train.is_empty() {
        let kind = d.task;
        // Held-out problems come from the evaluation-only share of the problem space, which no
        // warm start or training split ever draws from.
        let (train, held) = lmmr1_tasks::kind::train_and_held_out(
            kind,
            d.generator_count,
            d.held_out,
            &d.generator_levels,
            d.seed,
        )?;
        parts.push((train, 1.0));
        eval = held.samples;
        // An eval file replaces the generated held-out problems.
        if !d.eval.is_empty() {
            eval = read_eval(&mut skipped, &mut uncheckable)?;
        }
    } else {
        let mut files = Vec::new();
        for f in &d.train {
            let mut ds = Dataset::from_jsonl(&base_dir.join(&f.path), bad)?;
            skipped += ds.skipped;
            uncheckable += ds.retain_checkable();
            files.push((ds, f.weight));
        }
        if !d.eval.is_empty() {
            eval = read_eval(&mut skipped, &mut uncheckable)?;
        }
        // Without an eval file, each training file gives its share of the held-out rows.
        let total: usize = files.iter().map(|(ds, _)| ds.len()).sum();
        for (i, (ds, w)) in files.into_iter().enumerate() {
            let (train, held) = if d.eval.is_empty() && total > 0 {
                let n = (d.held_out * ds.len()).div_ceil(total);
                ds.split(n, d.seed.wrapping_add(i as u64))
            } else {
                (ds, Dataset::new("none", Vec::new()))
            };
            eval.extend(held.samples);
            parts.push((train, w));
        }
        // No held-out question in training (datasets may repeat questions).
        let held_q: HashSet<String> = eval.iter().map(|s| s.question_text()).collect();
        for (ds, _) in &mut parts {
            ds.samples.retain(|s| !held_q.contains(&s.question_text()));
        }
    }
    for (i, (ds, _)) in parts.iter().enumerate() {
        if ds.samples.is_empty() {
            return Err(Error::Config(format!(
                "data.train[{i}] ({}): no training rows left after the held-out split",
                ds.source
            )));
        }
    }
    let system = system_prompt(cfg);
    if let Some(p) = &system {
        parts = parts
            .into_iter()
            .map(|(ds, w)| (ds.with_system(p), w))
            .collect();
        eval = eval.into_iter().map(|s| s.with_system(p)).collect();
    }
    Ok(Data {
        train: Mixture::new(parts, d.seed)?,
        eval,
        skipped,
        uncheckable,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_split_is_disjoint_and_has_the_system_prompt() {
        let mut cfg = Config::default();
        cfg.data.system_prompt = SystemPrompt::R1;
        cfg.data.generator_count = 500;
        cfg.data.held_out = 50;
        let mut data = load(&cfg, Path::new(".")).unwrap();
        assert_eq!(data.eval.len(), 50);
        let held: HashSet<String> = data.eval.iter().map(|s| s.question_text()).collect();
        for _ in 0..500 {
            let s = data.train.next();
            assert!(!held.contains(&s.question_text()));
            assert_eq!(s.messages[0].role, "system");
        }
    }

    #[test]
    fn a_missing_file_is_an_error_naming_it() {
        let cfg = Config::from_toml_str(
            "[data]\ntrain = [{ path = \"no/such.jsonl\" }]",
            "test.toml",
            &[],
        )
        .unwrap();
        let e = load(&cfg, Path::new(".")).unwrap_err().to_string();
        assert!(e.contains("no/such.jsonl"), "{e}");
    }
}
