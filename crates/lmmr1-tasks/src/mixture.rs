//! Several datasets mixed with probabilities (LMM-R1's `--prompt_data a,b
//! --prompt_data_probs 0.5,0.5`), seeded and resumable.

use serde::{Deserialize, Serialize};

use crate::dataset::Dataset;
use crate::error::{Error, Result};
use crate::rng::{derive_seed, SplitMix64};
use crate::sample::Sample;

/// Where one dataset's pass is: epoch `epoch` of its shuffled order, next item `index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// Completed passes over the dataset.
    pub epoch: u64,
    /// Items of the current pass already drawn.
    pub index: usize,
}

/// A saved [`Mixture`] position (serialisable, for checkpoints).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MixturePosition {
    /// The mixture's seed (checked on restore).
    pub seed: u64,
    /// Samples drawn so far.
    pub draws: u64,
    /// State of the generator that picks the dataset of each draw.
    pub rng_state: u64,
    /// Dataset lengths (checked on restore).
    pub lens: Vec<usize>,
    /// One cursor per dataset.
    pub cursors: Vec<Cursor>,
}

/// Draws samples from several datasets: each draw picks dataset `d` with probability
/// `p_d = w_d / Σ w`, then takes the next sample of `d`'s current pass. Each pass visits every
/// sample of `d` once in an order shuffled per (seed, dataset, epoch), so a dataset is exhausted
/// evenly and reshuffled, never sampled with replacement.
///
/// ```
/// use lmmr1_tasks::{Dataset, Mixture, Sample};
/// let easy = Dataset::new("easy", vec![Sample::text("a", "1+1?", "2")]);
/// let hard = Dataset::new("hard", vec![Sample::text("b", "12*12?", "144")]);
/// let mut mix = Mixture::new(vec![(easy, 0.75), (hard, 0.25)], 42)?;
/// let saved = mix.position();
/// let first: Vec<String> = mix.batch(8).iter().map(|s| s.id.clone()).collect();
/// mix.set_position(&saved)?;
/// assert_eq!(mix.batch(8).iter().map(|s| s.id.clone()).collect::<Vec<_>>(), first);
/// # Ok::<(), lmmr1_tasks::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Mixture {
    datasets: Vec<Dataset>,
    probabilities: Vec<f64>,
    seed: u64,
    rng: SplitMix64,
    draws: u64,
    cursors: Vec<Cursor>,
    orders: Vec<Vec<usize>>,
}

impl Mixture {
    /// Mixes `(dataset, weight)` pairs; weights are normalised to probabilities. Errors when
    /// there is no dataset, a weight is negative or not finite, all weights are zero, or a
    /// dataset with positive weight is empty.
    pub fn new(parts: Vec<(Dataset, f64)>, seed: u64) -> Result<Self> {
        if parts.is_empty() {
            return Err(Error::Invalid(
                "a mixture needs at least one dataset".into(),
            ));
        }
        for (d, w) in &parts {
            if !w.is_finite() || *w < 0.0 {
                return Err(Error::Invalid(format!(
                    "mixture weight of `{}` must be finite and >= 0, got {w}",
                    d.source
                )));
            }
            if *w > 0.0 && d.is_empty() {
                return Err(Error::Invalid(format!(
                    "dataset `{}` is empty but has mixture weight {w}",
                    d.source
                )));
            }
        }
        let total: f64 = parts.iter().map(|(_, w)| w).sum();
        if total <= 0.0 {
            return Err(Error::Invalid("mixture weights are all zero".into()));
        }
        let probabilities = parts.iter().map(|(_, w)| w / total).collect();
        let datasets: Vec<Dataset> = parts.into_iter().map(|(d, _)| d).collect();
        let orders = datasets
            .iter()
            .enumerate()
            .map(|(d, ds)| epoch_order(seed, d, 0, ds.len()))
            .collect();
        Ok(Self {
            cursors: vec![Cursor { epoch: 0, index: 0 }; datasets.len()],
            datasets,
            probabilities,
            seed,
            rng: SplitMix64::new(derive_seed(seed, u64::MAX)),
            draws: 0,
            orders,
        })
    }

    /// One dataset, reshuffled each pass.
    pub fn single(dataset: Dataset, seed: u64) -> Result<Self> {
        Self::new(vec![(dataset, 1.0)], seed)
    }

    /// The mixed datasets, in the order given.
    pub fn datasets(&self) -> &[Dataset] {
        &self.datasets
    }

    /// The normalised probabilities, one per dataset.
    pub fn probabilities(&self) -> &[f64] {
        &self.probabilities
    }

    /// Samples drawn so far.
    pub fn draws(&self) -> u64 {
        self.draws
    }

    /// The next sample (the mixture never ends).
    // Not `Iterator::next`: the sample is borrowed from the mixture, which `Iterator` cannot
    // express.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> &Sample {
        self.next_with_source().1
    }

    /// The next sample and the index of the dataset it came from.
    pub fn next_with_source(&mut self) -> (usize, &Sample) {
        let (d, i) = self.draw();
        (d, &self.datasets[d].samples[i])
    }

    /// The next `n` samples.
    pub fn batch(&mut self, n: usize) -> Vec<&Sample> {
        let picks: Vec<(usize, usize)> = (0..n).map(|_| self.draw()).collect();
        picks
            .into_iter()
            .map(|(d, i)| &self.datasets[d].samples[i])
            .collect()
    }

    /// The current position; [`Mixture::set_position`] on a mixture built from the same
    /// datasets and seed continues exactly from here.
    pub fn position(&self) -> MixturePosition {
        MixturePosition {
            seed: self.seed,
            draws: self.draws,
            rng_state: self.rng.state(),
            lens: self.datasets.iter().map(Dataset::len).collect(),
            cursors: self.cursors.clone(),
        }
    }

    /// Restores a saved position. Errors (and leaves `self` unchanged) when the seed, the
    /// number or lengths of the datasets differ, or a cursor is past its dataset's end.
    pub fn set_position(&mut self, pos: &MixturePosition) -> Result<()> {
        if pos.seed != self.seed {
            return Err(Error::Invalid(format!(
                "saved mixture position has seed {} but the mixture has seed {}",
                pos.seed, self.seed
            )));
        }
        let lens: Vec<usize> = self.datasets.iter().map(Dataset::len).collect();
        if pos.lens != lens || pos.cursors.len() != lens.len() {
            return Err(Error::Invalid(format!(
                "saved mixture position is for datasets of lengths {:?}, these have {lens:?}",
                pos.lens
            )));
        }
        if let Some((d, c)) = pos
            .cursors
            .iter()
            .enumerate()
            .find(|(d, c)| c.index > lens[*d])
        {
            return Err(Error::Invalid(format!(
                "saved cursor {} of dataset `{}` is past its {} samples",
                c.index, self.datasets[d].source, lens[d]
            )));
        }
        self.orders = pos
            .cursors
            .iter()
            .enumerate()
            .map(|(d, c)| epoch_order(self.seed, d, c.epoch, lens[d]))
            .collect();
        self.cursors = pos.cursors.clone();
        self.rng = SplitMix64::new(pos.rng_state);
        self.draws = pos.draws;
        Ok(())
    }

    /// Picks a dataset, advances its cursor (starting a new shuffled pass when it is
    /// exhausted) and returns `(dataset, sample index)`.
    fn draw(&mut self) -> (usize, usize) {
        let d = self.rng.weighted(&self.probabilities);
        let len = self.datasets[d].len();
        let cursor = &mut self.cursors[d];
        if cursor.index >= len {
            cursor.epoch += 1;
            cursor.index = 0;
            self.orders[d] = epoch_order(self.seed, d, cursor.epoch, len);
        }
        let i = self.orders[d][cursor.index];
        cursor.index += 1;
        self.draws += 1;
        (d, i)
    }
}

/// The order of pass `epoch` over dataset `d`: `0..len` shuffled by a seed derived from
/// `(seed, d, epoch)`.
fn epoch_order(seed: u64, d: usize, epoch: u64, len: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..len).collect();
    SplitMix64::new(derive_seed(derive_seed(seed, d as u64), epoch)).shuffle(&mut order);
    order
}
