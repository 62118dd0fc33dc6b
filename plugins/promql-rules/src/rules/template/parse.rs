//! The parser of Go 1.19's `text/template/parse`: the tree ([`super::node`]) of a template and
//! of the templates it `define`s, with Go's checks at parse time (functions and variables must
//! exist, `break` only in `range`) and its error texts.

use std::collections::HashMap;
use std::fmt;

use super::lex::{lex, Item, ItemType};
use super::literal::{number, unquote};
use super::node::{Arg, Branch, Command, List, Node, Pipe, Templates};

/// How deep actions and parentheses may nest: the parser and the executor recurse once per
/// level, in a WebAssembly stack of well under a MiB.
pub(super) const MAX_DEPTH: usize = 100;

/// Parses `text` as template `name`; `has_function` says which identifiers are functions.
pub(super) fn parse(
    name: &str,
    text: &str,
    has_function: &dyn Fn(&str) -> bool,
) -> Result<Templates, String> {
    let mut p = Parser {
        name,
        items: lex(text),
        next_item: 0,
        token: Vec::with_capacity(3),
        vars: vec!["$".to_string()],
        range_depth: 0,
        depth: 0,
        trees: HashMap::new(),
        has_function,
    };
    let root = p.parse_root()?;
    let mut trees = p.trees;
    // Go keeps a defined template of the same name over an empty main template.
    if !is_empty(&root) || !trees.contains_key(name) {
        trees.insert(name.to_string(), root);
    }
    Ok(Templates {
        name: name.to_string(),
        text: text.to_string(),
        trees,
    })
}

fn is_empty(list: &List) -> bool {
    list.iter().all(|n| match n {
        Node::Text(t) => t.trim().is_empty(),
        _ => false,
    })
}

struct Parser<'a> {
    name: &'a str,
    items: Vec<Item>,
    next_item: usize,
    /// Go's look-ahead buffer: pushed-back tokens, the next one last.
    token: Vec<Item>,
    vars: Vec<String>,
    range_depth: usize,
    depth: usize,
    trees: HashMap<String, List>,
    has_function: &'a dyn Fn(&str) -> bool,
}

type Parsed<T> = Result<T, String>;

impl Parser<'_> {
    fn next(&mut self) -> Item {
        if let Some(t) = self.token.pop() {
            return t;
        }
        match self.items.get(self.next_item) {
            Some(t) => {
                self.next_item += 1;
                t.clone()
            }
            // The lexer stops at EOF or an error; asking further repeats it.
            None => self.items.last().cloned().unwrap_or(Item {
                typ: ItemType::Eof,
                pos: 0,
                val: String::new(),
                line: 1,
            }),
        }
    }

    fn backup(&mut self, t: Item) {
        self.token.push(t);
    }

    fn peek(&mut self) -> Item {
        let t = self.next();
        self.backup(t.clone());
        t
    }

    fn next_non_space(&mut self) -> Item {
        loop {
            let t = self.next();
            if t.typ != ItemType::Space {
                return t;
            }
        }
    }

    fn peek_non_space(&mut self) -> Item {
        let t = self.next_non_space();
        self.backup(t.clone());
        t
    }

    /// Go's `Tree.errorf`: the line is that of the last token read from the lexer.
    fn error(&self, message: impl fmt::Display) -> String {
        let line = self.items[..self.next_item].last().map_or(1, |t| t.line);
        format!("template: {}:{line}: {message}", self.name)
    }

    fn unexpected(&self, t: &Item, context: &str) -> String {
        if t.typ == ItemType::Error {
            return self.error(t);
        }
        self.error(format_args!("unexpected {t} in {context}"))
    }

    fn expect(&mut self, typ: ItemType, context: &str) -> Parsed<Item> {
        let t = self.next_non_space();
        if t.typ != typ {
            return Err(self.unexpected(&t, context));
        }
        Ok(t)
    }

    fn enter(&mut self) -> Parsed<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error("max expression depth exceeded"));
        }
        Ok(())
    }

    fn parse_root(&mut self) -> Parsed<List> {
        let mut root = Vec::new();
        while self.peek().typ != ItemType::Eof {
            if self.peek().typ == ItemType::LeftDelim {
                let delim = self.next();
                let after = self.next_non_space();
                if after.typ == ItemType::Define {
                    self.parse_definition()?;
                    continue;
                }
                self.backup(after);
                self.backup(delim);
            }
            match self.text_or_action()? {
                Parsed2::Node(n) => root.push(n),
                end => return Err(self.error(format_args!("unexpected {end}"))),
            }
        }
        Ok(root)
    }

    fn add_tree(&mut self, name: String, list: List) -> Parsed<()> {
        match self.trees.get(&name) {
            Some(existing) if !is_empty(existing) && !is_empty(&list) => Err(self.error(
                format_args!("template: multiple definition of template {name:?}"),
            )),
            Some(existing) if !is_empty(existing) => Ok(()),
            _ => {
                self.trees.insert(name, list);
                Ok(())
            }
        }
    }

    fn template_name(&mut self, t: &Item, context: &str) -> Parsed<String> {
        match t.typ {
            ItemType::String | ItemType::RawString => {
                unquote(&t.val).ok_or_else(|| self.error("invalid syntax"))
            }
            _ => Err(self.unexpected(t, context)),
        }
    }

    fn parse_definition(&mut self) -> Parsed<()> {
        const CONTEXT: &str = "define clause";
        let t = self.next_non_space();
        if !matches!(t.typ, ItemType::String | ItemType::RawString) {
            return Err(self.unexpected(&t, CONTEXT));
        }
        let name = self.template_name(&t, CONTEXT)?;
        self.expect(ItemType::RightDelim, CONTEXT)?;
        // A definition sees only its own variables.
        let outer = std::mem::replace(&mut self.vars, vec!["$".to_string()]);
        let (list, end) = self.item_list()?;
        self.vars = outer;
        if let Parsed2::Else = end {
            return Err(self.error(format_args!("unexpected {end} in {CONTEXT}")));
        }
        self.add_tree(name, list)
    }

    /// Nodes up to an `{{end}}` or `{{else}}`, which is returned.
    fn item_list(&mut self) -> Parsed<(List, Parsed2)> {
        self.enter()?;
        let mut list = Vec::new();
        while self.peek_non_space().typ != ItemType::Eof {
            match self.text_or_action()? {
                Parsed2::Node(n) => list.push(n),
                end => {
                    self.depth -= 1;
                    return Ok((list, end));
                }
            }
        }
        Err(self.error("unexpected EOF"))
    }

    fn text_or_action(&mut self) -> Parsed<Parsed2> {
        let t = self.next_non_space();
        match t.typ {
            ItemType::Text => Ok(Parsed2::Node(Node::Text(t.val))),
            ItemType::LeftDelim => self.action(),
            _ => Err(self.unexpected(&t, "input")),
        }
    }

    fn action(&mut self) -> Parsed<Parsed2> {
        let t = self.next_non_space();
        let node = match t.typ {
            ItemType::Block => self.block_control()?,
            ItemType::Break | ItemType::Continue => {
                let word = if t.typ == ItemType::Break {
                    "break"
                } else {
                    "continue"
                };
                let after = self.next_non_space();
                if after.typ != ItemType::RightDelim {
                    return Err(self.unexpected(&after, &format!("{{{{{word}}}}}")));
                }
                if self.range_depth == 0 {
                    return Err(self.error(format_args!("{{{{{word}}}}} outside {{{{range}}}}")));
                }
                if t.typ == ItemType::Break {
                    Node::Break
                } else {
                    Node::Continue
                }
            }
            ItemType::Else => {
                // `{{else if …}}` leaves the `if` for the enclosing control to read.
                if self.peek_non_space().typ != ItemType::If {
                    self.expect(ItemType::RightDelim, "else")?;
                }
                return Ok(Parsed2::Else);
            }
            ItemType::End => {
                self.expect(ItemType::RightDelim, "end")?;
                return Ok(Parsed2::End);
            }
            ItemType::If => Node::If(self.control(true, "if")?),
            ItemType::Range => Node::Range(self.control(false, "range")?),
            ItemType::With => Node::With(self.control(false, "with")?),
            ItemType::Template => self.template_control()?,
            _ => {
                self.backup(t);
                Node::Action(self.pipeline("command", ItemType::RightDelim)?)
            }
        };
        Ok(Parsed2::Node(node))
    }

    fn control(&mut self, allow_else_if: bool, context: &str) -> Parsed<Branch> {
        let mark = self.vars.len();
        let pipe = self.pipeline(context, ItemType::RightDelim)?;
        if context == "range" {
            self.range_depth += 1;
        }
        let (list, next) = self.item_list()?;
        if context == "range" {
            self.range_depth -= 1;
        }
        let mut else_list = None;
        if let Parsed2::Else = next {
            if allow_else_if && self.peek().typ == ItemType::If {
                // `{{if a}}…{{else if b}}…{{end}}` is `{{if a}}…{{else}}{{if b}}…{{end}}{{end}}`.
                self.next();
                self.enter()?;
                let inner = self.control(true, "if")?;
                self.depth -= 1;
                else_list = Some(vec![Node::If(inner)]);
            } else {
                let (list, next) = self.item_list()?;
                if let Parsed2::Else = next {
                    return Err(self.error(format_args!("expected end; found {next}")));
                }
                else_list = Some(list);
            }
        }
        self.vars.truncate(mark);
        Ok(Branch {
            pipe,
            list,
            else_list,
        })
    }

    fn template_control(&mut self) -> Parsed<Node> {
        const CONTEXT: &str = "template clause";
        let t = self.next_non_space();
        let name = self.template_name(&t, CONTEXT)?;
        let next = self.next_non_space();
        let pipe = if next.typ != ItemType::RightDelim {
            self.backup(next);
            Some(self.pipeline(CONTEXT, ItemType::RightDelim)?)
        } else {
            None
        };
        Ok(Node::Template {
            pos: t.pos,
            name,
            pipe,
        })
    }

    fn block_control(&mut self) -> Parsed<Node> {
        const CONTEXT: &str = "block clause";
        let t = self.next_non_space();
        let name = self.template_name(&t, CONTEXT)?;
        let pipe = self.pipeline(CONTEXT, ItemType::RightDelim)?;
        let outer = std::mem::replace(&mut self.vars, vec!["$".to_string()]);
        let (list, end) = self.item_list()?;
        self.vars = outer;
        if let Parsed2::Else = end {
            return Err(self.error(format_args!("unexpected {end} in {CONTEXT}")));
        }
        self.add_tree(name.clone(), list)?;
        Ok(Node::Template {
            pos: t.pos,
            name,
            pipe: Some(pipe),
        })
    }

    fn pipeline(&mut self, context: &str, end: ItemType) -> Parsed<Pipe> {
        let mut pipe = Pipe {
            pos: self.peek_non_space().pos,
            is_assign: false,
            decl: Vec::new(),
            cmds: Vec::new(),
        };
        loop {
            let v = self.peek_non_space();
            if v.typ != ItemType::Variable {
                break;
            }
            let v = self.next_non_space();
            let after_variable = self.peek();
            let next = self.peek_non_space();
            match next.typ {
                ItemType::Assign | ItemType::Declare => {
                    pipe.is_assign = next.typ == ItemType::Assign;
                    self.next_non_space();
                    pipe.decl.push(v.val.clone());
                    self.vars.push(v.val);
                    break;
                }
                ItemType::Char if next.val == "," => {
                    self.next_non_space();
                    pipe.decl.push(v.val.clone());
                    self.vars.push(v.val);
                    if context == "range" && pipe.decl.len() < 2 {
                        match self.peek_non_space().typ {
                            ItemType::Variable | ItemType::RightDelim | ItemType::RightParen => {
                                continue
                            }
                            _ => return Err(self.error("range can only initialize variables")),
                        }
                    }
                    return Err(self.error(format_args!("too many declarations in {context}")));
                }
                _ if after_variable.typ == ItemType::Space => {
                    // Go's backup3: the variable, then the space after it.
                    self.token.clear();
                    self.backup(next);
                    self.backup(after_variable);
                    self.backup(v);
                    break;
                }
                _ => {
                    self.token.clear();
                    self.backup(next);
                    self.backup(v);
                    break;
                }
            }
        }
        loop {
            let t = self.next_non_space();
            match t.typ {
                typ if typ == end => {
                    if pipe.cmds.is_empty() {
                        return Err(self.error(format_args!("missing value for {context}")));
                    }
                    for (i, c) in pipe.cmds.iter().enumerate().skip(1) {
                        if matches!(
                            c.args[0],
                            Arg::Bool { .. }
                                | Arg::Dot { .. }
                                | Arg::Nil { .. }
                                | Arg::Number(_)
                                | Arg::String { .. }
                        ) {
                            return Err(self.error(format_args!(
                                "non executable command in pipeline stage {}",
                                i + 1
                            )));
                        }
                    }
                    return Ok(pipe);
                }
                ItemType::Bool
                | ItemType::CharConstant
                | ItemType::Complex
                | ItemType::Dot
                | ItemType::Field
                | ItemType::Identifier
                | ItemType::Number
                | ItemType::Nil
                | ItemType::RawString
                | ItemType::String
                | ItemType::Variable
                | ItemType::LeftParen => {
                    self.backup(t);
                    let cmd = self.command()?;
                    pipe.cmds.push(cmd);
                }
                _ => return Err(self.unexpected(&t, context)),
            }
        }
    }

    fn command(&mut self) -> Parsed<Command> {
        let mut cmd = Command {
            pos: self.peek_non_space().pos,
            args: Vec::new(),
        };
        loop {
            self.peek_non_space();
            if let Some(operand) = self.operand()? {
                cmd.args.push(operand);
            }
            let t = self.next();
            match t.typ {
                ItemType::Space => continue,
                ItemType::RightDelim | ItemType::RightParen => self.backup(t),
                ItemType::Pipe => {}
                _ => return Err(self.unexpected(&t, "operand")),
            }
            break;
        }
        if cmd.args.is_empty() {
            return Err(self.error("empty command"));
        }
        Ok(cmd)
    }

    fn operand(&mut self) -> Parsed<Option<Arg>> {
        let Some(node) = self.term()? else {
            return Ok(None);
        };
        if self.peek().typ != ItemType::Field {
            return Ok(Some(node));
        }
        let pos = self.peek().pos;
        let mut fields = Vec::new();
        while self.peek().typ == ItemType::Field {
            fields.push(self.next().val[1..].to_string());
        }
        Ok(Some(match node {
            Arg::Field { mut idents, .. } => {
                idents.extend(fields);
                Arg::Field { pos, idents }
            }
            Arg::Variable { mut idents, .. } => {
                idents.extend(fields);
                Arg::Variable { pos, idents }
            }
            Arg::Bool { .. }
            | Arg::String { .. }
            | Arg::Number(_)
            | Arg::Nil { .. }
            | Arg::Dot { .. } => {
                let quoted = crate::goquote::quote(&node.to_string(), false);
                return Err(self.error(format_args!("unexpected . after term {quoted}")));
            }
            node => Arg::Chain {
                pos,
                node: Box::new(node),
                fields,
            },
        }))
    }

    fn term(&mut self) -> Parsed<Option<Arg>> {
        let t = self.next_non_space();
        let pos = t.pos;
        Ok(Some(match t.typ {
            ItemType::Identifier => {
                if !(self.has_function)(&t.val) {
                    return Err(self.error(format_args!("function {:?} not defined", t.val)));
                }
                Arg::Identifier { pos, name: t.val }
            }
            ItemType::Dot => Arg::Dot { pos },
            ItemType::Nil => Arg::Nil { pos },
            ItemType::Variable => {
                if !self.vars.contains(&t.val) {
                    return Err(self.error(format_args!("undefined variable {:?}", t.val)));
                }
                Arg::Variable {
                    pos,
                    idents: vec![t.val],
                }
            }
            ItemType::Field => Arg::Field {
                pos,
                idents: vec![t.val[1..].to_string()],
            },
            ItemType::Bool => Arg::Bool {
                pos,
                value: t.val == "true",
            },
            ItemType::CharConstant | ItemType::Complex | ItemType::Number => {
                Arg::Number(Box::new(number(&t).map_err(|e| self.error(e))?))
            }
            ItemType::LeftParen => {
                self.enter()?;
                let pipe = self.pipeline("parenthesized pipeline", ItemType::RightParen)?;
                self.depth -= 1;
                Arg::Pipe(Box::new(pipe))
            }
            ItemType::String | ItemType::RawString => {
                let text = unquote(&t.val).ok_or_else(|| self.error("invalid syntax"))?;
                Arg::String {
                    pos,
                    quoted: t.val,
                    text,
                }
            }
            _ => {
                self.backup(t);
                return Ok(None);
            }
        }))
    }
}

/// What `text_or_action` read: a node, or the `{{end}}`/`{{else}}` closing a list.
enum Parsed2 {
    Node(Node),
    End,
    Else,
}

impl fmt::Display for Parsed2 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Parsed2::Node(_) => "node",
            Parsed2::End => "{{end}}",
            Parsed2::Else => "{{else}}",
        })
    }
}
