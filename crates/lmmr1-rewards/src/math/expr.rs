//! The expression tree that parsed answers become.
//!
//! It is deliberately small and non-canonical: it records what was written (`1/2` stays a
//! product with a power), and the comparison code in [`super::equiv`] decides equality by exact
//! rational evaluation where possible and by bounded numeric evaluation otherwise.

use std::fmt;

use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{One, Signed, ToPrimitive};

/// A number literal: an exact rational, remembered as a float when it was written with a
/// decimal point (`0.5`), because floats compare after rounding (Math-Verify's `float_rounding`).
#[derive(Debug, Clone, PartialEq)]
pub struct Number {
    /// The exact value of the literal.
    pub value: BigRational,
    /// Whether the literal was written as a decimal.
    pub float: bool,
}

impl Number {
    /// An exact integer.
    pub fn int(i: i64) -> Self {
        Self {
            value: BigRational::from_integer(BigInt::from(i)),
            float: false,
        }
    }

    /// An exact rational.
    pub fn rational(value: BigRational) -> Self {
        Self {
            value,
            float: false,
        }
    }
}

/// Named constants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Const {
    /// π.
    Pi,
    /// Euler's number e.
    E,
    /// The imaginary unit.
    I,
    /// ∞.
    Infinity,
}

/// Functions the parser knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Func {
    /// Square root.
    Sqrt,
    /// n-th root: `Root(x, n)`.
    Root,
    /// Natural logarithm.
    Ln,
    /// Logarithm in a base: `Log(x, base)`.
    Log,
    /// Exponential.
    Exp,
    /// Absolute value.
    Abs,
    /// Factorial.
    Factorial,
    /// Binomial coefficient.
    Binom,
    /// Trigonometric and hyperbolic functions by name (`sin`, `arccos`, `sinh`, …).
    Trig(&'static str),
    /// Floor.
    Floor,
    /// Ceiling.
    Ceil,
    /// An unknown function applied to arguments, e.g. `f(x)`.
    Named(String),
}

/// Relation operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rel {
    /// `=`
    Eq,
    /// `≠`
    Ne,
    /// `<`
    Lt,
    /// `≤`
    Le,
    /// `>`
    Gt,
    /// `≥`
    Ge,
}

impl Rel {
    /// The relation with its sides swapped (`a < b` ⇔ `b > a`).
    pub fn flipped(self) -> Rel {
        match self {
            Rel::Lt => Rel::Gt,
            Rel::Gt => Rel::Lt,
            Rel::Le => Rel::Ge,
            Rel::Ge => Rel::Le,
            other => other,
        }
    }

    fn symbol(self) -> &'static str {
        match self {
            Rel::Eq => "=",
            Rel::Ne => "≠",
            Rel::Lt => "<",
            Rel::Le => "≤",
            Rel::Gt => ">",
            Rel::Ge => "≥",
        }
    }
}

/// A parsed mathematical answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A number literal.
    Num(Number),
    /// A free symbol (a variable, a word from `\text{…}`, a choice letter).
    Sym(String),
    /// π, e, i, ∞.
    Const(Const),
    /// A sum.
    Add(Vec<Expr>),
    /// A product.
    Mul(Vec<Expr>),
    /// A power.
    Pow(Box<Expr>, Box<Expr>),
    /// A function application.
    Func(Func, Vec<Expr>),
    /// `x%`, i.e. `x/100`, kept apart because percentages compare specially.
    Percent(Box<Expr>),
    /// A binary relation.
    Rel(Rel, Box<Expr>, Box<Expr>),
    /// A conjunction of relations, e.g. the chain `1 < x < 3` or `x = 2 = y`.
    And(Vec<Expr>),
    /// A finite set `{a, b}`, or a bare list `a, b` (compared without order).
    Set(Vec<Expr>),
    /// An ordered tuple `(a, b, c)`.
    Tuple(Vec<Expr>),
    /// An interval with open or closed ends.
    Interval {
        /// Left end.
        lo: Box<Expr>,
        /// Right end.
        hi: Box<Expr>,
        /// Whether the left end is excluded.
        lo_open: bool,
        /// Whether the right end is excluded.
        hi_open: bool,
    },
    /// A union of sets.
    Union(Vec<Expr>),
    /// A matrix, by rows.
    Matrix(Vec<Vec<Expr>>),
    /// The empty set.
    EmptySet,
}

impl Expr {
    /// An integer literal.
    pub fn int(i: i64) -> Expr {
        Expr::Num(Number::int(i))
    }

    /// `-x`.
    pub fn negated(x: Expr) -> Expr {
        match x {
            Expr::Num(mut n) => {
                n.value = -n.value;
                Expr::Num(n)
            }
            other => Expr::Mul(vec![Expr::int(-1), other]),
        }
    }

    /// `1/x`.
    pub fn recip(x: Expr) -> Expr {
        Expr::Pow(Box::new(x), Box::new(Expr::int(-1)))
    }

    /// Whether this is a relation or a conjunction of relations.
    pub fn is_relation(&self) -> bool {
        match self {
            Expr::Rel(..) => true,
            Expr::And(v) => !v.is_empty() && v.iter().all(|e| matches!(e, Expr::Rel(..))),
            _ => false,
        }
    }

    /// Whether this is an equation or a conjunction of equations.
    pub fn is_equation(&self) -> bool {
        match self {
            Expr::Rel(Rel::Eq, ..) => true,
            Expr::And(v) => !v.is_empty() && v.iter().all(|e| matches!(e, Expr::Rel(Rel::Eq, ..))),
            _ => false,
        }
    }

    /// Whether this is a set-like value (set, tuple, interval, union).
    pub fn is_set_like(&self) -> bool {
        matches!(
            self,
            Expr::Set(_) | Expr::Tuple(_) | Expr::Interval { .. } | Expr::Union(_) | Expr::EmptySet
        )
    }

    /// Whether the expression contains no free symbols.
    pub fn is_constant(&self) -> bool {
        let mut free = false;
        self.visit(&mut |e| {
            if let Expr::Sym(_) | Expr::Func(Func::Named(_), _) = e {
                free = true;
            }
        });
        !free
    }

    /// Calls `f` on every node, parents first.
    pub fn visit(&self, f: &mut impl FnMut(&Expr)) {
        f(self);
        match self {
            Expr::Num(_) | Expr::Sym(_) | Expr::Const(_) | Expr::EmptySet => {}
            Expr::Add(v)
            | Expr::Mul(v)
            | Expr::Func(_, v)
            | Expr::And(v)
            | Expr::Set(v)
            | Expr::Tuple(v)
            | Expr::Union(v) => v.iter().for_each(|e| e.visit(f)),
            Expr::Pow(a, b) | Expr::Rel(_, a, b) => {
                a.visit(f);
                b.visit(f);
            }
            Expr::Interval { lo, hi, .. } => {
                lo.visit(f);
                hi.visit(f);
            }
            Expr::Percent(a) => a.visit(f),
            Expr::Matrix(rows) => rows.iter().flatten().for_each(|e| e.visit(f)),
        }
    }

    /// The free symbols, sorted and deduplicated. Unknown functions count as symbols
    /// named after their application (`f(x)` → `f(x)`), as Math-Verify's `unwrap_fcs` does.
    pub fn free_symbols(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.visit(&mut |e| match e {
            Expr::Sym(s) => out.push(s.clone()),
            Expr::Func(Func::Named(_), _) => out.push(e.to_string()),
            _ => {}
        });
        out.sort();
        out.dedup();
        out
    }

    /// Number of nodes (used to bound work).
    pub fn size(&self) -> usize {
        let mut n = 0;
        self.visit(&mut |_| n += 1);
        n
    }
}

fn fmt_list(f: &mut fmt::Formatter<'_>, items: &[Expr], sep: &str) -> fmt::Result {
    for (i, e) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(sep)?;
        }
        write!(f, "{e}")?;
    }
    Ok(())
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.float {
            match self.value.to_f64() {
                Some(x) => write!(f, "{x}"),
                None => write!(f, "{}", self.value),
            }
        } else if self.value.denom().is_one() {
            write!(f, "{}", self.value.numer())
        } else {
            write!(f, "{}/{}", self.value.numer(), self.value.denom())
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Num(n) => {
                if n.value.is_negative() || !n.value.denom().is_one() && !n.float {
                    write!(f, "({n})")
                } else {
                    write!(f, "{n}")
                }
            }
            Expr::Sym(s) => f.write_str(s),
            Expr::Const(c) => f.write_str(match c {
                Const::Pi => "pi",
                Const::E => "E",
                Const::I => "I",
                Const::Infinity => "oo",
            }),
            Expr::Add(v) => {
                f.write_str("(")?;
                fmt_list(f, v, " + ")?;
                f.write_str(")")
            }
            Expr::Mul(v) => {
                let is_recip = |e: &Expr| matches!(e, Expr::Pow(_, p) if **p == Expr::int(-1));
                let num: Vec<Expr> = v.iter().filter(|e| !is_recip(e)).cloned().collect();
                let den: Vec<Expr> = v
                    .iter()
                    .filter_map(|e| match e {
                        Expr::Pow(b, p) if **p == Expr::int(-1) => Some((**b).clone()),
                        _ => None,
                    })
                    .collect();
                f.write_str("(")?;
                if num.is_empty() {
                    f.write_str("1")?;
                } else {
                    fmt_list(f, &num, "*")?;
                }
                for d in &den {
                    write!(f, "/{d}")?;
                }
                f.write_str(")")
            }
            Expr::Pow(a, b) if **b == Expr::int(-1) => write!(f, "(1/{a})"),
            Expr::Pow(a, b) => write!(f, "{a}^{b}"),
            Expr::Func(func, args) => {
                let name = match func {
                    Func::Sqrt => "sqrt",
                    Func::Root => "root",
                    Func::Ln => "log",
                    Func::Log => "log",
                    Func::Exp => "exp",
                    Func::Abs => "Abs",
                    Func::Factorial => "factorial",
                    Func::Binom => "binomial",
                    Func::Trig(n) => n,
                    Func::Floor => "floor",
                    Func::Ceil => "ceiling",
                    Func::Named(n) => n.as_str(),
                };
                write!(f, "{name}(")?;
                fmt_list(f, args, ", ")?;
                f.write_str(")")
            }
            Expr::Percent(a) => write!(f, "{a}%"),
            Expr::Rel(op, a, b) => write!(f, "{a} {} {b}", op.symbol()),
            Expr::And(v) => fmt_list(f, v, " & "),
            Expr::Set(v) => {
                f.write_str("{")?;
                fmt_list(f, v, ", ")?;
                f.write_str("}")
            }
            Expr::Tuple(v) => {
                f.write_str("(")?;
                fmt_list(f, v, ", ")?;
                f.write_str(")")
            }
            Expr::Interval {
                lo,
                hi,
                lo_open,
                hi_open,
            } => write!(
                f,
                "{}{lo}, {hi}{}",
                if *lo_open { "(" } else { "[" },
                if *hi_open { ")" } else { "]" }
            ),
            Expr::Union(v) => fmt_list(f, v, " U "),
            Expr::Matrix(rows) => {
                f.write_str("Matrix([")?;
                for (i, row) in rows.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    f.write_str("[")?;
                    fmt_list(f, row, ", ")?;
                    f.write_str("]")?;
                }
                f.write_str("])")
            }
            Expr::EmptySet => f.write_str("EmptySet"),
        }
    }
}
