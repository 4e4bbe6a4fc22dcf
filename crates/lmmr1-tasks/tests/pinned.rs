//! Generated problems and their rewards are pinned: a digest of the first problems of every
//! task family (question, gold, choices, pixels, the teacher's and the noisy teacher's
//! responses) and of the rewards of those responses. A refactor of the generators, the shared
//! RNG or the reward helpers must leave every digest unchanged.

use lmmr1_tasks::rng::SplitMix64;
use lmmr1_tasks::{Content, TaskKind};

/// FNV-1a over everything that was generated and scored.
struct Digest(u64);

impl Digest {
    fn bytes(&mut self, b: &[u8]) {
        for &x in b.iter().chain(&[0xFF]) {
            self.0 = (self.0 ^ u64::from(x)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn f64(&mut self, v: f64) {
        self.bytes(&v.to_bits().to_le_bytes());
    }
}

fn digest(kind: TaskKind) -> u64 {
    let mut d = Digest(0xcbf2_9ce4_8422_2325);
    for level in [1u8, 2, 3] {
        let mut rng = SplitMix64::new(0x5EED ^ u64::from(level));
        for _ in 0..6 {
            let g = kind.generate(level, &mut rng).unwrap();
            let s = &g.sample;
            d.bytes(s.question_text().as_bytes());
            d.bytes(s.answer.as_bytes());
            for c in &s.choices {
                d.bytes(c.as_bytes());
            }
            for part in s.image_parts() {
                if let Content::Pixels(p) = part {
                    d.bytes(&p.width.to_le_bytes());
                    d.bytes(&p.height.to_le_bytes());
                    d.bytes(&p.rgb);
                }
            }
            let others = [
                "<think>a</think><answer>\\boxed{\\frac{1}{2}}</answer>",
                "<think>a</think><answer>30°</answer>",
                "<think>a</think><answer>$2\\sqrt{3}$ cm</answer>",
                "<think>a</think><answer>\\text{(B)} 45^{\\circ}</answer>",
                "<think>a</think><answer>12 units</answer>",
                "the answer is \\boxed{12}",
            ];
            let others = others.map(str::to_string);
            for response in [&g.demonstration, &g.slipped].into_iter().chain(&others) {
                d.bytes(response.as_bytes());
                let score = kind.score(s, response);
                d.f64(score.total);
                for (name, v) in &score.components {
                    d.bytes(name.as_bytes());
                    d.f64(*v);
                }
            }
        }
    }
    d.0
}

#[test]
fn generated_problems_and_rewards_are_pinned() {
    let got: Vec<(&str, String)> = TaskKind::ALL
        .iter()
        .map(|&k| (k.name(), format!("{:016x}", digest(k))))
        .collect();
    let want = [
        ("arith", "38cec60c1a8860ac"),
        ("visual_math", "fe6f0b00bcb62121"),
        ("geo", "2aeaaffd24203427"),
        ("perce_reason", "f58a4e5025825875"),
        ("sokoban", "84ee21e187a9facc"),
        ("football", "2638250d87351d45"),
    ];
    let want: Vec<(&str, String)> = want.iter().map(|(k, v)| (*k, v.to_string())).collect();
    assert_eq!(got, want);
}
