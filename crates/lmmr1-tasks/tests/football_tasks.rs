//! Football tasks: frames, single-turn plans and the multi-turn episode.

use lmmr1_rewards::football::turns::TurnPlayer;
use lmmr1_rewards::football::{Action, Env, FootballReward, FootballTask, Scenario, State, Vec2};
use lmmr1_rewards::Reward;
use lmmr1_tasks::football::{
    self, generate, parse_plan, parse_task, render, score, FootballEpisode, FootballPlanReward,
    FootballTaskConfig, FrameStyle, BALL, BALL_EDGE, CONTROLLED, LEFT_TEAM, RIGHT_TEAM,
};
use lmmr1_tasks::rng::SplitMix64;
use lmmr1_tasks::{Content, Episode, Picture};

fn picture_of(turn: &lmmr1_tasks::Turn) -> Picture {
    turn.content
        .iter()
        .find_map(|c| match c {
            Content::Pixels(p) => Some(p.clone()),
            _ => None,
        })
        .expect("a picture")
}

fn rgb(p: &Picture, x: i32, y: i32) -> Option<[u8; 3]> {
    if x < 0 || y < 0 || x >= p.width as i32 || y >= p.height as i32 {
        return None;
    }
    let i = (y as usize * p.width as usize + x as usize) * 3;
    Some([p.rgb[i], p.rgb[i + 1], p.rgb[i + 2]])
}

#[test]
fn generation_is_deterministic_per_seed() {
    let cfg = FootballTaskConfig::default();
    let a: Vec<_> = {
        let mut rng = SplitMix64::new(5);
        (0..6).map(|_| generate(&cfg, &mut rng)).collect()
    };
    let b: Vec<_> = {
        let mut rng = SplitMix64::new(5);
        (0..6).map(|_| generate(&cfg, &mut rng)).collect()
    };
    assert_eq!(a, b);
    let answers: std::collections::HashSet<_> = a.iter().map(|g| &g.sample.answer).collect();
    assert_eq!(answers.len(), 6, "different tasks along the stream");
    for g in &a {
        let ds = g.sample.datasource.as_deref().unwrap();
        assert!(ds.starts_with("football/level"), "{ds}");
        assert_eq!(g.sample.id, format!("football-{}", g.sample.answer));
        assert_eq!(g.sample.question_text(), "Score a goal.");
    }
}

#[test]
fn frames_have_the_promised_sizes() {
    let st = Scenario::three_vs_one_with_keeper().initial_state(0);
    for (style, w, h) in [
        (FrameStyle::default(), 224, 112),
        (FrameStyle::scaled(2), 448, 224),
        (FrameStyle::scaled(5), 1120, 560),
    ] {
        let p = render(&st, &style);
        assert_eq!((p.width, p.height), (w, h));
        assert_eq!(p.rgb.len(), (w * h * 3) as usize);
        assert_eq!((w % 28, h % 28), (0, 0));
    }
    let mut rng = SplitMix64::new(1);
    let cfg = FootballTaskConfig::default();
    let g = generate(&cfg, &mut rng);
    let p = picture_of(&g.sample.messages[0]);
    assert_eq!((p.width, p.height), (224, 112));
}

/// States along random play in every scenario.
fn states() -> Vec<State> {
    let mut out = Vec::new();
    let mut rng = SplitMix64::new(11);
    for name in Scenario::NAMES {
        let mut env = Env::new(Scenario::from_name(name).unwrap());
        env.reset(rng.below(1000));
        out.push(*env.state());
        for _ in 0..40 {
            let a = Action::MAGEBENCH[rng.below(8) as usize];
            if env.step(a).unwrap().done {
                break;
            }
            if rng.below(8) == 0 {
                out.push(*env.state());
            }
        }
        out.push(*env.state());
    }
    out
}

#[test]
fn the_frame_shows_players_and_ball_where_the_state_says() {
    for style in [FrameStyle::default(), FrameStyle::scaled(3)] {
        let r = style.player_radius();
        let br = style.ball_radius();
        // The pitch corners are on the white outline.
        let pic0 = render(&Scenario::empty_goal().initial_state(0), &style);
        for (x, y) in [(-1.0, -0.42), (1.0, 0.42), (0.0, -0.3), (-1.0, 0.2)] {
            let (px, py) = style.to_pixel(Vec2::new(x, y));
            let (px, py) = (px.floor() as i32, py.floor() as i32);
            assert_eq!(rgb(&pic0, px, py), Some(football::LINE), "({x}, {y})");
        }
        for st in states() {
            let pic = render(&st, &style);
            let at = |p: Vec2| {
                let (x, y) = style.to_pixel(p);
                (x.floor() as i32, y.floor() as i32)
            };
            let ball = at(st.ball.pos);
            // The ball is drawn last: its centre pixel is always the ball.
            assert_eq!(rgb(&pic, ball.0, ball.1), Some(BALL));
            let near = |a: (i32, i32), b: (i32, i32), d: i32| {
                (a.0 - b.0).pow(2) + (a.1 - b.1).pow(2) <= d * d
            };
            let left: Vec<_> = st.left.players().iter().map(|p| at(p.pos)).collect();
            let right: Vec<_> = st.right.players().iter().map(|p| at(p.pos)).collect();
            let controlled = left[st.active];
            // A player's centre shows its colour unless something drawn later covers it.
            for &c in &right {
                let covered = near(c, ball, br + 1)
                    || left.iter().any(|&l| near(c, l, r + 1))
                    || near(c, controlled, r + 2);
                if !covered {
                    assert_eq!(rgb(&pic, c.0, c.1), Some(RIGHT_TEAM));
                }
            }
            for (i, &c) in left.iter().enumerate() {
                if i != st.active && !near(c, ball, br + 1) && !near(c, controlled, r + 1) {
                    assert_eq!(rgb(&pic, c.0, c.1), Some(LEFT_TEAM));
                }
            }
            // The controlled player's yellow shows around the ball.
            let mut yellow = 0;
            for dy in -r - 1..=r + 1 {
                for dx in -r - 1..=r + 1 {
                    yellow += usize::from(
                        rgb(&pic, controlled.0 + dx, controlled.1 + dy) == Some(CONTROLLED),
                    );
                }
            }
            assert!(yellow >= 4, "{yellow} yellow pixels");
            // No team colour, yellow or ball edge away from the things of that colour.
            for y in 0..pic.height as i32 {
                for x in 0..pic.width as i32 {
                    let c = rgb(&pic, x, y).unwrap();
                    let ok = if c == RIGHT_TEAM {
                        right.iter().any(|&p| near((x, y), p, r + 1))
                    } else if c == LEFT_TEAM {
                        left.iter().any(|&p| near((x, y), p, r + 1))
                    } else if c == CONTROLLED {
                        near((x, y), controlled, r + 2)
                    } else if c == BALL_EDGE {
                        near((x, y), ball, br + 2)
                    } else {
                        true
                    };
                    assert!(ok, "stray {c:?} at ({x}, {y})");
                }
            }
        }
    }
}

#[test]
fn answers_read_back_into_tasks() {
    let mut rng = SplitMix64::new(3);
    let cfg = FootballTaskConfig::default();
    for _ in 0..10 {
        let g = generate(&cfg, &mut rng);
        let t = parse_task(&g.sample.answer).unwrap();
        assert_eq!(football::task_answer(&t), g.sample.answer);
        let level = football::scenario_level(t.scenario.name());
        assert_eq!(
            g.sample.datasource.as_deref(),
            Some(format!("football/level{level}").as_str())
        );
    }
    for bad in [
        "",
        ":",
        "academy_empty_goal",
        "nope:1",
        "academy_empty_goal:-1",
        "x:y:z",
    ] {
        assert!(parse_task(bad).is_none(), "{bad:?}");
    }
}

/// Plays `actions` as MageBench turns and returns the accumulated reward and goal.
fn replay(task: &FootballTask, actions: &[Action]) -> (f64, bool) {
    let mut env = Env::new(task.scenario.clone());
    env.reset(task.seed);
    let mut turns = TurnPlayer::new();
    for &a in actions {
        if turns.play(&mut env, a).unwrap().done {
            break;
        }
    }
    (env.accumulated(), env.state().score[0] > 0)
}

#[test]
fn demonstrations_score_goals_and_slips_lose_them() {
    let cfg = FootballTaskConfig::default();
    let mut rng = SplitMix64::new(2024);
    let n = 300;
    let (mut goals, mut slipped_goals, mut demo_sum, mut slip_sum) = (0, 0, 0.0, 0.0);
    for i in 0..n {
        let g = generate(&cfg, &mut rng);
        let task = parse_task(&g.sample.answer).unwrap();
        let d = score(&g.demonstration, &task);
        let s = score(&g.slipped, &task);
        assert_eq!(d.component("format"), Some(1.0), "{}", g.demonstration);
        assert_eq!(s.component("format"), Some(1.0), "{}", g.slipped);
        // The same worked steps; the slip is the dropped final shot.
        let plan = parse_plan(&g.demonstration).unwrap();
        assert_eq!(plan.last(), Some(&Action::Shot));
        assert!(plan.len() <= cfg.max_actions);
        assert_eq!(parse_plan(&g.slipped).unwrap(), plan[..plan.len() - 1]);
        assert_eq!(
            g.demonstration.split("<answer>").next(),
            g.slipped.split("<answer>").next()
        );
        if i < 20 {
            // The score is 0.5 + MageBench's reward of the plan / 20 (independent replay).
            let (r, goal) = replay(&task, &plan);
            assert!((d.total - (0.5 + r / 20.0)).abs() < 1e-9);
            assert_eq!(d.component("solved"), Some(f64::from(u8::from(goal))));
        }
        goals += d.component("solved").unwrap() as u32;
        slipped_goals += s.component("solved").unwrap() as u32;
        demo_sum += d.total;
        slip_sum += s.total;
        assert_eq!(
            FootballPlanReward.score(&g.demonstration, &g.sample.answer),
            d
        );
    }
    let rate = f64::from(goals) / f64::from(n);
    // Measured: 0.94 (seed 2024); per scenario (100 seeds each) 0.77 (run to score with keeper) to 1.0.
    assert!(rate >= 0.9, "demonstration goal rate {rate}");
    assert!(slipped_goals <= n / 20, "slipped goals {slipped_goals}");
    let (dm, sm) = (demo_sum / f64::from(n), slip_sum / f64::from(n));
    assert!(dm > sm + 1.5, "demonstration mean {dm}, slipped mean {sm}");
}

#[test]
fn the_score_follows_the_format_rule() {
    let task = parse_task("academy_empty_goal_close:0").unwrap();
    let good = "<think>go</think><answer>action_right, action_right, action_shot</answer>";
    let s = score(good, &task);
    assert_eq!(s.component("format"), Some(1.0));
    assert_eq!(s.component("solved"), Some(1.0));
    let raw = FootballReward::default()
        .score("action_right action_right action_shot", &task)
        .total;
    assert!((s.total - (0.5 + raw / 20.0)).abs() < 1e-12);
    // Surrounding whitespace is stripped, case is ignored.
    let shouted = "\n<think>go</think><answer>ACTION_RIGHT,Action_Right , action_SHOT</answer>  ";
    assert_eq!(score(shouted, &task), s);
    for bad in [
        "<think>go</think> <answer>action_right</answer>",
        "<answer>action_right, action_shot</answer>",
        "<think>go</think><answer>action_right, shoot</answer>",
        "<think>go</think><answer>action_right action_shot</answer>",
        "<think>go</think><answer>action_idle</answer>",
        "<think>go</think><answer></answer>",
        "<think>go</think><answer>action_right,</answer>",
    ] {
        let s = score(bad, &task);
        assert_eq!(s.total, 0.0, "{bad:?}");
        assert_eq!(s.component("format"), Some(0.0), "{bad:?}");
    }
    // Only the first MAX_PLAN_ACTIONS actions are played.
    let long: Vec<Action> = [Action::Sprint, Action::ReleaseSprint]
        .repeat(football::MAX_PLAN_ACTIONS)
        .to_vec();
    let s = score(&football::response("", &long), &task);
    assert_eq!(
        s.component("actions"),
        Some(football::MAX_PLAN_ACTIONS as f64)
    );
}

#[test]
fn a_teacher_driven_episode_earns_the_plan_reward() {
    let cfg = FootballTaskConfig::default();
    let mut rng = SplitMix64::new(77);
    let n = 14;
    let mut goals = 0;
    for _ in 0..n {
        let mut ep = FootballEpisode::sample(&cfg, &mut rng);
        let mut actions = Vec::new();
        let mut sum = 0.0;
        for _ in 0..60 {
            let Some(r) = ep.teacher() else { break };
            actions.push(football::parse_turn(&r).unwrap());
            let o = ep.step(&r);
            sum += o.reward;
            if o.done {
                break;
            }
        }
        assert!(ep.teacher().is_none(), "the episode ended");
        let s = ep.score();
        let plan = FootballReward::default().score(
            &format!(
                "<answer>{}</answer>",
                actions
                    .iter()
                    .map(|a| a.name())
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            ep.task(),
        );
        // Same turns, same seed: the same MageBench reward (increments summed vs accumulated).
        assert!((s.total - plan.total / 20.0).abs() < 1e-9, "{s:?} {plan:?}");
        assert!((s.total - sum).abs() < 1e-12);
        assert_eq!(s.component("solved"), plan.component("goal"));
        assert_eq!(s.component("format"), Some(1.0));
        assert_eq!(s.component("turns"), Some(actions.len() as f64));
        goals += s.component("solved").unwrap() as u32;
    }
    // Measured: 14/14 (seed 77).
    assert!(goals >= n * 4 / 5, "teacher goals {goals}/{n}");
}

#[test]
fn a_badly_formatted_turn_ends_the_episode_with_zero() {
    let cfg = FootballTaskConfig::default();
    let task = parse_task("academy_3_vs_1_with_keeper:9").unwrap();
    let mut ep = FootballEpisode::new(task.clone(), &cfg);
    let o = ep.step("action_right");
    assert_eq!((o.reward, o.done), (0.0, true));
    let s = ep.score();
    assert_eq!(s.total, 0.0);
    assert_eq!(s.component("format"), Some(0.0));
    assert_eq!(s.component("turns"), Some(1.0));
    assert!(
        ep.step("<think>a</think><answer>action_right</answer>")
            .done
    );
    assert_eq!(ep.score().component("turns"), Some(1.0));
    // Good turns, then two actions in one answer: the earlier return stays, the turn is 0.
    let mut ep = FootballEpisode::new(task, &cfg);
    let mut ret = 0.0;
    for _ in 0..3 {
        let o = ep.step("<think>a</think><answer>action_top_right</answer>");
        assert!(!o.done);
        ret += o.reward;
    }
    let o = ep.step("<think>a</think><answer>action_right, action_shot</answer>");
    assert_eq!((o.reward, o.done), (0.0, true));
    assert_eq!(ep.score().total, ret);
    assert_eq!(ep.score().component("format"), Some(0.75));
    // The observation is the current frame and a short text.
    let obs = ep.observation();
    assert_eq!(obs.role, "user");
    assert_eq!(obs.text_content(), "Next action?");
    assert_eq!(picture_of(&obs), render(ep.env().state(), &cfg.frame));
}

#[test]
fn random_strings_never_panic() {
    let mut rng = SplitMix64::new(9);
    let pieces = [
        "<think>",
        "</think>",
        "<answer>",
        "</answer>",
        "action_right",
        "action_shot",
        ",",
        " ",
        "action_",
        "é",
        "\n",
        "ACTION_TOP",
        "action_sliding",
        ":",
        "7",
        "academy_empty_goal",
    ];
    let task = parse_task("academy_run_to_score:1").unwrap();
    let cfg = FootballTaskConfig::default();
    let mut ep = FootballEpisode::new(task.clone(), &cfg);
    for _ in 0..2000 {
        let n = rng.below(12);
        let mut s = String::new();
        for _ in 0..n {
            if rng.below(4) == 0 {
                s.push(char::from_u32(rng.below(0x3000) as u32).unwrap_or('x'));
            } else {
                s.push_str(pieces[rng.below(pieces.len() as u64) as usize]);
            }
        }
        let sc = score(&s, &task);
        assert!(sc.total.is_finite());
        if parse_plan(&s).is_none() {
            assert_eq!(sc.total, 0.0);
        }
        let _ = parse_task(&s);
        let _ = FootballPlanReward.score(&s, &s);
        let o = ep.step(&s);
        assert!(o.reward.is_finite());
        if o.done {
            ep = FootballEpisode::new(task.clone(), &cfg);
        }
    }
}
