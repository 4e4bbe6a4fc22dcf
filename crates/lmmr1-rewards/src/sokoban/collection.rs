//! Multi-level `.sok`/`.xsb` files.

use super::env::Direction;
use super::level::{Level, LevelError};
use super::lurd::{parse_lurd, LurdError};

/// One level of a collection file, with the `Key: value` lines that follow it.
#[derive(Debug, Clone, PartialEq)]
pub struct CollectionLevel {
    /// The board.
    pub level: Level,
    /// 1-based line of the level's first row in the file.
    pub line: usize,
    /// `Key: value` lines after the board (e.g. `Title`, `Author`, `Solution`), in file order.
    pub metadata: Vec<(String, String)>,
}

impl CollectionLevel {
    /// The value of the first metadata line called `key` (compared case-insensitively).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.metadata
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    /// The `Title` metadata.
    pub fn title(&self) -> Option<&str> {
        self.get("Title")
    }

    /// The `Solution` metadata as moves (a run-length LURD string), if present.
    pub fn solution(&self) -> Option<Result<Vec<Direction>, LurdError>> {
        self.get("Solution").map(parse_lurd)
    }
}

/// A level of a collection that failed to parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("level starting at line {line}: {error}")]
pub struct CollectionError {
    /// 1-based line of the level's first row; the source's line numbers count from it.
    pub line: usize,
    /// What is wrong with the level.
    pub error: LevelError,
}

/// Reads every level of a multi-level XSB file (the common `.sok`/`.xsb` layout).
///
/// A board is a run of lines made only of XSB characters whose first line has a `#`. Lines
/// after a board of the form `Key: value` become its metadata (`Title`, `Author`,
/// `Solution`, …); `;` comments, blank lines and other text are skipped.
///
/// ```
/// use lmmr1_rewards::sokoban::parse_collection;
///
/// let text = "; my levels\n\n#####\n#@$.#\n#####\nTitle: One\n\n#####\n#+$ #\n#####\nTitle: Two\n";
/// let levels = parse_collection(text)?;
/// assert_eq!(levels.len(), 2);
/// assert_eq!((levels[1].title(), levels[1].line), (Some("Two"), 8));
/// # Ok::<(), lmmr1_rewards::sokoban::CollectionError>(())
/// ```
pub fn parse_collection(text: &str) -> Result<Vec<CollectionLevel>, CollectionError> {
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let mut out: Vec<CollectionLevel> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if is_board_row(lines[i]) && lines[i].contains('#') {
            let start = i;
            while i < lines.len() && is_board_row(lines[i]) {
                i += 1;
            }
            let level =
                Level::from_xsb(&lines[start..i].join("\n")).map_err(|error| CollectionError {
                    line: start + 1,
                    error,
                })?;
            out.push(CollectionLevel {
                level,
                line: start + 1,
                metadata: Vec::new(),
            });
            continue;
        }
        if let (Some(last), Some((key, value))) = (out.last_mut(), metadata(lines[i])) {
            last.metadata.push((key.to_owned(), value.to_owned()));
        }
        i += 1;
    }
    Ok(out)
}

fn is_board_row(line: &str) -> bool {
    !line.trim().is_empty() && line.chars().all(|c| "#@+$*. -_".contains(c))
}

fn metadata(line: &str) -> Option<(&str, &str)> {
    if line.starts_with(';') {
        return None;
    }
    let (key, value) = line.split_once(':')?;
    let key = key.trim();
    let ok = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_alphanumeric() || c == ' ' || c == '_');
    ok.then(|| (key, value.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_levels_metadata_and_solutions() {
        let text = "Collection header: ignored\n;  1\n\n####\n# .#\n#  ###\n#*@  #\n#  $ #\n#  ###\n####\nTitle: Microban 1\nAuthor: David W. Skinner\nSolution: dlu3rdlullddruluruuldrddrruldluu\n\n; 2\n######\n#@$ .#\n######\n";
        let levels = parse_collection(text).unwrap();
        assert_eq!(levels.len(), 2);
        assert_eq!(levels[0].line, 4);
        assert_eq!(levels[0].title(), Some("Microban 1"));
        assert_eq!(levels[0].get("author"), Some("David W. Skinner"));
        assert_eq!(levels[0].solution().unwrap().unwrap().len(), 33);
        assert_eq!(levels[1].metadata, vec![]);
        assert!(levels[1].solution().is_none());
        assert_eq!(levels[1].level.to_xsb(), "######\n#@$ .#\n######");
    }

    #[test]
    fn errors_give_the_level_line() {
        let err = parse_collection("; a\n####\n#@$#\n####\n").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(matches!(err.error, LevelError::BoxTargetMismatch { .. }));
        assert_eq!(parse_collection("no levels here\n").unwrap(), vec![]);
    }
}
