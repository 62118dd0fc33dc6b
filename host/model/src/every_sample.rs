//! The wire contract of `/federate`'s every-sample mode, shared by the leaf that answers it and
//! the global that asks.
//!
//! Plain `/federate` answers the newest sample of each series: a global scraping every 15 s a
//! leaf that scrapes every second keeps one sample in fifteen. With a `cursor` parameter the
//! leaf answers every sample it stored since the cursor, and a new cursor:
//!
//! ```text
//! GET /federate?match[]=...&cursor=            first request: the lookback window, then on
//! GET /federate?match[]=...&cursor=<token>     every sample stored since <token>
//!
//! # CURSOR-RESET 1712000000000 leaf restarted       only when the cursor could not be honoured
//! # TYPE up untyped
//! up{instance="a:9100",job="node"} 1 1712000001000  every sample, oldest first, each series'
//! up{instance="a:9100",job="node"} 1 1712000002000  lines together, families as /federate
//! # STALE up{instance="b:9100",job="node"} NaN 1712000002000  a stale marker (series ended)
//! # CURSOR <token> complete                          last line: the cursor to send next
//! ```
//!
//! The body stays the Prometheus text format (every extension is a comment line), so `curl`,
//! `promtool` and gzip treat it as they treat `/federate`. A response cut short (a dropped
//! connection) has no `# CURSOR` line and is not taken: the asker keeps its old cursor.
//! `partial` means the leaf held more than `max_samples` and stopped at a timestamp (never
//! inside one, so a histogram's buckets of one scrape arrive together): ask again at once.
//! Samples may come again (the leaf errs on the side of sending); the asker drops those it
//! stored already. `CURSOR-RESET` names the oldest timestamp sent and why the cursor was not
//! honoured (the leaf restarted, or the cursor is older than the leaf remembers): samples
//! stored late before that point may be missing.

/// The query parameter that asks for every-sample mode.
pub const CURSOR_PARAM: &str = "cursor";
/// The query parameter bounding the samples of one answer.
pub const MAX_SAMPLES_PARAM: &str = "max_samples";
/// A stale marker's line starts with this, then the series, `NaN` and the timestamp.
pub const STALE_PREFIX: &str = "# STALE ";
const TRAILER_PREFIX: &str = "# CURSOR ";
const RESET_PREFIX: &str = "# CURSOR-RESET ";

/// The last line of a complete answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trailer {
    /// What to send as `cursor` next.
    pub cursor: String,
    /// False when the leaf stopped at its sample budget: there is more to ask for now.
    pub complete: bool,
}

impl Trailer {
    /// Appends the trailer line.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(TRAILER_PREFIX.as_bytes());
        out.extend_from_slice(self.cursor.as_bytes());
        out.extend_from_slice(if self.complete {
            b" complete\n"
        } else {
            b" partial\n"
        });
    }

    /// The trailer of `body`, if its last line is one.
    pub fn find(body: &[u8]) -> Option<Trailer> {
        let body = body.strip_suffix(b"\n")?;
        let start = body.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let line = std::str::from_utf8(&body[start..]).ok()?;
        let (cursor, state) = line.strip_prefix(TRAILER_PREFIX)?.split_once(' ')?;
        let complete = match state {
            "complete" => true,
            "partial" => false,
            _ => return None,
        };
        Some(Trailer {
            cursor: cursor.to_string(),
            complete,
        })
    }
}

/// Why a leaf could not honour a cursor, and from which timestamp it sent instead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reset {
    pub from_ms: i64,
    pub reason: String,
}

impl Reset {
    /// Appends the reset line.
    pub fn write(&self, out: &mut Vec<u8>) {
        let line = format!("{RESET_PREFIX}{} {}\n", self.from_ms, self.reason);
        out.extend_from_slice(line.as_bytes());
    }

    /// The reset line `body` starts with, if any.
    pub fn find(body: &[u8]) -> Option<Reset> {
        let rest = body.strip_prefix(RESET_PREFIX.as_bytes())?;
        let line = &rest[..rest.iter().position(|&b| b == b'\n')?];
        let (from, reason) = std::str::from_utf8(line).ok()?.split_once(' ')?;
        Some(Reset {
            from_ms: from.parse().ok()?,
            reason: reason.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailer_and_reset_round_trip() {
        let mut body = Vec::new();
        let reset = Reset {
            from_ms: 1_712_000_000_000,
            reason: "leaf restarted".into(),
        };
        reset.write(&mut body);
        body.extend_from_slice(b"# TYPE up untyped\nup 1 1712000001000\n");
        for complete in [true, false] {
            let trailer = Trailer {
                cursor: "1.ab.2.3.4.".into(),
                complete,
            };
            let mut whole = body.clone();
            trailer.write(&mut whole);
            assert_eq!(Trailer::find(&whole), Some(trailer));
            assert_eq!(Reset::find(&whole), Some(reset.clone()));
        }
        assert_eq!(Trailer::find(&body), None, "cut short: no trailer");
        assert_eq!(Trailer::find(b""), None);
        assert_eq!(Trailer::find(b"# CURSOR x done\n"), None);
        assert_eq!(Reset::find(b"# TYPE up untyped\n"), None);
    }
}
