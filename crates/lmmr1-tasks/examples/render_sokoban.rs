//! Writes a few Sokoban tasks as PNGs plus a jsonl describing them, for a person to look at.
//!
//! ```text
//! cargo run -p lmmr1-tasks --example render_sokoban -- /tmp/sokoban
//! ```
//!
//! Per difficulty level 1–3, four tasks: `level{d}_{i}.png` (28-px cells, the tiny model's
//! default) and `level{d}_{i}_gym16.png` (gym's 16-px size); `tasks.jsonl` holds one row per
//! task: id, image, datasource, the level as XSB, the demonstration, the slipped response and
//! their scores. Also the first Microban level and an episode's frames driven by its teacher.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use lmmr1_rewards::sokoban::Level;
use lmmr1_tasks::rng::SplitMix64;
use lmmr1_tasks::sokoban::{self, EpisodeConfig, SokobanEpisode, SokobanTaskConfig};
use lmmr1_tasks::{Content, Episode};

fn main() -> anyhow::Result<()> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "sokoban_tasks".into()),
    );
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let jsonl = dir.join("tasks.jsonl");
    let mut out = std::fs::File::create(&jsonl).with_context(|| jsonl.display().to_string())?;
    let mut rng = SplitMix64::new(2025);
    for d in 1..=3u8 {
        let cfg = SokobanTaskConfig::level(d);
        for i in 0..4 {
            let task = sokoban::generate(&cfg, &mut rng)?;
            let level = Level::from_xsb(&task.sample.answer)?;
            let name = format!("level{d}_{i}");
            for part in task.sample.image_parts() {
                if let Content::Pixels(p) = part {
                    p.save_png(&dir.join(format!("{name}.png")))?;
                }
            }
            sokoban::render(&level, sokoban::GYM_TILE_PX)
                .save_png(&dir.join(format!("{name}_gym16.png")))?;
            let row = serde_json::json!({
                "id": task.sample.id,
                "image": format!("{name}.png"),
                "datasource": task.sample.datasource,
                "xsb": task.sample.answer,
                "demonstration": task.demonstration,
                "slipped": task.slipped,
                "demonstration_score": sokoban::score(&task.demonstration, &level).total,
                "slipped_score": sokoban::score(&task.slipped, &level).total,
            });
            writeln!(out, "{row}")?;
        }
    }
    let microban =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/sokoban/microban.sok");
    if let Ok(levels) = sokoban::load_collection(&microban) {
        if let Some(first) = levels.first() {
            let task =
                sokoban::from_collection_level(first, "microban-1", &SokobanTaskConfig::default())?;
            sokoban::render(&first.level, 28).save_png(&dir.join("microban_1.png"))?;
            println!("microban 1 teacher: {}", task.demonstration);
        }
    }
    // An episode driven by its teacher: one frame per turn.
    let planned = sokoban::generate_level(&SokobanTaskConfig::level(2), &mut rng)?;
    let mut episode = SokobanEpisode::new(planned.level, &EpisodeConfig::default());
    let mut turn = 0;
    while let Some(response) = episode.teacher() {
        sokoban::render(&episode.state(), 28)
            .save_png(&dir.join(format!("episode_{turn:02}.png")))?;
        let outcome = episode.step(&response);
        println!("turn {turn}: {response} -> reward {:.1}", outcome.reward);
        turn += 1;
        if outcome.done {
            break;
        }
    }
    sokoban::render(&episode.state(), 28).save_png(&dir.join(format!("episode_{turn:02}.png")))?;
    println!("episode score: {:?}", episode.score());
    println!("wrote {}", dir.display());
    Ok(())
}
