//! The geometry checker: the probes of `shared/docs/rewards-anchors.md` §4, choice letters,
//! GeoQA-style degrees and units, the decimal-gold tolerance, the reward layout, totality, and
//! agreement with Math-Verify 0.9.0 (`tests/fixtures/geo_math_verify.json`, written by
//! `tools/geo_verify_fixture.py`).

use lmmr1_rewards::geometry::{
    answer_span, choice_letter, geo_accuracy, geo_choice_equivalent, geo_equivalent, geo_reward,
    normalize_geo_answer, GeoReward, GeoTask,
};
use lmmr1_rewards::lmm_r1::MathReward;
use lmmr1_rewards::Reward;

fn yes(pred: &str, gold: &str) {
    assert!(
        geo_equivalent(pred, gold),
        "expected right: pred {pred:?} gold {gold:?}"
    );
}

fn no(pred: &str, gold: &str) {
    assert!(
        !geo_equivalent(pred, gold),
        "expected wrong: pred {pred:?} gold {gold:?}"
    );
}

fn choices(values: &[&str]) -> Vec<String> {
    values.iter().map(|s| s.to_string()).collect()
}

/// Every probe listed in §4, with the verdict the section asks for.
#[test]
fn section_4_probes() {
    yes("\\boxed{2\\sqrt{221}}", "2 \\sqrt { 221 }");
    yes("\\boxed{\\frac{40}{3}}", "\\frac { 40 } { 3 }");
    yes("$120^\\circ$", "120");
    yes("\\boxed{120^{\\circ}}", "120");
    yes("120 degrees", "120");
    yes("\\boxed{120°}", "120");
    yes("\\boxed{(B)}", "B");
    yes("B", "B");
    yes("4√3", "4\\sqrt{3}");
    yes("$4√3$", "4 \\sqrt { 3 }");
    // Decimal approximations of exact golds are wrong.
    no("29.73", "2\\sqrt{221}");
    no("\\boxed{29.73}", "2 \\sqrt { 221 }");
    no("37.7", "12 \\pi");
    no("\\boxed{37.70}", "12\\pi");
    // "Nearest tenth" gold: a prediction that rounds to it is right (the stated policy).
    yes("374.12", "374.1");
    yes("\\boxed{374.1}", "374.1");
}

#[test]
fn spaced_latex_golds() {
    yes("$12\\pi$", "12 \\pi");
    yes("\\boxed{12 \\pi}", "12 \\pi");
    yes("\\boxed{\\dfrac{40}{3}}", "\\frac { 40 } { 3 }");
    yes("\\boxed{\\frac{80}{6}}", "\\frac { 40 } { 3 }");
    yes("\\boxed{\\sqrt{884}}", "2 \\sqrt { 221 }");
    yes("\\boxed{3}", "3");
    yes("\\boxed{108.5}", "108.5");
    no("\\boxed{2\\sqrt{222}}", "2 \\sqrt { 221 }");
    no("\\boxed{\\frac{3}{40}}", "\\frac { 40 } { 3 }");
    no("\\boxed{6\\pi}", "12 \\pi");
    no("\\boxed{12}", "12 \\pi");
}

#[test]
fn exact_golds_accept_only_exact_decimals() {
    yes("0.5", "\\frac { 1 } { 2 }");
    yes("120.0", "120");
    yes("\\boxed{2.25}", "\\frac { 9 } { 4 }");
    no("13.333333", "\\frac { 40 } { 3 }");
    no("13.33", "\\frac { 40 } { 3 }");
    no("29.732137", "2 \\sqrt { 221 }");
    no("119.99", "120");
    no("3.14", "\\pi");
}

#[test]
fn decimal_gold_tolerance() {
    // |pred - gold| <= 0.5 * 10^-d, d = decimals written in the gold.
    yes("374.14", "374.1");
    yes("374.05", "374.1"); // a tie counts
    yes("374.15", "374.1");
    no("374.151", "374.1");
    no("374.049", "374.1");
    no("374.2", "374.1");
    no("374", "374.1");
    yes("37.7", "37.7");
    yes("12\\pi", "37.7"); // 37.699…: the exact value rounds to the gold
    yes("\\frac{75}{2}", "37.5");
    yes("2\\sqrt{221}", "29.7");
    no("2\\sqrt{221}", "29.8");
    // Two decimals in the gold: the tolerance is 0.005.
    yes("1.504", "1.50");
    no("1.51", "1.50");
    yes("-3.46", "-3.5");
    no("3.5", "-3.5");
}

#[test]
fn degrees_in_every_notation() {
    for pred in [
        "40",
        "40°",
        "40^\\circ",
        "40^{\\circ}",
        "40 ^ { \\circ }",
        "40\\degree",
        "40 degrees",
        "40 deg",
        "40度",
        "\\boxed{40^\\circ}",
        "$40°$",
        "\\boxed{40} degrees",
        "m\\angle ABC = 40°",
        "\\angle 1 = 40^\\circ",
        "The angle measures 40 degrees.",
    ] {
        yes(pred, "40°");
        yes(pred, "40");
        no(pred, "50°");
    }
    // R1-V's GeoQA answers: "29 degrees" for a bare gold.
    yes("29 degrees", "29");
    no("29 degrees", "30");
}

#[test]
fn radicals_and_units_in_geoqa_style() {
    for pred in [
        "2√{3}",
        "2√3",
        "2√(3)",
        "2√3cm",
        "2\\sqrt{3} cm",
        "2\\sqrt{3}\\text{ cm}",
        "$2\\sqrt{3}\\,\\mathrm{cm}$",
        "\\boxed{2\\sqrt{3}}",
        "\\sqrt{12}",
    ] {
        yes(pred, "2√{3}cm");
        yes(pred, "2 \\sqrt { 3 }");
        no(pred, "3√{2}cm");
    }
    yes("16 cm^2", "16");
    yes("16cm²", "16");
    yes("16 square units", "16");
    yes("16\\text{ units}^2", "16");
    yes("5米", "5");
    yes("5厘米", "5");
    yes("8π", "8\\pi");
    yes("8\\pi \\text{ cm}^2", "8 \\pi");
    no("8", "8 \\pi");
}

#[test]
fn normalization_forms() {
    assert_eq!(normalize_geo_answer("2 \\sqrt { 221 }"), "2\\sqrt{221}");
    assert_eq!(normalize_geo_answer("\\frac { 40 } { 3 }"), "\\frac{40}{3}");
    assert_eq!(normalize_geo_answer("12 \\pi"), "12\\pi");
    assert_eq!(normalize_geo_answer("120^\\circ"), "120");
    assert_eq!(normalize_geo_answer("120^{\\circ}"), "120");
    assert_eq!(normalize_geo_answer("120\\degree"), "120");
    assert_eq!(normalize_geo_answer("120 degrees"), "120");
    assert_eq!(normalize_geo_answer("40°"), "40");
    assert_eq!(normalize_geo_answer("2√{3}cm"), "2\\sqrt{3}");
    assert_eq!(normalize_geo_answer("4√3"), "4\\sqrt{3}");
    assert_eq!(normalize_geo_answer("√(2+x)"), "\\sqrt{2+x}");
    assert_eq!(normalize_geo_answer("3π"), "3\\pi");
    assert_eq!(normalize_geo_answer("$16\\text{ cm}^2$"), "16");
    assert_eq!(normalize_geo_answer("25 square units"), "25");
    assert_eq!(normalize_geo_answer("6 cm²"), "6");
    assert_eq!(normalize_geo_answer("\\pi r^2"), "\\pi r^2");
    // Not units: words that end in unit letters, and commands.
    assert_eq!(normalize_geo_answer("x \\in"), "x\\in");
    assert_eq!(normalize_geo_answer("\\sin"), "\\sin");
    assert_eq!(normalize_geo_answer("m"), "m");
}

#[test]
fn choice_letters_are_read_in_the_usual_forms() {
    for (s, letter) in [
        ("B", 'B'),
        ("(B)", 'B'),
        ("B.", 'B'),
        ("B)", 'B'),
        ("B: 70", 'B'),
        ("(B) 70", 'B'),
        ("\\text{B}", 'B'),
        ("\\textbf{(C)}", 'C'),
        ("**D**", 'D'),
        ("Option A", 'A'),
        ("The answer is (C).", 'C'),
    ] {
        assert_eq!(choice_letter(s).map(|(l, _)| l), Some(letter), "{s:?}");
    }
    for s in ["A = 5", "AB", "b", "(b)", "70", "", "2√3", "Because"] {
        assert_eq!(choice_letter(s), None, "{s:?}");
    }
}

#[test]
fn multiple_choice_letters_and_values() {
    let c = choices(&["60", "70", "80", "90"]);
    for pred in [
        "B",
        "(B)",
        "B.",
        "\\boxed{B}",
        "\\boxed{(B)}",
        "B: 70",
        "$B$",
        "70",
        "70°",
        "\\boxed{70^\\circ}",
    ] {
        assert!(geo_choice_equivalent(pred, "B", &c), "{pred:?}");
        // The gold may be stored as the value instead (hiyouga/geometry3k's `answer`).
        assert!(geo_choice_equivalent(pred, "70", &c), "{pred:?}");
    }
    for pred in ["A", "(C)", "\\boxed{D}", "E", "60", "75", "C: 70", "A. 70"] {
        assert!(!geo_choice_equivalent(pred, "B", &c), "{pred:?}");
        assert!(!geo_choice_equivalent(pred, "70", &c), "{pred:?}");
    }
    // Geometry3K-style choice values.
    let c = choices(&[
        "2 \\sqrt { 221 }",
        "\\frac { 40 } { 3 }",
        "12 \\pi",
        "374.1",
    ]);
    assert!(geo_choice_equivalent("\\boxed{2\\sqrt{221}}", "A", &c));
    assert!(geo_choice_equivalent("\\frac{80}{6}", "B", &c));
    assert!(!geo_choice_equivalent("29.73", "A", &c));
    assert!(!geo_choice_equivalent("37.7", "C", &c));
    assert!(geo_choice_equivalent("374.12", "D", &c));
}

#[test]
fn a_wrong_letter_stays_wrong_when_values_coincide() {
    // Two choices with the same value: the letter decides, not the value.
    let c = choices(&["45", "45°", "60", "30"]);
    assert!(geo_choice_equivalent("A", "A", &c));
    assert!(!geo_choice_equivalent("B", "A", &c));
    assert!(!geo_choice_equivalent("\\boxed{B}", "A", &c));
    // The value alone is right.
    assert!(geo_choice_equivalent("45", "A", &c));
    // A choice close to the gold's value does not make its letter right.
    let c = choices(&["29.7", "2 \\sqrt { 221 }", "30", "31"]);
    assert!(!geo_choice_equivalent("A", "B", &c));
    assert!(geo_choice_equivalent("B", "B", &c));
}

#[test]
fn reward_layout_matches_lmm_r1() {
    let task = GeoTask::new("2 \\sqrt { 221 }");
    let right = "<think>d = 2√221</think><answer>$2\\sqrt{221}$</answer>";
    let s = GeoReward.score(right, &task);
    assert_eq!(s.total, 1.5);
    assert_eq!(s.component("format"), Some(0.5));
    assert_eq!(s.component("accuracy"), Some(1.0));
    assert_eq!(GeoReward.name(), "lmm_r1_geo");

    // The format part is LMM-R1's, so it agrees with `MathReward` on every response.
    let responses = [
        right,
        "<think>..</think> <answer>$2\\sqrt{221}$</answer>",
        "<think>..</think><answer>29.73</answer>",
        "<think>..</think><answer>B</answer><|im_end|>",
        "<answer>1</answer>",
        "no tags at all \\boxed{3}",
        "<think>a</think><think>b</think><answer>1</answer>",
    ];
    for r in responses {
        assert_eq!(
            GeoReward.score(r, &task).component("format"),
            MathReward.score(r, "2 \\sqrt { 221 }").component("format"),
            "{r:?}"
        );
    }

    // A bare number in `<answer>` counts here (LMM-R1's math reward needs LaTeX).
    let bare = "<think>..</think><answer>40</answer>";
    assert_eq!(GeoReward.score(bare, &GeoTask::new("40°")).total, 1.5);
    assert_eq!(
        MathReward.score(bare, "40").component("accuracy"),
        Some(0.0)
    );

    // Wrong answer, right format.
    let s = geo_reward(
        "<think>..</think><answer>\\boxed{29.73}</answer>",
        "2 \\sqrt { 221 }",
        &[],
    );
    assert_eq!((s.format, s.accuracy, s.total), (0.5, 0.0, 0.5));

    // Multiple choice through the trait.
    let task = GeoTask::with_choices("C", ["30", "45", "60", "75"]);
    let s = GeoReward.score("<think>..</think><answer>\\boxed{C}</answer>", &task);
    assert_eq!(s.component("accuracy"), Some(1.0));
    let s = GeoReward.score("<think>..</think><answer>60°</answer>", &task);
    assert_eq!(s.component("accuracy"), Some(1.0));
    let s = GeoReward.score("<think>..</think><answer>(B)</answer>", &task);
    assert_eq!(s.component("accuracy"), Some(0.0));
}

#[test]
fn the_answer_part_decides() {
    // The last `<answer>` part, its last box; numbers in the reasoning do not count.
    let r = "<think>maybe 30, or \\boxed{30}</think><answer>The angle is $40^\\circ$.</answer>";
    assert_eq!(geo_accuracy(r, "40", &[]), 1.0);
    assert_eq!(geo_accuracy(r, "30", &[]), 0.0);
    let r = "<think>..</think><answer>so $x = 3$, hence \\boxed{12}</answer>";
    assert_eq!(geo_accuracy(r, "12", &[]), 1.0);
    assert_eq!(
        answer_span("<answer>a</answer><answer>b</answer>"),
        Some("b")
    );
    assert_eq!(answer_span("<answer>unclosed 5"), Some("unclosed 5"));
    // Without an `<answer>` tag only a box or anchored LaTeX counts, as in LMM-R1.
    assert_eq!(geo_accuracy("so it is \\boxed{40°}", "40", &[]), 1.0);
    assert_eq!(geo_accuracy("so it is 40", "40", &[]), 0.0);
    assert_eq!(
        geo_accuracy("the answer is $2\\sqrt{3}$", "2√{3}cm", &[]),
        1.0
    );
    // An empty answer is wrong.
    assert_eq!(
        geo_accuracy("<think>40</think><answer></answer>", "40", &[]),
        0.0
    );
}

#[test]
fn unparsable_golds_need_the_same_text() {
    // No free accuracy for a gold the parser cannot read (LMM-R1 gives 1.0 there).
    assert!(lmmr1_rewards::math::parse_latex("\\triangle ABC").is_none());
    yes("\\boxed{\\triangle ABC}", "\\triangle ABC");
    yes("$\\triangle ABC$", "\\triangle   ABC");
    no("\\boxed{5}", "\\triangle ABC");
    no("\\boxed{\\triangle ABD}", "\\triangle ABC");
    no("", "");
}

/// A small deterministic generator (SplitMix64) for the totality test.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

#[test]
fn never_panics_on_odd_input() {
    let pieces = [
        "\\boxed{",
        "}",
        "{",
        "$",
        "$$",
        "\\(",
        "\\)",
        "√",
        "√(",
        "√{",
        "°",
        "π",
        "^\\circ",
        "^{",
        "\\circ",
        "\\degree",
        "cm",
        "m",
        "²",
        "\\text{",
        "\\frac",
        "(",
        ")",
        "B",
        "(B",
        "B:",
        "<answer>",
        "</answer>",
        "<think>",
        "</think>",
        "=",
        "\\approx",
        "≈",
        "1",
        "2.5",
        ".",
        " ",
        "\\",
        "é",
        "度",
        "厘米",
        "🙂",
        "\u{0}",
        "\u{301}",
        "İ",
        "ẞ",
        "\\sqrt",
        "units",
        "^2",
        "-",
        "−",
        "e",
        "E",
        "\\infty",
        "/",
        "%",
    ];
    let mut rng = Rng(7);
    let golds = ["2 \\sqrt { 221 }", "40°", "B", "374.1", "", "√", "\\frac {"];
    let c = choices(&["1", "√", "(A)", ""]);
    for i in 0..3000 {
        let n = (rng.next() % 12) as usize;
        let mut s = String::new();
        for _ in 0..n {
            s.push_str(pieces[(rng.next() % pieces.len() as u64) as usize]);
        }
        let gold = golds[i % golds.len()];
        let _ = normalize_geo_answer(&s);
        let _ = choice_letter(&s);
        let _ = geo_equivalent(&s, gold);
        let _ = geo_equivalent(gold, &s);
        let _ = geo_choice_equivalent(&s, "A", &c);
        let _ = geo_choice_equivalent(&s, &s, &c);
        let _ = geo_reward(&s, gold, &c);
    }
    // Random bytes, read lossily, and long inputs.
    for _ in 0..500 {
        let n = (rng.next() % 64) as usize;
        let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
        let s = String::from_utf8_lossy(&bytes);
        let _ = geo_equivalent(&s, "40°");
        let _ = geo_choice_equivalent(&s, &s, &c);
    }
    for piece in ["√", "^2", "cm", "\\circ", "{", "°", "\\text{cm}", "(B)"] {
        let long = piece.repeat(20_000);
        let _ = normalize_geo_answer(&long);
        let _ = geo_equivalent(&long, "40");
        let _ = geo_reward(&format!("<answer>{long}</answer>"), &long, &c);
    }
}

#[derive(serde::Deserialize)]
struct MathVerifyFixture {
    math_verify: String,
    cases: Vec<MathVerifyCase>,
}

#[derive(serde::Deserialize)]
struct MathVerifyCase {
    id: usize,
    pred: String,
    gold: String,
    choices: Option<Vec<String>>,
    math_verify: bool,
    differs: Option<String>,
}

/// Agreement with Math-Verify 0.9.0 (gold wrapped as `$gold$`, LMM-R1's and R1-V's use) on
/// every case where its semantics are the intended ones, and the opposite verdict exactly on
/// the cases the fixture lists as deliberate differences.
#[test]
fn agrees_with_math_verify_except_where_documented() {
    let fixture: MathVerifyFixture =
        serde_json::from_str(include_str!("fixtures/geo_math_verify.json")).unwrap();
    assert_eq!(fixture.math_verify, "0.9.0");
    assert!(fixture.cases.len() >= 40);
    let mut differences = 0;
    for case in &fixture.cases {
        let ours = match &case.choices {
            Some(c) => geo_choice_equivalent(&case.pred, &case.gold, c),
            None => geo_equivalent(&case.pred, &case.gold),
        };
        match &case.differs {
            None => assert_eq!(
                ours, case.math_verify,
                "case {}: pred {:?} gold {:?} should agree with Math-Verify",
                case.id, case.pred, case.gold
            ),
            Some(reason) => {
                differences += 1;
                assert_ne!(
                    ours, case.math_verify,
                    "case {}: pred {:?} gold {:?} is listed as a deliberate difference ({reason})",
                    case.id, case.pred, case.gold
                );
            }
        }
    }
    assert!(differences > 0 && differences < fixture.cases.len() / 2);
}
