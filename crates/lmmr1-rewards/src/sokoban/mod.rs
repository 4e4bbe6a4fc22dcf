//! Sokoban for LMM-R1: gym-sokoban's environment, levels, a level generator, a solver and the
//! rewards LMM-R1 and MageBench compute on plans.
//!
//! * [`Level`]: a board, from and to XSB text and gym-sokoban's integer rooms.
//! * [`parse_collection`], [`parse_lurd`]: multi-level `.sok` files and run-length LURD
//!   solutions.
//! * [`Env`], [`Action`], [`Step`]: gym-sokoban 0.0.6's step rules and rewards, bit for bit.
//! * [`generate`], [`Generator`], [`Variant`]: seeded levels with gym-sokoban's algorithm.
//! * [`solve`]: a move-optimal A* solver with dead-square pruning and budgets; [`optimal_reward`].
//! * [`LmmR1Sokoban`]: LMM-R1's Sokoban reward; [`magebench_score`]: MageBench's level score.
//!
//! References: gym-sokoban 0.0.6 (`envs/sokoban_env.py`, `envs/room_utils.py`) and LMM-R1's
//! `openrlhf/models/remote_rm/sokoban_verifier.py`; see `../shared/docs/rewards-anchors.md` §3.
//! The tests replay 200 gym-sokoban traces step by step, check 512 verifier scores bit for bit
//! and the generator's reverse play room for room (fixtures from `tools/sokoban_traces.py`).
//!
//! ```
//! use lmmr1_rewards::sokoban::{
//!     generate, magebench_score, optimal_reward, solve, to_lurd, LmmR1Sokoban, SolveLimits,
//!     Variant,
//! };
//!
//! // A Sokoban-small-v0 level (7x7, 2 boxes), as LMM-R1 trains on.
//! let level = generate(&Variant::Small0.config(), 42)?;
//! println!("{level}");
//!
//! // A shortest plan, written the way the model must answer.
//! let plan = solve(&level, &SolveLimits::default()).expect("generated levels are solvable");
//! let names: Vec<&str> = to_lurd(&plan)
//!     .chars()
//!     .map(|c| match c { 'l' => "Left", 'r' => "Right", 'u' => "Up", _ => "Down" })
//!     .collect();
//! let response = format!("<think>plan it</think><answer>{}</answer>", names.join(", "));
//!
//! let b = LmmR1Sokoban.breakdown(&response, &level);
//! assert!(b.format_ok && b.task_reward > 10.0); // solved within 50 moves: +10 and box rewards
//! let best = optimal_reward(&level, &SolveLimits::default()).unwrap();
//! assert_eq!(magebench_score(b.task_reward, best), 100.0);
//! # Ok::<(), lmmr1_rewards::sokoban::GenerateError>(())
//! ```

mod collection;
mod env;
mod generate;
mod hash;
mod level;
mod lurd;
mod score;
mod solver;

pub use collection::{parse_collection, CollectionError, CollectionLevel};
pub use env::{is_solution, Action, Direction, Env, Step};
pub use generate::{generate, reverse_play, GenConfig, GenerateError, Generator, Variant, MAX_TTL};
pub use level::{Level, LevelError, Tile, MAX_SIDE};
pub use lurd::{parse_lurd, to_lurd, LurdError, MAX_LURD_MOVES};
pub use score::{
    best_prefix_reward, magebench_score, LmmR1Breakdown, LmmR1Sokoban, LMM_R1_MAX_ACTIONS,
    LMM_R1_MAX_STEPS,
};
pub use solver::{optimal_reward, solve, SolveError, SolveLimits};
