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

mod collection;
mod env;
mod generate;
mod hash;
mod level;
mod lurd;
mod rng;
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
