//! jsonl loading (LMM-R1 and plain rows, images, bad rows) and seeded splits.

use std::path::{Path, PathBuf};

use lmmr1_tasks::{prompts, BadRows, Content, Dataset, Error};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn fixture_dir() -> PathBuf {
    fixture("")
}

fn load(name: &str) -> Dataset {
    Dataset::from_jsonl(&fixture(name), BadRows::Error).unwrap()
}

/// Writes `text` to a fresh file under the test tmp dir and returns its path.
fn temp_jsonl(name: &str, text: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("lmmr1-tasks-datasets");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn lmm_r1_rows_with_message_as_a_json_string() {
    let d = load("lmm_r1_string.jsonl");
    assert_eq!((d.len(), d.skipped), (3, 0));
    assert!(d.source.ends_with("lmm_r1_string.jsonl"));

    let s = &d.samples[0];
    assert_eq!(s.messages.len(), 2);
    assert_eq!(s.messages[0].role, "system");
    assert_eq!(s.messages[1].role, "user");
    // `file:///abs` → `/abs`; item order kept (image, then text).
    assert_eq!(
        s.messages[1].content,
        vec![
            Content::Image(PathBuf::from("/data/geo/q1.png")),
            Content::Text("Find the area of the triangle.".into())
        ]
    );
    assert_eq!(s.answer, "$12$");
    assert_eq!(s.datasource.as_deref(), Some("geo3k"));
    assert_eq!(s.question_text(), "Find the area of the triangle.");
    assert!(s.id.ends_with("lmm_r1_string.jsonl:1"), "{}", s.id);

    // `file://imgs/…` is relative: resolved against the jsonl file's directory.
    assert_eq!(
        d.samples[1].images(),
        vec![fixture_dir().join("imgs/boxes.png").as_path()]
    );
    assert_eq!(d.samples[1].answer, "$\\boxed{3}$");

    // Sokoban-style row: empty answer, real newline in the system turn kept.
    let s = &d.samples[2];
    assert_eq!(s.answer, "");
    assert_eq!(s.datasource, None);
    assert!(s.messages[0].text_content().contains("Sokoban. \nGenerate"));
    assert_eq!(
        s.images(),
        vec![fixture_dir().join("path/to/level_65.png").as_path()]
    );
}

#[test]
fn lmm_r1_rows_with_message_as_a_list_of_turns() {
    let d = load("lmm_r1_list.jsonl");
    assert_eq!(d.len(), 2);
    let s = &d.samples[0];
    assert_eq!(s.id, "list-1");
    assert_eq!(s.messages.len(), 1);
    assert_eq!(
        s.messages[0].content,
        vec![Content::Text("What is 6*7?".into())]
    );
    assert_eq!(s.answer, "42");

    // Items without `type` are typed by their key; a path without `file://` is resolved too.
    let s = &d.samples[1];
    assert_eq!(s.messages[0].role, "system");
    assert_eq!(
        s.messages[1].content,
        vec![
            Content::Image(fixture_dir().join("charts/c.png")),
            Content::Text("Which bar is tallest? ".into()),
            Content::Text("Answer with a letter.".into()),
        ]
    );
    assert_eq!(
        s.question_text(),
        "Which bar is tallest? Answer with a letter."
    );
    assert_eq!(s.datasource.as_deref(), Some("chart"));
}

#[test]
fn plain_rows_problem_or_question_with_optional_images() {
    let d = load("plain.jsonl");
    assert_eq!(
        (d.len(), d.skipped),
        (4, 0),
        "the blank line is neither a row nor skipped"
    );

    let s = &d.samples[0];
    assert_eq!(s.id, "test/algebra/1.json");
    assert_eq!(s.messages.len(), 1);
    assert_eq!(s.messages[0].role, "user");
    assert_eq!(s.question_text(), "What is $1+1$?");
    assert!(s.images().is_empty());

    // `question` instead of `problem`; a numeric answer becomes its decimal text.
    let s = &d.samples[1];
    assert_eq!(
        s.question_text(),
        "Janet has 3 eggs and buys 4. How many eggs?"
    );
    assert_eq!(s.answer, "7");
    assert!(
        s.id.ends_with("plain.jsonl:3"),
        "line numbers count blank lines: {}",
        s.id
    );

    // One image (file://, relative), placed before the text.
    let s = &d.samples[2];
    assert_eq!(
        s.messages[0].content,
        vec![
            Content::Image(fixture_dir().join("imgs/shade.png")),
            Content::Text("What is the shaded area?".into())
        ]
    );
    assert_eq!(s.answer, "\\frac{\\pi}{2}");
    assert_eq!(s.datasource.as_deref(), Some("math_asy"));

    // A list of images: relative and absolute.
    let s = &d.samples[3];
    assert_eq!(
        s.images(),
        vec![
            fixture_dir().join("a.png").as_path(),
            Path::new("/abs/b.png")
        ]
    );
}

#[test]
fn a_bad_row_is_an_error_naming_file_line_and_field() {
    let err = Dataset::from_jsonl(&fixture("bad_rows.jsonl"), BadRows::Error).unwrap_err();
    match &err {
        Error::Row { path, line, .. } => {
            assert_eq!(
                (path.as_path(), *line),
                (fixture("bad_rows.jsonl").as_path(), 2)
            );
        }
        other => panic!("expected a row error, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(msg.contains("bad_rows.jsonl:2: not valid JSON"), "{msg}");

    // Each kind of bad row, alone in a file: (row, expected `line: field` text).
    let cases = [
        (r#"{"problem": "3+3?"}"#, "field `answer`: missing"),
        (r#"{"answer": "1"}"#, "field `message`: missing"),
        (
            r#"{"problem": 7, "answer": "1"}"#,
            "field `problem`: expected a string, got a number",
        ),
        (
            r#"{"question": "q", "answer": null}"#,
            "field `answer`: expected a string or number, got null",
        ),
        (
            r#"{"question": "q", "answer": "1", "datasource": 3}"#,
            "field `datasource`",
        ),
        (
            r#"{"question": "q", "answer": "1", "image": [1]}"#,
            "field `image[0]`",
        ),
        (
            r#"{"question": "q", "answer": "1", "image": ""}"#,
            "field `image`: empty image path",
        ),
        (
            r#"{"message": "not json", "answer": "1"}"#,
            "field `message`: string is not JSON",
        ),
        (
            r#"{"message": [], "answer": "1"}"#,
            "field `message`: no turns",
        ),
        (
            r#"{"message": {"role": "user"}, "answer": "1"}"#,
            "field `message`: expected a list of turns",
        ),
        (
            r#"{"message": [{"content": "hi"}], "answer": "1"}"#,
            "field `message[0].role`: missing",
        ),
        (
            r#"{"message": [{"role": "user"}], "answer": "1"}"#,
            "field `message[0].content`: missing",
        ),
        (
            r#"{"message": [{"role": "system", "content": "s"}, {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "image", "image": "https://x.org/a.png"}]}], "answer": "1"}"#,
            "field `message[1].content[1].image`: only local image files",
        ),
        (
            r#"{"message": "[{\"role\": \"user\", \"content\": [{\"type\": \"video\", \"video\": \"v.mp4\"}]}]", "answer": "1"}"#,
            "field `message[0].content[0].type`: unsupported content type `video`",
        ),
        (
            r#"{"message": [{"role": "user", "content": [{"type": "text", "text": 5}]}], "answer": "1"}"#,
            "field `message[0].content[0].text`: expected a string, got a number",
        ),
        (r#"["a"]"#, "expected a JSON object"),
    ];
    for (i, (row, expected)) in cases.iter().enumerate() {
        let name = format!("bad_{i}.jsonl");
        // The bad row is on line 2, after a good one.
        let path = temp_jsonl(
            &name,
            &format!("{{\"problem\": \"ok\", \"answer\": \"1\"}}\n{row}\n"),
        );
        let msg = Dataset::from_jsonl(&path, BadRows::Error)
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains(&format!("{name}:2: {expected}")),
            "row {row}\n  got: {msg}\n  expected to contain: {name}:2: {expected}"
        );
    }

    // Invalid UTF-8 names its line too.
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("lmmr1-tasks-datasets/utf8.jsonl");
    std::fs::write(
        &path,
        b"{\"problem\": \"ok\", \"answer\": \"1\"}\n\xff\xfe\n",
    )
    .unwrap();
    let msg = Dataset::from_jsonl(&path, BadRows::Error)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("utf8.jsonl:2: not UTF-8"), "{msg}");
}

#[test]
fn skip_mode_counts_bad_rows_and_keeps_the_good_ones() {
    let d = Dataset::from_jsonl(&fixture("bad_rows.jsonl"), BadRows::Skip).unwrap();
    assert_eq!(d.skipped, 5);
    let questions: Vec<String> = d.samples.iter().map(|s| s.question_text()).collect();
    assert_eq!(questions, ["1+1?", "4+4?"]);
}

#[test]
fn a_missing_file_is_an_io_error_naming_it() {
    let err = Dataset::from_jsonl(&fixture("nope.jsonl"), BadRows::Skip).unwrap_err();
    assert!(matches!(err, Error::Io { .. }));
    assert!(err.to_string().contains("nope.jsonl"), "{err}");
}

fn ids(d: &Dataset) -> Vec<String> {
    d.samples.iter().map(|s| s.id.clone()).collect()
}

#[test]
fn split_is_seeded_disjoint_and_complete() {
    let data = lmmr1_tasks::generator::dataset(100, &[(2, 1.0)], 5).unwrap();
    let (train_a, held_a) = data.clone().split(20, 9);
    let (train_b, held_b) = data.clone().split(20, 9);
    assert_eq!((ids(&train_a), ids(&held_a)), (ids(&train_b), ids(&held_b)));
    assert_eq!((train_a.len(), held_a.len()), (80, 20));

    let mut all: Vec<String> = ids(&train_a).into_iter().chain(ids(&held_a)).collect();
    all.sort();
    let mut orig = ids(&data);
    orig.sort();
    assert_eq!(all, orig, "every sample lands in exactly one part");

    let (_, held_c) = data.clone().split(20, 10);
    assert_ne!(ids(&held_a), ids(&held_c), "another seed, another split");
    // The held-out part is a shuffled sample, not the first rows.
    assert_ne!(ids(&held_a), ids(&data)[..20].to_vec());

    let (train, held) = data.split(1000, 1);
    assert_eq!((train.len(), held.len()), (0, 100));
}

#[test]
fn with_system_adds_a_system_turn_only_where_there_is_none() {
    let d = load("lmm_r1_string.jsonl").with_system(prompts::R1_MATH);
    assert_ne!(
        d.samples[0].messages[0].text_content(),
        prompts::R1_MATH,
        "own system turn kept"
    );
    assert_eq!(d.samples[0].messages.len(), 2);
    assert_eq!(d.samples[1].messages[0].role, "system");
    assert_eq!(d.samples[1].messages[0].text_content(), prompts::R1_MATH);
    assert_eq!(d.samples[1].messages.len(), 2);
}

#[test]
fn retain_checkable_drops_golds_the_reward_cannot_parse() {
    let mut d = load("lmm_r1_string.jsonl");
    // `$12$` and `$\boxed{3}$` parse; the Sokoban row's empty answer does not.
    assert_eq!(d.retain_checkable(), 1);
    assert_eq!(d.len(), 2);
}

/// `tools/fetch_math_diagrams.py --splits test --limit 3 --max-side 224`: MATH problems with
/// their Asymptote diagram rendered to PNG, as LMM-R1 rows (`message` a JSON string).
#[test]
fn rendered_math_diagram_rows_load_with_one_decodable_image_and_a_checkable_gold() {
    use lmmr1_tasks::{gold_is_checkable, TaskKind};

    let d = load("math_diagrams/test.jsonl");
    assert_eq!((d.len(), d.skipped), (3, 0));
    let images_dir = fixture_dir().join("math_diagrams/images");
    for s in &d.samples {
        assert_eq!(s.datasource.as_deref(), Some("math_diagrams"), "{}", s.id);
        assert_eq!(s.messages.len(), 1, "{}", s.id);
        assert_eq!(s.messages[0].role, "user");
        // One image, resolved against the jsonl's directory, named after the id.
        let images = s.images();
        assert_eq!(images.len(), 1, "{}", s.id);
        let expected = images_dir.join(format!("{}.png", s.id.replace('/', "_")));
        assert_eq!(images[0], expected.as_path());
        let img = image::open(images[0]).unwrap().to_rgb8();
        assert_eq!(img.width().max(img.height()), 224, "{}: --max-side", s.id);
        // A drawing, not a blank page: some dark pixels on a mostly white background.
        let dark = img.pixels().filter(|p| p.0.iter().all(|&c| c < 96)).count();
        let white = img
            .pixels()
            .filter(|p| p.0.iter().all(|&c| c > 240))
            .count();
        let n = (img.width() * img.height()) as usize;
        assert!(
            dark > 50 && white > n / 2,
            "{}: {dark} dark, {white} white of {n}",
            s.id
        );
        // The diagram's code is gone from the text; the question is still there.
        let text = s.messages[0].text_content();
        assert!(
            !text.contains("[asy]") && !text.contains("[/asy]"),
            "{}",
            s.id
        );
        assert!(text.len() > 20, "{}", s.id);
        // The gold parses and the geometry reward (`data.task = "geo"`) can judge it.
        assert!(gold_is_checkable(&s.answer), "{}: {}", s.id, s.answer);
        let right = format!("<think>.</think><answer>\\boxed{{{}}}</answer>", s.answer);
        let wrong = "<think>.</think><answer>\\boxed{123457}</answer>";
        assert_eq!(TaskKind::Geo.score(s, &right).total, 1.5, "{}", s.id);
        assert_eq!(TaskKind::Geo.score(s, wrong).total, 0.5, "{}", s.id);
    }
    // The image stands where the diagram was: text, image, then the text that followed it.
    let s = d.samples.iter().find(|s| s.id == "math/test/50").unwrap();
    let kinds: Vec<&str> = s.messages[0]
        .content
        .iter()
        .map(|c| match c {
            Content::Text(_) => "text",
            Content::Image(_) => "image",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, ["text", "image", "text"]);
}
