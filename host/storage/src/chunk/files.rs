//! Pages of sealed chunks backed by files under the storage path (`chunks_head/`), so that the
//! bytes of chunks no reader is looking at sit in the kernel's page cache, which it writes out
//! and reclaims as it needs, instead of in the process' resident memory.
//!
//! This is what Prometheus' head does with full chunks (`tsdb/chunks/head_chunks.go`): it
//! writes them to `chunks_head/` files and maps them back read-only when a query reads them.
//! Here each file is mapped shared and written through the mapping, one page at a time; a page
//! that is full is dropped from the process' mapping (`MADV_DONTNEED`, which for a shared file
//! mapping keeps the data in the page cache) and faults back in only when read. A page whose
//! chunks are all gone is punched out of its file, and a file whose pages are all gone is
//! unmapped and deleted. The files are a cache of the head, not a second log: the WAL is the
//! record, so the directory is emptied at start.
//!
//! Every page's disk blocks are allocated (`fallocate`) before it is written: writing to a
//! shared mapping of a sparse file on a full disk kills the process with `SIGBUS`; a failed
//! allocation instead makes the caller fall back to memory.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::sync::{Arc, Weak};

use super::pages::PAGE_BYTES;

/// Pages per file: 64 MiB files, as Prometheus' head chunk files are at most 128 MiB.
const PAGES_PER_FILE: usize = 256;
const FILE_BYTES: usize = PAGES_PER_FILE * PAGE_BYTES;

/// The directory of one head's chunk files and the file pages are being taken from.
pub(super) struct ChunkFiles {
    dir: PathBuf,
    next_seq: u64,
    current: Option<Arc<ChunkFile>>,
    next_page: usize,
    /// Every file made, for [`ChunkFiles::evict_all`]; a file lives while a page of it does.
    made: Vec<Weak<ChunkFile>>,
}

impl ChunkFiles {
    /// Creates `dir` if needed and removes what a previous run left in it.
    pub(super) fn open(dir: &Path) -> io::Result<ChunkFiles> {
        fs::create_dir_all(dir)?;
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                fs::remove_file(entry.path())?;
            }
        }
        Ok(ChunkFiles {
            dir: dir.to_owned(),
            next_seq: 0,
            current: None,
            next_page: PAGES_PER_FILE,
            made: Vec::new(),
        })
    }

    /// The next unused page, its disk blocks allocated; a new file when the current one is used
    /// up.
    pub(super) fn next_page(&mut self) -> io::Result<FilePage> {
        let file = match &self.current {
            Some(file) if self.next_page < PAGES_PER_FILE => Arc::clone(file),
            _ => {
                let path = self.dir.join(format!("{:08}", self.next_seq));
                self.next_seq += 1;
                let file = Arc::new(ChunkFile::create(path)?);
                self.made.retain(|f| f.strong_count() > 0);
                self.made.push(Arc::downgrade(&file));
                self.current = Some(Arc::clone(&file));
                self.next_page = 0;
                file
            }
        };
        let offset = self.next_page * PAGE_BYTES;
        // Even a failed page is not retried: part of it may be allocated.
        self.next_page += 1;
        file.allocate(offset)?;
        Ok(FilePage { file, offset })
    }

    /// Drops every page of every file from the process' memory, as [`FilePage::evict`] does
    /// for one: pages readers brought back (a checkpoint reads every chunk) leave again.
    pub(super) fn evict_all(&mut self) {
        self.made.retain(|f| f.strong_count() > 0);
        for file in self.made.iter().filter_map(Weak::upgrade) {
            dont_need(file.map, FILE_BYTES);
        }
    }
}

/// Removes `len` bytes of a shared file mapping from the process' page tables.
fn dont_need(at: NonNull<u8>, len: usize) {
    // SAFETY: callers pass a range within a chunk file's shared mapping, for which
    // `MADV_DONTNEED` only removes this process' page table entries: the data stays in the page
    // cache (written back to the file) and is faulted in again on the next access.
    unsafe {
        libc::madvise(at.as_ptr().cast(), len, libc::MADV_DONTNEED);
    }
}

/// One page of a chunk file.
pub(super) struct FilePage {
    file: Arc<ChunkFile>,
    offset: usize,
}

impl FilePage {
    /// Where the page is mapped, writable.
    pub(super) fn base(&self) -> NonNull<u8> {
        // SAFETY: `offset + PAGE_BYTES <= FILE_BYTES`, the length of the mapping.
        unsafe { self.file.map.add(self.offset) }
    }

    /// Drops the page's memory from the process; its bytes stay in the file (page cache) and
    /// are read back in on the next access.
    pub(super) fn evict(&self) {
        dont_need(self.base(), PAGE_BYTES);
    }
}

impl Drop for FilePage {
    /// No chunk of the page is left: give its blocks and cached pages back (best effort; the
    /// file goes as a whole once its last page does).
    fn drop(&mut self) {
        // SAFETY: plain system call on an open descriptor; the range is this page's.
        unsafe {
            libc::fallocate(
                self.file.file.as_raw_fd(),
                libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
                self.offset as libc::off_t,
                PAGE_BYTES as libc::off_t,
            );
        }
    }
}

/// A chunk file and its shared mapping; unmapped and deleted when its last page goes.
struct ChunkFile {
    file: File,
    path: PathBuf,
    map: NonNull<u8>,
}

// SAFETY: the mapping is plain memory; which thread may write which bytes of it is the
// business of `ChunkPages`, which writes each byte once, under its lock, before publishing it.
unsafe impl Send for ChunkFile {}
unsafe impl Sync for ChunkFile {}

impl ChunkFile {
    fn create(path: PathBuf) -> io::Result<ChunkFile> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)?;
        let mapped = file.set_len(FILE_BYTES as u64).and_then(|()| {
            // SAFETY: a new shared mapping of a file this process just created and sized;
            // nothing else maps or truncates it.
            let map = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    FILE_BYTES,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_SHARED,
                    file.as_raw_fd(),
                    0,
                )
            };
            if map == libc::MAP_FAILED {
                return Err(io::Error::last_os_error());
            }
            Ok(NonNull::new(map.cast::<u8>()).expect("mmap returned a mapping"))
        });
        match mapped {
            Ok(map) => Ok(ChunkFile { file, path, map }),
            Err(e) => {
                let _ = fs::remove_file(&path);
                Err(e)
            }
        }
    }

    /// Allocates the disk blocks of the page at `offset`.
    fn allocate(&self, offset: usize) -> io::Result<()> {
        // SAFETY: plain system call on an open descriptor.
        let done = unsafe {
            libc::fallocate(
                self.file.as_raw_fd(),
                0,
                offset as libc::off_t,
                PAGE_BYTES as libc::off_t,
            )
        };
        if done == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }
}

impl Drop for ChunkFile {
    fn drop(&mut self) {
        // SAFETY: the mapping was made by `ChunkFile::create` with this length, and no page of
        // it is left (each holds the file alive).
        unsafe {
            libc::munmap(self.map.as_ptr().cast(), FILE_BYTES);
        }
        // Only if the name is still this file's: a head opened on the directory since (the
        // tenant stopped and started again while this one was still referenced) emptied it
        // and may have made a file of the same name.
        let named = fs::metadata(&self.path);
        let own = self.file.metadata();
        if let (Ok(named), Ok(own)) = (named, own) {
            if (named.dev(), named.ino()) == (own.dev(), own.ino()) {
                let _ = fs::remove_file(&self.path);
            }
        }
    }
}
