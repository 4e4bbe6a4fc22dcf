//! A recursive-descent parser from (normalized) LaTeX to [`Expr`].
//!
//! It follows the grammar of `latex2sympy2_extended` (the parser behind Math-Verify) where an
//! answer checker sees it: a top-level comma list is a set, `(a, b)` is an open interval and
//! `(a, b, c)` a tuple, implicit multiplication binds tighter than `+`, symbols are lowercased,
//! `\text{…}` is a symbol, `x%` is `x/100`, and `^\circ` is dropped. Depth and size are
//! bounded; anything it cannot read is an error, never a panic.

use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::Zero;

use super::eval::exact;
use super::expr::{Const, Expr, Func, Number, Rel};

mod lex;
mod number;
use lex::{lex, Tok};
pub use number::number;
use number::{comma_number, mixed_number};

/// Why a string is not a parsable answer (the reason is only used for debugging).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub &'static str);

type PResult<T> = Result<T, ParseError>;

const MAX_DEPTH: usize = 64;
const MAX_DIGITS: usize = 400;

/// Parses a normalized LaTeX answer. `complex` makes `i` the imaginary unit.
pub fn parse(src: &str, complex: bool) -> PResult<Expr> {
    if let Some(n) = comma_number(src) {
        return number(&n);
    }
    let toks = lex(src)?;
    let mut p = Parser {
        toks,
        pos: 0,
        depth: 0,
        complex,
        abs_depth: 0,
    };
    let e = p.top()?;
    if p.pos != p.toks.len() {
        return Err(ParseError("trailing input"));
    }
    Ok(e)
}

struct Parser<'a> {
    toks: Vec<Tok<'a>>,
    pos: usize,
    depth: usize,
    complex: bool,
    /// Open `|…|` groups: inside one, `|` closes instead of starting a new group.
    abs_depth: usize,
}

fn is_cmd(t: Option<&Tok>, names: &[&str]) -> bool {
    matches!(t, Some(Tok::Cmd(c)) if names.contains(c))
}

const GREEK: &[&str] = &[
    "alpha",
    "beta",
    "gamma",
    "delta",
    "epsilon",
    "varepsilon",
    "zeta",
    "eta",
    "theta",
    "vartheta",
    "iota",
    "kappa",
    "lambda",
    "mu",
    "nu",
    "xi",
    "rho",
    "varrho",
    "sigma",
    "tau",
    "upsilon",
    "phi",
    "varphi",
    "chi",
    "psi",
    "omega",
    "Gamma",
    "Delta",
    "Theta",
    "Lambda",
    "Xi",
    "Pi",
    "Sigma",
    "Upsilon",
    "Phi",
    "Psi",
    "Omega",
];

/// Commands that may be glued to a following variable (`\\sinx`, `\\pix`).
const SPLITTABLE: &[&str] = &[
    "sin", "cos", "tan", "cot", "sec", "csc", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh",
    "ln", "log", "exp", "pi", "cdot", "times",
];

fn is_known_command(name: &str) -> bool {
    const OTHER: &[&str] = &[
        "frac", "dfrac", "tfrac", "cfrac", "sqrt", "binom", "dbinom", "tbinom", "choose", "infty",
        "infin", "emptyset", "langle", "rangle", "lfloor", "rfloor", "lceil", "rceil", "lvert",
        "rvert", "vert", "boxed", "fbox", "phantom", "overline", "bar", "hat", "vec", "tilde",
        "begin", "end", "circ", "degree", "lg", "le", "leq", "ge", "geq", "lt", "gt", "ne", "neq",
        "in", "cup", "pm", "mp", "div", "leqslant", "geqslant", "to", "right", "left",
    ];
    SPLITTABLE.contains(&name)
        || OTHER.contains(&name)
        || GREEK.contains(&name)
        || TRIG.contains(&name)
}

const TRIG: &[&str] = &[
    "sin", "cos", "tan", "cot", "sec", "csc", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh",
];

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<&Tok<'a>> {
        self.toks.get(self.pos)
    }
    fn peek_at(&self, k: usize) -> Option<&Tok<'a>> {
        self.toks.get(self.pos + k)
    }
    fn bump(&mut self) -> Option<Tok<'a>> {
        let t = self.toks.get(self.pos).copied();
        self.pos += 1;
        t
    }
    fn eat_ch(&mut self, c: char) -> bool {
        if self.peek() == Some(&Tok::Ch(c)) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn eat_cmd(&mut self, names: &[&str]) -> bool {
        if is_cmd(self.peek(), names) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn expect_ch(&mut self, c: char) -> PResult<()> {
        if self.eat_ch(c) {
            Ok(())
        } else {
            Err(ParseError("expected a delimiter"))
        }
    }
    fn enter(&mut self) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            Err(ParseError("nesting too deep"))
        } else {
            Ok(())
        }
    }

    /// `top := element ((',' | ';') element)*`; several elements form a set.
    fn top(&mut self) -> PResult<Expr> {
        let mut items = vec![self.element()?];
        while self.eat_ch(',') || self.eat_ch(';') {
            items.push(self.element()?);
        }
        Ok(if items.len() == 1 {
            items.pop().unwrap_or(Expr::EmptySet)
        } else {
            Expr::Set(items)
        })
    }

    /// `element := relation` where a relation chain of two or more becomes an `And`.
    fn element(&mut self) -> PResult<Expr> {
        let first = self.set_expr()?;
        let mut terms = vec![first];
        let mut ops = Vec::new();
        while let Some(op) = self.rel_op() {
            ops.push(op);
            terms.push(self.set_expr()?);
        }
        if ops.is_empty() {
            return terms.pop().ok_or(ParseError("empty"));
        }
        let mut rels = Vec::new();
        for (k, op) in ops.into_iter().enumerate() {
            match op {
                // `x \in S` reads as the set S.
                None => {
                    if terms.len() == 2 {
                        return Ok(terms.swap_remove(1));
                    }
                    return Err(ParseError("membership chain"));
                }
                Some(op) => rels.push(Expr::Rel(
                    op,
                    Box::new(terms[k].clone()),
                    Box::new(terms[k + 1].clone()),
                )),
            }
        }
        Ok(if rels.len() == 1 {
            rels.pop().unwrap_or(Expr::EmptySet)
        } else {
            Expr::And(rels)
        })
    }

    /// A relation operator; `Some(None)` is `\in`.
    fn rel_op(&mut self) -> Option<Option<Rel>> {
        let op = match self.peek()? {
            Tok::Ch('=') => Some(Rel::Eq),
            Tok::Ch('<') => {
                if self.peek_at(1) == Some(&Tok::Ch('=')) {
                    self.pos += 1;
                    Some(Rel::Le)
                } else {
                    Some(Rel::Lt)
                }
            }
            Tok::Ch('>') => {
                if self.peek_at(1) == Some(&Tok::Ch('=')) {
                    self.pos += 1;
                    Some(Rel::Ge)
                } else {
                    Some(Rel::Gt)
                }
            }
            Tok::Cmd(c) => match *c {
                "le" | "leq" | "leqslant" => Some(Rel::Le),
                "ge" | "geq" | "geqslant" => Some(Rel::Ge),
                "lt" => Some(Rel::Lt),
                "gt" => Some(Rel::Gt),
                "ne" | "neq" => Some(Rel::Ne),
                "in" => None,
                _ => return None,
            },
            _ => return None,
        };
        self.pos += 1;
        Some(op)
    }

    /// Unions of sets: `A \cup B`.
    fn set_expr(&mut self) -> PResult<Expr> {
        let first = self.sum()?;
        if !is_cmd(self.peek(), &["cup"]) {
            return Ok(first);
        }
        let mut parts = vec![first];
        while self.eat_cmd(&["cup"]) {
            parts.push(self.sum()?);
        }
        Ok(Expr::Union(parts))
    }

    fn sum(&mut self) -> PResult<Expr> {
        self.enter()?;
        let mut terms = vec![self.product()?];
        loop {
            if self.eat_ch('+') {
                terms.push(self.product()?);
            } else if self.eat_ch('-') {
                terms.push(Expr::negated(self.product()?));
            } else if self.eat_cmd(&["pm", "mp"]) {
                // `a \pm b` has two values; keep both as a set.
                let b = self.product()?;
                let a = if terms.len() == 1 {
                    terms.pop().unwrap_or(Expr::int(0))
                } else {
                    Expr::Add(std::mem::take(&mut terms))
                };
                self.depth -= 1;
                return Ok(Expr::Set(vec![
                    Expr::Add(vec![a.clone(), b.clone()]),
                    Expr::Add(vec![a, Expr::negated(b)]),
                ]));
            } else {
                break;
            }
        }
        self.depth -= 1;
        Ok(if terms.len() == 1 {
            terms.pop().unwrap_or(Expr::int(0))
        } else {
            Expr::Add(terms)
        })
    }

    fn starts_primary(&self) -> bool {
        match self.peek() {
            None => false,
            Some(Tok::Num(_) | Tok::Letter(_) | Tok::Text(_)) => true,
            Some(Tok::Ch('|')) => self.abs_depth == 0,
            Some(Tok::Ch(c)) => matches!(c, '(' | '[' | '{'),
            Some(Tok::Cmd(c)) => !matches!(
                *c,
                "cdot"
                    | "times"
                    | "div"
                    | "le"
                    | "leq"
                    | "ge"
                    | "geq"
                    | "lt"
                    | "gt"
                    | "ne"
                    | "neq"
                    | "in"
                    | "cup"
                    | "pm"
                    | "mp"
                    | "right"
                    | "end"
                    | "}"
                    | "\\"
                    | "rangle"
                    | "rfloor"
                    | "rceil"
                    | "circ"
                    | "leqslant"
                    | "geqslant"
                    | "to"
                    | "rvert"
            ),
        }
    }

    /// `unary (('*' | '\\cdot' | '\\times' | '/' | '\\div' | ':') unary)*`.
    fn product(&mut self) -> PResult<Expr> {
        let mut factors = vec![self.unary()?];
        loop {
            if self.eat_ch('*') || self.eat_cmd(&["cdot", "times"]) {
                factors.push(self.unary()?);
            } else if self.eat_ch('/') || self.eat_cmd(&["div"]) || self.eat_ch(':') {
                factors.push(Expr::recip(self.unary()?));
            } else {
                break;
            }
        }
        Ok(if factors.len() == 1 {
            factors.pop().unwrap_or(Expr::int(1))
        } else {
            Expr::Mul(factors)
        })
    }

    fn unary(&mut self) -> PResult<Expr> {
        self.enter()?;
        let e = if self.eat_ch('-') {
            Expr::negated(self.unary()?)
        } else if self.eat_ch('+') {
            self.unary()?
        } else if self.eat_cmd(&["pm", "mp"]) {
            let x = self.unary()?;
            Expr::Set(vec![Expr::negated(x.clone()), x])
        } else {
            self.implicit_product()?
        };
        self.depth -= 1;
        Ok(e)
    }

    /// Juxtaposed factors (`2x`, `3\\frac{1}{2}`), folded from the right as latex2sympy does:
    /// an integer followed by a positive rational is a mixed number (`3\\frac{1}{2}` = 7/2).
    fn implicit_product(&mut self) -> PResult<Expr> {
        let mut run = vec![self.postfix()?];
        while self.starts_primary() {
            run.push(self.postfix()?);
        }
        let mut acc = run.pop().unwrap_or(Expr::int(1));
        while let Some(left) = run.pop() {
            acc = match mixed_number(&left, &acc) {
                Some(m) => m,
                None => match acc {
                    Expr::Mul(mut v) => {
                        v.insert(0, left);
                        Expr::Mul(v)
                    }
                    other => Expr::Mul(vec![left, other]),
                },
            };
        }
        Ok(acc)
    }

    fn postfix(&mut self) -> PResult<Expr> {
        let mut e = self.power()?;
        loop {
            if self.eat_ch('!') {
                e = Expr::Func(Func::Factorial, vec![e]);
            } else if self.eat_ch('%') {
                e = Expr::Percent(Box::new(e));
            } else if self.eat_ch('\'') {
                e = Expr::Sym(format!("{e}'"));
            } else {
                return Ok(e);
            }
        }
    }

    /// Whether a `^` here introduces a degree sign (`^\circ`, `^{\circ}`).
    fn degree_follows(&self) -> bool {
        match (self.peek_at(1), self.peek_at(2), self.peek_at(3)) {
            (Some(Tok::Cmd(c)), ..) if *c == "circ" || *c == "degree" => true,
            (Some(Tok::Ch('°')), ..) => true,
            (Some(Tok::Ch('{')), Some(Tok::Cmd(c)), Some(Tok::Ch('}')))
                if *c == "circ" || *c == "degree" =>
            {
                true
            }
            _ => false,
        }
    }

    fn power(&mut self) -> PResult<Expr> {
        let mut base = self.primary()?;
        loop {
            if self.peek() == Some(&Tok::Ch('°')) {
                self.pos += 1;
                continue;
            }
            if self.peek() != Some(&Tok::Ch('^')) {
                return Ok(base);
            }
            if self.degree_follows() {
                self.pos += 2;
                if self.peek() == Some(&Tok::Cmd("circ"))
                    || self.peek() == Some(&Tok::Cmd("degree"))
                {
                    self.pos += 1;
                    self.expect_ch('}')?;
                }
                continue;
            }
            self.pos += 1;
            let exp = self.script_arg()?;
            base = Expr::Pow(Box::new(base), Box::new(exp));
        }
    }

    /// The argument of `^` or `_`: a braced expression or one token.
    fn script_arg(&mut self) -> PResult<Expr> {
        self.enter()?;
        let e = if self.eat_ch('{') {
            let e = self.top()?;
            self.expect_ch('}')?;
            e
        } else {
            match self.bump() {
                // latex2sympy reads `x^23` as x^23 (a whole number), unlike TeX.
                Some(Tok::Num(n)) => number(n)?,
                Some(Tok::Letter(c)) => self.letter(c),
                Some(Tok::Ch('-')) => Expr::negated(self.script_arg()?),
                Some(Tok::Cmd(_)) => {
                    self.pos -= 1;
                    self.primary()?
                }
                _ => return Err(ParseError("bad script")),
            }
        };
        self.depth -= 1;
        Ok(e)
    }

    /// A subscript as text, for symbol names like `a_{37}`.
    fn subscript_text(&mut self) -> PResult<String> {
        if !self.eat_ch('_') {
            return Ok(String::new());
        }
        let e = self.script_arg()?;
        let s = e.to_string();
        Ok(if s.chars().count() > 1 {
            format!("_{{{s}}}")
        } else {
            format!("_{s}")
        })
    }

    fn letter(&self, c: char) -> Expr {
        if c == 'i' && self.complex {
            return Expr::Const(Const::I);
        }
        // A lowercase `e` is Euler's number; `E` is the symbol `e`.
        if c == 'e' {
            return Expr::Const(Const::E);
        }
        Expr::Sym(c.to_ascii_lowercase().to_string())
    }

    fn braced(&mut self) -> PResult<Expr> {
        if !self.eat_ch('{') {
            // `\frac12` style arguments were fixed by normalization; a bare token is allowed.
            return self.script_arg();
        }
        let e = self.top()?;
        self.expect_ch('}')?;
        Ok(e)
    }

    fn primary(&mut self) -> PResult<Expr> {
        self.enter()?;
        let e = self.primary_inner()?;
        self.depth -= 1;
        Ok(e)
    }

    fn primary_inner(&mut self) -> PResult<Expr> {
        let Some(tok) = self.bump() else {
            return Err(ParseError("unexpected end"));
        };
        match tok {
            Tok::Num(n) => {
                let e = number(n)?;
                // `2_{3}` subscripts on numbers are ignored, as latex2sympy does.
                let _ = self.subscript_text()?;
                Ok(e)
            }
            Tok::Letter(c) => {
                let sub = self.subscript_text()?;
                if sub.is_empty() {
                    // `f(x)`: a single letter applied to a parenthesized argument list is
                    // only a function for f, g, h.
                    if matches!(c, 'f' | 'g' | 'h') && self.peek() == Some(&Tok::Ch('(')) {
                        let save = self.pos;
                        self.pos += 1;
                        if let Ok(arg) = self.top() {
                            if self.eat_ch(')') {
                                let args = match arg {
                                    Expr::Set(v) => v,
                                    a => vec![a],
                                };
                                return Ok(Expr::Func(Func::Named(c.to_string()), args));
                            }
                        }
                        self.pos = save;
                    }
                    Ok(self.letter(c))
                } else {
                    Ok(Expr::Sym(format!("{}{sub}", c.to_ascii_lowercase())))
                }
            }
            Tok::Text(raw) => Ok(text_atom(raw, self.complex)),
            Tok::Ch('(') => self.group(true),
            Tok::Ch('[') => self.group(false),
            Tok::Ch('{') => {
                if self.eat_ch('}') {
                    return Ok(Expr::EmptySet);
                }
                let e = self.top()?;
                self.expect_ch('}')?;
                Ok(e)
            }
            Tok::Ch('|') => {
                self.abs_depth += 1;
                let e = self.sum();
                self.abs_depth -= 1;
                let e = e?;
                self.expect_ch('|')?;
                Ok(Expr::Func(Func::Abs, vec![e]))
            }
            Tok::Cmd(c) => self.command(c),
            _ => Err(ParseError("unexpected token")),
        }
    }

    /// `( … )` or `[ … ]`: a group, an interval or a tuple.
    fn group(&mut self, paren: bool) -> PResult<Expr> {
        let mut items = vec![self.element()?];
        while self.eat_ch(',') || self.eat_ch(';') {
            items.push(self.element()?);
        }
        let close_paren = if self.eat_ch(')') {
            true
        } else if self.eat_ch(']') {
            false
        } else {
            return Err(ParseError("unclosed group"));
        };
        if items.len() == 1 {
            if paren != close_paren {
                return Err(ParseError("mismatched group"));
            }
            return Ok(items.pop().unwrap_or(Expr::EmptySet));
        }
        if items.len() == 2 {
            let hi = items.pop().unwrap_or(Expr::EmptySet);
            let lo = items.pop().unwrap_or(Expr::EmptySet);
            return Ok(Expr::Interval {
                lo: Box::new(lo),
                hi: Box::new(hi),
                lo_open: paren,
                hi_open: close_paren,
            });
        }
        if paren != close_paren {
            return Err(ParseError("mismatched tuple"));
        }
        Ok(Expr::Tuple(items))
    }

    fn command(&mut self, c: &str) -> PResult<Expr> {
        match c {
            "frac" | "dfrac" | "tfrac" | "cfrac" => {
                let n = self.braced()?;
                let d = self.braced()?;
                Ok(Expr::Mul(vec![n, Expr::recip(d)]))
            }
            "sqrt" => {
                if self.eat_ch('[') {
                    let n = self.sum()?;
                    self.expect_ch(']')?;
                    let x = self.braced()?;
                    Ok(Expr::Func(Func::Root, vec![x, n]))
                } else {
                    Ok(Expr::Func(Func::Sqrt, vec![self.braced()?]))
                }
            }
            "binom" | "dbinom" | "tbinom" | "choose" => {
                let n = self.braced()?;
                let k = self.braced()?;
                Ok(Expr::Func(Func::Binom, vec![n, k]))
            }
            "pi" => Ok(Expr::Const(Const::Pi)),
            "infty" | "infin" => Ok(Expr::Const(Const::Infinity)),
            "emptyset" => Ok(Expr::EmptySet),
            "{" => {
                if self.eat_cmd(&["}"]) {
                    return Ok(Expr::EmptySet);
                }
                let e = self.top()?;
                if !self.eat_cmd(&["}"]) {
                    return Err(ParseError("unclosed set"));
                }
                Ok(match e {
                    Expr::Set(v) => Expr::Set(v),
                    single => Expr::Set(vec![single]),
                })
            }
            "langle" => {
                let e = self.top()?;
                if !self.eat_cmd(&["rangle"]) {
                    return Err(ParseError("unclosed angle"));
                }
                Ok(match e {
                    Expr::Set(v) => Expr::Tuple(v),
                    single => single,
                })
            }
            "lfloor" | "lceil" => {
                let e = self.sum()?;
                let (close, f) = if c == "lfloor" {
                    ("rfloor", Func::Floor)
                } else {
                    ("rceil", Func::Ceil)
                };
                if !self.eat_cmd(&[close]) {
                    return Err(ParseError("unclosed floor"));
                }
                Ok(Expr::Func(f, vec![e]))
            }
            "lvert" | "vert" => {
                let e = self.sum()?;
                if !self.eat_cmd(&["rvert", "vert"]) {
                    return Err(ParseError("unclosed abs"));
                }
                Ok(Expr::Func(Func::Abs, vec![e]))
            }
            "boxed" | "fbox" | "phantom" | "overline" | "bar" | "hat" | "vec" | "tilde" => {
                let e = self.braced()?;
                Ok(match c {
                    "boxed" | "fbox" | "phantom" => e,
                    _ => Expr::Sym(format!("{c}{{{e}}}")),
                })
            }
            "begin" => self.environment(),
            "ln" | "log" | "exp" | "lg" => self.log_like(c),
            "circ" | "degree" => Ok(Expr::int(1)),
            _ if TRIG.contains(&c) => {
                let mut power = None;
                if self.eat_ch('^') {
                    power = Some(self.script_arg()?);
                }
                let arg = self.func_arg()?;
                let name = TRIG.iter().find(|&&t| t == c).copied().unwrap_or("sin");
                let f = Expr::Func(Func::Trig(name), vec![arg]);
                Ok(match power {
                    Some(p) => Expr::Pow(Box::new(f), Box::new(p)),
                    None => f,
                })
            }
            _ if GREEK.contains(&c) => {
                let sub = self.subscript_text()?;
                Ok(Expr::Sym(format!("{}{sub}", c.to_lowercase())))
            }
            _ => Err(ParseError("unknown command")),
        }
    }

    fn log_like(&mut self, c: &str) -> PResult<Expr> {
        let mut base = None;
        if c == "log" && self.eat_ch('_') {
            base = Some(self.script_arg()?);
        }
        let arg = self.func_arg()?;
        Ok(match (c, base) {
            ("ln", _) => Expr::Func(Func::Ln, vec![arg]),
            ("exp", _) => Expr::Func(Func::Exp, vec![arg]),
            (_, Some(b)) => Expr::Func(Func::Log, vec![arg, b]),
            // sympy's `log` without a base is the natural logarithm.
            _ => Expr::Func(Func::Ln, vec![arg]),
        })
    }

    /// A function argument: parenthesized, braced, or a single multiplicative term.
    fn func_arg(&mut self) -> PResult<Expr> {
        if self.eat_ch('(') {
            let e = self.top()?;
            self.expect_ch(')')?;
            return Ok(e);
        }
        if self.eat_ch('{') {
            let e = self.top()?;
            self.expect_ch('}')?;
            return Ok(e);
        }
        self.unary()
    }

    /// `\begin{pmatrix} … \end{pmatrix}` and friends.
    fn environment(&mut self) -> PResult<Expr> {
        let name = self.env_name()?;
        if !name.ends_with("matrix") && name != "array" {
            return Err(ParseError("unknown environment"));
        }
        if name == "array" && self.peek() == Some(&Tok::Ch('{')) {
            // Column spec `{cc}`.
            while let Some(t) = self.bump() {
                if t == Tok::Ch('}') {
                    break;
                }
            }
        }
        let mut rows = vec![];
        let mut row = vec![];
        loop {
            if self.eat_cmd(&["end"]) {
                let _ = self.env_name()?;
                break;
            }
            if self.peek().is_none() {
                return Err(ParseError("unclosed matrix"));
            }
            row.push(self.element()?);
            if self.eat_ch('&') {
                continue;
            }
            if self.eat_cmd(&["\\"]) {
                rows.push(std::mem::take(&mut row));
                continue;
            }
            if !is_cmd(self.peek(), &["end"]) {
                return Err(ParseError("bad matrix row"));
            }
        }
        if !row.is_empty() {
            rows.push(row);
        }
        let width = rows.first().map_or(0, Vec::len);
        if width == 0 || rows.iter().any(|r| r.len() != width) {
            return Err(ParseError("ragged matrix"));
        }
        Ok(Expr::Matrix(rows))
    }

    fn env_name(&mut self) -> PResult<String> {
        self.expect_ch('{')?;
        let mut name = String::new();
        while let Some(t) = self.bump() {
            match t {
                Tok::Ch('}') => return Ok(name),
                Tok::Letter(c) => name.push(c),
                Tok::Ch('*') => name.push('*'),
                _ => return Err(ParseError("bad environment name")),
            }
        }
        Err(ParseError("unclosed environment name"))
    }
}

/// A `\text{…}` atom: a number if it reads as one, else a lowercased symbol without
/// parentheses and spaces (`\text{(C)}` → `c`).
fn text_atom(raw: &str, complex: bool) -> Expr {
    let t = raw.trim();
    if let Ok(e) = parse(t, complex) {
        if let Expr::Num(_) = e {
            return e;
        }
    }
    let name: String = t
        .chars()
        .filter(|c| !matches!(c, '(' | ')' | ' '))
        .collect::<String>()
        .to_lowercase();
    Expr::Sym(name)
}
