//! Writes an index file in one pass: the caller gives the sorted symbols first, then the
//! series in label order, and [`IndexWriter::finish`] writes the label indices, postings and
//! offset tables from the postings gathered on the way.
//!
//! Prometheus' writer spills postings to temporary files and re-reads its own series section
//! to gather them, to bound memory on huge compactions; here they are kept in memory as one
//! `u32` per label of each series (a block cut from the head is about as large as the head
//! that already holds those labels). The bytes written are the same.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use wasmfed_model::Labels;

use super::{Toc, FORMAT_V2, MAGIC, SERIES_ALIGNMENT};
use crate::chunks::ChunkMeta;
use crate::encoding::{crc32, Encode};
use crate::{io_error, Error};

/// A label name's symbol with its values' symbols and series, as the postings are written.
type NamePostings = (u32, Vec<(u32, Vec<u32>)>);

/// An index file being written.
pub struct IndexWriter {
    path: PathBuf,
    out: BufWriter<File>,
    pos: u64,
    toc: Toc,
    /// Symbol → its number (position in the sorted table).
    symbols: HashMap<String, u32>,
    /// Label name symbol → label value symbol → series references, in series order.
    postings: HashMap<u32, HashMap<u32, Vec<u32>>>,
    all: Vec<u32>,
    last: Option<Labels>,
    buf: Vec<u8>,
}

impl IndexWriter {
    /// Creates the file and writes its header and symbol table. `symbols` must be sorted,
    /// unique, and hold every label name and value of the series to come.
    pub fn create(path: &Path, symbols: &[&str]) -> Result<Self, Error> {
        let file = File::create(path).map_err(io_error(path))?;
        let mut w = IndexWriter {
            path: path.to_path_buf(),
            out: BufWriter::with_capacity(1 << 22, file),
            pos: 0,
            toc: Toc::default(),
            symbols: HashMap::with_capacity(symbols.len()),
            postings: HashMap::new(),
            all: Vec::new(),
            last: None,
            buf: Vec::with_capacity(256),
        };
        let mut header = Vec::new();
        header.put_be32(MAGIC);
        header.push(FORMAT_V2);
        w.write(&header)?;
        w.write_symbols(symbols)?;
        Ok(w)
    }

    fn invalid(&self, reason: String) -> Error {
        Error::Invalid {
            path: self.path.clone(),
            reason,
        }
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.out.write_all(bytes).map_err(io_error(&self.path))?;
        self.pos += bytes.len() as u64;
        Ok(())
    }

    fn pad(&mut self, alignment: u64) -> Result<(), Error> {
        let rem = self.pos % alignment;
        if rem != 0 {
            let zeros = [0u8; 16];
            self.write(&zeros[..(alignment - rem) as usize])?;
        }
        Ok(())
    }

    /// Writes `len | body | crc(body)` with a 4-byte length.
    fn write_section(&mut self, body: &[u8]) -> Result<(), Error> {
        let len = u32::try_from(body.len())
            .map_err(|_| self.invalid(format!("index section of {} bytes", body.len())))?;
        self.write(&len.to_be_bytes())?;
        self.write(body)?;
        self.write(&crc32(body).to_be_bytes())
    }

    fn write_symbols(&mut self, symbols: &[&str]) -> Result<(), Error> {
        if let Some(w) = symbols.windows(2).find(|w| w[0] >= w[1]) {
            return Err(self.invalid(format!("symbol {:?} out of order", w[1])));
        }
        self.toc.symbols = self.pos;
        let mut body = Vec::new();
        body.put_be32(symbols.len() as u32);
        for (i, s) in symbols.iter().enumerate() {
            body.put_uvarint_str(s);
            self.symbols.insert((*s).to_owned(), i as u32);
        }
        self.write_section(&body)?;
        self.toc.series = self.pos;
        Ok(())
    }

    fn symbol(&self, s: &str) -> Result<u32, Error> {
        self.symbols
            .get(s)
            .copied()
            .ok_or_else(|| self.invalid(format!("symbol entry for {s:?} does not exist")))
    }

    /// Adds the next series (label sets strictly ascending) with its chunks in time order.
    pub fn add_series(&mut self, labels: &Labels, chunks: &[ChunkMeta]) -> Result<(), Error> {
        if self.last.as_ref().is_some_and(|last| labels <= last) {
            return Err(self.invalid(format!(
                "out-of-order series added with label set {labels:?}"
            )));
        }
        self.pad(SERIES_ALIGNMENT)?;
        let id = u32::try_from(self.pos / SERIES_ALIGNMENT)
            .map_err(|_| self.invalid("series section exceeds 64 GiB".into()))?;
        let mut body = std::mem::take(&mut self.buf);
        body.clear();
        body.put_uvarint(labels.len() as u64);
        for label in labels.iter() {
            let (name, value) = (self.symbol(&label.name)?, self.symbol(&label.value)?);
            body.put_uvarint(u64::from(name));
            body.put_uvarint(u64::from(value));
            self.postings
                .entry(name)
                .or_default()
                .entry(value)
                .or_default()
                .push(id);
        }
        body.put_uvarint(chunks.len() as u64);
        if let Some(first) = chunks.first() {
            body.put_varint(first.min_time);
            body.put_uvarint((first.max_time - first.min_time) as u64);
            body.put_uvarint(first.chunk_ref.0);
            let (mut t0, mut ref0) = (first.max_time, first.chunk_ref.0 as i64);
            for c in &chunks[1..] {
                body.put_uvarint((c.min_time - t0) as u64);
                body.put_uvarint((c.max_time - c.min_time) as u64);
                body.put_varint(c.chunk_ref.0 as i64 - ref0);
                (t0, ref0) = (c.max_time, c.chunk_ref.0 as i64);
            }
        }
        let mut len = Vec::with_capacity(5);
        len.put_uvarint(body.len() as u64);
        self.write(&len)?;
        self.write(&body)?;
        self.write(&crc32(&body).to_be_bytes())?;
        self.buf = body;
        self.all.push(id);
        self.last = Some(labels.clone());
        Ok(())
    }

    /// Writes the label indices, postings, offset tables and table of contents, and syncs.
    pub fn finish(mut self) -> Result<(), Error> {
        // Symbol numbers follow the sorted symbols, so sorting numbers sorts the strings.
        let mut by_name: Vec<NamePostings> = std::mem::take(&mut self.postings)
            .into_iter()
            .map(|(name, values)| {
                let mut values: Vec<_> = values.into_iter().collect();
                values.sort_unstable_by_key(|(v, _)| *v);
                (name, values)
            })
            .collect();
        by_name.sort_unstable_by_key(|(n, _)| *n);
        let mut strings = vec![String::new(); self.symbols.len()];
        for (s, &i) in &self.symbols {
            strings[i as usize] = s.clone();
        }

        self.toc.label_indices = self.pos;
        let mut label_index_offsets = Vec::with_capacity(by_name.len());
        for (name, values) in &by_name {
            self.pad(4)?;
            label_index_offsets.push((*name, self.pos));
            let mut body = Vec::with_capacity(8 + 4 * values.len());
            body.put_be32(1);
            body.put_be32(values.len() as u32);
            for (value, _) in values {
                body.put_be32(*value);
            }
            self.write_section(&body)?;
        }

        self.toc.postings = self.pos;
        self.pad(4)?;
        let all = std::mem::take(&mut self.all);
        let mut postings_offsets = vec![(String::new(), String::new(), self.pos)];
        self.write_postings(&all)?;
        for (name, values) in &by_name {
            for (value, series) in values {
                self.pad(4)?;
                let (n, v) = (&strings[*name as usize], &strings[*value as usize]);
                postings_offsets.push((n.clone(), v.clone(), self.pos));
                self.write_postings(series)?;
            }
        }

        self.toc.label_indices_table = self.pos;
        let mut body = Vec::new();
        body.put_be32(label_index_offsets.len() as u32);
        for (name, off) in label_index_offsets {
            body.put_uvarint(1);
            body.put_uvarint_str(&strings[name as usize]);
            body.put_uvarint(off);
        }
        self.write_section(&body)?;

        self.toc.postings_table = self.pos;
        let mut body = Vec::new();
        body.put_be32(postings_offsets.len() as u32);
        for (name, value, off) in &postings_offsets {
            body.put_uvarint(2);
            body.put_uvarint_str(name);
            body.put_uvarint_str(value);
            body.put_uvarint(*off);
        }
        self.write_section(&body)?;

        let toc = self.toc.encode();
        self.write(&toc)?;
        let file = self
            .out
            .into_inner()
            .map_err(|e| io_error(&self.path)(e.into_error()))?;
        file.sync_all().map_err(io_error(&self.path))
    }

    fn write_postings(&mut self, series: &[u32]) -> Result<(), Error> {
        let mut body = Vec::with_capacity(4 + 4 * series.len());
        body.put_be32(series.len() as u32);
        for id in series {
            body.put_be32(*id);
        }
        self.write_section(&body)
    }
}
