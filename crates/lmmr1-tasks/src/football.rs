//! Football tasks on `lmmr1_rewards::football` (MageBench's Football game, `method.md` §3.4, §6).
//!
//! * [`render`]: a top-down frame of a game state: green pitch, white lines and goals, the left
//!   team blue, the right team red, the controlled player yellow (MageBench's yellow jersey), the
//!   ball white with a black edge. Default 224×112 px (2×4 blocks of 28 px), larger by
//!   [`FrameStyle::scaled`].
//! * Single turn ([`generate`], [`score`]), like LMM-R1's Sokoban mode: the model sees the
//!   first frame and answers the whole plan, `<answer>action_right, action_right,
//!   action_shot</answer>`; the plan is played as MageBench turns from the task's seed.
//! * Multi-turn ([`FootballEpisode`]), MageBench's online mode: one action per turn, a new
//!   frame after each.
//!
//! **Reward** (single turn): 0 when the format check fails (LMM-R1's `<think>…</think><answer>…
//! </answer>` layout, and every comma-separated answer item one of MageBench's 16 action ids),
//! else `0.5 + R/20`, where `R` is MageBench's accumulated reward of the plan (its ×20 scale
//! undone, [`MAGEBENCH_SCALE`]). In these units a goal is worth 2.0 plus a shot term of at most
//! 0.67 and a little progress, so a plan that scores (≈ 2.7) always beats one that does not
//! (≤ ≈ 1.2). At most [`MAX_PLAN_ACTIONS`] actions are played. The multi-turn return is the sum
//! of the same `R/20` increments, turn by turn (no format bonus; a badly formatted turn scores 0
//! and ends the episode).
//!
//! **Teacher**: a beam search over plans "moves and passes, then `action_shot`" on the seeded
//! environment itself ([`plan`]); the demonstration is its best plan, the slipped response the
//! same plan without its final shot.

use std::borrow::Cow;

use lmmr1_rewards::football::state::{GOAL_HALF_WIDTH, PITCH_HALF_LENGTH, PITCH_HALF_WIDTH};
use lmmr1_rewards::football::turns::TurnPlayer;
use lmmr1_rewards::football::{
    Action, Env, EpisodeEnd, FootballReward, FootballTask, Scenario, State, Team, Vec2,
};
use lmmr1_rewards::{Reward, Score};

use crate::rng::SplitMix64;
use crate::{Content, Episode, Generated, Picture, Sample, Turn, TurnOutcome};

/// MageBench multiplies its reward by 20; task rewards divide by it.
pub const MAGEBENCH_SCALE: f64 = 20.0;
/// The format bonus of a well-formed single-turn answer (LMM-R1's 0.5).
pub const FORMAT_BONUS: f64 = 0.5;
/// At most this many actions of a single-turn answer are played.
pub const MAX_PLAN_ACTIONS: usize = 20;

/// Grass.
pub const GRASS: [u8; 3] = [40, 140, 60];
/// Pitch lines and goals.
pub const LINE: [u8; 3] = [255, 255, 255];
/// The left team (the agent's).
pub const LEFT_TEAM: [u8; 3] = [0, 70, 255];
/// The right team.
pub const RIGHT_TEAM: [u8; 3] = [230, 0, 0];
/// The controlled left player.
pub const CONTROLLED: [u8; 3] = [255, 230, 0];
/// The ball.
pub const BALL: [u8; 3] = [255, 255, 255];
/// The ball's edge.
pub const BALL_EDGE: [u8; 3] = [0, 0, 0];

/// Frame size. Sides should be multiples of 28 (one LM token per 28×28 block).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameStyle {
    /// Width in pixels (at least 28).
    pub width: u32,
    /// Height in pixels (at least 28).
    pub height: u32,
}

impl Default for FrameStyle {
    /// 224×112: 8×4 blocks of 28 px, 32 image tokens for the tiny model.
    fn default() -> Self {
        Self::scaled(1)
    }
}

impl FrameStyle {
    /// `224k × 112k` pixels (`k ≥ 1`; 5 gives 1120×560 for real models).
    pub fn scaled(k: u32) -> Self {
        let k = k.max(1);
        Self {
            width: 224 * k,
            height: 112 * k,
        }
    }

    fn size(&self) -> (u32, u32) {
        (self.width.max(28), self.height.max(28))
    }

    /// Pixels per pitch unit: the pitch `[−1, 1] × [−0.42, 0.42]` plus a margin of
    /// `width/28` px on each side fitted into the frame.
    pub fn pixels_per_unit(&self) -> f32 {
        let (w, h) = self.size();
        let m = margin(w);
        ((w as f32 - 2.0 * m) / (2.0 * PITCH_HALF_LENGTH))
            .min((h as f32 - 2.0 * m) / (2.0 * PITCH_HALF_WIDTH))
    }

    /// The pixel (column, row) of a pitch point: the pitch centre at the frame centre, `x`
    /// to the right, `y` down (gfootball's "top" is `y < 0`).
    pub fn to_pixel(&self, p: Vec2) -> (f32, f32) {
        let (w, h) = self.size();
        let s = self.pixels_per_unit();
        (w as f32 / 2.0 + p.x * s, h as f32 / 2.0 + p.y * s)
    }

    /// Radius in pixels of a player's disc (the controlled player's is one more).
    pub fn player_radius(&self) -> i32 {
        ((self.pixels_per_unit() * 0.03).round() as i32).max(2)
    }

    /// Radius in pixels of the ball's white core (its black edge is one more).
    pub fn ball_radius(&self) -> i32 {
        ((self.pixels_per_unit() * 0.018).round() as i32).max(1)
    }
}

fn margin(width: u32) -> f32 {
    (width as f32 / 28.0).max(2.0)
}

/// A raster with clipped drawing.
struct Canvas {
    img: image::RgbImage,
}

impl Canvas {
    fn put(&mut self, x: i32, y: i32, c: [u8; 3]) {
        if x >= 0 && y >= 0 && (x as u32) < self.img.width() && (y as u32) < self.img.height() {
            self.img.put_pixel(x as u32, y as u32, image::Rgb(c));
        }
    }

    /// Fills `[x0, x1] × [y0, y1]` (inclusive, any order).
    fn rect(&mut self, x0: i32, y0: i32, x1: i32, y1: i32, c: [u8; 3]) {
        for y in y0.min(y1)..=y0.max(y1) {
            for x in x0.min(x1)..=x0.max(x1) {
                self.put(x, y, c);
            }
        }
    }

    /// The outline of `[x0, x1] × [y0, y1]`, `t` px thick, inside the rectangle.
    fn frame(&mut self, x0: i32, y0: i32, x1: i32, y1: i32, t: i32, c: [u8; 3]) {
        self.rect(x0, y0, x1, y0 + t - 1, c);
        self.rect(x0, y1 - t + 1, x1, y1, c);
        self.rect(x0, y0, x0 + t - 1, y1, c);
        self.rect(x1 - t + 1, y0, x1, y1, c);
    }

    /// A filled disc: pixels with `dx² + dy² ≤ r² + r`.
    fn disc(&mut self, cx: i32, cy: i32, r: i32, c: [u8; 3]) {
        for dy in -r..=r {
            for dx in -r..=r {
                if dx * dx + dy * dy <= r * r + r {
                    self.put(cx + dx, cy + dy, c);
                }
            }
        }
    }

    /// A circle outline `t` px thick.
    fn circle(&mut self, cx: i32, cy: i32, r: f32, t: i32, c: [u8; 3]) {
        let ri = r.ceil() as i32 + 1;
        for dy in -ri..=ri {
            for dx in -ri..=ri {
                let d = ((dx * dx + dy * dy) as f32).sqrt();
                if d <= r + 0.5 && d > r + 0.5 - t as f32 {
                    self.put(cx + dx, cy + dy, c);
                }
            }
        }
    }
}

fn pixel(style: &FrameStyle, p: Vec2) -> (i32, i32) {
    let (x, y) = style.to_pixel(p);
    (x.floor() as i32, y.floor() as i32)
}

/// A top-down frame of `state` (see the module docs for the colours).
///
/// Drawn in this order: grass, lines (outline, halfway line, centre circle, penalty boxes),
/// goals (filled white boxes behind the goal lines), right players, left players, the
/// controlled player, the ball at its ground position. Positions are rounded down to pixels.
///
/// ```
/// use lmmr1_rewards::football::Scenario;
/// use lmmr1_tasks::football::{render, FrameStyle};
/// let st = Scenario::from_name("academy_3_vs_1_with_keeper").unwrap().initial_state(0);
/// let pic = render(&st, &FrameStyle::default());
/// assert_eq!((pic.width, pic.height), (224, 112));
/// ```
pub fn render(state: &State, opts: &FrameStyle) -> Picture {
    let (w, h) = opts.size();
    let mut cv = Canvas {
        img: image::RgbImage::from_pixel(w, h, image::Rgb(GRASS)),
    };
    let s = opts.pixels_per_unit();
    let t = ((s / 104.0).round() as i32).max(1);
    let p = |x: f32, y: f32| pixel(opts, Vec2::new(x, y));
    let (l, top) = p(-PITCH_HALF_LENGTH, -PITCH_HALF_WIDTH);
    let (r, bottom) = p(PITCH_HALF_LENGTH, PITCH_HALF_WIDTH);
    cv.frame(l, top, r, bottom, t, LINE);
    let (cx, cy) = p(0.0, 0.0);
    cv.rect(cx, top, cx + t - 1, bottom, LINE);
    cv.circle(cx, cy, 0.174 * s, t, LINE);
    // Penalty boxes: 16.5 m deep and 40.3 m wide at 52.5 m per unit (≈ 0.31 × 0.5).
    for sign in [-1.0f32, 1.0] {
        let (bx0, by0) = p(sign * PITCH_HALF_LENGTH, -0.25);
        let (bx1, by1) = p(sign * (PITCH_HALF_LENGTH - 0.31), 0.25);
        cv.frame(bx0.min(bx1), by0, bx0.max(bx1), by1, t, LINE);
        // The goal: a filled box behind the line.
        let (gx0, gy0) = p(sign * PITCH_HALF_LENGTH, -GOAL_HALF_WIDTH);
        let (gx1, gy1) = p(sign * (PITCH_HALF_LENGTH + 0.05), GOAL_HALF_WIDTH);
        cv.rect(gx0, gy0, gx1, gy1, LINE);
    }
    let pr = opts.player_radius();
    for pl in state.right.players() {
        let (x, y) = pixel(opts, pl.pos);
        cv.disc(x, y, pr, RIGHT_TEAM);
    }
    for (i, pl) in state.left.players().iter().enumerate() {
        if i != state.active {
            let (x, y) = pixel(opts, pl.pos);
            cv.disc(x, y, pr, LEFT_TEAM);
        }
    }
    if let Some(pl) = state.left.players().get(state.active) {
        let (x, y) = pixel(opts, pl.pos);
        cv.disc(x, y, pr + 1, CONTROLLED);
    }
    let br = opts.ball_radius();
    let (bx, by) = pixel(opts, state.ball.pos);
    cv.disc(bx, by, br + 1, BALL_EDGE);
    cv.disc(bx, by, br, BALL);
    Picture::from_rgb_image(cv.img)
}

/// How prompts are worded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PromptStyle {
    /// A few words for the tiny model: "Score a goal." (single turn), "Next action?" (turns).
    #[default]
    Short,
    /// MageBench-like: a system turn describing the game and the 16 action ids
    /// ([`MAGEBENCH_SYSTEM`]) and LMM-R1's answer-format instructions ([`PLAN_USER`] /
    /// [`ACTION_USER`]).
    MageBench,
}

/// The system turn of [`PromptStyle::MageBench`] (MageBench's game description, shortened, and
/// its action list).
pub const MAGEBENCH_SYSTEM: &str = concat!(
    "You are playing a football game. You control the player in the yellow jersey in the blue ",
    "team, attacking the goal on the right; the red team defends it. The game stops on a goal, ",
    "when the ball goes out, or when the other team wins the ball. The actions are: ",
    "action_left, action_top_left, action_top, action_top_right, action_right, ",
    "action_bottom_right, action_bottom, action_bottom_left, action_long_pass, ",
    "action_high_pass, action_short_pass, action_shot, action_sprint, action_release_sprint, ",
    "action_dribble, action_release_dribble. Repeating a move keeps running for up to 10 steps; ",
    "a pass plays on until a teammate receives the ball."
);

/// The user text after the first frame, single turn ([`PromptStyle::MageBench`]).
pub const PLAN_USER: &str = concat!(
    "Generate all actions from the initial frame to the end at once. You should first think ",
    "about the reasoning process in the mind and then provide the answer, a sequence of action ",
    "ids separated by ','. The reasoning process and answer are enclosed within <think> </think> ",
    "and <answer> </answer> tags, respectively, e.g., <think> ... </think><answer> action_right, ",
    "action_shot </answer>."
);

/// The user text after each frame, multi-turn ([`PromptStyle::MageBench`]).
pub const ACTION_USER: &str = concat!(
    "Current game scene. Choose the next action. The reasoning process and answer are enclosed ",
    "within <think> </think> and <answer> </answer> tags, e.g., <think> ... </think><answer> ",
    "action_right </answer>."
);

/// The single-turn generator's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct FootballTaskConfig {
    /// Scenarios drawn uniformly (see [`level_scenarios`]).
    pub scenarios: Vec<Scenario>,
    /// The frame.
    pub frame: FrameStyle,
    /// Longest teacher plan, the final shot included (at least 1).
    pub max_actions: usize,
    /// Plans the teacher's beam search keeps per depth (at least 1).
    pub beam_width: usize,
    /// Prompt wording.
    pub prompt: PromptStyle,
}

impl Default for FootballTaskConfig {
    /// Levels 1–3 of [`level_scenarios`], 224×112 frames, plans of at most 6 actions, beam 6,
    /// short prompts.
    fn default() -> Self {
        Self::levels(&[1, 2, 3])
    }
}

impl FootballTaskConfig {
    /// The scenarios of the given levels (unknown levels add nothing; none at all gives
    /// level 1), other settings as [`Default`].
    pub fn levels(levels: &[u8]) -> Self {
        let mut scenarios: Vec<Scenario> =
            levels.iter().flat_map(|&l| level_scenarios(l)).collect();
        if scenarios.is_empty() {
            scenarios = level_scenarios(1);
        }
        Self {
            scenarios,
            frame: FrameStyle::default(),
            max_actions: 6,
            beam_width: 6,
            prompt: PromptStyle::Short,
        }
    }
}

/// The scenarios of a difficulty level: 1 = the two empty-goal drills, 2 = run to score
/// (without and with a keeper), 3 = pass and shoot with keeper, 3 vs 1 with keeper,
/// counterattack (easy). Other levels: none.
pub fn level_scenarios(level: u8) -> Vec<Scenario> {
    let names: &[&str] = match level {
        1 => &["academy_empty_goal_close", "academy_empty_goal"],
        2 => &["academy_run_to_score", "academy_run_to_score_with_keeper"],
        3 => &[
            "academy_pass_and_shoot_with_keeper",
            "academy_3_vs_1_with_keeper",
            "academy_counterattack_easy",
        ],
        _ => &[],
    };
    names
        .iter()
        .filter_map(|n| Scenario::from_name(n).ok())
        .collect()
}

/// The level of a scenario name (see [`level_scenarios`]); 4 for the rest (small-sided
/// games).
pub fn scenario_level(name: &str) -> u8 {
    (1..=3)
        .find(|&l| level_scenarios(l).iter().any(|s| s.name() == name))
        .unwrap_or(4)
}

/// The gold answer of a task: `scenario:seed`.
pub fn task_answer(task: &FootballTask) -> String {
    format!("{}:{}", task.scenario.name(), task.seed)
}

/// Reads a `scenario:seed` gold answer back (`None` for anything else).
///
/// ```
/// use lmmr1_tasks::football::parse_task;
/// let t = parse_task("academy_3_vs_1_with_keeper:17").unwrap();
/// assert_eq!((t.scenario.name(), t.seed), ("academy_3_vs_1_with_keeper", 17));
/// assert!(parse_task("academy_3_vs_1:x").is_none());
/// ```
pub fn parse_task(answer: &str) -> Option<FootballTask> {
    let (name, seed) = answer.trim().rsplit_once(':')?;
    let seed = seed.parse::<u64>().ok()?;
    let scenario = Scenario::from_name(name).ok()?;
    Some(FootballTask { scenario, seed })
}

/// The candidate actions of the teacher's search before the final shot.
const SEARCH_ACTIONS: [Action; 7] = [
    Action::Right,
    Action::TopRight,
    Action::BottomRight,
    Action::Top,
    Action::Bottom,
    Action::ShortPass,
    Action::Sprint,
];
/// Penalty per action (in MageBench's ×20 units) so that shorter plans win ties.
const LENGTH_PENALTY: f64 = 1.0;

struct Node {
    env: Env,
    turns: TurnPlayer,
    actions: Vec<Action>,
    /// Value of `actions + [Shot]`.
    value: f64,
}

fn with_shot(env: &Env, turns: &TurnPlayer, actions: &[Action]) -> f64 {
    let mut env = env.clone();
    let mut turns = *turns;
    if turns.play(&mut env, Action::Shot).is_err() {
        return f64::NEG_INFINITY;
    }
    env.accumulated() - LENGTH_PENALTY * (actions.len() + 1) as f64
}

/// The teacher's plan from `env` (whose turns so far `turns` remembers): a beam search
/// (`beam_width` plans kept per depth, ranked by their value with a shot appended) over
/// sequences of [`Action::Right`], the diagonals forward, up, down, short pass and sprint,
/// each completed by [`Action::Shot`]; returns the best completed plan of at most
/// `max_actions` actions (the shot included), by MageBench's accumulated reward minus 1.0
/// per action. Always non-empty and ending with the shot.
pub fn plan(env: &Env, turns: &TurnPlayer, max_actions: usize, beam_width: usize) -> Vec<Action> {
    let root_value = with_shot(env, turns, &[]);
    let mut best = (root_value, Vec::new());
    let mut beam = vec![Node {
        env: env.clone(),
        turns: *turns,
        actions: Vec::new(),
        value: root_value,
    }];
    for _ in 1..max_actions.max(1) {
        let mut next = Vec::new();
        for node in &beam {
            for a in SEARCH_ACTIONS {
                let mut env = node.env.clone();
                let mut turns = node.turns;
                match turns.play(&mut env, a) {
                    Ok(t) if !t.done => {}
                    _ => continue,
                }
                let mut actions = node.actions.clone();
                actions.push(a);
                let value = with_shot(&env, &turns, &actions);
                next.push(Node {
                    env,
                    turns,
                    actions,
                    value,
                });
            }
        }
        if next.is_empty() {
            break;
        }
        next.sort_by(|a, b| b.value.total_cmp(&a.value));
        next.truncate(beam_width.max(1));
        if next[0].value > best.0 + 1e-9 {
            best = (next[0].value, next[0].actions.clone());
        }
        beam = next;
    }
    let mut actions = best.1;
    actions.push(Action::Shot);
    actions
}

/// The plan for a task from its first frame (see [`plan`]).
pub fn task_plan(task: &FootballTask, max_actions: usize, beam_width: usize) -> Vec<Action> {
    let mut env = Env::new(task.scenario.clone());
    env.reset(task.seed);
    plan(&env, &TurnPlayer::new(), max_actions, beam_width)
}

/// A short description of a plan: runs of equal actions, e.g. `right 3, shot`.
pub fn plan_summary(actions: &[Action]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < actions.len() {
        let a = actions[i];
        let n = actions[i..].iter().take_while(|&&b| b == a).count();
        let name = a.name().trim_start_matches("action_");
        parts.push(if n > 1 {
            format!("{name} {n}")
        } else {
            name.to_string()
        });
        i += n;
    }
    parts.join(", ")
}

fn answer_text(actions: &[Action]) -> String {
    actions
        .iter()
        .map(|a| a.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A response in LMM-R1's format: `<think>{summary}</think><answer>{ids, comma separated}</answer>`.
pub fn response(think: &str, actions: &[Action]) -> String {
    format!(
        "<think>{think}</think><answer>{}</answer>",
        answer_text(actions)
    )
}

/// One single-turn task: a scenario drawn from `cfg.scenarios`, a seed below 2³², the first
/// frame, the prompt, the teacher's plan as the demonstration and that plan without its final
/// shot as the slipped response. `answer` is `scenario:seed` ([`parse_task`]); `datasource`
/// `football/level{d}` ([`scenario_level`]).
pub fn generate(cfg: &FootballTaskConfig, rng: &mut SplitMix64) -> Generated {
    let scenario = match rng.pick(&cfg.scenarios) {
        Some(s) => s.clone(),
        None => Scenario::empty_goal_close(),
    };
    let seed = rng.below(1 << 32);
    let task = FootballTask { scenario, seed };
    let mut env = Env::new(task.scenario.clone());
    env.reset(seed);
    let picture = render(env.state(), &cfg.frame);
    let actions = plan(&env, &TurnPlayer::new(), cfg.max_actions, cfg.beam_width);
    let think = plan_summary(&actions);
    let demonstration = response(&think, &actions);
    let slipped = response(&think, &actions[..actions.len() - 1]);
    let answer = task_answer(&task);
    let mut messages = Vec::new();
    let text = match cfg.prompt {
        PromptStyle::Short => "Score a goal.",
        PromptStyle::MageBench => {
            messages.push(Turn::text("system", MAGEBENCH_SYSTEM));
            PLAN_USER
        }
    };
    messages.push(Turn {
        role: "user".to_string(),
        content: vec![Content::Pixels(picture), Content::Text(text.to_string())],
    });
    let sample = Sample {
        id: format!("football-{answer}"),
        messages,
        answer,
        datasource: Some(format!(
            "football/level{}",
            scenario_level(task.scenario.name())
        )),
        choices: Vec::new(),
    };
    Generated {
        sample,
        demonstration,
        slipped,
    }
}

/// The actions of a well-formed response: LMM-R1's layout ([`lmmr1_rewards::format::r1`] on
/// the trimmed response) and every comma-separated item of the answer (trimmed, any case) one
/// of MageBench's 16 action ids; at least one. `None` otherwise.
pub fn parse_plan(response: &str) -> Option<Vec<Action>> {
    // The end-of-turn markers a decoded response carries are not part of it (as in LMM-R1).
    let cleaned = lmmr1_rewards::lmm_r1::clean_response(response);
    let text = cleaned.as_str();
    if !lmmr1_rewards::format::r1(text) {
        return None;
    }
    let start = text.rfind("<answer>")? + "<answer>".len();
    let inner = text[start..].strip_suffix("</answer>")?;
    inner
        .split(',')
        .map(|item| {
            let id = item.trim().to_ascii_lowercase();
            Action::MAGEBENCH.into_iter().find(|a| a.name() == id)
        })
        .collect()
}

/// The component names of [`FootballReward`] copied into [`score`].
const REWARD_PARTS: [&str; 10] = [
    "valid",
    "goal",
    "progress",
    "passed",
    "goal_bonus",
    "lost",
    "pass",
    "shot",
    "steps",
    "actions",
];

/// Scores a single-turn response: `total = 0` when [`parse_plan`] rejects it, else
/// `0.5 + R/20` with `R` MageBench's accumulated reward of the first [`MAX_PLAN_ACTIONS`]
/// actions played as turns. Components: `format` (1/0), `solved` (1 if the left team scored),
/// `magebench` (`R`), then [`FootballReward`]'s (`valid`, `goal`, `progress`, …; all 0 when the
/// format fails).
pub fn score(response: &str, task: &FootballTask) -> Score {
    let Some(mut actions) = parse_plan(response) else {
        let mut s = Score::new(0.0)
            .with("format", 0.0)
            .with("solved", 0.0)
            .with("magebench", 0.0);
        for p in REWARD_PARTS {
            s = s.with(p, 0.0);
        }
        return s;
    };
    actions.truncate(MAX_PLAN_ACTIONS);
    let base = FootballReward::default()
        .score(&format!("<answer>{}</answer>", answer_text(&actions)), task);
    let solved = base.component("goal").unwrap_or(0.0);
    let mut s = Score::new(FORMAT_BONUS + base.total / MAGEBENCH_SCALE)
        .with("format", 1.0)
        .with("solved", solved)
        .with("magebench", base.total);
    for p in REWARD_PARTS {
        s = s.with(p, base.component(p).unwrap_or(0.0));
    }
    s
}

/// A single-turn football reward as a [`Reward`] over gold answers `scenario:seed`
/// ([`score`]; an unreadable gold scores 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FootballPlanReward;

impl Reward for FootballPlanReward {
    type Task = str;

    fn name(&self) -> &str {
        "football_plan"
    }

    fn score(&self, response: &str, gold: &str) -> Score {
        match parse_task(gold) {
            Some(task) => score(response, &task),
            None => Score::new(0.0).with("format", 0.0).with("solved", 0.0),
        }
    }
}

/// The single action of a well-formed multi-turn response (LMM-R1's layout and exactly one
/// MageBench action id in the answer).
pub fn parse_turn(response: &str) -> Option<Action> {
    match parse_plan(response)?.as_slice() {
        [a] => Some(*a),
        _ => None,
    }
}

/// MageBench's online mode as an [`Episode`]: the policy sees the current frame, answers one
/// action id, which is played as one MageBench turn ([`TurnPlayer`]).
///
/// Turn reward: MageBench's reward increment of the turn divided by 20 ([`MAGEBENCH_SCALE`]).
/// A response that [`parse_turn`] rejects scores 0 and ends the episode; so does the game
/// ending (goal, ball out, possession lost, time up). The teacher is the first action of
/// [`plan`] from the current state, with the plan's summary as its thinking.
#[derive(Debug, Clone)]
pub struct FootballEpisode {
    task: FootballTask,
    env: Env,
    turns: TurnPlayer,
    frame: FrameStyle,
    prompt: PromptStyle,
    max_actions: usize,
    beam_width: usize,
    taken: u32,
    well_formed: u32,
    ret: f64,
    bad_format: bool,
}

impl FootballEpisode {
    /// A fresh episode of `task`, with `cfg`'s frame, prompt and teacher settings.
    pub fn new(task: FootballTask, cfg: &FootballTaskConfig) -> Self {
        let mut env = Env::new(task.scenario.clone());
        env.reset(task.seed);
        Self {
            task,
            env,
            turns: TurnPlayer::new(),
            frame: cfg.frame,
            prompt: cfg.prompt,
            max_actions: cfg.max_actions,
            beam_width: cfg.beam_width,
            taken: 0,
            well_formed: 0,
            ret: 0.0,
            bad_format: false,
        }
    }

    /// An episode of a scenario and seed drawn as [`generate`] draws them.
    pub fn sample(cfg: &FootballTaskConfig, rng: &mut SplitMix64) -> Self {
        let scenario = match rng.pick(&cfg.scenarios) {
            Some(s) => s.clone(),
            None => Scenario::empty_goal_close(),
        };
        let seed = rng.below(1 << 32);
        Self::new(FootballTask { scenario, seed }, cfg)
    }

    /// The task being played.
    pub fn task(&self) -> &FootballTask {
        &self.task
    }

    /// The environment (its state, accumulated MageBench reward, end reason).
    pub fn env(&self) -> &Env {
        &self.env
    }

    /// Whether the episode is over.
    pub fn is_done(&self) -> bool {
        self.bad_format || self.env.is_done()
    }
}

impl Episode for FootballEpisode {
    fn observation(&self) -> Turn {
        let text = match self.prompt {
            PromptStyle::Short => "Next action?",
            PromptStyle::MageBench => ACTION_USER,
        };
        Turn {
            role: "user".to_string(),
            content: vec![
                Content::Pixels(render(self.env.state(), &self.frame)),
                Content::Text(text.to_string()),
            ],
        }
    }

    fn step(&mut self, response: &str) -> TurnOutcome {
        if self.is_done() {
            return TurnOutcome {
                reward: 0.0,
                done: true,
            };
        }
        self.taken += 1;
        let Some(action) = parse_turn(response) else {
            self.bad_format = true;
            return TurnOutcome {
                reward: 0.0,
                done: true,
            };
        };
        self.well_formed += 1;
        match self.turns.play(&mut self.env, action) {
            Ok(turn) => {
                let reward = turn.reward / MAGEBENCH_SCALE;
                self.ret += reward;
                TurnOutcome {
                    reward,
                    done: self.is_done(),
                }
            }
            Err(_) => TurnOutcome {
                reward: 0.0,
                done: true,
            },
        }
    }

    fn teacher(&self) -> Option<String> {
        if self.is_done() {
            return None;
        }
        let actions = plan(&self.env, &self.turns, self.max_actions, self.beam_width);
        Some(response(&plan_summary(&actions), &actions[..1]))
    }

    fn score(&self) -> Score {
        let solved = self.env.end() == Some(EpisodeEnd::Goal(Team::Left));
        let format = if self.taken == 0 {
            0.0
        } else {
            f64::from(self.well_formed) / f64::from(self.taken)
        };
        Score::new(self.ret)
            .with("solved", f64::from(u8::from(solved)))
            .with("format", format)
            .with(Cow::Borrowed("turns"), f64::from(self.taken))
            .with("magebench", self.env.accumulated())
    }
}
