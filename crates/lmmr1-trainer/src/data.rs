//! Training and held-out data, and the resumable order in which training prompts are drawn.

use std::collections::HashSet;
use std::path::Path;

use lmmr1_model::generate::Rng;
use lmmr1_tasks::{BadRows, Dataset, Sample};
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::{Error, Result};

/// Training prompts and the held-out evaluation prompts.
#[derive(Debug, Clone)]
pub struct Data {
    /// Training samples.
    pub train: Vec<Sample>,
    /// Mixing weight of each training sample (uniform when there is one source).
    pub weights: Vec<f64>,
    /// Held-out samples.
    pub eval: Vec<Sample>,
    /// Malformed rows skipped while loading.
    pub skipped: usize,
}

/// The system prompt named by `data.system_prompt`.
pub fn system_prompt(name: &str) -> Option<String> {
    match name {
        "" | "none" => None,
        "r1" => Some(lmmr1_tasks::prompts::R1_MATH.to_string()),
        other => Some(other.to_string()),
    }
}

/// Loads (or generates) the data of a config: files or the generator, then the held-out split;
/// held-out questions never appear in training.
pub fn load(cfg: &Config, base_dir: &Path) -> Result<Data> {
    let d = &cfg.data;
    let bad = if d.bad_rows == "skip" {
        BadRows::Skip
    } else {
        BadRows::Error
    };
    let mut skipped = 0;
    let (mut train, mut weights) = (Vec::new(), Vec::new());
    if d.train.is_empty() {
        let ds = lmmr1_tasks::generator::dataset(d.generator_count, &d.generator_levels, d.seed);
        weights.extend(std::iter::repeat_n(1.0, ds.samples.len()));
        train.extend(ds.samples);
    } else {
        for f in &d.train {
            let path = base_dir.join(&f.path);
            let ds = Dataset::from_jsonl(&path, bad)?;
            skipped += ds.skipped;
            if ds.samples.is_empty() {
                return Err(Error::Config(format!(
                    "data.train: {} has no usable rows",
                    path.display()
                )));
            }
            // Each file gets its weight in total, spread over its rows.
            let w = f.weight / ds.samples.len() as f64;
            weights.extend(std::iter::repeat_n(w, ds.samples.len()));
            train.extend(ds.samples);
        }
    }
    let eval = if d.eval.is_empty() {
        // Seeded split of the training data.
        let mut idx: Vec<usize> = (0..train.len()).collect();
        shuffle(&mut idx, &mut Rng::new(d.seed ^ 0x5EED));
        let held: HashSet<usize> = idx.into_iter().take(d.held_out).collect();
        let mut e = Vec::new();
        let (mut t, mut w) = (Vec::new(), Vec::new());
        for (i, (s, wt)) in train.into_iter().zip(weights).enumerate() {
            if held.contains(&i) {
                e.push(s);
            } else {
                t.push(s);
                w.push(wt);
            }
        }
        train = t;
        weights = w;
        e
    } else {
        let ds = Dataset::from_jsonl(&base_dir.join(&d.eval), bad)?;
        skipped += ds.skipped;
        ds.samples
    };
    // No held-out question in training (generated data repeats small problems).
    let held_q: HashSet<String> = eval.iter().map(|s| s.question_text()).collect();
    let keep: Vec<bool> = train
        .iter()
        .map(|s| !held_q.contains(&s.question_text()))
        .collect();
    let mut k = keep.iter();
    train.retain(|_| *k.next().unwrap_or(&true));
    let mut k = keep.iter();
    weights.retain(|_| *k.next().unwrap_or(&true));
    if train.is_empty() {
        return Err(Error::Config(
            "data: no training rows left after the held-out split".into(),
        ));
    }
    let system = system_prompt(&d.system_prompt);
    let with_sys = |v: Vec<Sample>| -> Vec<Sample> {
        match &system {
            Some(p) => v.into_iter().map(|s| s.with_system(p)).collect(),
            None => v,
        }
    };
    Ok(Data {
        train: with_sys(train),
        weights,
        eval: with_sys(eval),
        skipped,
    })
}

/// Fisher–Yates with the project's SplitMix64.
pub fn shuffle<T>(v: &mut [T], rng: &mut Rng) {
    for i in (1..v.len()).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
}

/// The order in which training prompts are drawn: weighted sampling without replacement within
/// an epoch (Efraimidis–Spirakis keys), reshuffled per epoch from `(seed, epoch)`. Its state is two
/// integers, saved in checkpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataOrder {
    /// Seed.
    pub seed: u64,
    /// Current epoch.
    pub epoch: u64,
    /// Position within the epoch.
    pub pos: usize,
    #[serde(skip)]
    order: Vec<usize>,
}

impl DataOrder {
    /// A fresh order.
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            epoch: 0,
            pos: 0,
            order: Vec::new(),
        }
    }

    fn build(&mut self, weights: &[f64]) {
        let mut rng = Rng::new(self.seed.wrapping_add(self.epoch.wrapping_mul(0x9E37)));
        let mut keyed: Vec<(f64, usize)> = weights
            .iter()
            .enumerate()
            .map(|(i, &w)| (rng.uniform().max(1e-300).ln() / w, i))
            .collect();
        keyed.sort_by(|a, b| b.0.total_cmp(&a.0));
        self.order = keyed.into_iter().map(|(_, i)| i).collect();
    }

    /// The next `k` indices.
    pub fn next(&mut self, k: usize, weights: &[f64]) -> Vec<usize> {
        let mut out = Vec::with_capacity(k);
        while out.len() < k {
            if self.order.len() != weights.len() {
                self.build(weights);
            }
            if self.pos >= self.order.len() {
                self.epoch += 1;
                self.pos = 0;
                self.build(weights);
            }
            out.push(self.order[self.pos]);
            self.pos += 1;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_resumes_exactly_and_covers_an_epoch() {
        let w = vec![1.0; 10];
        let mut a = DataOrder::new(3);
        let first: Vec<usize> = a.next(7, &w);
        let saved = serde_json::to_string(&a).unwrap();
        let rest_a = a.next(9, &w);
        let mut b: DataOrder = serde_json::from_str(&saved).unwrap();
        assert_eq!(b.next(9, &w), rest_a);
        let mut epoch: Vec<usize> = first.into_iter().chain(rest_a[..3].iter().copied()).collect();
        epoch.sort();
        assert_eq!(epoch, (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn heavier_rows_come_earlier() {
        // Two sources of 50 rows, weights 9:1 → the first 20 draws are mostly the heavy source.
        let w: Vec<f64> = (0..100).map(|i| if i < 50 { 9.0 } else { 1.0 }).collect();
        let mut heavy = 0;
        for seed in 0..20 {
            heavy += DataOrder::new(seed).next(20, &w).iter().filter(|&&i| i < 50).count();
        }
        assert!(heavy > 20 * 20 * 3 / 4, "{heavy}");
    }
}
