//! The lexer of the LaTeX parser: numbers, letters, commands, single characters and the raw
//! content of `\text{…}` groups.

use super::*;

/// A token; text is borrowed from the source (parsing allocates only the tree).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Tok<'a> {
    Num(&'a str),
    Letter(char),
    Cmd(&'a str),
    Ch(char),
    /// The raw content of `\text{…}` and friends.
    Text(&'a str),
}

pub(super) fn lex(src: &str) -> PResult<Vec<Tok<'_>>> {
    let b = src.as_bytes();
    let mut out = Vec::with_capacity(src.len() / 2 + 1);
    let digits_from = |i: usize| i + b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c.is_ascii_digit() || (c == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit))
        {
            let start = i;
            i = digits_from(i);
            if b.get(i) == Some(&b'.') && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
                i = digits_from(i + 1);
            }
            if i - start > MAX_DIGITS {
                return Err(ParseError("number too long"));
            }
            out.push(Tok::Num(&src[start..i]));
        } else if c == b'\\' {
            i += 1;
            let start = i;
            while i < b.len() && b[i].is_ascii_alphabetic() {
                i += 1;
            }
            if i == start {
                // A control symbol: `\{`, `\%`, `\,`, `\\`.
                let Some(s) = src[i..].chars().next() else {
                    return Err(ParseError("lone backslash"));
                };
                i += s.len_utf8();
                match s {
                    ',' | ';' | ' ' | '!' | ':' => {}
                    '{' => out.push(Tok::Cmd("{")),
                    '}' => out.push(Tok::Cmd("}")),
                    '\\' => out.push(Tok::Cmd("\\")),
                    _ => out.push(Tok::Ch(s)),
                }
                continue;
            }
            let mut name = &src[start..i];
            if !is_known_command(name) {
                // `\cotx` is `\cot x`: split off the longest known function name.
                if let Some(k) = SPLITTABLE
                    .iter()
                    .filter(|f| name.starts_with(*f))
                    .map(|f| f.len())
                    .max()
                {
                    i = start + k;
                    name = &name[..k];
                }
            }
            if matches!(
                name,
                "text"
                    | "mbox"
                    | "textrm"
                    | "mathrm"
                    | "textbf"
                    | "mathbf"
                    | "textit"
                    | "mathit"
                    | "operatorname"
                    | "textnormal"
            ) {
                // Read a balanced brace group as raw text.
                while i < b.len() && b[i].is_ascii_whitespace() {
                    i += 1;
                }
                if b.get(i) != Some(&b'{') {
                    return Err(ParseError("text without braces"));
                }
                let mut depth = 0usize;
                let start = i + 1;
                loop {
                    match b.get(i) {
                        None => return Err(ParseError("unbalanced text")),
                        Some(b'{') => depth += 1,
                        Some(b'}') => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    i += 1;
                }
                let raw = &src[start..i];
                i += 1;
                out.push(if name == "operatorname" {
                    Tok::Cmd(raw.trim())
                } else {
                    Tok::Text(raw)
                });
                continue;
            }
            out.push(Tok::Cmd(name));
        } else if c.is_ascii_alphabetic() {
            out.push(Tok::Letter(c as char));
            i += 1;
        } else {
            let ch = src[i..].chars().next().unwrap_or(' ');
            i += ch.len_utf8();
            out.push(match ch {
                '≤' => Tok::Cmd("le"),
                '≥' => Tok::Cmd("ge"),
                '≠' => Tok::Cmd("ne"),
                '×' => Tok::Cmd("times"),
                '·' => Tok::Cmd("cdot"),
                '÷' => Tok::Cmd("div"),
                'π' => Tok::Cmd("pi"),
                '∅' => Tok::Cmd("emptyset"),
                '∪' => Tok::Cmd("cup"),
                '∈' => Tok::Cmd("in"),
                '−' => Tok::Ch('-'),
                c if c.is_whitespace() => continue,
                c => Tok::Ch(c),
            });
        }
    }
    Ok(out)
}
