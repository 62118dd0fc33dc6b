//! `/federate?cursor=…`: every sample stored since the asker's cursor, not only the newest
//! (the wire contract is `wasmfed_model::every_sample`'s).
//!
//! A cursor is a moment of the head's store clock (`wasmfed_storage::StoreClock`): the head
//! knows the oldest timestamp stored since any moment of the last day, so an answer sends every
//! sample from that floor on and misses none stored after the moment. The first request (an
//! empty cursor) sends the lookback window, as plain `/federate` would look back.
//!
//! An answer holds at most `max_samples`. When the window holds more, it is narrowed (halved
//! until it fits, never below one timestamp) and the answer is `partial`: the next cursor
//! resumes after the last timestamp sent, and the *round* (all pages since the first) ends
//! when a page reaches the present. The next round starts from the first page's moment, so a
//! sample stored during the paging with an old timestamp is found then.
//!
//! A cursor from another incarnation of the head (the leaf restarted) or older than its store
//! clock remembers is answered from its wall-clock time less the lookback, with a
//! `# CURSOR-RESET` line saying so.

use http::Response;

use super::{respond_with, BodySink, FederateJob, FederateWriter};
use crate::body::ResponseBody;
use wasmfed_model::every_sample::{Reset, Trailer, CURSOR_PARAM, MAX_SAMPLES_PARAM, STALE_PREFIX};
use wasmfed_model::expfmt;
use wasmfed_model::{is_stale_nan, Sample};
use wasmfed_storage::every::{select_every, EveryRuns};
use wasmfed_storage::{Blocks, Floor, Head, Mark, Matcher};

/// Samples of one answer unless the asker says otherwise.
pub const DEFAULT_MAX_SAMPLES: usize = 250_000;
/// The most an asker may ask for in one answer.
pub const MAX_MAX_SAMPLES: usize = 10_000_000;

/// What an every-sample request asks.
#[derive(Clone, Debug, PartialEq)]
pub struct EveryRequest {
    /// `None` for the first request of a stream.
    pub cursor: Option<Cursor>,
    pub max_samples: usize,
}

impl EveryRequest {
    /// The request's every-sample parameters; `None` when it asks for plain `/federate`.
    pub fn from_form<'a>(
        form: impl IntoIterator<Item = (&'a str, &'a str)> + Clone,
    ) -> Result<Option<EveryRequest>, String> {
        let value = |key: &str| form.clone().into_iter().find(|(k, _)| *k == key);
        let Some((_, cursor)) = value(CURSOR_PARAM) else {
            return Ok(None);
        };
        let cursor = match cursor {
            "" => None,
            token => Some(Cursor::decode(token)?),
        };
        let max_samples = match value(MAX_SAMPLES_PARAM) {
            None => DEFAULT_MAX_SAMPLES,
            Some((_, n)) => match n.parse::<usize>() {
                Ok(n) if (1..=MAX_MAX_SAMPLES).contains(&n) => n,
                _ => {
                    return Err(format!(
                        "invalid {MAX_SAMPLES_PARAM} {n:?}: a number from 1 to {MAX_MAX_SAMPLES}"
                    ))
                }
            },
        };
        Ok(Some(EveryRequest {
            cursor,
            max_samples,
        }))
    }
}

/// Where an asker stands: the moment of its last complete round and, while it pages through a
/// round, the round's first moment and the last timestamp sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor {
    since: Mark,
    /// Wall-clock time of `since`, for answering when the head no longer knows that moment.
    since_wall_ms: i64,
    /// The moment (and wall-clock time) of the current round's first page.
    round_ms: u64,
    round_wall_ms: i64,
    /// The newest timestamp sent in the current round, while it is paged.
    resume_after_ms: Option<i64>,
}

impl Cursor {
    pub fn encode(&self) -> String {
        let resume = self
            .resume_after_ms
            .map_or(String::new(), |t| t.to_string());
        format!(
            "1.{:x}.{}.{}.{}.{}.{resume}",
            self.since.incarnation,
            self.since.at_ms,
            self.since_wall_ms,
            self.round_ms,
            self.round_wall_ms
        )
    }

    pub fn decode(token: &str) -> Result<Cursor, String> {
        let bad = || format!("invalid {CURSOR_PARAM} {token:?}: not one this node gave out");
        let fields: Vec<&str> = token.split('.').collect();
        let [version, incarnation, since, since_wall, round, round_wall, resume] = fields[..]
        else {
            return Err(bad());
        };
        if version != "1" {
            return Err(bad());
        }
        let number = |s: &str| s.parse::<i64>().map_err(|_| bad());
        let moment = |s: &str| s.parse::<u64>().map_err(|_| bad());
        Ok(Cursor {
            since: Mark {
                incarnation: u64::from_str_radix(incarnation, 16).map_err(|_| bad())?,
                at_ms: moment(since)?,
            },
            since_wall_ms: number(since_wall)?,
            round_ms: moment(round)?,
            round_wall_ms: number(round_wall)?,
            resume_after_ms: match resume {
                "" => None,
                t => Some(number(t)?),
            },
        })
    }
}

/// What one answer covers, decided before anything is read.
#[derive(Debug, PartialEq)]
struct Plan {
    /// The oldest timestamp to send, if anything is to be sent.
    from_ms: Option<i64>,
    reset: Option<Reset>,
    /// The cursor of the round this page belongs to, without its resume point.
    round: Cursor,
}

/// Decides where an answer starts from the asker's cursor and the head's store clock.
fn plan(head: &Head, cursor: Option<&Cursor>, now_wall_ms: i64, lookback_ms: i64) -> Plan {
    let clock = head.store_clock();
    let Some(cursor) = cursor else {
        let now = clock.mark();
        return Plan {
            from_ms: Some(now_wall_ms - lookback_ms + 1),
            reset: None,
            round: Cursor {
                since: now,
                since_wall_ms: now_wall_ms,
                round_ms: now.at_ms,
                round_wall_ms: now_wall_ms,
                resume_after_ms: None,
            },
        };
    };
    let (floor, now) = clock.floor_since(cursor.since);
    let mut round = *cursor;
    if cursor.resume_after_ms.is_none() || cursor.since.incarnation != now.incarnation {
        // A new round (or one the head cannot continue): it starts now.
        round.round_ms = now.at_ms;
        round.round_wall_ms = now_wall_ms;
        round.resume_after_ms = None;
    }
    let (from_ms, reset) = match floor {
        Floor::Nothing => (None, None),
        Floor::From(oldest) => (Some(oldest), None),
        Floor::Expired => {
            let from_ms = cursor.since_wall_ms - lookback_ms + 1;
            let reason = if cursor.since.incarnation != now.incarnation {
                "leaf restarted"
            } else {
                "cursor older than the leaf remembers"
            };
            // Continue from the present: the resent window covers what the head can tell.
            round.since = Mark {
                incarnation: now.incarnation,
                at_ms: now.at_ms,
            };
            round.since_wall_ms = now_wall_ms;
            let reset = Reset {
                from_ms,
                reason: reason.into(),
            };
            (Some(from_ms), Some(reset))
        }
    };
    // A round's later pages go on after its last timestamp: its first page started at or
    // before that (the floor only falls as the head stores more), and what was stored since
    // with an older timestamp is the next round's.
    let from_ms = match round.resume_after_ms {
        Some(after) => Some(after + 1),
        None => from_ms,
    };
    Plan {
        from_ms,
        reset,
        round,
    }
}

/// One answer's samples and the cursor after them.
struct Page {
    runs: Option<EveryRuns>,
    trailer: Trailer,
    reset: Option<Reset>,
}

/// Reads the page `request` asks for: the whole window if it fits in the budget, else the
/// widest window from its start that does (at least one timestamp).
fn read_page(
    head: &Head,
    blocks: &Blocks,
    sets: &[Vec<Matcher>],
    request: &EveryRequest,
    (now_wall_ms, lookback_ms): (i64, i64),
) -> Result<Page, String> {
    let plan = plan(head, request.cursor.as_ref(), now_wall_ms, lookback_ms);
    let read = |window, budget| {
        select_every(head, blocks, sets, window, budget).map_err(|e| e.to_string())
    };
    let mut round = plan.round;
    let Some(from_ms) = plan.from_ms else {
        // Nothing stored since the cursor: the round is over.
        round.resume_after_ms = None;
        return Ok(Page {
            runs: None,
            trailer: complete(round),
            reset: plan.reset,
        });
    };
    if let Some(runs) = read((from_ms, i64::MAX), request.max_samples)? {
        return Ok(Page {
            runs: Some(runs),
            trailer: complete(round),
            reset: plan.reset,
        });
    }
    let mut span = (now_wall_ms - from_ms).max(0) / 2;
    let (runs, until_ms) = loop {
        if span == 0 {
            // One timestamp over the budget: sent whole, never split.
            break (read((from_ms, from_ms), usize::MAX)?, from_ms);
        }
        if let Some(runs) = read((from_ms, from_ms + span), request.max_samples)? {
            break (Some(runs), from_ms + span);
        }
        span /= 2;
    };
    round.resume_after_ms = Some(until_ms);
    Ok(Page {
        runs,
        trailer: Trailer {
            cursor: round.encode(),
            complete: false,
        },
        reset: plan.reset,
    })
}

/// The trailer ending a round: the next one starts from this round's first moment.
fn complete(round: Cursor) -> Trailer {
    let next = Cursor {
        since: Mark {
            incarnation: round.since.incarnation,
            at_ms: round.round_ms,
        },
        since_wall_ms: round.round_wall_ms,
        resume_after_ms: None,
        ..round
    };
    Trailer {
        cursor: next.encode(),
        complete: true,
    }
}

/// Answers an every-sample request: the page is read on a blocking thread, then written as
/// text families, each series' samples oldest first, stale markers as `# STALE` lines (their value written as
/// Go writes any NaN).
pub async fn respond(job: FederateJob, request: EveryRequest) -> Response<ResponseBody> {
    let (head, blocks) = (job.head.clone(), job.blocks.clone());
    let (sets, window) = (job.matcher_sets, (job.now_ms, job.lookback_ms));
    let telemetry = job.telemetry.clone();
    let select = move || read_page(&head, &blocks, &sets, &request, window);
    let (external_labels, escaping) = (job.external_labels, job.escaping);
    respond_with(job.encoding, escaping, select, move |page, sink| {
        if let Some(reset) = &page.reset {
            telemetry.federation.resets_sent.inc();
            reset.write(&mut sink.text);
        }
        if let Some(runs) = &page.runs {
            telemetry.federate_series.inc_by(runs.runs.len() as u64);
            telemetry
                .federation
                .samples_sent
                .inc_by(runs.samples() as u64);
            write_runs(&external_labels, escaping, runs, sink)?;
        }
        page.trailer.write(&mut sink.text);
        Some(())
    })
    .await
}

/// Writes the runs as `/federate` writes series, one line per sample.
fn write_runs(
    external_labels: &wasmfed_model::Labels,
    escaping: Option<wasmfed_model::escaping::NameEscaping>,
    every: &EveryRuns,
    sink: &mut BodySink,
) -> Option<()> {
    let mut writer = FederateWriter::new(external_labels, &every.selected, escaping);
    let mut series_text = Vec::new();
    for (series, samples) in every.selected.iter().zip(&every.runs) {
        if samples.is_empty() {
            continue; // removed by retention since it was selected
        }
        let Some(start) = writer.series_text(&mut sink.text, series) else {
            continue;
        };
        series_text.clear();
        series_text.extend_from_slice(&sink.text[start..]);
        sink.text.truncate(start);
        for sample in samples {
            write_sample(&mut sink.text, &series_text, sample);
        }
        sink.pass_on()?;
    }
    Some(())
}

fn write_sample(out: &mut Vec<u8>, series_text: &[u8], sample: &Sample) {
    if is_stale_nan(sample.value) {
        out.extend_from_slice(STALE_PREFIX.as_bytes());
    }
    out.extend_from_slice(series_text);
    out.push(b' ');
    expfmt::push_float(out, sample.value);
    out.push(b' ');
    expfmt::push_i64(out, sample.timestamp_ms);
    out.push(b'\n');
}

#[cfg(test)]
mod tests;
