//! Execution as Go 1.19's `text/template/exec.go` does it, step for step where it shows: the
//! node an error names is the last one Go's executor marked, arguments are checked against
//! the function's parameter types with Go's messages, `and`/`or` short-circuit, variables
//! live until the end of their control, and a missing map key gives the zero value
//! (`missingkey=zero`).

use std::rc::Rc;

use super::funcs::{self, Env, Function, Param};
use super::node::{Arg, Branch, Command, List, Node, Number, Pipe, Templates};
use super::parse::MAX_DEPTH;
use super::printf::print_action;
use super::value::Value;

/// Output an expansion may produce; a template that loops its way past it is stopped.
const MAX_OUTPUT: usize = 4 << 20;
/// Nodes an expansion may execute.
const MAX_STEPS: usize = 1_000_000;

/// Why an execution stopped: Go's `ExecError` text.
pub(super) type Failure = String;

/// What a walk of a node asks of the `range` around it.
#[derive(PartialEq)]
enum Flow {
    Normal,
    Break,
    Continue,
}

/// The node an error is reported at (Go's `state.node`).
#[derive(Clone, Copy)]
enum At<'t> {
    None,
    Action(&'t Pipe),
    Pipe(&'t Pipe),
    Command(&'t Command),
    Arg(&'t Arg),
    Template(usize, &'t str, Option<&'t Pipe>),
}

type Exec<T> = Result<T, Failure>;

pub(super) struct State<'t, 'e> {
    templates: &'t Templates,
    /// The template executing, as `executing "…"` names it.
    current: &'t str,
    env: &'e mut Env<'e>,
    vars: Vec<(&'t str, Value)>,
    at: At<'t>,
    depth: usize,
    steps: usize,
    out: String,
}

/// Executes the main template of `templates` on `data`.
pub(super) fn execute<'e>(
    templates: &Templates,
    data: Value,
    env: &'e mut Env<'e>,
) -> Result<String, Failure> {
    let mut s = State {
        templates,
        current: &templates.name,
        env,
        vars: vec![("$", data.clone())],
        at: At::None,
        depth: 0,
        steps: 0,
        out: String::new(),
    };
    let Some(root) = templates.trees.get(&templates.name) else {
        return Err(s.error(format!(
            "{:?} is an incomplete or empty template",
            templates.name
        )));
    };
    s.walk_list(&data, root)?;
    Ok(s.out)
}

impl<'t> State<'t, '_> {
    fn error(&self, message: impl std::fmt::Display) -> Failure {
        let name = self.current;
        let (pos, context) = match self.at {
            At::None => return format!("template: {name}: {message}"),
            At::Action(p) => (p.pos, format!("{{{{{p}}}}}")),
            At::Pipe(p) => (p.pos, p.to_string()),
            At::Command(c) => (c.pos, c.to_string()),
            At::Arg(a) => (a.pos(), a.to_string()),
            At::Template(pos, name, pipe) => (
                pos,
                match pipe {
                    Some(p) => format!("{{{{template {name:?} {p}}}}}"),
                    None => format!("{{{{template {name:?}}}}}"),
                },
            ),
        };
        let text = &self.templates.text[..pos.min(self.templates.text.len())];
        let line = 1 + text.matches('\n').count();
        let col = match text.rfind('\n') {
            Some(i) => pos - i - 1,
            None => pos,
        };
        format!(
            "template: {}:{line}:{col}: executing {name:?} at <{context}>: {message}",
            self.templates.name
        )
    }

    fn write(&mut self, text: &str) -> Exec<()> {
        self.out.push_str(text);
        if self.out.len() > MAX_OUTPUT {
            return Err(self.error(format!("output exceeds {MAX_OUTPUT} bytes")));
        }
        Ok(())
    }

    fn nest(&mut self) -> Exec<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(format!("exceeded maximum template depth ({MAX_DEPTH})")));
        }
        Ok(())
    }

    fn walk_list(&mut self, dot: &Value, list: &'t List) -> Exec<Flow> {
        self.nest()?;
        for node in list {
            let flow = self.walk(dot, node)?;
            if flow != Flow::Normal {
                self.depth -= 1;
                return Ok(flow);
            }
        }
        self.depth -= 1;
        Ok(Flow::Normal)
    }

    fn walk(&mut self, dot: &Value, node: &'t Node) -> Exec<Flow> {
        self.steps += 1;
        if self.steps > MAX_STEPS {
            return Err(self.error(format!("execution exceeds {MAX_STEPS} steps")));
        }
        match node {
            Node::Text(text) => self.write(text)?,
            Node::Action(pipe) => {
                self.at = At::Action(pipe);
                let value = self.eval_pipeline(dot, pipe)?;
                if pipe.decl.is_empty() {
                    self.at = At::Action(pipe);
                    self.write(&print_action(&value))?;
                }
            }
            Node::If(b) => return self.walk_if_or_with(false, dot, b),
            Node::With(b) => return self.walk_if_or_with(true, dot, b),
            Node::Range(b) => return self.walk_range(dot, b),
            Node::Template { pos, name, pipe } => {
                self.at = At::Template(*pos, name, pipe.as_ref());
                let Some(tree) = self.templates.trees.get(name) else {
                    return Err(self.error(format!("template {name:?} not defined")));
                };
                let dot = match pipe {
                    Some(p) => self.eval_pipeline(dot, p)?,
                    None => Value::Nil,
                };
                // No dynamic scoping: the template sees only `$`, set to its dot.
                let vars = std::mem::replace(&mut self.vars, vec![("$", dot.clone())]);
                let current = std::mem::replace(&mut self.current, name);
                let result = self.walk_list(&dot, tree);
                self.current = current;
                self.vars = vars;
                result?;
            }
            Node::Break => return Ok(Flow::Break),
            Node::Continue => return Ok(Flow::Continue),
        }
        Ok(Flow::Normal)
    }

    fn walk_if_or_with(&mut self, with: bool, dot: &Value, b: &'t Branch) -> Exec<Flow> {
        let mark = self.vars.len();
        let value = self.eval_pipeline(dot, &b.pipe)?;
        let flow = if value.truth() {
            if with {
                self.walk_list(&value, &b.list)?
            } else {
                self.walk_list(dot, &b.list)?
            }
        } else if let Some(else_list) = &b.else_list {
            self.walk_list(dot, else_list)?
        } else {
            Flow::Normal
        };
        self.vars.truncate(mark);
        Ok(flow)
    }

    fn walk_range(&mut self, dot: &Value, b: &'t Branch) -> Exec<Flow> {
        let outer = self.vars.len();
        let value = self.eval_pipeline(dot, &b.pipe)?;
        let mark = self.vars.len();
        let items: Vec<(Value, Value)> = match &value {
            Value::Samples(l) => l
                .iter()
                .enumerate()
                .map(|(i, s)| (Value::Int(i as i64), Value::Sample(Some(s.clone()))))
                .collect(),
            Value::Map(m) => m
                .entries
                .iter()
                .map(|(k, v)| (Value::string(k), v.clone()))
                .collect(),
            Value::Nil => Vec::new(),
            other => {
                let shown = super::printf::sprint(std::slice::from_ref(other));
                return Err(self.error(format!("range can't iterate over {shown}")));
            }
        };
        let decl = b.pipe.decl.len();
        for (index, elem) in &items {
            if decl > 0 {
                self.vars[mark - 1].1 = elem.clone();
            }
            if decl > 1 {
                self.vars[mark - 2].1 = index.clone();
            }
            let flow = self.walk_list(elem, &b.list)?;
            self.vars.truncate(mark);
            if flow == Flow::Break {
                break;
            }
        }
        if items.is_empty() {
            if let Some(else_list) = &b.else_list {
                let flow = self.walk_list(dot, else_list)?;
                self.vars.truncate(outer);
                return Ok(flow);
            }
        }
        self.vars.truncate(outer);
        Ok(Flow::Normal)
    }

    fn eval_pipeline(&mut self, dot: &Value, pipe: &'t Pipe) -> Exec<Value> {
        self.at = At::Pipe(pipe);
        let mut value = None;
        for cmd in &pipe.cmds {
            value = Some(self.eval_command(dot, cmd, value)?);
        }
        let value = value.unwrap_or(Value::Nil);
        for name in &pipe.decl {
            if pipe.is_assign {
                match self.vars.iter_mut().rev().find(|(n, _)| n == name) {
                    Some(var) => var.1 = value.clone(),
                    None => return Err(self.error(format!("undefined variable: {name}"))),
                }
            } else {
                self.vars.push((name, value.clone()));
            }
        }
        Ok(value)
    }

    fn not_a_function(&self, args: &[Arg], final_: &Option<Value>) -> Exec<()> {
        if args.len() > 1 || final_.is_some() {
            return Err(self.error(format!("can't give argument to non-function {}", args[0])));
        }
        Ok(())
    }

    fn eval_command(
        &mut self,
        dot: &Value,
        cmd: &'t Command,
        final_: Option<Value>,
    ) -> Exec<Value> {
        let first = &cmd.args[0];
        match first {
            Arg::Field { idents, .. } => {
                self.at = At::Arg(first);
                return self.eval_field_chain(dot, dot.clone(), idents, Some(&cmd.args), final_);
            }
            Arg::Chain { .. } => return self.eval_chain(dot, first, Some(&cmd.args), final_),
            Arg::Identifier { name, .. } => {
                self.at = At::Arg(first);
                return self.eval_function(dot, name, At::Command(cmd), Some(&cmd.args), final_);
            }
            Arg::Pipe(p) => {
                self.not_a_function(&cmd.args, &final_)?;
                self.nest()?;
                let v = self.eval_pipeline(dot, p);
                self.depth -= 1;
                return v;
            }
            Arg::Variable { .. } => return self.eval_variable(dot, first, Some(&cmd.args), final_),
            _ => {}
        }
        self.at = At::Arg(first);
        self.not_a_function(&cmd.args, &final_)?;
        match first {
            Arg::Bool { value, .. } => Ok(Value::Bool(*value)),
            Arg::Dot { .. } => Ok(dot.clone()),
            Arg::Nil { .. } => Err(self.error("nil is not a command")),
            Arg::Number(n) => self.ideal_constant(first, n),
            Arg::String { text, .. } => Ok(Value::string(text)),
            _ => Err(self.error(format!("can't evaluate command {:?}", first.to_string()))),
        }
    }

    fn ideal_constant(&mut self, arg: &'t Arg, n: &Number) -> Exec<Value> {
        self.at = At::Arg(arg);
        let hex = n.text.len() > 2
            && n.text.starts_with('0')
            && n.text[1..].starts_with(['x', 'X'])
            && !n.text.contains(['p', 'P']);
        let rune = n.text.starts_with('\'');
        match (n.float, n.int) {
            (Some(f), _) if !hex && !rune && n.text.contains(['.', 'e', 'E', 'p', 'P']) => {
                Ok(Value::Float(f))
            }
            (_, Some(i)) => Ok(Value::Int(i)),
            _ if n.uint_only => Err(self.error(format!("{} overflows int", n.text))),
            _ => Ok(Value::Nil),
        }
    }

    fn eval_chain(
        &mut self,
        dot: &Value,
        chain: &'t Arg,
        args: Option<&'t [Arg]>,
        final_: Option<Value>,
    ) -> Exec<Value> {
        let Arg::Chain { node, fields, .. } = chain else {
            unreachable!("eval_chain is given chains");
        };
        self.at = At::Arg(chain);
        if let Arg::Nil { .. } = node.as_ref() {
            return Err(self.error(format!("indirection through explicit nil in {chain}")));
        }
        let receiver = self.eval_arg(dot, Param::Any, node)?;
        self.eval_field_chain(dot, receiver, fields, args, final_)
    }

    fn eval_variable(
        &mut self,
        dot: &Value,
        var: &'t Arg,
        args: Option<&'t [Arg]>,
        final_: Option<Value>,
    ) -> Exec<Value> {
        let Arg::Variable { idents, .. } = var else {
            unreachable!("eval_variable is given variables");
        };
        self.at = At::Arg(var);
        let Some(value) = self
            .vars
            .iter()
            .rev()
            .find(|(n, _)| *n == idents[0])
            .map(|v| v.1.clone())
        else {
            return Err(self.error(format!("undefined variable: {}", idents[0])));
        };
        if idents.len() == 1 {
            if let Some(args) = args {
                self.not_a_function(args, &final_)?;
            }
            return Ok(value);
        }
        self.eval_field_chain(dot, value, &idents[1..], args, final_)
    }

    fn eval_field_chain(
        &mut self,
        dot: &Value,
        mut receiver: Value,
        idents: &'t [String],
        args: Option<&'t [Arg]>,
        final_: Option<Value>,
    ) -> Exec<Value> {
        let n = idents.len();
        for ident in &idents[..n - 1] {
            receiver = self.eval_field(dot, ident, None, None, receiver)?;
        }
        self.eval_field(dot, &idents[n - 1], args, final_, receiver)
    }

    /// `.Name` of `receiver`: a method call, a struct field or a map entry.
    fn eval_field(
        &mut self,
        dot: &Value,
        name: &'t str,
        args: Option<&'t [Arg]>,
        final_: Option<Value>,
        receiver: Value,
    ) -> Exec<Value> {
        if let Value::Nil = receiver {
            return Ok(Value::Nil);
        }
        if let Some(method) = funcs::method(&receiver, name) {
            let at = self.at;
            return self.eval_call(dot, method, at, name, args, final_, Some(receiver));
        }
        let has_args = args.is_some_and(|a| a.len() > 1) || final_.is_some();
        let field = match &receiver {
            Value::Alert(a) => match name {
                "Labels" => Some(Value::Map(a.labels.clone())),
                "ExternalLabels" => Some(Value::Map(a.external_labels.clone())),
                "ExternalURL" => Some(Value::Str(a.external_url.clone())),
                "Value" => Some(Value::Float(a.value)),
                _ => None,
            },
            Value::Sample(Some(s)) => match name {
                "Labels" => Some(Value::Map(s.labels.clone())),
                "Value" => Some(Value::Float(s.value)),
                _ => None,
            },
            Value::Sample(None) if matches!(name, "Labels" | "Value") => {
                return Err(self.error(format!("nil pointer evaluating *template.sample.{name}")));
            }
            Value::Map(m) => {
                if has_args {
                    return Err(self.error(format!("{name} is not a method but has arguments")));
                }
                return Ok(m.get(name));
            }
            _ => None,
        };
        match field {
            Some(_) if has_args => Err(self.error(format!(
                "{name} has arguments but cannot be invoked as function"
            ))),
            Some(v) => Ok(v),
            None => {
                let typ = receiver.type_name();
                Err(self.error(format!("can't evaluate field {name} in type {typ}")))
            }
        }
    }

    fn eval_function(
        &mut self,
        dot: &Value,
        name: &'t str,
        node: At<'t>,
        args: Option<&'t [Arg]>,
        final_: Option<Value>,
    ) -> Exec<Value> {
        let Some(f) = funcs::function(name) else {
            return Err(self.error(format!("{name:?} is not a defined function")));
        };
        self.eval_call(dot, f, node, name, args, final_, None)
    }

    /// Calls `f` with the command's arguments after the first word, and the pipeline's value
    /// last; `receiver` is a method's.
    #[allow(clippy::too_many_arguments)]
    fn eval_call(
        &mut self,
        dot: &Value,
        f: &'static Function,
        node: At<'t>,
        name: &str,
        args: Option<&'t [Arg]>,
        final_: Option<Value>,
        receiver: Option<Value>,
    ) -> Exec<Value> {
        let args = args.map_or(&[][..], |a| &a[1..]);
        let num_in = args.len() + usize::from(final_.is_some());
        let fixed = f.params.len();
        match f.variadic {
            Some(_) if num_in < fixed => {
                return Err(self.error(format!(
                    "wrong number of args for {name}: want at least {fixed} got {}",
                    args.len()
                )))
            }
            None if num_in != fixed => {
                return Err(self.error(format!(
                    "wrong number of args for {name}: want {fixed} got {num_in}"
                )))
            }
            _ => {}
        }
        if f.short_circuit {
            // `and` stops at the first false argument, `or` at the first true one.
            let or = name == "or";
            let mut v = Value::Nil;
            for arg in args {
                v = self.eval_arg(dot, Param::Any, arg)?;
                if v.truth() == or {
                    return Ok(v);
                }
            }
            return Ok(final_.unwrap_or(v));
        }
        let param = |i: usize| {
            f.params
                .get(i)
                .copied()
                .or(f.variadic)
                .unwrap_or(Param::Any)
        };
        let mut argv = Vec::with_capacity(num_in + 1);
        if let Some(r) = receiver {
            argv.push(r);
        }
        for (i, arg) in args.iter().enumerate() {
            argv.push(self.eval_arg(dot, param(i), arg)?);
        }
        if let Some(v) = final_ {
            argv.push(self.validate_type(v, param(num_in - 1))?);
        }
        (f.call)(self.env, &argv).map_err(|e| {
            self.at = node;
            self.error(format!("error calling {name}: {e}"))
        })
    }

    fn validate_type(&self, value: Value, param: Param) -> Exec<Value> {
        let ok = match (&value, param) {
            (_, Param::Any) => true,
            (Value::Nil, Param::Sample) => return Ok(Value::Sample(None)),
            (Value::Nil, Param::Samples) => return Ok(Value::Samples(Rc::default())),
            (Value::Nil, _) => {
                return Err(self.error(format!("invalid value; expected {}", param.type_name())))
            }
            (Value::Str(_), Param::Str)
            | (Value::Sample(_), Param::Sample)
            | (Value::Samples(_), Param::Samples) => true,
            _ => false,
        };
        if !ok {
            return Err(self.error(format!(
                "wrong type for value; expected {}; got {}",
                param.type_name(),
                value.type_name()
            )));
        }
        Ok(value)
    }

    fn eval_arg(&mut self, dot: &Value, param: Param, arg: &'t Arg) -> Exec<Value> {
        self.at = At::Arg(arg);
        let value = match arg {
            Arg::Dot { .. } => dot.clone(),
            Arg::Nil { .. } => {
                return match param {
                    Param::Any => Ok(Value::Nil),
                    Param::Sample => Ok(Value::Sample(None)),
                    Param::Samples => Ok(Value::Samples(Rc::default())),
                    Param::Str => Err(self.error("cannot assign nil to string")),
                }
            }
            Arg::Field { idents, .. } => self.eval_field_chain(
                dot,
                dot.clone(),
                idents,
                Some(std::slice::from_ref(arg)),
                None,
            )?,
            Arg::Variable { .. } => self.eval_variable(dot, arg, None, None)?,
            Arg::Pipe(p) => {
                self.nest()?;
                let v = self.eval_pipeline(dot, p)?;
                self.depth -= 1;
                v
            }
            Arg::Identifier { name, .. } => {
                self.eval_function(dot, name, At::Arg(arg), None, None)?
            }
            Arg::Chain { .. } => self.eval_chain(dot, arg, None, None)?,
            Arg::Bool { value, .. } if param == Param::Any => return Ok(Value::Bool(*value)),
            Arg::Number(n) if param == Param::Any => return self.ideal_constant(arg, n),
            Arg::String { text, .. } if matches!(param, Param::Any | Param::Str) => {
                return Ok(Value::string(text))
            }
            _ if param == Param::Str => {
                return Err(self.error(format!("expected string; found {arg}")))
            }
            _ => {
                let typ = param.type_name();
                return Err(self.error(format!("can't handle {arg} for arg of type {typ}")));
            }
        };
        self.validate_type(value, param)
    }
}

impl Param {
    fn type_name(self) -> &'static str {
        match self {
            Param::Any => "interface {}",
            Param::Str => "string",
            Param::Sample => "*template.sample",
            Param::Samples => "template.queryResult",
        }
    }
}
