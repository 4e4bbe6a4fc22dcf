//! A move-optimal solver: A* over (player, boxes) with dead-square pruning, bounded in states
//! and time.
//!
//! Each move (a walk or a push) costs 1, so the plan is shortest in gym steps, which also makes
//! it the plan with the best gym reward. The heuristic is the sum over boxes of the number of
//! pushes that box needs to reach its nearest target on an otherwise empty board (computed by
//! pulling boxes away from the targets). It never overestimates and changes by at most 1 per
//! move, so the first time A* takes a solved state off the queue, its plan is optimal. A box
//! pushed onto a cell from which no target can be reached (a dead square) is never explored.

use std::cmp::Reverse;
use std::collections::hash_map::Entry;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

use super::env::{Action, Direction};
use super::hash::FxHashMap;
use super::level::{Level, Tile};
use super::score::best_prefix_reward;

/// Budgets for [`solve`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SolveLimits {
    /// Distinct states the search may store (each costs tens of bytes): 2,000,000 by default.
    pub max_states: usize,
    /// Wall-clock budget; `None` for none. 10 s by default.
    pub max_time: Option<Duration>,
}

impl Default for SolveLimits {
    fn default() -> Self {
        SolveLimits {
            max_states: 2_000_000,
            max_time: Some(Duration::from_secs(10)),
        }
    }
}

/// Why [`solve`] returned no plan.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SolveError {
    /// Every reachable state was explored: the level has no solution.
    #[error("the level has no solution")]
    Unsolvable,
    /// Unsolved within budget: `max_states` states were stored.
    #[error("unsolved within budget: {states} states explored")]
    StateBudget {
        /// States stored.
        states: usize,
    },
    /// Unsolved within budget: `max_time` ran out.
    #[error("unsolved within budget: time ran out after {states} states")]
    TimeBudget {
        /// States stored.
        states: usize,
    },
}

/// A shortest plan (fewest moves) that solves `level`, as directions for gym's push actions
/// (`Action::Push(d)` walks or pushes).
///
/// ```
/// use lmmr1_rewards::sokoban::{solve, to_lurd, Level, SolveLimits};
///
/// let level = Level::from_xsb("#######\n#@ $ .#\n#######")?;
/// assert_eq!(to_lurd(&solve(&level, &SolveLimits::default()).unwrap()), "rrr");
/// # Ok::<(), lmmr1_rewards::sokoban::LevelError>(())
/// ```
pub fn solve(level: &Level, limits: &SolveLimits) -> Result<Vec<Direction>, SolveError> {
    Search::new(level).run(limits)
}

/// The best cumulative gym reward a plan can reach on `level`: that of a move-optimal solution
/// (the `upper_bound_reward` of [`super::magebench_score`]).
///
/// A solution of `L` moves earns `boxes + 10 − 0.1·L`; every unsolved prefix earns less as long as
/// `L` stays under about 110 moves, which holds for gym's generated levels.
///
/// ```
/// use lmmr1_rewards::sokoban::{optimal_reward, Level, SolveLimits};
///
/// let level = Level::from_xsb("#######\n#@ $ .#\n#######")?;
/// let best = optimal_reward(&level, &SolveLimits::default()).unwrap();
/// assert!((best - (1.0 + 10.0 - 0.3)).abs() < 1e-9);
/// # Ok::<(), lmmr1_rewards::sokoban::LevelError>(())
/// ```
pub fn optimal_reward(level: &Level, limits: &SolveLimits) -> Result<f64, SolveError> {
    let plan = solve(level, limits)?;
    Ok(best_prefix_reward(
        level,
        plan.into_iter().map(Action::Push),
        usize::MAX,
    ))
}

const DEAD: u32 = u32::MAX;

struct Node {
    parent: u32,
    dir: Direction,
    g: u32,
    closed: bool,
}

struct Search {
    width: usize,
    walls: Vec<bool>,
    targets: Vec<bool>,
    /// Pushes from each cell to the nearest target on an empty board; `DEAD` if none.
    dist: Vec<u32>,
    start: Vec<u16>,
}

impl Search {
    fn new(level: &Level) -> Search {
        let width = level.cols() + 2;
        let cells = (level.rows() + 2) * width;
        let mut walls = vec![true; cells];
        let mut targets = vec![false; cells];
        let mut boxes = Vec::new();
        for r in 0..level.rows() {
            for c in 0..level.cols() {
                let p = (r + 1) * width + c + 1;
                walls[p] = level.tile(r, c) == Tile::Wall;
                targets[p] = level.tile(r, c) == Tile::Target;
                if level.has_box(r, c) {
                    boxes.push(p as u16);
                }
            }
        }
        let (pr, pc) = level.player();
        let mut start = vec![((pr + 1) * width + pc + 1) as u16];
        start.extend(boxes);
        let mut search = Search {
            width,
            walls,
            targets,
            dist: Vec::new(),
            start,
        };
        search.dist = search.pull_distances();
        search
    }

    fn offset(&self, d: Direction) -> isize {
        match d {
            Direction::Up => -(self.width as isize),
            Direction::Down => self.width as isize,
            Direction::Left => -1,
            Direction::Right => 1,
        }
    }

    /// Breadth-first pulls from every target: a box at `b` reaches a target in `dist[b]` pushes
    /// when the player can stand behind it each time (other boxes ignored).
    fn pull_distances(&self) -> Vec<u32> {
        let mut dist = vec![DEAD; self.walls.len()];
        let mut queue = std::collections::VecDeque::new();
        for (p, _) in self.targets.iter().enumerate().filter(|(_, &t)| t) {
            dist[p] = 0;
            queue.push_back(p);
        }
        while let Some(b) = queue.pop_front() {
            for d in Direction::ALL {
                let o = self.offset(d);
                // Pulling the box from `b` to `b + o` needs the player at `b + o`, then `b + 2o`.
                let (to, stand) = (b.wrapping_add_signed(o), b.wrapping_add_signed(2 * o));
                if stand >= self.walls.len() || self.walls[to] || self.walls[stand] {
                    continue;
                }
                if dist[to] == DEAD {
                    dist[to] = dist[b] + 1;
                    queue.push_back(to);
                }
            }
        }
        dist
    }

    fn heuristic(&self, boxes: &[u16]) -> u32 {
        boxes
            .iter()
            .map(|&b| self.dist[usize::from(b)])
            .fold(0, |a, d| a.saturating_add(d))
    }

    fn run(&self, limits: &SolveLimits) -> Result<Vec<Direction>, SolveError> {
        let started = Instant::now();
        let h0 = self.heuristic(&self.start[1..]);
        if h0 == DEAD {
            return Err(SolveError::Unsolvable);
        }
        let mut index: FxHashMap<Vec<u16>, u32> = FxHashMap::default();
        let mut keys: Vec<Vec<u16>> = Vec::new();
        let mut nodes: Vec<Node> = Vec::new();
        let mut open = BinaryHeap::new();
        index.insert(self.start.clone(), 0);
        keys.push(self.start.clone());
        nodes.push(Node {
            parent: u32::MAX,
            dir: Direction::Up,
            g: 0,
            closed: false,
        });
        // Smallest f first, then the deepest (largest g), then the oldest.
        open.push((Reverse(h0), 0u32, Reverse(0u32)));
        let mut expanded = 0usize;
        while let Some((_, _, Reverse(id))) = open.pop() {
            let node = &mut nodes[id as usize];
            if node.closed {
                continue;
            }
            node.closed = true;
            let g = node.g;
            let state = keys[id as usize].clone();
            if state[1..].iter().all(|&b| self.targets[usize::from(b)]) {
                return Ok(plan(&nodes, id));
            }
            expanded += 1;
            if expanded % 1024 == 0 && limits.max_time.is_some_and(|t| started.elapsed() > t) {
                return Err(SolveError::TimeBudget {
                    states: nodes.len(),
                });
            }
            let player = usize::from(state[0]);
            for d in Direction::ALL {
                let o = self.offset(d);
                let next = player.wrapping_add_signed(o);
                if self.walls[next] {
                    continue;
                }
                let mut child = state.clone();
                child[0] = next as u16;
                if let Some(k) = child[1..].iter().position(|&b| usize::from(b) == next) {
                    let beyond = next.wrapping_add_signed(o);
                    if self.walls[beyond]
                        || self.dist[beyond] == DEAD
                        || child[1..].iter().any(|&b| usize::from(b) == beyond)
                    {
                        continue;
                    }
                    child[1 + k] = beyond as u16;
                    child[1..].sort_unstable();
                }
                let g2 = g + 1;
                let child_id = match index.entry(child) {
                    Entry::Occupied(e) => {
                        let cid = *e.get();
                        let n = &mut nodes[cid as usize];
                        if n.closed || n.g <= g2 {
                            continue;
                        }
                        (n.parent, n.dir, n.g) = (id, d, g2);
                        cid
                    }
                    Entry::Vacant(e) => {
                        if nodes.len() >= limits.max_states {
                            return Err(SolveError::StateBudget {
                                states: nodes.len(),
                            });
                        }
                        let cid = nodes.len() as u32;
                        keys.push(e.key().clone());
                        e.insert(cid);
                        nodes.push(Node {
                            parent: id,
                            dir: d,
                            g: g2,
                            closed: false,
                        });
                        cid
                    }
                };
                let f = g2 + self.heuristic(&keys[child_id as usize][1..]);
                open.push((Reverse(f), g2, Reverse(child_id)));
            }
        }
        Err(SolveError::Unsolvable)
    }
}

fn plan(nodes: &[Node], mut id: u32) -> Vec<Direction> {
    let mut moves = Vec::new();
    while nodes[id as usize].parent != u32::MAX {
        moves.push(nodes[id as usize].dir);
        id = nodes[id as usize].parent;
    }
    moves.reverse();
    moves
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sokoban::{is_solution, parse_lurd, Env};

    #[test]
    fn finds_the_shortest_plan() {
        // Microban 1: its published solution has 33 moves; the optimum is shorter or equal.
        let level = Level::from_xsb("####\n# .#\n#  ###\n#*@  #\n#  $ #\n#  ###\n####").unwrap();
        let plan = solve(&level, &SolveLimits::default()).unwrap();
        assert!(is_solution(&level, &plan));
        assert!(
            plan.len()
                <= parse_lurd("dlu3rdlullddruluruuldrddrruldluu")
                    .unwrap()
                    .len()
        );
        // Brute-force check on a small level: no plan of fewer moves exists.
        let level = Level::from_xsb("######\n#    #\n# $$ #\n#  ..#\n#@   #\n######").unwrap();
        let plan = solve(&level, &SolveLimits::default()).unwrap();
        assert!(is_solution(&level, &plan));
        assert_eq!(plan.len(), shortest_by_bfs(&level));
    }

    /// Plain breadth-first search over full states, for cross-checking.
    fn shortest_by_bfs(level: &Level) -> usize {
        let mut seen = std::collections::HashSet::new();
        let mut frontier = vec![level.clone()];
        seen.insert(level.clone());
        for depth in 0.. {
            let mut next = Vec::new();
            for l in &frontier {
                if l.is_solved() {
                    return depth;
                }
                for d in Direction::ALL {
                    let mut env = Env::new(l.clone(), usize::MAX);
                    env.step(Action::Push(d));
                    let s = env.state();
                    if seen.insert(s.clone()) {
                        next.push(s);
                    }
                }
            }
            frontier = next;
        }
        unreachable!()
    }

    #[test]
    fn unsolvable_and_budgets_are_reported() {
        // A box in a corner off target is dead at once.
        let corner = Level::from_xsb("#####\n#$ .#\n#@  #\n#####").unwrap();
        assert_eq!(
            solve(&corner, &SolveLimits::default()),
            Err(SolveError::Unsolvable)
        );
        // Live squares only, but the second box blocks the first: proven by exhausting states.
        let blocked = Level::from_xsb("#######\n#@$$..#\n#######").unwrap();
        assert_eq!(
            solve(&blocked, &SolveLimits::default()),
            Err(SolveError::Unsolvable)
        );
        let level = Level::from_xsb("######\n#    #\n# $$ #\n#  ..#\n#@   #\n######").unwrap();
        let tiny = SolveLimits {
            max_states: 10,
            max_time: None,
        };
        assert_eq!(
            solve(&level, &tiny),
            Err(SolveError::StateBudget { states: 10 })
        );
        // A 40x40 hall the player can roam, and a blocked pair of boxes it cannot reach.
        let mut rows = vec!["#".repeat(42)];
        rows.extend((0..40).map(|i| {
            format!(
                "#{}#",
                if i == 0 { "@" } else { " " }.to_owned() + &" ".repeat(39)
            )
        }));
        rows.extend(["#".repeat(42), "#  $$..#".to_owned(), "########".to_owned()]);
        let hall = Level::from_xsb(&rows.join("\n")).unwrap();
        let no_time = SolveLimits {
            max_states: usize::MAX,
            max_time: Some(Duration::ZERO),
        };
        assert!(
            matches!(solve(&hall, &no_time), Err(SolveError::TimeBudget { states }) if states > 1000)
        );
        assert_eq!(
            solve(&hall, &SolveLimits::default()),
            Err(SolveError::Unsolvable)
        );
    }

    #[test]
    fn solved_and_boxless_levels_need_no_moves() {
        let done = Level::from_xsb("####\n#@*#\n####").unwrap();
        assert_eq!(solve(&done, &SolveLimits::default()), Ok(vec![]));
        let empty = Level::from_xsb("###\n#@#\n###").unwrap();
        assert_eq!(solve(&empty, &SolveLimits::default()), Ok(vec![]));
    }
}
