//! The `tombstones` file: time intervals deleted from series of an immutable block.
//!
//! Prometheus' delete API marks deletions here instead of rewriting a block; a block written
//! by wasmfed has none (the file holds only its header and the checksum of nothing), but a
//! block taken over from a Prometheus data directory may, and its deleted samples must stay
//! deleted: readers drop samples inside an interval (both ends inclusive).

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

use crate::encoding::{crc32, Decbuf, Encode};
use crate::{io_error, Error};

pub const TOMBSTONES_FILE: &str = "tombstones";
const MAGIC: u32 = 0x0130_BA30;
const FORMAT_V1: u8 = 1;

/// Deleted intervals per series (the series' index reference).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tombstones {
    intervals: HashMap<u64, Vec<(i64, i64)>>,
}

impl Tombstones {
    /// Reads `dir/tombstones`; a block without the file has no deletions, as in Prometheus.
    pub fn read(dir: &Path) -> Result<Self, Error> {
        let path = dir.join(TOMBSTONES_FILE);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(io_error(&path)(e)),
        };
        let corrupt = |source| Error::Corrupt {
            path: path.clone(),
            section: "tombstones".into(),
            source,
        };
        let mut d = crate::check_header(&path, &bytes, MAGIC, FORMAT_V1, "tombstones file")?;
        let body = d
            .bytes(
                d.len()
                    .checked_sub(4)
                    .ok_or(corrupt(crate::DecodeError::Short))?,
            )
            .map_err(corrupt)?;
        crate::encoding::check(body, d.be32().map_err(corrupt)?).map_err(corrupt)?;
        let mut stones = Tombstones::default();
        let mut d = Decbuf::new(body);
        while !d.is_empty() {
            let series = d.uvarint().map_err(corrupt)?;
            let mint = d.varint().map_err(corrupt)?;
            let maxt = d.varint().map_err(corrupt)?;
            stones.add(series, mint, maxt);
        }
        Ok(stones)
    }

    /// Writes `dir/tombstones` atomically, series in ascending order.
    pub fn write(&self, dir: &Path) -> Result<(), Error> {
        let mut body = Vec::new();
        let mut series: Vec<_> = self.intervals.iter().collect();
        series.sort_by_key(|(r, _)| **r);
        for (r, intervals) in series {
            for &(mint, maxt) in intervals {
                body.put_uvarint(*r);
                body.put_varint(mint);
                body.put_varint(maxt);
            }
        }
        let mut file_bytes = Vec::with_capacity(body.len() + 9);
        file_bytes.put_be32(MAGIC);
        file_bytes.push(FORMAT_V1);
        file_bytes.extend_from_slice(&body);
        file_bytes.put_be32(crc32(&body));
        let path = dir.join(TOMBSTONES_FILE);
        let tmp = dir.join(format!("{TOMBSTONES_FILE}.tmp"));
        let mut file = File::create(&tmp).map_err(io_error(&tmp))?;
        file.write_all(&file_bytes)
            .and_then(|()| file.sync_all())
            .map_err(io_error(&tmp))?;
        fs::rename(&tmp, &path).map_err(io_error(&path))
    }

    /// Marks `[mint, maxt]` of `series` deleted.
    pub fn add(&mut self, series: u64, mint: i64, maxt: i64) {
        self.intervals.entry(series).or_default().push((mint, maxt));
    }

    pub fn is_empty(&self) -> bool {
        self.intervals.is_empty()
    }

    /// Number of deleted intervals, as `meta.json` counts them.
    pub fn len(&self) -> usize {
        self.intervals.values().map(Vec::len).sum()
    }

    /// The deleted intervals of `series` (empty when none).
    pub fn intervals(&self, series: u64) -> &[(i64, i64)] {
        self.intervals.get(&series).map_or(&[], Vec::as_slice)
    }

    /// Whether the sample of `series` at `t` is deleted.
    pub fn is_deleted(&self, series: u64, t: i64) -> bool {
        self.intervals(series)
            .iter()
            .any(|&(mint, maxt)| mint <= t && t <= maxt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_is_prometheus_nine_bytes() {
        let dir = tempfile::tempdir().unwrap();
        Tombstones::default().write(dir.path()).unwrap();
        // What promtool 2.42 writes into every block it creates.
        assert_eq!(
            fs::read(dir.path().join(TOMBSTONES_FILE)).unwrap(),
            [0x01, 0x30, 0xba, 0x30, 0x01, 0, 0, 0, 0]
        );
        assert!(Tombstones::read(dir.path()).unwrap().is_empty());
    }

    #[test]
    fn round_trip_and_lookup() {
        let dir = tempfile::tempdir().unwrap();
        let mut stones = Tombstones::default();
        stones.add(5, 100, 200);
        stones.add(5, 300, 300);
        stones.add(1, -10, 10);
        stones.write(dir.path()).unwrap();
        let read = Tombstones::read(dir.path()).unwrap();
        assert_eq!(read, stones);
        assert_eq!(read.len(), 3);
        assert!(read.is_deleted(5, 100) && read.is_deleted(5, 200) && read.is_deleted(5, 300));
        assert!(!read.is_deleted(5, 201) && !read.is_deleted(2, 0));
    }

    #[test]
    fn missing_file_means_no_deletions_and_corruption_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Tombstones::read(dir.path()).unwrap().is_empty());
        let mut stones = Tombstones::default();
        stones.add(1, 2, 3);
        stones.write(dir.path()).unwrap();
        let path = dir.path().join(TOMBSTONES_FILE);
        let mut bytes = fs::read(&path).unwrap();
        bytes[6] ^= 0xff;
        fs::write(&path, bytes).unwrap();
        let err = Tombstones::read(dir.path()).unwrap_err().to_string();
        assert!(err.contains("checksum mismatch"), "{err}");
    }
}
