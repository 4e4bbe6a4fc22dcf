//! Sokoban as a multi-turn episode: one move per turn, the environment steps and shows the new
//! board.

use super::*;

/// Settings of a [`SokobanEpisode`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpisodeConfig {
    /// Pixels per cell of the observation.
    pub tile_px: u32,
    /// The observation's wording.
    pub prompt: PromptStyle,
    /// The env's `max_steps` (the episode ends on that step); LMM-R1's verifier uses 120.
    pub max_steps: usize,
}

impl Default for EpisodeConfig {
    fn default() -> Self {
        EpisodeConfig {
            tile_px: DEFAULT_TILE_PX,
            prompt: PromptStyle::Short,
            max_steps: LMM_R1_MAX_STEPS,
        }
    }
}

/// Multi-turn Sokoban: each turn shows the rendered current board, the policy answers one move
/// (`<think>…</think><answer>Left</answer>`), the gym env takes it as a push action and the
/// turn's reward is gym's step reward (−0.1 per step, ±1 for a box onto/off a target, +10 when
/// all are on targets). The episode ends when the level is solved, at the env's `max_steps`,
/// or on a response without LMM-R1's format (one `<think>`, one `<answer>`, each closed once)
/// or with other than exactly one move; that turn's reward is 0.
#[derive(Debug, Clone)]
pub struct SokobanEpisode {
    env: Env,
    cfg: EpisodeConfig,
    total: f64,
    turns: usize,
    formatted: usize,
    done: bool,
}

impl SokobanEpisode {
    /// An episode starting at `level`.
    pub fn new(level: Level, cfg: &EpisodeConfig) -> Self {
        SokobanEpisode {
            env: Env::new(level, cfg.max_steps),
            cfg: cfg.clone(),
            total: 0.0,
            turns: 0,
            formatted: 0,
            done: false,
        }
    }

    /// The system turn to put before the first observation: [`EPISODE_SYSTEM`] for
    /// [`PromptStyle::LmmR1`], none for [`PromptStyle::Short`].
    pub fn system_prompt(&self) -> Option<&'static str> {
        match self.cfg.prompt {
            PromptStyle::LmmR1 => Some(EPISODE_SYSTEM),
            PromptStyle::Short => None,
        }
    }

    /// The current board.
    pub fn state(&self) -> Level {
        self.env.state()
    }

    /// Whether the episode is over.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// The one move of a response, or `None` if it fails LMM-R1's format check or does not
    /// hold exactly one move.
    pub fn parse_move(response: &str, level: &Level) -> Option<Direction> {
        let b = LmmR1Sokoban.breakdown(response, level);
        if !b.format_ok || b.num_actions != 1 {
            return None;
        }
        match answer_moves(response)?.as_slice() {
            [d] => Some(*d),
            _ => None,
        }
    }
}

impl Episode for SokobanEpisode {
    fn observation(&self) -> Turn {
        let picture = Content::Pixels(render(&self.env.state(), self.cfg.tile_px));
        let content = match self.cfg.prompt {
            PromptStyle::Short => vec![picture, Content::Text(SHORT_NEXT_MOVE.into())],
            PromptStyle::LmmR1 => vec![
                Content::Text("Current state:".into()),
                picture,
                Content::Text("Give the next move.".into()),
            ],
        };
        Turn {
            role: "user".into(),
            content,
        }
    }

    fn step(&mut self, response: &str) -> TurnOutcome {
        if self.done {
            return TurnOutcome {
                reward: 0.0,
                done: true,
            };
        }
        self.turns += 1;
        let Some(d) = Self::parse_move(response, &self.env.state()) else {
            self.done = true;
            return TurnOutcome {
                reward: 0.0,
                done: true,
            };
        };
        self.formatted += 1;
        let step = self.env.step(Action::Push(d));
        self.total += step.reward_f64;
        self.done = step.done;
        TurnOutcome {
            reward: step.reward_f64,
            done: step.done,
        }
    }

    fn teacher(&self) -> Option<String> {
        if self.done {
            return None;
        }
        let plan = solve(&self.env.state(), &solve_limits()).ok()?;
        let first = *plan.first()?;
        Some(format!(
            "<think>{}</think><answer>{}</answer>",
            plan_runs(&plan),
            move_name(first)
        ))
    }

    fn score(&self) -> Score {
        let format = if self.turns == 0 {
            0.0
        } else {
            self.formatted as f64 / self.turns as f64
        };
        Score::new(self.total)
            .with("solved", if self.env.is_solved() { 1.0 } else { 0.0 })
            .with("format", format)
            .with("turns", self.turns as f64)
    }
}
