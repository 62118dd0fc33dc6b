//! The syntax tree of a template as Go's `text/template/parse` builds it. Nodes keep their
//! byte position and print as Go's `Node.String`, because execution errors quote both.

use std::collections::HashMap;
use std::fmt;

pub(super) type List = Vec<Node>;

#[derive(Debug)]
pub(super) enum Node {
    Text(String),
    Action(Pipe),
    If(Branch),
    With(Branch),
    Range(Branch),
    Template {
        pos: usize,
        name: String,
        pipe: Option<Pipe>,
    },
    Break,
    Continue,
}

#[derive(Debug)]
pub(super) struct Branch {
    pub pipe: Pipe,
    pub list: List,
    pub else_list: Option<List>,
}

#[derive(Debug)]
pub(super) struct Pipe {
    pub pos: usize,
    pub is_assign: bool,
    /// Declared or assigned variables, `$` included.
    pub decl: Vec<String>,
    pub cmds: Vec<Command>,
}

#[derive(Debug)]
pub(super) struct Command {
    pub pos: usize,
    pub args: Vec<Arg>,
}

/// An operand of a command (Go's argument nodes).
#[derive(Debug)]
pub(super) enum Arg {
    /// `.A.B`.
    Field {
        pos: usize,
        idents: Vec<String>,
    },
    /// `(pipe).A.B`.
    Chain {
        pos: usize,
        node: Box<Arg>,
        fields: Vec<String>,
    },
    Identifier {
        pos: usize,
        name: String,
    },
    /// A parenthesised pipeline.
    Pipe(Box<Pipe>),
    /// `$x.A.B`: the variable first, then fields.
    Variable {
        pos: usize,
        idents: Vec<String>,
    },
    Bool {
        pos: usize,
        value: bool,
    },
    Dot {
        pos: usize,
    },
    Nil {
        pos: usize,
    },
    Number(Box<Number>),
    String {
        pos: usize,
        quoted: String,
        text: String,
    },
}

#[derive(Debug)]
pub(super) struct Number {
    pub pos: usize,
    pub text: String,
    pub int: Option<i64>,
    pub float: Option<f64>,
    /// Fits only a `uint64`: too large for Go's `int`.
    pub uint_only: bool,
}

impl Arg {
    pub fn pos(&self) -> usize {
        match self {
            Arg::Field { pos, .. }
            | Arg::Chain { pos, .. }
            | Arg::Identifier { pos, .. }
            | Arg::Variable { pos, .. }
            | Arg::Bool { pos, .. }
            | Arg::Dot { pos }
            | Arg::Nil { pos }
            | Arg::String { pos, .. } => *pos,
            Arg::Pipe(p) => p.pos,
            Arg::Number(n) => n.pos,
        }
    }
}

impl fmt::Display for Arg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Arg::Field { idents, .. } => {
                for i in idents {
                    write!(f, ".{i}")?;
                }
                Ok(())
            }
            Arg::Chain { node, fields, .. } => {
                if let Arg::Pipe(p) = node.as_ref() {
                    write!(f, "({p})")?;
                } else {
                    write!(f, "{node}")?;
                }
                for i in fields {
                    write!(f, ".{i}")?;
                }
                Ok(())
            }
            Arg::Identifier { name, .. } => f.write_str(name),
            Arg::Pipe(p) => write!(f, "{p}"),
            Arg::Variable { idents, .. } => f.write_str(&idents.join(".")),
            Arg::Bool { value, .. } => write!(f, "{value}"),
            Arg::Dot { .. } => f.write_str("."),
            Arg::Nil { .. } => f.write_str("nil"),
            Arg::Number(n) => f.write_str(&n.text),
            Arg::String { quoted, .. } => f.write_str(quoted),
        }
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, arg) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            if let Arg::Pipe(p) = arg {
                write!(f, "({p})")?;
            } else {
                write!(f, "{arg}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for Pipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.decl.is_empty() {
            let op = if self.is_assign { "=" } else { ":=" };
            write!(f, "{} {op} ", self.decl.join(", "))?;
        }
        for (i, c) in self.cmds.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

/// A parsed template and the templates it defines, by name.
#[derive(Debug)]
pub(super) struct Templates {
    pub name: String,
    pub text: String,
    pub trees: HashMap<String, List>,
}
