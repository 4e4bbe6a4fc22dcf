//! Task families by name, as configs select them: generation, reward and multi-turn episodes.

use std::hash::{Hash, Hasher};

use lmmr1_rewards::lmm_r1::MathReward;
use lmmr1_rewards::{Reward, Score};

use crate::dataset::Dataset;
use crate::error::{Error, Result};
use crate::rng::SplitMix64;
use crate::sample::{Content, Sample};
use crate::task::{Episode, Generated};
use crate::{football, generator, geo_diagrams, perce, sokoban, visual_math};
use lmmr1_rewards::geometry::geo_reward;
use lmmr1_rewards::sokoban::Level;

/// The task families of LMM-R1's stages (config names as [`TaskKind::name`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    /// Text arithmetic and algebra ([`generator`]; FRE-Text).
    Arith,
    /// The same problems drawn into an image ([`visual_math`](crate::visual_math); FRE-Multi).
    VisualMath,
    /// Geometry diagrams with labelled values ([`geo_diagrams`](crate::geo_diagrams); MGT-Geo), scored by the
    /// geometry verifier (degrees, radicals, multiple-choice letters or values).
    Geo,
    /// Perception then reasoning: shapes, bar charts, tables, lengths
    /// ([`perce`](crate::perce); MGT-PerceReason).
    PerceReason,
    /// Sokoban boards, the whole plan in one answer (LMM-R1's mode), or one move per turn
    /// ([`sokoban`](crate::sokoban)).
    Sokoban,
    /// Football frames: a plan of MageBench actions from the first frame, or one action per
    /// turn ([`football`](crate::football)).
    Football,
}

impl TaskKind {
    /// Every kind.
    pub const ALL: [TaskKind; 6] = [
        TaskKind::Arith,
        TaskKind::VisualMath,
        TaskKind::Geo,
        TaskKind::PerceReason,
        TaskKind::Sokoban,
        TaskKind::Football,
    ];

    /// The kind called `name` (`arith`, `visual_math`, `geo`, `perce_reason`, `sokoban`,
    /// `football`).
    pub fn from_name(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.name() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|k| k.name()).collect();
                Error::Invalid(format!(
                    "unknown task `{name}`; expected one of {}",
                    names.join(", ")
                ))
            })
    }

    /// The config name.
    pub fn name(self) -> &'static str {
        match self {
            TaskKind::Arith => "arith",
            TaskKind::VisualMath => "visual_math",
            TaskKind::Geo => "geo",
            TaskKind::PerceReason => "perce_reason",
            TaskKind::Sokoban => "sokoban",
            TaskKind::Football => "football",
        }
    }

    /// Whether a response is a plan or move in an environment (scored by `solved`, not
    /// `accuracy`).
    pub fn is_agent(self) -> bool {
        matches!(self, TaskKind::Sokoban | TaskKind::Football)
    }

    /// One problem of difficulty `level`.
    pub fn generate(self, level: u8, rng: &mut SplitMix64) -> Result<Generated> {
        match self {
            TaskKind::Arith => {
                let p = generator::generate(level, rng);
                let demonstration = generator::demonstration(&p);
                let slipped = crate::teacher::slip_answer(&demonstration, &p.answer);
                Ok(Generated {
                    sample: p.to_sample("arith"),
                    demonstration,
                    slipped,
                })
            }
            TaskKind::VisualMath => Ok(visual_math::generate(level, rng)),
            TaskKind::Geo => Ok(geo_diagrams::generate(level, rng)),
            TaskKind::PerceReason => Ok(perce::generate(level, rng)),
            TaskKind::Sokoban => {
                let mut cfg = sokoban::SokobanTaskConfig::level(level);
                cfg.datasource = format!("sokoban/level{}", level.clamp(1, 4));
                sokoban::generate(&cfg, rng)
            }
            TaskKind::Football => Ok(football::generate(
                &football::FootballTaskConfig::levels(&[level]),
                rng,
            )),
        }
    }

    /// Scores one response to `sample`.
    pub fn score(self, sample: &Sample, response: &str) -> Score {
        match self {
            TaskKind::Arith | TaskKind::VisualMath | TaskKind::PerceReason => {
                MathReward.score(response, &sample.answer)
            }
            TaskKind::Geo => {
                let s = geo_reward(response, &sample.answer, &sample.choices);
                Score::new(s.total)
                    .with("format", s.format)
                    .with("accuracy", s.accuracy)
            }
            TaskKind::Sokoban => match Level::from_xsb(&sample.answer) {
                Ok(level) => sokoban::score(response, &level),
                Err(_) => Score::new(0.0).with("format", 0.0).with("solved", 0.0),
            },
            TaskKind::Football => match football::parse_task(&sample.answer) {
                Some(task) => football::score(response, &task),
                None => Score::new(0.0).with("format", 0.0).with("solved", 0.0),
            },
        }
    }

    /// A multi-turn episode for `sample`, for kinds that have one.
    pub fn episode(self, sample: &Sample) -> Option<Box<dyn Episode>> {
        match self {
            TaskKind::Sokoban => {
                let level = Level::from_xsb(&sample.answer).ok()?;
                let cfg = sokoban::EpisodeConfig::default();
                Some(Box::new(sokoban::SokobanEpisode::new(level, &cfg)))
            }
            TaskKind::Football => {
                let task = football::parse_task(&sample.answer)?;
                let cfg = football::FootballTaskConfig::default();
                Some(Box::new(football::FootballEpisode::new(task, &cfg)))
            }
            TaskKind::Arith | TaskKind::VisualMath | TaskKind::Geo | TaskKind::PerceReason => None,
        }
    }
}

/// A key that is equal for two samples showing the same problem: the question text, the gold
/// answer and the pixels of every image.
pub fn sample_key(s: &Sample) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    s.question_text().hash(&mut h);
    s.answer.hash(&mut h);
    for part in s.image_parts() {
        match part {
            Content::Pixels(p) => (p.width, p.height, p.rgb.as_slice()).hash(&mut h),
            Content::Image(path) => path.hash(&mut h),
            Content::Text(_) => {}
        }
    }
    h.finish()
}

/// One generated problem in [`HELD_OUT_SHARE`] is reserved for evaluation, by its content: a
/// held-out split draws only from these and training data and warm-start demonstrations never
/// do, so every stage's held-out problems stay unseen even when the base it starts from was
/// warm-started by another stage.
pub const HELD_OUT_SHARE: u64 = 8;

/// Whether a generated problem belongs to the evaluation-only share ([`HELD_OUT_SHARE`]).
pub fn reserved_for_held_out(s: &Sample) -> bool {
    sample_key(s) % HELD_OUT_SHARE == 0
}

/// `n_train` training and `n_held_out` held-out problems of `kind`, levels drawn uniformly from
/// `levels`: held-out problems come from the evaluation-only share ([`reserved_for_held_out`]),
/// training problems from the rest, so none occurs in both.
///
/// Both are plain draws from the generator, so the held-out split follows the training
/// distribution (levels, kinds, the multiple-choice share) and a problem may occur twice, as in
/// training. Requiring distinct held-out problems would skew it toward the variants with the
/// most distinct instances: for level-1 geometry, 94 % multiple-choice items against 25 % in
/// training, and for arithmetic at levels 1–2, nearly only level 2.
pub fn train_and_held_out(
    kind: TaskKind,
    n_train: usize,
    n_held_out: usize,
    levels: &[u8],
    seed: u64,
) -> Result<(Dataset, Dataset)> {
    if levels.is_empty() {
        return Err(Error::Invalid("no levels given".into()));
    }
    let mut rng = SplitMix64::new(seed);
    let draw = |rng: &mut SplitMix64| {
        let level = levels[rng.below(levels.len() as u64) as usize];
        kind.generate(level, rng)
    };
    let mut held = Vec::with_capacity(n_held_out);
    let mut attempts = 0usize;
    while held.len() < n_held_out {
        attempts += 1;
        if attempts > 1000 + 100 * HELD_OUT_SHARE as usize * n_held_out {
            return Err(Error::Invalid(format!(
                "{}: levels {levels:?} gave only {} of {n_held_out} held-out problems: almost none falls in the evaluation-only share",
                kind.name(),
                held.len()
            )));
        }
        let mut s = draw(&mut rng)?.sample;
        if reserved_for_held_out(&s) {
            s.id = format!("{}-{seed}-held{}", kind.name(), held.len());
            held.push(s);
        }
    }
    let mut train = Vec::with_capacity(n_train);
    attempts = 0;
    while train.len() < n_train {
        attempts += 1;
        if attempts > 1000 + 100 * n_train {
            return Err(Error::Invalid(format!(
                "{}: the held-out set uses up nearly every problem of levels {levels:?}",
                kind.name()
            )));
        }
        let mut s = draw(&mut rng)?.sample;
        if !reserved_for_held_out(&s) {
            s.id = format!("{}-{seed}-{}", kind.name(), train.len());
            train.push(s);
        }
    }
    Ok((
        Dataset::new(format!("generated/{}", kind.name()), train),
        Dataset::new(format!("generated/{}/held_out", kind.name()), held),
    ))
}
