//! Telling a Prometheus write-ahead log from wasmfed's, so that pointing wasmfed at a
//! Prometheus data directory takes over its blocks without damaging its log.
//!
//! The two logs share file names and page framing but not checksums: Prometheus' fragment CRC
//! is CRC32-Castagnoli over the data alone (its type byte may also carry a compression flag),
//! wasmfed's covers type and length too (see `segment`). Wasmfed cannot decode Prometheus'
//! records (Snappy-compressed, other encodings), and replaying them as its own would count
//! them damaged and cut them: the node sets such a log aside instead (see the node's storage).

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::segment::{checkpoint_path, fragment_crc, list, segment_path, HEADER_LEN, PAGE_SIZE};

/// Whether the first record found in `dir` (newest checkpoint first, then segments) was
/// framed by Prometheus. An empty or unreadable-as-either log is not.
pub fn written_by_prometheus(dir: &Path) -> io::Result<bool> {
    if !dir.exists() {
        return Ok(false);
    }
    let listing = list(dir)?;
    let mut files: Vec<PathBuf> = Vec::new();
    if let Some(&cp) = listing.checkpoints.last() {
        let cp_dir = checkpoint_path(dir, cp);
        files.extend(
            list(&cp_dir)?
                .segments
                .iter()
                .map(|&i| segment_path(&cp_dir, i)),
        );
    }
    files.extend(listing.segments.iter().map(|&i| segment_path(dir, i)));
    for path in files {
        let mut page = Vec::with_capacity(PAGE_SIZE);
        File::open(&path)?
            .take(PAGE_SIZE as u64)
            .read_to_end(&mut page)?;
        if let Some(verdict) = first_fragment_verdict(&page) {
            return Ok(verdict);
        }
    }
    Ok(false)
}

/// `Some(true)` if the page's first fragment checks as Prometheus', `Some(false)` if as ours,
/// `None` if the page holds no fragment either reads.
fn first_fragment_verdict(page: &[u8]) -> Option<bool> {
    let header = page.get(..HEADER_LEN)?;
    if !(1..=4).contains(&(header[0] & 0x07)) {
        return None;
    }
    let len = usize::from(u16::from_be_bytes([header[1], header[2]]));
    let stored = u32::from_be_bytes([header[3], header[4], header[5], header[6]]);
    let data = page.get(HEADER_LEN..HEADER_LEN + len)?;
    if fragment_crc(header, data) == stored {
        Some(false)
    } else if wasmfed_block::encoding::crc32(data) == stored {
        Some(true)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wal::segment::SegmentWriter;

    #[test]
    fn tells_prometheus_framing_from_ours() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!written_by_prometheus(&dir.path().join("absent")).unwrap());
        assert!(!written_by_prometheus(dir.path()).unwrap());

        let mut ours = SegmentWriter::create(dir.path(), 0, 1 << 20).unwrap();
        ours.log(b"a record of ours").unwrap();
        ours.close().unwrap();
        assert!(!written_by_prometheus(dir.path()).unwrap());

        // Prometheus' framing: type (0x09: a full record, Snappy-compressed), length, and the
        // Castagnoli CRC of the data alone; here in a later segment after an empty one.
        let theirs = tempfile::tempdir().unwrap();
        std::fs::write(segment_path(theirs.path(), 0), b"").unwrap();
        let data = b"\x01\x02series record";
        let mut page = vec![0x09];
        page.extend_from_slice(&(data.len() as u16).to_be_bytes());
        page.extend_from_slice(&wasmfed_block::encoding::crc32(data).to_be_bytes());
        page.extend_from_slice(data);
        std::fs::write(segment_path(theirs.path(), 1), &page).unwrap();
        assert!(written_by_prometheus(theirs.path()).unwrap());
    }
}
