//! Writes a few football tasks (first frames as PNG, prompts and teacher responses as jsonl) and
//! the frames of one teacher-driven episode, for a person to look at.
//!
//! `cargo run -p lmmr1-tasks --example render_football -- [out_dir] [scale]`

use std::io::Write;

use anyhow::Context;
use lmmr1_tasks::football::{
    generate, parse_task, score, FootballEpisode, FootballTaskConfig, FrameStyle,
};
use lmmr1_tasks::rng::SplitMix64;
use lmmr1_tasks::{Content, Episode};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let out = std::path::PathBuf::from(args.next().unwrap_or_else(|| "football_frames".into()));
    let scale: u32 = args.next().map_or(Ok(1), |s| s.parse()).context("scale")?;
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let cfg = FootballTaskConfig {
        frame: FrameStyle::scaled(scale),
        ..FootballTaskConfig::default()
    };
    let mut rng = SplitMix64::new(7);
    let jsonl_path = out.join("tasks.jsonl");
    let mut jsonl = std::fs::File::create(&jsonl_path)
        .with_context(|| format!("creating {}", jsonl_path.display()))?;
    for i in 0..8 {
        let g = generate(&cfg, &mut rng);
        let png = format!("task{i}.png");
        for part in g.sample.messages.iter().flat_map(|t| &t.content) {
            if let Content::Pixels(p) = part {
                p.save_png(&out.join(&png))?;
            }
        }
        let task = parse_task(&g.sample.answer).context("gold answer")?;
        let row = serde_json::json!({
            "id": g.sample.id,
            "image": png,
            "question": g.sample.question_text(),
            "answer": g.sample.answer,
            "datasource": g.sample.datasource,
            "demonstration": g.demonstration,
            "demonstration_score": score(&g.demonstration, &task).total,
            "slipped": g.slipped,
            "slipped_score": score(&g.slipped, &task).total,
        });
        writeln!(jsonl, "{row}")?;
    }
    // One episode of the 3 vs 1 drill driven by the teacher, a frame per turn.
    let mut ep = FootballEpisode::new(
        parse_task("academy_3_vs_1_with_keeper:3").context("task")?,
        &cfg,
    );
    for turn in 0..30 {
        for part in &ep.observation().content {
            if let Content::Pixels(p) = part {
                p.save_png(&out.join(format!("episode_turn{turn:02}.png")))?;
            }
        }
        let Some(r) = ep.teacher() else { break };
        let o = ep.step(&r);
        println!("turn {turn}: {r} -> reward {:.3}", o.reward);
        if o.done {
            break;
        }
    }
    println!("episode score {:?}", ep.score());
    println!("wrote {}", out.display());
    Ok(())
}
