//! `meta.json`: a block's identity (a ULID), its time range (`maxTime` exclusive), counts, and
//! its compaction lineage (level, source blocks, parents).
//!
//! Field names, omitted zero fields and tab indentation follow Prometheus' `BlockMeta` as Go's
//! `json.MarshalIndent(meta, "", "\t")` writes it, so `promtool tsdb list`, Thanos and
//! Prometheus itself read what wasmfed writes, and wasmfed reads theirs. The file is replaced
//! atomically (written beside, synced, renamed).

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};
use ulid::Ulid;

use crate::{io_error, Error};

pub const META_FILE: &str = "meta.json";
const META_VERSION: u32 = 1;

/// The contents of a block's `meta.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockMeta {
    pub ulid: Ulid,
    /// First millisecond the block covers.
    #[serde(rename = "minTime")]
    pub min_time: i64,
    /// First millisecond after the block (exclusive bound).
    #[serde(rename = "maxTime")]
    pub max_time: i64,
    #[serde(default)]
    pub stats: BlockStats,
    pub compaction: Compaction,
    pub version: u32,
}

/// Counts of what a block holds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockStats {
    #[serde(rename = "numSamples", default, skip_serializing_if = "is_zero")]
    pub num_samples: u64,
    #[serde(rename = "numSeries", default, skip_serializing_if = "is_zero")]
    pub num_series: u64,
    #[serde(rename = "numChunks", default, skip_serializing_if = "is_zero")]
    pub num_chunks: u64,
    #[serde(rename = "numTombstones", default, skip_serializing_if = "is_zero")]
    pub num_tombstones: u64,
}

/// Where a block comes from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Compaction {
    /// 1 for a block cut from the head; one more than its highest parent for a compacted one.
    pub level: u32,
    /// The level-1 blocks whose data this one holds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<Ulid>,
    /// Marked by a compaction that found the block empty.
    #[serde(default, skip_serializing_if = "is_false")]
    pub deletable: bool,
    /// The blocks compacted into this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parents: Vec<BlockDesc>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub failed: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hints: Vec<String>,
}

/// A parent block, as a compacted block's meta names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockDesc {
    pub ulid: Ulid,
    #[serde(rename = "minTime")]
    pub min_time: i64,
    #[serde(rename = "maxTime")]
    pub max_time: i64,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

fn is_false(v: &bool) -> bool {
    !*v
}

impl BlockMeta {
    /// A level-1 block cut from the head over `[min_time, max_time)`.
    pub fn new_level1(ulid: Ulid, min_time: i64, max_time: i64, stats: BlockStats) -> Self {
        BlockMeta {
            ulid,
            min_time,
            max_time,
            stats,
            compaction: Compaction {
                level: 1,
                sources: vec![ulid],
                ..Compaction::default()
            },
            version: META_VERSION,
        }
    }

    /// Reads `dir/meta.json`; a version other than 1 is refused, as Prometheus does.
    pub fn read(dir: &Path) -> Result<Self, Error> {
        let path = dir.join(META_FILE);
        let bytes = fs::read(&path).map_err(io_error(&path))?;
        let meta: BlockMeta = serde_json::from_slice(&bytes).map_err(|e| Error::Invalid {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        if meta.version != META_VERSION {
            return Err(Error::Invalid {
                path,
                reason: format!("unexpected meta file version {}", meta.version),
            });
        }
        Ok(meta)
    }

    /// The bytes Prometheus writes for this meta.
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let formatter = serde_json::ser::PrettyFormatter::with_indent(b"\t");
        let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
        self.serialize(&mut ser)
            .expect("a block meta always serializes");
        out
    }

    /// Writes `dir/meta.json` atomically and syncs it.
    pub fn write(&self, dir: &Path) -> Result<(), Error> {
        let path = dir.join(META_FILE);
        let tmp = dir.join(format!("{META_FILE}.tmp"));
        let mut file = File::create(&tmp).map_err(io_error(&tmp))?;
        file.write_all(&self.to_json())
            .and_then(|()| file.sync_all())
            .map_err(io_error(&tmp))?;
        fs::rename(&tmp, &path).map_err(io_error(&path))
    }

    /// This block as a parent in a compacted block's meta.
    pub fn desc(&self) -> BlockDesc {
        BlockDesc {
            ulid: self.ulid,
            min_time: self.min_time,
            max_time: self.max_time,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A meta.json written by promtool 2.42 (`tsdb create-blocks-from openmetrics`).
    const PROMTOOL: &str = "{\n\t\"ulid\": \"01M9681G6D7ZVR55ETFW6RCVY4\",\n\t\"minTime\": 1700000000000,\n\t\"maxTime\": 1700006390001,\n\t\"stats\": {\n\t\t\"numSamples\": 1401,\n\t\t\"numSeries\": 4,\n\t\t\"numChunks\": 10\n\t},\n\t\"compaction\": {\n\t\t\"level\": 1,\n\t\t\"sources\": [\n\t\t\t\"01M9681G6D7ZVR55ETFW6RCVY4\"\n\t\t]\n\t},\n\t\"version\": 1\n}";

    #[test]
    fn writes_what_prometheus_writes() {
        let meta: BlockMeta = serde_json::from_str(PROMTOOL).unwrap();
        assert_eq!(meta.stats.num_series, 4);
        assert_eq!(meta.compaction.sources, vec![meta.ulid]);
        assert_eq!(String::from_utf8(meta.to_json()).unwrap(), PROMTOOL);
        let again =
            BlockMeta::new_level1(meta.ulid, meta.min_time, meta.max_time, meta.stats.clone());
        assert_eq!(again, meta);
    }

    #[test]
    fn refuses_other_versions() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join(META_FILE),
            PROMTOOL.replace("\"version\": 1", "\"version\": 2"),
        )
        .unwrap();
        let err = BlockMeta::read(dir.path()).unwrap_err().to_string();
        assert!(err.contains("unexpected meta file version 2"), "{err}");
    }
}
