//! Writes a few generated visual-task items (PNG + one jsonl row each) so a person can look at
//! them: `cargo run -p lmmr1-tasks --example render_visual -- OUT_DIR [N_PER_LEVEL] [SCALE]`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use lmmr1_tasks::rng::SplitMix64;
use lmmr1_tasks::{geo_diagrams, perce, visual_math, Content, Generated};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let out = PathBuf::from(args.next().unwrap_or_else(|| "visual_samples".into()));
    let n: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(3);
    let scale: u32 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(1);
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let jsonl = out.join("samples.jsonl");
    let mut rows =
        std::fs::File::create(&jsonl).with_context(|| format!("creating {}", jsonl.display()))?;
    type Gen = Box<dyn Fn(u8, &mut SplitMix64) -> Generated>;
    let tasks: Vec<(&str, Gen)> = vec![
        (
            "geo",
            Box::new(move |l, r| geo_diagrams::generate_figure(l, scale, r).1),
        ),
        (
            "visual_math",
            Box::new(move |l, r| visual_math::generate_scaled(l, scale, r).1),
        ),
        (
            "perce",
            Box::new(move |l, r| perce::generate_scene(l, scale, r).1),
        ),
    ];
    for (name, generate) in &tasks {
        for level in 1..=3u8 {
            for i in 0..n {
                let g = generate(level, &mut SplitMix64::new(1000 * u64::from(level) + i));
                let file = format!("{name}-l{level}-{i}.png");
                for part in g.sample.messages.iter().flat_map(|t| &t.content) {
                    if let Content::Pixels(p) = part {
                        p.save_png(&out.join(&file))?;
                    }
                }
                let row = serde_json::json!({
                    "id": g.sample.id,
                    "image": file,
                    "question": g.sample.question_text(),
                    "answer": g.sample.answer,
                    "choices": g.sample.choices,
                    "datasource": g.sample.datasource,
                    "demonstration": g.demonstration,
                    "slipped": g.slipped,
                });
                writeln!(rows, "{row}")?;
            }
        }
    }
    println!("wrote {}", jsonl.display());
    Ok(())
}
