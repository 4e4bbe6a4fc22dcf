//! Sokoban tasks: determinism, picture sizes and contents, teacher plans that solve (and slips
//! that do not) over thousands of seeds, parity of the rendering with gym-sokoban's, episodes.

use std::path::{Path, PathBuf};

use lmmr1_rewards::sokoban::{
    best_prefix_reward, is_solution, solve, Action, Direction, Env, Level, SolveLimits,
};
use lmmr1_tasks::rng::SplitMix64;
use lmmr1_tasks::sokoban::{
    self, EpisodeConfig, LevelSource, PromptStyle, SokobanEpisode, SokobanTaskConfig, Sprite,
};
use lmmr1_tasks::{prompts, Content, Episode, Generated, Picture};

fn picture(task: &Generated) -> Picture {
    let parts = task.sample.image_parts();
    assert_eq!(parts.len(), 1);
    match parts[0] {
        Content::Pixels(p) => p.clone(),
        other => panic!("expected an in-memory picture, got {other:?}"),
    }
}

/// The moves between `<answer>` and `</answer>`, read independently of the crate.
fn answer_moves(response: &str) -> Vec<Direction> {
    let inner = response
        .split("<answer>")
        .nth(1)
        .and_then(|s| s.split("</answer>").next())
        .unwrap_or("");
    inner
        .split(", ")
        .filter(|s| !s.is_empty())
        .map(|s| match s {
            "Up" => Direction::Up,
            "Down" => Direction::Down,
            "Left" => Direction::Left,
            "Right" => Direction::Right,
            other => panic!("unexpected move {other:?} in {response}"),
        })
        .collect()
}

/// Mean RGB of each `tile`×`tile` cell, row-major.
fn tile_means(p: &Picture, tile: u32) -> Vec<[f64; 3]> {
    let (rows, cols) = (p.height / tile, p.width / tile);
    let mut out = Vec::new();
    for r in 0..rows {
        for c in 0..cols {
            let mut sum = [0.0; 3];
            for y in r * tile..(r + 1) * tile {
                for x in c * tile..(c + 1) * tile {
                    let i = ((y * p.width + x) * 3) as usize;
                    for (k, s) in sum.iter_mut().enumerate() {
                        *s += f64::from(p.rgb[i + k]);
                    }
                }
            }
            let n = f64::from(tile * tile);
            out.push(sum.map(|s| s / n));
        }
    }
    out
}

fn dist(a: [f64; 3], b: [f64; 3]) -> f64 {
    (0..3).map(|k| (a[k] - b[k]).abs()).fold(0.0, f64::max)
}

/// The sprite each cell of a picture shows, decoded from pixels alone: the nearest of the
/// seven sprites' mean colours (as measured by gym's rendering in the fixture).
fn decode(p: &Picture, tile: u32, gym_means: &[(Sprite, [f64; 3])]) -> Vec<Sprite> {
    tile_means(p, tile)
        .into_iter()
        .map(|m| {
            gym_means
                .iter()
                .min_by(|a, b| dist(a.1, m).total_cmp(&dist(b.1, m)))
                .map(|s| s.0)
                .unwrap()
        })
        .collect()
}

/// The fixture's per-sprite mean colours, keyed like gym's surface names.
fn gym_sprite_means(fixture: &serde_json::Value) -> Vec<(Sprite, [f64; 3])> {
    let names = [
        ("wall", Sprite::Wall),
        ("floor", Sprite::Floor),
        ("box_target", Sprite::Target),
        ("box_on_target", Sprite::BoxOnTarget),
        ("box", Sprite::Box),
        ("player", Sprite::Player),
        ("player_on_target", Sprite::PlayerOnTarget),
    ];
    names
        .iter()
        .map(|(name, s)| {
            let v = &fixture["sprite_means"][name];
            (*s, [0, 1, 2].map(|k| v[k].as_f64().unwrap()))
        })
        .collect()
}

fn fixture() -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sokoban_render.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Our per-tile means against gym's (`tools/sokoban_render_fixture.py`): every tile of every
/// fixture board within `tol` (per channel) at gym's 16 px, and within a looser `tol_scaled`
/// at 28 px (nearest-neighbour scaling repeats some sprite rows and columns). The seven kinds'
/// gym colours are more than 30 apart, so the tolerances tell every kind from the others.
#[test]
fn rendering_matches_gym_per_tile_mean_colours() {
    let fx = fixture();
    let gym = gym_sprite_means(&fx);
    let (tol, tol_scaled) = (6.0, 10.0);
    for (i, a) in gym.iter().enumerate() {
        for b in &gym[i + 1..] {
            assert!(dist(a.1, b.1) > 2.0 * tol_scaled, "{a:?} vs {b:?}");
        }
    }
    let mut seen = std::collections::HashSet::new();
    let mut worst = 0.0f64;
    for entry in fx["levels"].as_array().unwrap() {
        let xsb: Vec<&str> = entry["grid"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap())
            .collect();
        let level = Level::from_xsb(&xsb.join("\n")).unwrap();
        let expected: Vec<[f64; 3]> = entry["tile_means"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| [0, 1, 2].map(|k| m[k].as_f64().unwrap()))
            .collect();
        for (tile, limit) in [(16, tol), (28, tol_scaled)] {
            let pic = sokoban::render(&level, tile);
            assert_eq!(
                (pic.width, pic.height),
                (level.cols() as u32 * tile, level.rows() as u32 * tile)
            );
            let ours = tile_means(&pic, tile);
            assert_eq!(ours.len(), expected.len());
            for (i, (o, e)) in ours.iter().zip(&expected).enumerate() {
                let (r, c) = (i / level.cols(), i % level.cols());
                let d = dist(*o, *e);
                if tile == 16 {
                    worst = worst.max(d);
                }
                assert!(
                    d <= limit,
                    "{xsb:?} cell ({r},{c}) {:?} at {tile}px: ours {o:?}, gym {e:?}",
                    Sprite::at(&level, r, c)
                );
                seen.insert(Sprite::at(&level, r, c));
            }
        }
    }
    assert_eq!(seen.len(), 7, "the fixture shows every sprite: {seen:?}");
    eprintln!("largest per-channel tile mean difference at 16 px: {worst:.2}");
}

#[test]
fn generation_is_deterministic_per_seed() {
    for d in 1..=4 {
        let cfg = SokobanTaskConfig::level(d);
        let a = sokoban::tasks(&cfg, 10, 42).unwrap();
        let b = sokoban::tasks(&cfg, 10, 42).unwrap();
        let c = sokoban::tasks(&cfg, 10, 43).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        let ids: std::collections::HashSet<_> = a.iter().map(|t| t.sample.id.clone()).collect();
        assert_eq!(ids.len(), 10);
    }
}

#[test]
fn pictures_have_the_promised_size_and_prompts_their_style() {
    let mut cfg = SokobanTaskConfig::default();
    let task = sokoban::generate(&cfg, &mut SplitMix64::new(1)).unwrap();
    let p = picture(&task);
    assert_eq!((p.width, p.height), (196, 196));
    assert_eq!(p.rgb.len(), 196 * 196 * 3);
    assert_eq!(task.sample.messages.len(), 1);
    assert_eq!(task.sample.messages[0].text_content(), sokoban::SHORT_USER);
    assert_eq!(task.sample.datasource.as_deref(), Some("sokoban/level1"));

    cfg.tile_px = 16;
    cfg.rows = 6;
    cfg.cols = 9;
    cfg.prompt = PromptStyle::LmmR1;
    let task = sokoban::generate(&cfg, &mut SplitMix64::new(1)).unwrap();
    let p = picture(&task);
    assert_eq!((p.width, p.height), (9 * 16, 6 * 16));
    let m = &task.sample.messages;
    assert_eq!((m[0].role.as_str(), m[1].role.as_str()), ("system", "user"));
    assert_eq!(m[0].text_content(), prompts::SOKOBAN_SYSTEM);
    assert!(matches!(m[1].content[0], Content::Pixels(_)));
    assert_eq!(m[1].text_content(), prompts::SOKOBAN_USER);
}

/// Over 2,000 seeds of levels 1 and 2 (and 300 each of levels 3 and 4): the picture decodes (from
/// its pixels alone) to the level in `answer`; the demonstration's plan solves it (checked by the
/// rewards crate's `is_solution`), is as short as a fresh solve, within [min, max] moves and
/// direction changes, and
/// scores solved = 1, format = 1, MageBench 100; the slipped plan scores solved = 0.
#[test]
fn demonstrations_solve_and_slips_do_not_over_thousands_of_seeds() {
    let gym = gym_sprite_means(&fixture());
    let mut lengths = std::collections::BTreeMap::new();
    for (d, n) in [(1u8, 2000u64), (2, 2000), (3, 300), (4, 300)] {
        let cfg = SokobanTaskConfig::level(d);
        for seed in 0..n {
            let task = sokoban::generate(&cfg, &mut SplitMix64::new(seed)).unwrap();
            let level = Level::from_xsb(&task.sample.answer).unwrap();
            assert_eq!(level.num_boxes(), cfg.boxes);
            let cells = decode(&picture(&task), cfg.tile_px, &gym);
            for (i, s) in cells.iter().enumerate() {
                let (r, c) = (i / level.cols(), i % level.cols());
                assert_eq!(*s, Sprite::at(&level, r, c), "seed {seed} cell ({r},{c})");
            }
            let plan = answer_moves(&task.demonstration);
            assert!(
                (cfg.min_moves..=cfg.max_moves).contains(&plan.len()),
                "{}",
                task.demonstration
            );
            assert!(is_solution(&level, &plan), "seed {seed}");
            let turns = plan.windows(2).filter(|w| w[0] != w[1]).count();
            assert!(turns <= cfg.max_turns, "{}", task.demonstration);
            let optimal = solve(&level, &SolveLimits::default()).unwrap();
            assert_eq!(plan.len(), optimal.len());
            *lengths.entry((d, plan.len())).or_insert(0) += 1;

            let good = sokoban::score(&task.demonstration, &level);
            assert_eq!(
                good.component("solved"),
                Some(1.0),
                "{}",
                task.demonstration
            );
            assert_eq!(good.component("format"), Some(1.0));
            assert!((good.component("magebench").unwrap() - 100.0).abs() < 1e-9);
            assert!(good.total > 10.0);

            let bad = sokoban::score(&task.slipped, &level);
            assert_eq!(bad.component("solved"), Some(0.0), "{}", task.slipped);
            assert_eq!(bad.component("format"), Some(1.0));
            // The final move of an optimal plan earns 10.9 (box on target, win, step), so the
            // slip loses at least that much: MageBench 100 − 5·10.9 = 45.5 or a bit more.
            assert!(
                bad.total < good.total - 9.0,
                "{} vs {}",
                bad.total,
                good.total
            );
            let mage = bad.component("magebench").unwrap();
            assert!((45.5 - 1e-9..60.0).contains(&mage), "{mage}");
            assert_eq!(answer_moves(&task.slipped), plan[..plan.len() - 1]);
        }
    }
    eprintln!("(level, plan length) -> count: {lengths:?}");
}

#[test]
fn gym_generator_source_gives_tasks_too() {
    let cfg = SokobanTaskConfig {
        source: LevelSource::Gym,
        boxes: 2,
        max_moves: 40,
        ..SokobanTaskConfig::level(2)
    };
    for seed in 0..5 {
        let task = sokoban::generate(&cfg, &mut SplitMix64::new(seed)).unwrap();
        let level = Level::from_xsb(&task.sample.answer).unwrap();
        assert_eq!(level.num_boxes(), 2);
        assert_eq!(
            sokoban::score(&task.demonstration, &level).component("solved"),
            Some(1.0)
        );
    }
}

#[test]
fn bad_configs_are_errors_not_panics() {
    let base = SokobanTaskConfig::default();
    for cfg in [
        SokobanTaskConfig {
            rows: 2,
            ..base.clone()
        },
        SokobanTaskConfig {
            boxes: 0,
            ..base.clone()
        },
        SokobanTaskConfig {
            boxes: 20,
            ..base.clone()
        },
        SokobanTaskConfig {
            min_moves: 0,
            ..base.clone()
        },
        SokobanTaskConfig {
            min_moves: 5,
            max_moves: 4,
            ..base.clone()
        },
        SokobanTaskConfig {
            rows: 3,
            cols: 4,
            ..base.clone()
        },
        // Impossible plan lengths: an error after max_tries.
        SokobanTaskConfig {
            min_moves: 90,
            max_moves: 99,
            max_tries: 50,
            ..base.clone()
        },
    ] {
        let err = sokoban::generate(&cfg, &mut SplitMix64::new(0)).unwrap_err();
        assert!(err.to_string().contains("sokoban task config"), "{err}");
    }
}

/// An episode driven by `teacher()` solves its level in as many turns as an optimal plan has
/// moves, and its return is the sum of the step rewards of a separate gym env replaying the
/// teacher's moves (which is also the best prefix reward of an optimal plan).
#[test]
fn teacher_driven_episodes_solve_and_return_gym_step_rewards() {
    for (d, n) in [(1u8, 100u64), (2, 50), (3, 30)] {
        let cfg = SokobanTaskConfig::level(d);
        for seed in 0..n {
            let planned = sokoban::generate_level(&cfg, &mut SplitMix64::new(seed)).unwrap();
            let ep_cfg = EpisodeConfig::default();
            let mut episode = SokobanEpisode::new(planned.level.clone(), &ep_cfg);
            let mut replay = Env::new(planned.level.clone(), ep_cfg.max_steps);
            let (mut sum, mut turns) = (0.0, 0);
            while let Some(response) = episode.teacher() {
                let obs = episode.observation();
                assert!(obs.content.iter().any(|c| matches!(c, Content::Pixels(_))));
                let moves = answer_moves(&response);
                assert_eq!(moves.len(), 1, "{response}");
                let out = episode.step(&response);
                let step = replay.step(Action::Push(moves[0]));
                assert_eq!(out.reward, step.reward_f64);
                assert_eq!(out.done, step.done);
                assert_eq!(episode.state(), replay.state());
                sum += step.reward_f64;
                turns += 1;
                assert!(turns <= planned.plan.len());
            }
            assert!(episode.is_done());
            let score = episode.score();
            assert_eq!(score.total, sum);
            assert_eq!(score.component("solved"), Some(1.0));
            assert_eq!(score.component("format"), Some(1.0));
            assert_eq!(score.component("turns"), Some(planned.plan.len() as f64));
            let best = best_prefix_reward(
                &planned.level,
                planned.plan.iter().map(|&m| Action::Push(m)),
                usize::MAX,
            );
            assert!((sum - best).abs() < 1e-9, "{sum} vs {best}");
            // Stepping after the end changes nothing.
            let after = episode.step("<think>x</think><answer>Up</answer>");
            assert_eq!((after.reward, after.done), (0.0, true));
            assert_eq!(episode.score().total, sum);
        }
    }
}

#[test]
fn bad_format_ends_the_episode_with_zero() {
    let level = Level::from_xsb("#######\n#@ $ .#\n#######").unwrap();
    for bad in [
        "Right",
        "<answer>Right</answer>",
        "<think>a</think><answer>Right, Right</answer>",
        "<think>a</think><answer>Jump</answer>",
        "<think>a</think><answer></answer>",
        "<think>a</think><think>b</think><answer>Right</answer>",
        "<think>a</think><answer>Right</answer><answer>Left</answer>",
        "<think>a<answer>Right</answer>",
    ] {
        let mut episode = SokobanEpisode::new(level.clone(), &EpisodeConfig::default());
        let good = episode.step("<think>go</think><answer> right </answer><|im_end|>");
        assert!((good.reward + 0.1).abs() < 1e-12 && !good.done);
        let out = episode.step(bad);
        assert_eq!((out.reward, out.done), (0.0, true), "{bad}");
        let s = episode.score();
        assert_eq!(s.component("solved"), Some(0.0));
        assert_eq!(s.component("format"), Some(0.5));
        assert_eq!(s.component("turns"), Some(2.0));
        assert!(episode.teacher().is_none());
    }
}

#[test]
fn episode_ends_at_max_steps() {
    let level = Level::from_xsb("#######\n#@ $ .#\n#######").unwrap();
    let cfg = EpisodeConfig {
        max_steps: 3,
        prompt: PromptStyle::LmmR1,
        ..EpisodeConfig::default()
    };
    let mut episode = SokobanEpisode::new(level, &cfg);
    assert!(episode.system_prompt().is_some());
    let obs = episode.observation();
    assert_eq!(obs.text_content(), "Current state:Give the next move.");
    let outs: Vec<_> = (0..3)
        .map(|_| episode.step("<think>wall</think><answer>Up</answer>"))
        .collect();
    assert_eq!(
        outs.iter().map(|o| o.done).collect::<Vec<_>>(),
        [false, false, true]
    );
    assert!((episode.score().total + 0.3).abs() < 1e-12);
    assert_eq!(episode.score().component("solved"), Some(0.0));
}

#[test]
fn random_strings_never_panic() {
    let level = Level::from_xsb("#######\n#@ $ .#\n#  $. #\n#######").unwrap();
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
        " ",
        "\n",
        "é",
        "😀",
        "<|im_end|>",
        "x",
        "",
        "Right, Right",
        "\u{3000}",
    ];
    let mut rng = SplitMix64::new(9);
    let mut episode = SokobanEpisode::new(level.clone(), &EpisodeConfig::default());
    for _ in 0..3000 {
        let n = rng.below(12) as usize;
        let s: String = (0..n)
            .map(|_| *rng.pick(&pieces).unwrap())
            .collect::<Vec<_>>()
            .concat();
        let score = sokoban::score_with_optimal(&s, &level, Some(10.0));
        assert!(score.total.is_finite());
        assert!(matches!(score.component("solved"), Some(v) if v == 0.0 || v == 1.0));
        let _ = episode.step(&s);
        if episode.is_done() {
            episode = SokobanEpisode::new(level.clone(), &EpisodeConfig::default());
        }
    }
    // Pictures of odd sizes, including a zero tile size (taken as 1).
    assert_eq!(sokoban::render(&level, 0).width, level.cols() as u32);
    assert_eq!(
        sokoban::render(&level, 1).rgb.len(),
        level.rows() * level.cols() * 3
    );
}

/// Debian's `cavepacker-data` maps: `$CAVEPACKER_MAPS`, else the installed package's folder.
fn cavepacker_maps() -> Option<PathBuf> {
    let dir = std::env::var_os("CAVEPACKER_MAPS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/share/games/cavepacker/maps"));
    dir.is_dir().then_some(dir)
}

/// Microban levels (committed under `data/sokoban/`) become tasks whose demonstrations
/// (the collection's solutions) solve their level; those within LMM-R1's 50 actions score
/// solved = 1 and their slips 0. cavepacker-data's Microban maps too when installed.
#[test]
fn collection_levels_become_tasks() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/sokoban/microban.sok");
    let levels = sokoban::load_collection(&path).unwrap();
    assert_eq!(levels.len(), 290);
    let cfg = SokobanTaskConfig::default();
    let mut scored = 0;
    for (i, entry) in levels.iter().enumerate() {
        let task = sokoban::from_collection_level(entry, &format!("microban-{i}"), &cfg).unwrap();
        let plan = answer_moves(&task.demonstration);
        assert!(is_solution(&entry.level, &plan), "microban {i}");
        assert_eq!(Level::from_xsb(&task.sample.answer).unwrap(), entry.level);
        let p = picture(&task);
        assert_eq!(
            (p.width, p.height),
            (
                entry.level.cols() as u32 * 28,
                entry.level.rows() as u32 * 28
            )
        );
        if plan.len() <= 50 && i < 60 {
            let good = sokoban::score_with_optimal(&task.demonstration, &entry.level, None);
            let bad = sokoban::score_with_optimal(&task.slipped, &entry.level, None);
            assert_eq!(good.component("solved"), Some(1.0), "microban {i}");
            assert_eq!(bad.component("solved"), Some(0.0), "microban {i}");
            scored += 1;
        }
    }
    assert!(scored >= 20, "{scored}");
    assert!(sokoban::load_collection(Path::new("/nonexistent.sok")).is_err());

    let Some(dir) = cavepacker_maps() else {
        eprintln!("cavepacker-data not installed and CAVEPACKER_MAPS unset: skipped");
        return;
    };
    let mut done = 0;
    for name in ["microban01_0001", "microban01_0002", "microban02_0001"] {
        let Ok(levels) = sokoban::load_collection(&dir.join(format!("{name}.sok"))) else {
            continue;
        };
        let task = sokoban::from_collection_level(&levels[0], name, &cfg).unwrap();
        assert!(is_solution(
            &levels[0].level,
            &answer_moves(&task.demonstration)
        ));
        done += 1;
    }
    eprintln!("cavepacker levels turned into tasks: {done}");
}
