//! The rewards the server can serve (`--reward`), each scoring one response against its label.

use lmmr1_rewards::sokoban::{Level, LmmR1Sokoban};
use lmmr1_rewards::{geometry, lmm_r1};

/// `--reward`: which rule scores a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum RewardKind {
    /// LMM-R1's math reward: 0.5·format + accuracy (Math-Verify semantics, LMM-R1's settings).
    LmmR1Math,
    /// Accuracy only (1 or 0), LMM-R1's extraction settings.
    Math,
    /// LMM-R1's format rule plus the geometry checker's accuracy (degrees, radicals, units,
    /// choice letters).
    Geometry,
    /// LMM-R1's Sokoban reward; the label is the level in XSB text.
    Sokoban,
}

/// One response's reward and its parts (`None` where a reward has no such part).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    /// The reward.
    pub reward: f64,
    /// The format part (0.5 or 0 for the math rewards; 1 or 0 for Sokoban).
    pub format: Option<f64>,
    /// The accuracy part (the task reward for Sokoban).
    pub accuracy: Option<f64>,
}

impl RewardKind {
    /// The name `--reward` takes.
    pub fn name(self) -> &'static str {
        match self {
            RewardKind::LmmR1Math => "lmm_r1_math",
            RewardKind::Math => "math",
            RewardKind::Geometry => "geometry",
            RewardKind::Sokoban => "sokoban",
        }
    }

    /// Scores `response` against `label`; `Err` says what is wrong with the label.
    pub fn score(self, response: &str, label: &str) -> Result<Scored, String> {
        let parts = |s: lmm_r1::MathScore, reward: f64| Scored {
            reward,
            format: Some(s.format),
            accuracy: Some(s.accuracy),
        };
        Ok(match self {
            RewardKind::LmmR1Math => {
                let s = lmm_r1::math_reward(response, label);
                parts(s, s.total)
            }
            RewardKind::Math => {
                let s = lmm_r1::math_reward(response, label);
                parts(s, s.accuracy)
            }
            RewardKind::Geometry => {
                let s = geometry::geo_reward(response, label, &[]);
                parts(s, s.total)
            }
            RewardKind::Sokoban => {
                let level =
                    Level::from_xsb(label).map_err(|e| format!("not a Sokoban level: {e}"))?;
                let b = LmmR1Sokoban.breakdown(response, &level);
                Scored {
                    reward: b.total,
                    format: Some(if b.format_ok { 1.0 } else { 0.0 }),
                    accuracy: Some(b.task_reward),
                }
            }
        })
    }
}
