//! Why a regex was refused, worded as Go's `regexp/syntax.Error` so that a message reads the same
//! as Prometheus': `error parsing regexp: <code>: `<expr>``, where `expr` is the offending part
//! (or, for unbalanced groups, the whole expression as compiled, anchors included).

use std::fmt;

/// Go's `regexp/syntax.ErrorCode`, plus what only the regex crate refuses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidCharRange,
    InvalidEscape,
    InvalidNamedCapture,
    InvalidPerlOp,
    InvalidRepeatOp,
    InvalidRepeatSize,
    MissingBracket,
    MissingParen,
    MissingRepeatArgument,
    TrailingBackslash,
    UnexpectedParen,
    /// Go's `expression too large`: the compiled program passes the regex crate's size limit.
    Large,
    /// Syntax Go accepts that the regex crate does not (e.g. a group name starting with a
    /// digit, or two groups of one name), with the regex crate's reason.
    Unsupported(String),
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorCode::InvalidCharRange => "invalid character class range",
            ErrorCode::InvalidEscape => "invalid escape sequence",
            ErrorCode::InvalidNamedCapture => "invalid named capture",
            ErrorCode::InvalidPerlOp => "invalid or unsupported Perl syntax",
            ErrorCode::InvalidRepeatOp => "invalid nested repetition operator",
            ErrorCode::InvalidRepeatSize => "invalid repeat count",
            ErrorCode::MissingBracket => "missing closing ]",
            ErrorCode::MissingParen => "missing closing )",
            ErrorCode::MissingRepeatArgument => "missing argument to repetition operator",
            ErrorCode::TrailingBackslash => "trailing backslash at end of expression",
            ErrorCode::UnexpectedParen => "unexpected )",
            ErrorCode::Large => "expression too large",
            ErrorCode::Unsupported(reason) => reason,
        })
    }
}

/// A refused regex: what is wrong and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub code: ErrorCode,
    /// The offending text, as Go quotes it.
    pub expr: String,
}

impl Error {
    pub(crate) fn new(code: ErrorCode, expr: &str) -> Error {
        Error {
            code,
            expr: expr.to_string(),
        }
    }

    /// The regex crate refused a translated regex that Go accepts.
    pub(crate) fn from_regex_crate(err: &regex::Error, whole: &str) -> Error {
        let code = match err {
            regex::Error::CompiledTooBig(_) => ErrorCode::Large,
            other => {
                // The last line is the reason; the lines above draw the pattern with a caret.
                let text = other.to_string();
                let reason = text.lines().last().unwrap_or_default();
                let reason = reason.strip_prefix("error: ").unwrap_or(reason);
                ErrorCode::Unsupported(reason.to_string())
            }
        };
        Error::new(code, whole)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error parsing regexp: {}: `{}`", self.code, self.expr)
    }
}

impl std::error::Error for Error {}
