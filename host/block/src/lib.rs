//! Prometheus' on-disk block format, written and read byte for byte as Prometheus 2.x does.
//!
//! A block is an immutable directory named by a ULID that holds a time range of samples:
//! `meta.json`, an `index` (symbols, series with their chunk references, postings), the
//! `chunks/` segments and a `tombstones` file. Writing this format rather than one of our own
//! means `promtool tsdb`, Thanos and Prometheus read wasmfed's history, and wasmfed reads a
//! Prometheus data directory it takes over. The format is specified in Prometheus'
//! `tsdb/docs/format/`; where the prose is loose, Prometheus 2.42's writer is the reference
//! and the tests compare bytes with promtool's output.
//!
//! - [`encoding`]: varints, big-endian integers, CRC32-Castagnoli;
//! - [`chunks`]: segment files of opaque chunk bytes;
//! - [`index`]: the index writer and the mapped reader;
//! - [`meta`] and [`tombstones`]: the two small files;
//! - [`block`]: a whole block written from sorted series, and opened for reading.
//!
//! Chunk encodings (XOR) and sample iteration belong to storage; this crate moves bytes.

pub mod block;
pub mod chunks;
pub mod encoding;
pub mod index;
pub mod meta;
#[cfg(any(test, feature = "test-util"))]
pub mod testing;
pub mod tombstones;

use std::path::{Path, PathBuf};

pub use block::{Block, BlockWriter};
pub use chunks::{ChunkData, ChunkMeta, ChunkRef};
pub use encoding::DecodeError;
pub use meta::{BlockMeta, BlockStats};
pub use tombstones::Tombstones;
pub use ulid::Ulid;

/// What can go wrong reading or writing a block; every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {section}: {source}", path.display())]
    Corrupt {
        path: PathBuf,
        section: String,
        #[source]
        source: DecodeError,
    },
    #[error("{}: {reason}", path.display())]
    Invalid { path: PathBuf, reason: String },
}

/// Wraps an I/O error with the path it concerns.
pub(crate) fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Reads a file's 4-byte magic and version byte; an error naming `what` the file should be
/// when they are not `magic` and `version`. Returns the decoder past them.
pub(crate) fn check_header<'a>(
    path: &Path,
    bytes: &'a [u8],
    magic: u32,
    version: u8,
    what: &str,
) -> Result<encoding::Decbuf<'a>, Error> {
    let mut d = encoding::Decbuf::new(bytes);
    let corrupt = |source| Error::Corrupt {
        path: path.to_path_buf(),
        section: format!("{what} header"),
        source,
    };
    let found_magic = d.be32().map_err(corrupt)?;
    let found_version = d.byte().map_err(corrupt)?;
    if found_magic != magic || found_version != version {
        return Err(Error::Invalid {
            path: path.to_path_buf(),
            reason: format!("not a {what} (magic {found_magic:#010x}, version {found_version})"),
        });
    }
    Ok(d)
}

/// Maps a whole file read-only.
pub(crate) fn map_file(path: &Path) -> Result<memmap2::Mmap, Error> {
    let file = std::fs::File::open(path).map_err(io_error(path))?;
    // SAFETY: block files are immutable once their directory is renamed into place; wasmfed
    // never writes to a file it has mapped, and deletes a block only by removing the whole
    // directory after its readers are gone (an unlinked file stays mapped until unmapped).
    unsafe { memmap2::Mmap::map(&file) }.map_err(io_error(path))
}
