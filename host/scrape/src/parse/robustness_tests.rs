//! The parsers against arbitrary and damaged input: whatever a target answers, parsing ends
//! with entries or an error, never a panic. Inputs are the checked-in corpus
//! (`testdata/parse-corpus`: the exposition examples of Prometheus' documentation, histograms
//! and number spellings, OpenMetrics, malformed lines) cut, spliced and sprinkled with bytes
//! that matter to the lexers, and plain random strings. Their memory is bounded by the input:
//! the heap they hold at their peak is measured ([`wasmfed_alloc_meter`]) and must stay within
//! a few times the input's size.

use proptest::prelude::*;
use wasmfed_alloc_meter::{peak_during, Meter};

use super::{parse_series, Format, Parser};

#[global_allocator]
static METER: Meter = Meter;

/// The most heap parsing `len` bytes may hold at once: a label-set scratch, one decoded series
/// and help text with escapes resolved are each at most a few times the line they came from.
fn bound(len: usize) -> usize {
    8 * len + 64 * 1024
}

/// [`parse_all`], failing if it held more heap than [`bound`] allows.
fn parse_all_bounded(input: &str) -> Result<(), TestCaseError> {
    let ((), peak) = peak_during(|| parse_all(input));
    prop_assert!(
        peak <= bound(input.len()),
        "{peak} bytes held for {} bytes of input",
        input.len()
    );
    Ok(())
}

fn corpus() -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/parse-corpus");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect()
}

/// Parses `input` to the end (or its first error) in both formats, and every sample's series
/// text as the series stage reads it.
fn parse_all(input: &str) {
    for format in [Format::PrometheusText, Format::OpenMetrics] {
        for entry in Parser::new(input, format) {
            if entry.is_err() {
                break;
            }
        }
    }
    for line in input.lines() {
        let series = line.split([' ', '\t']).next().unwrap_or("");
        let _ = parse_series(series);
    }
}

/// Bytes that switch the lexers' states.
const SPECIAL: &[char] = &[
    '{', '}', '"', '\\', '\n', ',', '=', ' ', '\t', '#', 'e', '+', '-', '.', '\u{0}', 'é',
];

#[derive(Clone, Debug)]
enum Edit {
    Insert(usize, char),
    Delete(usize),
    Truncate(usize),
    Splice(usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), prop::sample::select(SPECIAL)).prop_map(|(i, c)| Edit::Insert(i, c)),
        any::<usize>().prop_map(Edit::Delete),
        any::<usize>().prop_map(Edit::Truncate),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::Splice(a, b)),
    ]
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for e in edits {
        let n = chars.len().max(1);
        match *e {
            Edit::Insert(i, c) => chars.insert(i % (chars.len() + 1), c),
            Edit::Delete(i) if !chars.is_empty() => {
                chars.remove(i % n);
            }
            Edit::Truncate(i) => chars.truncate(i % (chars.len() + 1)),
            Edit::Splice(a, b) => {
                // Repeat a stretch of the input somewhere else: lines cut mid-token.
                let (from, to) = ((a % n).min(b % n), (a % n).max(b % n));
                let piece: Vec<char> = chars[from.min(chars.len())..to.min(chars.len())].to_vec();
                let at = b % (chars.len() + 1);
                chars.splice(at..at, piece);
            }
            Edit::Delete(_) => {}
        }
    }
    chars.into_iter().collect()
}

#[test]
fn the_corpus_never_panics() {
    for text in corpus() {
        parse_all_bounded(&text).unwrap();
    }
}

/// The meter sees what the parser holds: a million-label line needs its scratch, and the bound
/// grows with the input, not past it.
#[test]
fn the_bound_is_measured_not_assumed() {
    let line = format!("m{{{}}} 1\n", "a=\"b\",".repeat(100_000));
    let ((), peak) = peak_during(|| parse_all(&line));
    assert!(peak > line.len(), "{peak} for {}", line.len());
    assert!(peak <= bound(line.len()), "{peak} for {}", line.len());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn damaged_expositions_never_panic(
        pick in any::<prop::sample::Index>(),
        edits in prop::collection::vec(edit(), 1..12),
    ) {
        let corpus = corpus();
        let text = apply(&corpus[pick.index(corpus.len())], &edits);
        parse_all_bounded(&text)?;
    }

    #[test]
    fn random_text_never_panics(text in "[ -~\\t\\n{}\"\\\\#éа\\u{0}]{0,200}") {
        parse_all_bounded(&text)?;
    }
}
