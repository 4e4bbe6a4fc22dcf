//! Real levels: every Microban solution (committed under `data/sokoban/`) replays to a solved
//! board, and so does every solution of Debian's `cavepacker-data` when it is installed.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use lmmr1_rewards::sokoban::{is_solution, parse_collection, Level};

#[test]
fn every_microban_solution_solves_its_level() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/sokoban/microban.sok");
    let text = std::fs::read_to_string(&path).expect("data/sokoban/microban.sok");
    let levels = parse_collection(&text).unwrap();
    assert_eq!(levels.len(), 290);
    let mut moves = 0;
    for entry in &levels {
        let level = &entry.level;
        let title = entry.title().expect("every level has a title");
        let solution = entry
            .solution()
            .expect("every level has a solution")
            .unwrap();
        assert!(!level.is_solved(), "{title}");
        assert!(
            is_solution(level, &solution),
            "{title}: the solution does not solve it"
        );
        assert!(
            !is_solution(level, &solution[..solution.len() - 1]),
            "{title}: solved early"
        );
        assert_eq!(&Level::from_xsb(&level.to_xsb()).unwrap(), level, "{title}");
        let (fixed, state) = (level.to_gym_fixed(), level.to_gym_state());
        let back = Level::from_gym(level.rows(), level.cols(), &fixed, &state).unwrap();
        assert_eq!(&back, level, "{title}: gym round trip");
        moves += solution.len();
    }
    assert!(moves > 10_000, "{moves}");
}

/// Debian's `cavepacker-data` maps: `$CAVEPACKER_MAPS`, else the installed package's folder.
fn cavepacker_maps() -> Option<PathBuf> {
    let dir = std::env::var_os("CAVEPACKER_MAPS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/share/games/cavepacker/maps"));
    dir.is_dir().then_some(dir)
}

#[test]
fn every_cavepacker_solution_solves_its_level_when_installed() {
    let Some(dir) = cavepacker_maps() else {
        // `.ci/run` installs the package and sets LMMR1_REQUIRE_CAVEPACKER, so CI never skips.
        assert!(
            std::env::var_os("LMMR1_REQUIRE_CAVEPACKER").is_none(),
            "LMMR1_REQUIRE_CAVEPACKER is set but cavepacker-data is not installed \
             (apt-get install cavepacker-data, or set CAVEPACKER_MAPS)"
        );
        eprintln!("cavepacker-data not installed and CAVEPACKER_MAPS unset: nothing to replay");
        return;
    };
    // collection -> (levels with a solution, solutions that solve)
    let mut tally: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut failures = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let sok = entry.unwrap().path();
        if sok.extension() != Some(OsStr::new("sok")) {
            continue;
        }
        let Ok(sol) = std::fs::read_to_string(sok.with_extension("sol")) else {
            continue;
        };
        let name = sok.file_stem().unwrap().to_string_lossy().into_owned();
        let collection = name.trim_end_matches(|c: char| c.is_ascii_digit() || c == '_');
        let text = std::fs::read_to_string(&sok).unwrap();
        let levels = parse_collection(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(levels.len(), 1, "{name}");
        let moves =
            lmmr1_rewards::sokoban::parse_lurd(&sol).unwrap_or_else(|e| panic!("{name}.sol: {e}"));
        let t = tally.entry(collection.to_owned()).or_default();
        t.0 += 1;
        if is_solution(&levels[0].level, &moves) {
            t.1 += 1;
        } else {
            failures.push(name);
        }
    }
    eprintln!("cavepacker solutions (levels, solved): {tally:?}");
    failures.sort();
    let total: usize = tally.values().map(|t| t.0).sum();
    assert!(
        total >= 1000,
        "{total} solutions found in {}",
        dir.display()
    );
    assert!(
        failures.is_empty(),
        "not solved by their .sol: {failures:?}"
    );
}
