//! A mapped index file: label names and values, postings lists and series, read on demand.
//!
//! Opening checks the header, the table of contents and the CRCs of the symbol table and the
//! postings offset table (the two sections it walks); series and postings lists are checked
//! when read, so a corrupt entry fails the query that touches it with the file and the section
//! named, never a panic or a wrong answer.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use memmap2::Mmap;
use wasmfed_model::{Label, Labels};

use super::symbols::Symbols;
use super::{Toc, FORMAT_V2, HEADER_LEN, MAGIC, SAMPLING, SERIES_ALIGNMENT, TOC_LEN};
use crate::chunks::{ChunkMeta, ChunkRef};
use crate::encoding::{Decbuf, DecodeError};
use crate::Error;

/// A series' postings: the references of the series that have one label pair, ascending.
#[derive(Clone, Debug)]
pub struct Postings<'a> {
    refs: &'a [u8],
}

impl Postings<'_> {
    pub fn empty() -> Self {
        Postings { refs: &[] }
    }
}

impl Iterator for Postings<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        let (head, tail) = self.refs.split_first_chunk::<4>()?;
        self.refs = tail;
        Some(u32::from_be_bytes(*head))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.refs.len() / 4;
        (n, Some(n))
    }
}

impl ExactSizeIterator for Postings<'_> {}

/// An open index file.
pub struct IndexReader {
    path: PathBuf,
    map: Mmap,
    symbols: Symbols,
    /// Per label name ("" is the all-series entry): the first, every 32nd and the last of its
    /// entries in the postings offset table, as (value, offset of the entry in the file).
    names: BTreeMap<String, Vec<(String, usize)>>,
    /// Where the postings offset table's entries end.
    table_end: usize,
}

impl IndexReader {
    pub fn open(path: &Path) -> Result<Self, Error> {
        let map = crate::map_file(path)?;
        let corrupt = |section: &str| {
            let path = path.to_path_buf();
            let section = section.to_owned();
            move |source| Error::Corrupt {
                path,
                section,
                source,
            }
        };
        if map.len() < HEADER_LEN + TOC_LEN {
            return Err(corrupt("header")(DecodeError::Short));
        }
        let mut header = Decbuf::new(&map);
        let magic = header.be32().map_err(corrupt("header"))?;
        let version = header.byte().map_err(corrupt("header"))?;
        if magic != MAGIC {
            return Err(Error::Invalid {
                path: path.to_path_buf(),
                reason: format!("invalid magic number {magic:x}"),
            });
        }
        if version != FORMAT_V2 {
            return Err(Error::Invalid {
                path: path.to_path_buf(),
                reason: format!("index format version {version} is not supported (only 2, written since Prometheus 2.0)"),
            });
        }
        let toc = Toc::decode(&map).map_err(corrupt("table of contents"))?;
        let symbols = Symbols::read(&map, toc.symbols as usize).map_err(corrupt("symbol table"))?;
        let (names, table_end) =
            read_postings_table(&map, &toc).map_err(corrupt("postings offset table"))?;
        Ok(IndexReader {
            path: path.to_path_buf(),
            map,
            symbols,
            names,
            table_end,
        })
    }

    fn corrupt(&self, section: impl Into<String>) -> impl FnOnce(DecodeError) -> Error + '_ {
        let section = section.into();
        move |source| Error::Corrupt {
            path: self.path.clone(),
            section,
            source,
        }
    }

    /// Bytes of the index file.
    pub fn size(&self) -> u64 {
        self.map.len() as u64
    }

    /// Number of symbols in the table.
    pub fn symbol_count(&self) -> usize {
        self.symbols.len()
    }

    /// The label names of the block's series, sorted.
    pub fn label_names(&self) -> impl Iterator<Item = &str> {
        self.names
            .keys()
            .map(String::as_str)
            .filter(|n| !n.is_empty())
    }

    /// Calls `f` with each value of `name` (ascending) and the offset of its postings list.
    pub fn for_each_value(
        &self,
        name: &str,
        mut f: impl FnMut(&str, u64) -> bool,
    ) -> Result<(), Error> {
        let Some(sampled) = self.names.get(name) else {
            return Ok(());
        };
        let mut d = Decbuf::new(&self.map[sampled[0].1..self.table_end]);
        while !d.is_empty() {
            let (entry_name, value, off) =
                read_entry(&mut d).map_err(self.corrupt("postings offset table"))?;
            if entry_name != name || !f(value, off) {
                break;
            }
        }
        Ok(())
    }

    /// The values of `name`, ascending.
    pub fn label_values(&self, name: &str) -> Result<Vec<String>, Error> {
        let mut values = Vec::new();
        self.for_each_value(name, |v, _| {
            values.push(v.to_owned());
            true
        })?;
        Ok(values)
    }

    /// The offset of the postings list of `name="value"`, if any series has that pair.
    pub fn postings_offset(&self, name: &str, value: &str) -> Result<Option<u64>, Error> {
        let Some(sampled) = self.names.get(name) else {
            return Ok(None);
        };
        let i = sampled.partition_point(|(v, _)| v.as_str() <= value);
        let Some(start) = i.checked_sub(1) else {
            return Ok(None);
        };
        let mut d = Decbuf::new(&self.map[sampled[start].1..self.table_end]);
        while !d.is_empty() {
            let (entry_name, v, off) =
                read_entry(&mut d).map_err(self.corrupt("postings offset table"))?;
            if entry_name != name || v > value {
                break;
            }
            if v == value {
                return Ok(Some(off));
            }
        }
        Ok(None)
    }

    /// The postings list at `offset` (from [`IndexReader::postings_offset`] or
    /// [`IndexReader::for_each_value`]), its CRC checked.
    pub fn postings_at(&self, offset: u64) -> Result<Postings<'_>, Error> {
        let section = || format!("postings list at offset {offset}");
        let mut d =
            Decbuf::section_be32(&self.map, offset as usize).map_err(self.corrupt(section()))?;
        let count = d.be32().map_err(self.corrupt(section()))? as usize;
        let refs = d
            .bytes(
                count
                    .checked_mul(4)
                    .ok_or(DecodeError::Short)
                    .map_err(self.corrupt(section()))?,
            )
            .map_err(self.corrupt(section()))?;
        Ok(Postings { refs })
    }

    /// The series having `name="value"`.
    pub fn postings(&self, name: &str, value: &str) -> Result<Postings<'_>, Error> {
        match self.postings_offset(name, value)? {
            Some(off) => self.postings_at(off),
            None => Ok(Postings::empty()),
        }
    }

    /// Every series of the block, in label order.
    pub fn all_postings(&self) -> Result<Postings<'_>, Error> {
        self.postings("", "")
    }

    /// The labels and chunk metas of the series `id` (a postings entry).
    pub fn series(&self, id: u32, chunks: &mut Vec<ChunkMeta>) -> Result<Labels, Error> {
        let section = || format!("series {id}");
        let off = u64::from(id) * SERIES_ALIGNMENT;
        let mut d =
            Decbuf::section_uvarint(&self.map, off as usize).map_err(self.corrupt(section()))?;
        let decode =
            |d: &mut Decbuf<'_>, chunks: &mut Vec<ChunkMeta>| -> Result<Labels, DecodeError> {
                let n = d.uvarint()? as usize;
                let mut labels = Vec::with_capacity(n.min(64));
                for _ in 0..n {
                    let name = self.symbols.lookup(&self.map, d.uvarint32()?)?;
                    let value = self.symbols.lookup(&self.map, d.uvarint32()?)?;
                    labels.push(Label::new(name, value));
                }
                chunks.clear();
                let count = d.uvarint()? as usize;
                if count > 0 {
                    let min_time = d.varint()?;
                    let max_time = min_time.wrapping_add(d.uvarint()? as i64);
                    let mut chunk_ref = d.uvarint()? as i64;
                    chunks.push(ChunkMeta {
                        min_time,
                        max_time,
                        chunk_ref: ChunkRef(chunk_ref as u64),
                    });
                    let mut t0 = max_time;
                    for _ in 1..count {
                        let min_time = t0.wrapping_add(d.uvarint()? as i64);
                        let max_time = min_time.wrapping_add(d.uvarint()? as i64);
                        chunk_ref = chunk_ref.wrapping_add(d.varint()?);
                        chunks.push(ChunkMeta {
                            min_time,
                            max_time,
                            chunk_ref: ChunkRef(chunk_ref as u64),
                        });
                        t0 = max_time;
                    }
                }
                Ok(Labels::from_sorted(labels))
            };
        decode(&mut d, chunks).map_err(self.corrupt(section()))
    }
}

/// One entry of the postings offset table: name, value, postings offset.
fn read_entry<'a>(d: &mut Decbuf<'a>) -> Result<(&'a str, &'a str, u64), DecodeError> {
    if d.uvarint()? != 2 {
        return Err(DecodeError::Varint);
    }
    Ok((d.uvarint_str()?, d.uvarint_str()?, d.uvarint()?))
}

type SampledNames = BTreeMap<String, Vec<(String, usize)>>;

/// Samples the postings offset table: per name its first entry, every 32nd, and its last.
fn read_postings_table(file: &[u8], toc: &Toc) -> Result<(SampledNames, usize), DecodeError> {
    if toc.postings_table == 0 {
        return Ok((BTreeMap::new(), 0));
    }
    let body = Decbuf::section_be32(file, toc.postings_table as usize)?;
    let body_start = toc.postings_table as usize + 4;
    let table_end = body_start + body.len();
    let mut d = body;
    let count = d.be32()?;
    let mut names: SampledNames = BTreeMap::new();
    let mut last: Option<(&str, &str, usize)> = None;
    let mut in_name = 0usize;
    for _ in 0..count {
        let at = table_end - d.len();
        let (name, value, _) = read_entry(&mut d)?;
        let new_name = last.is_none_or(|(n, _, _)| n != name);
        if new_name {
            if let Some((n, v, off)) = last.filter(|_| in_name % SAMPLING != 1) {
                // The previous name's last entry, unless it was just sampled.
                names.get_mut(n).expect("sampled").push((v.to_owned(), off));
            }
            in_name = 0;
        }
        if in_name.is_multiple_of(SAMPLING) {
            names
                .entry(name.to_owned())
                .or_default()
                .push((value.to_owned(), at));
        }
        in_name += 1;
        last = Some((name, value, at));
    }
    if let Some((n, v, off)) = last.filter(|_| in_name % SAMPLING != 1) {
        names.get_mut(n).expect("sampled").push((v.to_owned(), off));
    }
    Ok((names, table_end))
}
