//! A queue's place in the log, on disk, so that a restart neither loses nor repeats samples.
//!
//! Samples go to shards by their series (`hash(ref) % shards`), each shard sending in log
//! order, so each shard's progress is one [`Cursor`]: a record and how many of *that shard's*
//! samples in it are done. Per shard the file keeps two: `acked` (the receiver took
//! everything before it) and `sent` (everything before it may have reached the receiver: a
//! request in flight when the node stopped). A restart resumes each shard at `acked`, sends
//! what lies before `sent` in requests of their own (a receiver may refuse them as out of
//! order, having them already; counted as resent, never mixed with new samples), and goes on.
//!
//! Shards write their own slot in place (`pwrite`, no lock, no rename) after each request, so
//! a `kill -9` keeps every acknowledgement; the file is fsynced before the queue's hold on the
//! log moves on, so a machine crash cannot lose a position whose segments were deleted. Each
//! slot carries a CRC; a damaged one resumes its shard at the oldest intact position.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use wasmfed_storage::wal::Position;

const MAGIC: &[u8; 8] = b"WFRWQ\0\0\x01";
const HEADER_LEN: usize = 32;
const SLOT_LEN: usize = 48;

/// A shard's progress: in record `at`, its samples with an index below `skip` are done
/// (`u32::MAX`: all of them).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Cursor {
    pub at: Position,
    pub skip: u32,
}

impl Cursor {
    /// Everything of record `at` and before.
    pub fn after(at: Position) -> Cursor {
        Cursor { at, skip: u32::MAX }
    }

    /// Whether the shard's sample number `idx` of record `at` lies before this cursor.
    pub fn covers(&self, at: Position, idx: u32) -> bool {
        (at, idx) < (self.at, self.skip)
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Slot {
    pub acked: Cursor,
    pub sent: Cursor,
}

/// The open state file of one queue.
pub(crate) struct StateFile {
    file: File,
    path: PathBuf,
}

fn url_hash(url: &str) -> u64 {
    let mut h = crc32fast::Hasher::new();
    h.update(url.as_bytes());
    let a = h.finalize() as u64;
    let mut h = crc32fast::Hasher::new_with_initial(0x9e37_79b9);
    h.update(url.as_bytes());
    (a << 32) | h.finalize() as u64
}

impl StateFile {
    /// The slots kept at `path` for a queue sending to `url`: `None` when there is no file, or
    /// it was written for another URL (a new receiver starts afresh), or its header is damaged.
    pub fn load(path: &Path, url: &str) -> io::Result<Option<Vec<Slot>>> {
        let mut bytes = Vec::new();
        match File::open(path) {
            Ok(mut f) => f.read_to_end(&mut bytes)?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        if bytes.len() < HEADER_LEN || &bytes[..8] != MAGIC {
            return Ok(None);
        }
        let header_ok = crc(&bytes[..28]) == u32_at(&bytes, 28);
        if !header_ok || u64_at(&bytes, 8) != url_hash(url) {
            return Ok(None);
        }
        let shards = u32_at(&bytes, 16) as usize;
        let mut slots = Vec::with_capacity(shards);
        for i in 0..shards {
            let at = HEADER_LEN + i * SLOT_LEN;
            let slot = bytes.get(at..at + SLOT_LEN).and_then(decode_slot);
            slots.push(slot);
        }
        let intact: Vec<Slot> = slots.iter().flatten().copied().collect();
        if intact.is_empty() {
            return Ok(None);
        }
        // A damaged slot: resume at the oldest acknowledgement, treating all up to the newest
        // sent position as possibly sent.
        let oldest = intact.iter().map(|s| s.acked).min().unwrap_or_default();
        let newest = intact.iter().map(|s| s.sent).max().unwrap_or_default();
        Ok(Some(
            slots
                .into_iter()
                .map(|s| {
                    s.unwrap_or(Slot {
                        acked: oldest,
                        sent: newest,
                    })
                })
                .collect(),
        ))
    }

    /// Writes a new state file for `slots` (replacing any), durably, and opens it.
    pub fn create(path: &Path, url: &str, slots: &[Slot]) -> io::Result<StateFile> {
        let dir = path.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(dir)?;
        let mut bytes = vec![0u8; HEADER_LEN + slots.len() * SLOT_LEN];
        bytes[..8].copy_from_slice(MAGIC);
        bytes[8..16].copy_from_slice(&url_hash(url).to_le_bytes());
        bytes[16..20].copy_from_slice(&(slots.len() as u32).to_le_bytes());
        let header_crc = crc(&bytes[..28]);
        bytes[28..32].copy_from_slice(&header_crc.to_le_bytes());
        for (i, slot) in slots.iter().enumerate() {
            let at = HEADER_LEN + i * SLOT_LEN;
            bytes[at..at + SLOT_LEN].copy_from_slice(&encode_slot(slot));
        }
        let tmp = path.with_extension("tmp");
        fs::write(&tmp, &bytes)?;
        File::open(&tmp)?.sync_all()?;
        fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()?;
        let file = OpenOptions::new().read(true).write(true).open(path)?;
        Ok(StateFile {
            file,
            path: path.to_owned(),
        })
    }

    /// Overwrites shard `shard`'s slot in place (not synced).
    pub fn write_slot(&self, shard: usize, slot: &Slot) -> io::Result<()> {
        let at = (HEADER_LEN + shard * SLOT_LEN) as u64;
        self.file.write_all_at(&encode_slot(slot), at)
    }

    pub fn sync(&self) -> io::Result<()> {
        self.file.sync_data()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn crc(bytes: &[u8]) -> u32 {
    crc32fast::hash(bytes)
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

fn encode_slot(slot: &Slot) -> [u8; SLOT_LEN] {
    let mut out = [0u8; SLOT_LEN];
    let mut put = |at: usize, c: &Cursor| {
        out[at..at + 8].copy_from_slice(&c.at.segment.to_le_bytes());
        out[at + 8..at + 16].copy_from_slice(&c.at.offset.to_le_bytes());
        out[at + 16..at + 20].copy_from_slice(&c.skip.to_le_bytes());
    };
    put(0, &slot.acked);
    put(20, &slot.sent);
    let sum = crc(&out[..40]);
    out[40..44].copy_from_slice(&sum.to_le_bytes());
    out
}

fn decode_slot(b: &[u8]) -> Option<Slot> {
    if crc(&b[..40]) != u32_at(b, 40) {
        return None;
    }
    let get = |at: usize| Cursor {
        at: Position {
            segment: u64_at(b, at),
            offset: u64_at(b, at + 8),
        },
        skip: u32_at(b, at + 16),
    };
    Some(Slot {
        acked: get(0),
        sent: get(20),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cursor(segment: u64, offset: u64, skip: u32) -> Cursor {
        Cursor {
            at: Position { segment, offset },
            skip,
        }
    }

    #[test]
    fn slots_round_trip_and_are_written_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.state");
        let url = "http://127.0.0.1:8428/api/v1/write";
        assert_eq!(StateFile::load(&path, url).unwrap(), None);
        let slots = [Slot::default(); 3];
        let file = StateFile::create(&path, url, &slots).unwrap();
        let s1 = Slot {
            acked: cursor(3, 100, 2),
            sent: cursor(3, 4096, 0),
        };
        file.write_slot(1, &s1).unwrap();
        let got = StateFile::load(&path, url).unwrap().unwrap();
        assert_eq!(got, [Slot::default(), s1, Slot::default()]);
        assert_eq!(
            StateFile::load(&path, "http://other/").unwrap(),
            None,
            "another receiver"
        );
    }

    #[test]
    fn a_damaged_slot_resumes_at_the_oldest_intact_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.state");
        let (a, b) = (
            Slot {
                acked: cursor(2, 0, 5),
                sent: cursor(2, 0, 9),
            },
            Slot {
                acked: cursor(4, 8, 0),
                sent: cursor(5, 0, 1),
            },
        );
        StateFile::create(&path, "u", &[a, b, b]).unwrap();
        let mut bytes = fs::read(&path).unwrap();
        bytes[HEADER_LEN + 2 * SLOT_LEN + 3] ^= 0xff;
        fs::write(&path, bytes).unwrap();
        let got = StateFile::load(&path, "u").unwrap().unwrap();
        assert_eq!(
            got[2],
            Slot {
                acked: a.acked,
                sent: b.sent
            }
        );
        assert_eq!(&got[..2], &[a, b]);
    }

    #[test]
    fn cursors_order_by_record_then_index() {
        let c = cursor(3, 100, 2);
        let at = Position {
            segment: 3,
            offset: 100,
        };
        assert!(c.covers(at, 1));
        assert!(!c.covers(at, 2));
        assert!(c.covers(
            Position {
                segment: 3,
                offset: 99
            },
            7
        ));
        assert!(!c.covers(
            Position {
                segment: 4,
                offset: 0
            },
            0
        ));
        assert!(Cursor::after(at).covers(at, 1_000_000));
    }
}
