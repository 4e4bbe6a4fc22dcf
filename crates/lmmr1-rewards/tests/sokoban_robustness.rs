//! No input makes the Sokoban API panic: random text into the parsers and the LMM-R1 scorer,
//! random actions and bounded solving on every random level that parses.

use lmmr1_rewards::sokoban::{
    is_solution, parse_collection, parse_lurd, solve, Action, Env, Level, LmmR1Sokoban,
    SolveLimits, Tile, MAX_LURD_MOVES,
};

struct XorShift(u64);

impl XorShift {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }

    /// A random board: walls and floor, one player, `k` boxes and `k` targets (some shared).
    fn board(&mut self) -> String {
        let (rows, cols) = (1 + self.below(7), 2 + self.below(9));
        let mut cells: Vec<char> = (0..rows * cols)
            .map(|_| ['#', ' ', ' '][self.below(3)])
            .collect();
        // Distinct cells in random order: the player first, then pieces.
        let mut order: Vec<usize> = (0..cells.len()).collect();
        for i in (1..order.len()).rev() {
            order.swap(i, self.below(i + 1));
        }
        let mut order = order.into_iter();
        cells[order.next().unwrap()] = '@';
        for _ in 0..self.below(4) {
            match (self.below(3), order.next(), order.next()) {
                (0 | 1, Some(b), Some(t)) => (cells[b], cells[t]) = ('$', '.'),
                (_, Some(b), _) => cells[b] = '*',
                _ => break,
            }
        }
        cells
            .chunks(cols)
            .map(|r| r.iter().collect::<String>())
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn text(&mut self, alphabet: &[&str], max_len: usize) -> String {
        let len = self.below(max_len + 1);
        (0..len)
            .map(|_| alphabet[self.below(alphabet.len())])
            .collect()
    }
}

#[test]
fn random_boards_parse_play_and_solve_without_panicking() {
    let mut rng = XorShift(0x1234_5678_9ABC_DEF1);
    let alphabet = [
        "#", "#", "#", " ", " ", " ", ".", "$", "*", "@", "+", "\n", "\n", "-", "x", "é", "\r",
    ];
    let limits = SolveLimits {
        max_states: 2_000,
        max_time: None,
    };
    let (mut parsed, mut solved) = (0, 0);
    for _ in 0..3_000 {
        let text = rng.text(&alphabet, 60);
        let _ = parse_collection(&text);
        let _ = Level::from_xsb(&text);
        let board = rng.board();
        let level = Level::from_xsb(&board).unwrap_or_else(|e| panic!("{board:?}: {e}"));
        parsed += 1;
        assert_eq!(Level::from_xsb(&level.to_xsb()).as_ref(), Ok(&level));
        let mut env = Env::new(level.clone(), 50);
        for _ in 0..60 {
            env.step(Action::from_gym_index(rng.below(9) as u8).unwrap());
            let state = env.state();
            let (r, c) = state.player();
            assert_ne!(state.tile(r, c), Tile::Wall);
            assert!(!state.has_box(r, c));
            assert_eq!(state.num_boxes(), level.num_boxes());
        }
        if let Ok(plan) = solve(&level, &limits) {
            assert!(is_solution(&level, &plan), "{level}");
            solved += 1;
        }
    }
    assert!(
        parsed > 100 && solved > 20,
        "{parsed} parsed, {solved} solved"
    );
}

#[test]
fn random_lurd_and_responses_never_panic() {
    let mut rng = XorShift(0xDEAD_BEEF_CAFE_F00D);
    let lurd = [
        "l", "u", "r", "d", "L", "R", "(", ")", "9", "0", "3", " ", "x",
    ];
    for _ in 0..5_000 {
        if let Ok(moves) = parse_lurd(&rng.text(&lurd, 30)) {
            assert!(moves.len() <= MAX_LURD_MOVES);
        }
    }
    let level = Level::from_xsb("#######\n#@ $ .#\n#######").unwrap();
    let pieces = [
        "<think>",
        "</think>",
        "<answer>",
        "</answer>",
        "Left",
        "right",
        "UP",
        "down",
        ",",
        ", ",
        " ",
        "\n",
        "jump",
        "<|im_end|>",
        "\u{3000}",
        "ab",
        "é",
    ];
    let mut formatted = 0;
    for _ in 0..5_000 {
        let response = rng.text(&pieces, 40);
        let b = LmmR1Sokoban.breakdown(&response, &level);
        if b.format_ok {
            formatted += 1;
            assert!(b.task_reward >= 0.0 && b.thinking_bonus <= 0.2);
        } else {
            assert_eq!(b.total, 0.0);
        }
    }
    let forced = "<think>a</think><answer>".to_owned() + &"left,".repeat(10_000) + "up</answer>";
    assert!(LmmR1Sokoban.breakdown(&forced, &level).format_ok);
    assert!(formatted > 0);
}
