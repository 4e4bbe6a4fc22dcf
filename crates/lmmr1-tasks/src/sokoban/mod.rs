//! Sokoban tasks: gym-sokoban-style pictures of a board, LMM-R1's whole-plan prompts with
//! teacher plans, a score with a `solved` flag, and a multi-turn [`SokobanEpisode`].
//!
//! Built on [`lmmr1_rewards::sokoban`] (gym-sokoban's rules, a move-optimal solver, LMM-R1's
//! Sokoban reward). See `../shared/docs/method.md` §3.2, §4.2, §5.
//!
//! * [`render`]: the current board with gym-sokoban's look (16-px sprites, drawn here from
//!   shapes and gym's colours, scaled to `tile_px` by nearest neighbour). At the default
//!   [`DEFAULT_TILE_PX`] = 28 each cell is one LM token of a Qwen2.5-VL (14-px patches merged
//!   2×2): a 7×7 board is 196×196 px, 49 image tokens.
//! * [`generate`]: one single-turn task (LMM-R1 trains this way: the model sees the initial
//!   frame and answers the whole plan, `Left, Up, …`). `sample.answer` is the level as XSB
//!   text ([`Level::from_xsb`] rebuilds it for the reward). The defaults ([`SokobanTaskConfig`])
//!   suit a tiny model: a 7×7 room (5×5 inside the wall border), one box, optimal plans of 2–6
//!   moves.
//! * [`score`]: LMM-R1's reward ([`LmmR1Sokoban`]; components `format`, `task`, …) plus
//!   `solved` and `magebench`.
//! * [`from_collection_level`]: the same task on a level of a real collection (Microban,
//!   `data/sokoban/microban.sok`, or Debian's cavepacker-data maps).
//! * [`SokobanEpisode`]: one move per turn on the rendered current board, gym's step rewards.
//!
//! ```
//! use lmmr1_tasks::rng::SplitMix64;
//! use lmmr1_tasks::sokoban::{self, SokobanTaskConfig};
//! use lmmr1_rewards::sokoban::Level;
//!
//! let cfg = SokobanTaskConfig::default();
//! let task = sokoban::generate(&cfg, &mut SplitMix64::new(7))?;
//! let level = Level::from_xsb(&task.sample.answer).expect("the answer is the level");
//! assert_eq!(sokoban::score(&task.demonstration, &level).component("solved"), Some(1.0));
//! assert_eq!(sokoban::score(&task.slipped, &level).component("solved"), Some(0.0));
//! # Ok::<(), lmmr1_tasks::Error>(())
//! ```

use std::path::Path;

use lmmr1_rewards::sokoban::{
    best_prefix_reward, magebench_score, optimal_reward, parse_collection, solve, Action,
    CollectionLevel, Direction, Env, GenConfig, Generator, Level, LmmR1Sokoban, SolveLimits, Tile,
    LMM_R1_MAX_ACTIONS, LMM_R1_MAX_STEPS,
};
use lmmr1_rewards::{Reward, Score};

use crate::error::{Error, Result};
use crate::prompts;
use crate::rng::SplitMix64;
use crate::sample::{Content, Picture, Sample, Turn};
use crate::task::{Episode, Generated, TurnOutcome};

mod episode;
mod render;
pub use episode::{EpisodeConfig, SokobanEpisode};
pub use render::{render, Sprite};

/// gym-sokoban's sprite size in pixels.
pub const GYM_TILE_PX: u32 = 16;

/// The default cell size: one 28×28 block, i.e. one LM token of Qwen2.5-VL's vision tower
/// (14-px patches, 2×2 merge).
pub const DEFAULT_TILE_PX: u32 = 28;

/// The short user text of [`PromptStyle::Short`] (after the image).
pub const SHORT_USER: &str = "Solve the Sokoban.";

/// The short user text of an episode turn with [`PromptStyle::Short`] (after the image).
pub const SHORT_NEXT_MOVE: &str = "Next move?";

/// A system prompt for multi-turn play with [`PromptStyle::LmmR1`]: LMM-R1's Sokoban system
/// prompt with its last sentence changed to one action per turn (LMM-R1 itself trains
/// single-turn only, so this wording is ours).
pub const EPISODE_SYSTEM: &str = concat!(
    "You're going to play a game of Sokoban, where the goal is to manipulate the green character ",
    "to push the yellow box into the target area (an area with a red dot in the center). \n",
    "Give one action per turn: Left, Right, Up or Down, as <think> ... </think><answer> Left ",
    "</answer>."
);

/// Solver budget for generated tasks, teachers and MageBench's optimum: states only (no time
/// limit, so results do not depend on the machine's speed).
fn solve_limits() -> SolveLimits {
    SolveLimits {
        max_states: 300_000,
        max_time: None,
    }
}

// ---------------------------------------------------------------------------------------------
// Single-turn tasks

/// How a prompt is worded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PromptStyle {
    /// A few words after the image ([`SHORT_USER`]), no system turn: for a tiny model.
    #[default]
    Short,
    /// LMM-R1's: [`prompts::SOKOBAN_SYSTEM`] as the system turn, then the image and
    /// [`prompts::SOKOBAN_USER`] (method.md §4.2).
    LmmR1,
}

/// Where levels come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LevelSource {
    /// An open room (wall border, `inner_walls` random wall cells inside) with targets, boxes
    /// and the player placed at random; kept when solvable with an optimal plan of
    /// `min_moves..=max_moves` moves. Fast and spread over plan lengths.
    #[default]
    Sampled,
    /// gym-sokoban's generator (random-walk rooms, reverse play), filtered by plan length.
    Gym,
}

/// Settings of [`generate`]. The defaults suit a tiny model: a 7×7 room (5×5 free inside the
/// border), 1 box, optimal plans of 2–6 moves, 28-px cells (196×196 px, 49 image tokens), the
/// short prompt.
#[derive(Debug, Clone, PartialEq)]
pub struct SokobanTaskConfig {
    /// Rows, wall border included (at least 3).
    pub rows: usize,
    /// Columns, wall border included (at least 3).
    pub cols: usize,
    /// Boxes (and targets), 1..=16.
    pub boxes: usize,
    /// Shortest accepted optimal plan, in moves (walks and pushes). At least 1; the default 2
    /// keeps the slipped plan (the final move dropped) a non-empty answer.
    pub min_moves: usize,
    /// Longest accepted optimal plan, in moves.
    pub max_moves: usize,
    /// Most changes of direction accepted in the optimal plan (0 = one straight push line;
    /// `usize::MAX` = any).
    pub max_turns: usize,
    /// Random wall cells inside the border ([`LevelSource::Sampled`] only).
    pub inner_walls: usize,
    /// Pixels per cell in the picture.
    pub tile_px: u32,
    /// The prompt's wording.
    pub prompt: PromptStyle,
    /// Where levels come from.
    pub source: LevelSource,
    /// Candidate levels tried before [`generate`] gives up.
    pub max_tries: usize,
    /// `sample.datasource`.
    pub datasource: String,
}

impl Default for SokobanTaskConfig {
    fn default() -> Self {
        Self::level(1)
    }
}

impl SokobanTaskConfig {
    /// Difficulty presets (levels outside 1..=4 are clamped), all 7×7 with 28-px cells:
    ///
    /// | level | boxes | inner walls | optimal plan | source |
    /// |---|---|---|---|---|
    /// | 1 | 1 | 2 | 2–3 pushes in one straight line | sampled |
    /// | 2 | 1 | 0 | 2–6 moves | sampled |
    /// | 3 | 1 | 2 | 5–12 moves | sampled |
    /// | 4 | 2 | 2 | 6–20 moves | sampled |
    ///
    /// (LMM-R1 trains on gym's Sokoban-small-v0/v1: 7×7 with 2 or 3 boxes, use
    /// [`LevelSource::Gym`] with `boxes` 2 or 3 and a large `max_moves` for those.)
    pub fn level(difficulty: u8) -> Self {
        let d = difficulty.clamp(1, 4);
        let (boxes, inner_walls, min_moves, max_moves, max_turns) = match d {
            1 => (1, 2, 2, 3, 0),
            2 => (1, 0, 2, 6, usize::MAX),
            3 => (1, 2, 5, 12, usize::MAX),
            _ => (2, 2, 6, 20, usize::MAX),
        };
        SokobanTaskConfig {
            rows: 7,
            cols: 7,
            boxes,
            min_moves,
            max_moves,
            max_turns,
            inner_walls,
            tile_px: DEFAULT_TILE_PX,
            prompt: PromptStyle::Short,
            source: LevelSource::Sampled,
            max_tries: 10_000,
            datasource: format!("sokoban/level{d}"),
        }
    }

    fn check(&self) -> Result<()> {
        let interior = self.rows.saturating_sub(2) * self.cols.saturating_sub(2);
        let needed = 2 * self.boxes + 1 + self.inner_walls;
        if self.rows < 3 || self.cols < 3 || self.rows > 64 || self.cols > 64 {
            return Err(invalid(format!(
                "rows/cols: {}x{} (need 3 to 64 each)",
                self.rows, self.cols
            )));
        }
        if !(1..=16).contains(&self.boxes) || needed > interior {
            return Err(invalid(format!(
                "boxes: {} boxes and {} inner walls do not fit {interior} inner cells",
                self.boxes, self.inner_walls
            )));
        }
        if self.min_moves == 0 || self.min_moves > self.max_moves {
            return Err(invalid(format!(
                "min_moves/max_moves: {}..={} (need 1 <= min_moves <= max_moves)",
                self.min_moves, self.max_moves
            )));
        }
        Ok(())
    }
}

fn invalid(message: String) -> Error {
    Error::Invalid(format!("sokoban task config: {message}"))
}

/// The move names LMM-R1's answer uses.
pub fn move_name(d: Direction) -> &'static str {
    match d {
        Direction::Up => "Up",
        Direction::Down => "Down",
        Direction::Left => "Left",
        Direction::Right => "Right",
    }
}

/// A plan as LMM-R1's answer text: `Right, Right, Up`.
pub fn plan_text(plan: &[Direction]) -> String {
    plan.iter()
        .map(|&d| move_name(d))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The plan in runs, the demonstration's short thinking: `right 2, up 1`.
pub fn plan_runs(plan: &[Direction]) -> String {
    let mut runs: Vec<(Direction, usize)> = Vec::new();
    for &d in plan {
        match runs.last_mut() {
            Some((last, n)) if *last == d => *n += 1,
            _ => runs.push((d, 1)),
        }
    }
    runs.iter()
        .map(|(d, n)| format!("{} {n}", move_name(*d).to_ascii_lowercase()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The teacher's response for `plan`: `<think>right 2, up 1</think><answer>Right, Right,
/// Up</answer>`.
pub fn demonstration(plan: &[Direction]) -> String {
    format!(
        "<think>{}</think><answer>{}</answer>",
        plan_runs(plan),
        plan_text(plan)
    )
}

/// The noisy teacher's response: the same thinking, the plan's final move dropped (so it stops
/// one move short of solving an optimal plan's level).
pub fn slipped(plan: &[Direction]) -> String {
    let short = &plan[..plan.len().saturating_sub(1)];
    format!(
        "<think>{}</think><answer>{}</answer>",
        plan_runs(plan),
        plan_text(short)
    )
}

/// The prompt turns for a picture of the initial frame.
fn prompt_turns(picture: Picture, style: PromptStyle) -> Vec<Turn> {
    match style {
        PromptStyle::Short => vec![Turn {
            role: "user".into(),
            content: vec![Content::Pixels(picture), Content::Text(SHORT_USER.into())],
        }],
        PromptStyle::LmmR1 => vec![
            Turn::text("system", prompts::SOKOBAN_SYSTEM),
            Turn {
                role: "user".into(),
                content: vec![
                    Content::Pixels(picture),
                    Content::Text(prompts::SOKOBAN_USER.into()),
                ],
            },
        ],
    }
}

/// The task for `level` with the teacher plan `plan`.
fn task(id: String, level: &Level, plan: &[Direction], cfg: &SokobanTaskConfig) -> Generated {
    let sample = Sample {
        id,
        messages: prompt_turns(render(level, cfg.tile_px), cfg.prompt),
        answer: level.to_xsb(),
        datasource: Some(cfg.datasource.clone()),
        choices: Vec::new(),
    };
    Generated {
        sample,
        demonstration: demonstration(plan),
        slipped: slipped(plan),
    }
}

/// One generated level with its optimal plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedLevel {
    /// The level.
    pub level: Level,
    /// A move-optimal solution.
    pub plan: Vec<Direction>,
}

/// A level per `cfg` and its optimal plan, drawn from `rng`.
pub fn generate_level(cfg: &SokobanTaskConfig, rng: &mut SplitMix64) -> Result<PlannedLevel> {
    cfg.check()?;
    let mut gym = match cfg.source {
        LevelSource::Gym => {
            let mut config = GenConfig::new(cfg.rows, cfg.cols, cfg.boxes);
            config.max_rooms = 200;
            Some(Generator::new(config, rng.next_u64()).map_err(|e| invalid(e.to_string()))?)
        }
        LevelSource::Sampled => None,
    };
    for _ in 0..cfg.max_tries.max(1) {
        let level = match gym.as_mut() {
            Some(g) => g.next_level().map_err(|e| invalid(e.to_string()))?,
            None if cfg.max_turns == 0 && cfg.boxes == 1 => match sample_push_line(cfg, rng) {
                Some(level) => level,
                None => continue,
            },
            None => match sample_level(cfg, rng) {
                Some(level) => level,
                None => continue,
            },
        };
        if let Ok(plan) = solve(&level, &solve_limits()) {
            let turns = plan.windows(2).filter(|w| w[0] != w[1]).count();
            if (cfg.min_moves..=cfg.max_moves).contains(&plan.len()) && turns <= cfg.max_turns {
                return Ok(PlannedLevel { level, plan });
            }
        }
    }
    Err(invalid(format!(
        "no level with an optimal plan of {}..={} moves in {} tries",
        cfg.min_moves, cfg.max_moves, cfg.max_tries
    )))
}

/// A push line, built directly (rejection sampling would rarely hit one): the player, the box
/// and the target in one row or column, the box `k ∈ min_moves..=max_moves` cells from the
/// target and the player right behind it; `inner_walls` walls elsewhere. The caller still solves
/// it and checks the plan. `None` if it does not fit.
fn sample_push_line(cfg: &SokobanTaskConfig, rng: &mut SplitMix64) -> Option<Level> {
    let (rows, cols) = (cfg.rows, cfg.cols);
    let dirs = [(0isize, 1isize), (0, -1), (1, 0), (-1, 0)];
    let (dr, dc) = dirs[rng.below(4) as usize];
    let k = cfg.min_moves + rng.below((cfg.max_moves - cfg.min_moves + 1) as u64) as usize;
    let inside =
        |r: isize, c: isize| r >= 1 && c >= 1 && r < rows as isize - 1 && c < cols as isize - 1;
    let player = (
        1 + rng.below(rows.saturating_sub(2) as u64) as isize,
        1 + rng.below(cols.saturating_sub(2) as u64) as isize,
    );
    let bx = (player.0 + dr, player.1 + dc);
    let target = (bx.0 + dr * k as isize, bx.1 + dc * k as isize);
    if !(inside(player.0, player.1) && inside(bx.0, bx.1) && inside(target.0, target.1)) {
        return None;
    }
    let idx = |(r, c): (isize, isize)| r as usize * cols + c as usize;
    let mut tiles = vec![Tile::Wall; rows * cols];
    let mut free = Vec::new();
    for r in 1..rows - 1 {
        for c in 1..cols - 1 {
            tiles[r * cols + c] = Tile::Floor;
            free.push(r * cols + c);
        }
    }
    // Walls never on the line between the player and the target.
    let line: Vec<usize> = (0..=k + 1)
        .map(|i| idx((player.0 + dr * i as isize, player.1 + dc * i as isize)))
        .collect();
    free.retain(|i| !line.contains(i));
    rng.shuffle(&mut free);
    for &w in free.iter().take(cfg.inner_walls) {
        tiles[w] = Tile::Wall;
    }
    tiles[idx(target)] = Tile::Target;
    let mut boxes = vec![false; rows * cols];
    boxes[idx(bx)] = true;
    Level::new(
        rows,
        cols,
        tiles,
        boxes,
        (player.0 as usize, player.1 as usize),
    )
    .ok()
}

/// A random open room: border walls, `inner_walls` walls, targets, boxes (off target) and the
/// player on distinct free inner cells. `None` if the pieces do not fit.
fn sample_level(cfg: &SokobanTaskConfig, rng: &mut SplitMix64) -> Option<Level> {
    let (rows, cols) = (cfg.rows, cfg.cols);
    let mut tiles = vec![Tile::Wall; rows * cols];
    let mut free: Vec<usize> = Vec::new();
    for r in 1..rows - 1 {
        for c in 1..cols - 1 {
            tiles[r * cols + c] = Tile::Floor;
            free.push(r * cols + c);
        }
    }
    rng.shuffle(&mut free);
    let mut take = || free.pop();
    for _ in 0..cfg.inner_walls {
        tiles[take()?] = Tile::Wall;
    }
    let mut boxes = vec![false; rows * cols];
    for _ in 0..cfg.boxes {
        tiles[take()?] = Tile::Target;
    }
    for _ in 0..cfg.boxes {
        boxes[take()?] = true;
    }
    let p = take()?;
    Level::new(rows, cols, tiles, boxes, (p / cols, p % cols)).ok()
}

/// One single-turn task per `cfg`: the picture of a fresh level, the prompt, the level as XSB
/// in `sample.answer`, the optimal plan as the demonstration and the plan without its final
/// move as the slipped response. The id is `sokoban-{rng state before}`.
pub fn generate(cfg: &SokobanTaskConfig, rng: &mut SplitMix64) -> Result<Generated> {
    let id = format!("sokoban-{:016x}", rng.state());
    let planned = generate_level(cfg, rng)?;
    Ok(task(id, &planned.level, &planned.plan, cfg))
}

/// `n` tasks from one stream seeded by `seed`.
pub fn tasks(cfg: &SokobanTaskConfig, n: usize, seed: u64) -> Result<Vec<Generated>> {
    let mut rng = SplitMix64::new(seed);
    (0..n).map(|_| generate(cfg, &mut rng)).collect()
}

/// Reads a `.sok` collection (XSB levels with `Title:`/`Solution:` lines), the error naming
/// the file and line.
pub fn load_collection(path: &Path) -> Result<Vec<CollectionLevel>> {
    let text = std::fs::read_to_string(path).map_err(|error| Error::Io {
        path: path.to_path_buf(),
        error,
    })?;
    parse_collection(&text).map_err(|e| Error::Row {
        path: path.to_path_buf(),
        line: e.line,
        field: String::new(),
        message: e.error.to_string(),
    })
}

/// The single-turn task on a level of a real collection (e.g. Microban). The teacher plan is
/// the collection's `Solution:` when it solves the level (cut at its first solved prefix),
/// else a solver's optimal plan; an error if neither exists within the solver's budget.
/// `id` names the item; `cfg` gives the picture size, prompt and datasource (its level-size
/// and plan-length knobs do not apply).
pub fn from_collection_level(
    entry: &CollectionLevel,
    id: &str,
    cfg: &SokobanTaskConfig,
) -> Result<Generated> {
    let level = &entry.level;
    let given = entry
        .solution()
        .and_then(|s| s.ok())
        .and_then(|moves| shortest_solving_prefix(level, &moves));
    let plan = match given {
        Some(plan) => plan,
        None => solve(level, &solve_limits()).map_err(|e| {
            Error::Invalid(format!(
                "sokoban level {id} (line {}): no plan: {e}",
                entry.line
            ))
        })?,
    };
    if plan.is_empty() {
        return Err(Error::Invalid(format!(
            "sokoban level {id} (line {}): already solved",
            entry.line
        )));
    }
    Ok(task(id.to_string(), level, &plan, cfg))
}

/// `moves` up to the first step that solves `level`, or `None` if none does.
fn shortest_solving_prefix(level: &Level, moves: &[Direction]) -> Option<Vec<Direction>> {
    let mut env = Env::new(level.clone(), usize::MAX);
    for (i, &d) in moves.iter().enumerate() {
        if env.step(Action::Push(d)).all_boxes_on_target {
            return Some(moves[..=i].to_vec());
        }
    }
    None
}

/// The moves of a response's `<answer>` (first `<answer>` to the next `</answer>`), or `None`
/// if an item is not Left/Right/Up/Down (case-insensitive, stripped).
fn answer_moves(response: &str) -> Option<Vec<Direction>> {
    let start = response.find("<answer>")? + "<answer>".len();
    let rest = &response[start..];
    let inner = &rest[..rest.find("</answer>").unwrap_or(rest.len())];
    inner
        .split(',')
        .map(|item| {
            let item = item.trim();
            Direction::ALL
                .into_iter()
                .find(|&d| item.eq_ignore_ascii_case(move_name(d)))
        })
        .collect()
}

/// LMM-R1's Sokoban reward for a whole-plan `response` ([`LmmR1Sokoban`]: total and its
/// components `format`, `task`, `action_length`, …) plus:
///
/// * `solved`: 1 if the format holds and a prefix of the first 50 moves (the ones LMM-R1 plays)
///   puts every box on a target, else 0;
/// * `magebench`: MageBench's level score `(best − optimal)·5 + 100` with the best cumulative
///   reward of the whole plan and the optimal one from the solver (absent when the solver
///   finds no plan within its budget).
pub fn score(response: &str, level: &Level) -> Score {
    let optimal = optimal_reward(level, &solve_limits()).ok();
    score_with_optimal(response, level, optimal)
}

/// [`score`] with the optimal reward given (e.g. precomputed per level); `None` leaves out
/// `magebench`.
pub fn score_with_optimal(response: &str, level: &Level, optimal: Option<f64>) -> Score {
    let lmm = LmmR1Sokoban.score(response, level);
    let format_ok = lmm.component("format") == Some(1.0);
    let moves = if format_ok {
        answer_moves(response).unwrap_or_default()
    } else {
        Vec::new()
    };
    let solved = {
        let mut env = Env::new(level.clone(), LMM_R1_MAX_STEPS);
        moves
            .iter()
            .take(LMM_R1_MAX_ACTIONS)
            .any(|&d| env.step(Action::Push(d)).all_boxes_on_target)
    };
    let mut out = lmm.with("solved", if solved { 1.0 } else { 0.0 });
    if let Some(optimal) = optimal {
        let best = best_prefix_reward(level, moves.iter().map(|&d| Action::Push(d)), usize::MAX);
        out = out.with("magebench", magebench_score(best, optimal));
    }
    out
}
