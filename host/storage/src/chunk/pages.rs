//! Where sealed chunks' bytes live: packed side by side into large pages of anonymous memory,
//! one page given back to the kernel as soon as the last chunk in it is dropped.
//!
//! Why not one heap allocation per sealed chunk: a chunk is a few hundred bytes that lives
//! exactly as long as retention keeps it. Handed to malloc one by one (a shrink when sealed, a
//! fresh buffer for the next chunk, a free when retention drops it) every cycle of the head
//! leaves the heap a little more fragmented: the soak test saw resident memory climb 1–2% a
//! cycle for as long as it ran, and once 10% in a single cycle. Chunks sealed at about the same
//! time are dropped by retention at about the same time, so packing them in sealing order into
//! shared pages makes whole pages empty together; unmapping a page returns its memory at once,
//! and the heap never sees chunk bytes. Prometheus' head does the same on disk: full head chunks
//! are appended to `chunks_head/` files that are deleted once truncation passes them.
//!
//! Pages are mapped directly (`mmap`), not taken from the allocator: glibc serves large blocks
//! from `mmap` only until the first one is freed and then from the heap, where the problem
//! returns. A head with a storage path takes its pages from files instead (see `files`), and
//! full pages leave resident memory until a reader needs them. Each head (one per tenant) has
//! its own pages, so tenants never share one.
//!
//! A chunk that retention will keep much longer than the chunks sealed beside it would hold
//! their whole page: one whose newest sample lies in the future (a target's clock running ahead,
//! with `honor_timestamps`). Such a chunk, and one too large for a page, gets a heap block of its
//! own. (A chunk of the past only leaves its page early.)

use std::io;
use std::path::Path;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use wasmfed_model::clock::now_millis;

use parking_lot::Mutex;

use super::files::{ChunkFiles, FilePage};

/// Bytes in a page: about a thousand typical chunks, so a 100k-series head seals into a few
/// hundred pages a chunk span and the process holds few mappings; small enough that one chunk
/// kept alive longer than its neighbours pins little.
pub const PAGE_BYTES: usize = 256 * 1024;

/// How far in the future a chunk's newest sample may lie and still share a page: a page outlives
/// its other chunks by at most this much.
pub const FUTURE_SLACK_MS: i64 = 10 * 60 * 1000;

/// The pages of one head, and the one being filled.
#[derive(Default)]
pub struct ChunkPages {
    filling: Mutex<Filling>,
    /// Bytes mapped for pages that are still alive: filled, being filled or partly dropped.
    mapped: Arc<AtomicUsize>,
}

#[derive(Default)]
struct Filling {
    page: Option<Arc<Page>>,
    /// Bytes of `page` handed out; everything below is immutable from then on.
    used: usize,
    /// Where new pages come from when the head has a storage path; memory otherwise.
    files: Option<ChunkFiles>,
    /// The last file page could not be had (logged once until one can again).
    files_failing: bool,
}

impl ChunkPages {
    pub fn new() -> ChunkPages {
        ChunkPages::default()
    }

    /// From now on, takes new pages from files in `dir` (see `files`), emptied first.
    pub fn keep_in(&self, dir: &Path) -> io::Result<()> {
        self.filling.lock().files = Some(ChunkFiles::open(dir)?);
        Ok(())
    }

    /// Copies the bytes of a chunk whose newest sample is at `max_t` into the page being filled
    /// (a new one when they do not fit) and returns the immutable copy.
    pub fn store(&self, bytes: &[u8], max_t: i64) -> PagedBytes {
        if bytes.len() > PAGE_BYTES || max_t > now_millis().saturating_add(FUTURE_SLACK_MS) {
            return PagedBytes {
                page: Arc::new(Page::heap(bytes)),
                offset: 0,
                len: bytes.len() as u32,
            };
        }
        let mut filling = self.filling.lock();
        let page = match &filling.page {
            Some(page) if page.len - filling.used >= bytes.len() => Arc::clone(page),
            _ => {
                let page = Arc::new(self.new_page(&mut filling));
                if let Some(full) = filling.page.replace(Arc::clone(&page)) {
                    full.evict();
                }
                filling.used = 0;
                page
            }
        };
        let offset = filling.used;
        // SAFETY: `offset + bytes.len() <= page.len` (checked above, or a fresh page, which is
        // at least as long as any paged chunk), and bytes from `used` on have never been handed
        // out, so no `PagedBytes` (no reader) covers them; the lock makes this the only writer.
        // Source and destination cannot overlap: the source is the caller's memory, the
        // destination is unpublished.
        unsafe {
            std::ptr::copy_nonoverlapping(
                bytes.as_ptr(),
                page.base.as_ptr().add(offset),
                bytes.len(),
            );
        }
        filling.used += bytes.len();
        PagedBytes {
            page,
            offset: offset as u32,
            len: bytes.len() as u32,
        }
    }

    /// Drops the full pages of the chunk files from resident memory again (see `files`); no-op
    /// for pages in memory.
    pub fn evict(&self) {
        if let Some(files) = &mut self.filling.lock().files {
            files.evict_all();
        }
    }

    /// A page from the chunk files if there are any and one can be had, else from memory.
    fn new_page(&self, filling: &mut Filling) -> Page {
        if let Some(files) = &mut filling.files {
            match files.next_page() {
                Ok(page) => {
                    if std::mem::take(&mut filling.files_failing) {
                        tracing::info!("sealed chunks go to the chunk files again");
                    }
                    return Page::in_file(page, &self.mapped);
                }
                Err(e) if !filling.files_failing => {
                    filling.files_failing = true;
                    tracing::warn!(error = %e, "no page in the chunk files; sealed chunks are kept in memory until there is");
                }
                Err(_) => {}
            }
        }
        Page::map(&self.mapped)
    }

    /// Bytes in pages now, in memory or in files, including the unused rest of the page being
    /// filled.
    pub fn mapped_bytes(&self) -> usize {
        self.mapped.load(Relaxed)
    }
}

/// A sealed chunk's bytes in a page; the page lives while any of its chunks does.
#[derive(Clone)]
pub struct PagedBytes {
    page: Arc<Page>,
    offset: u32,
    len: u32,
}

impl PagedBytes {
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: `ChunkPages::store` wrote these bytes before creating `self` and never
        // writes them again; the page stays mapped while `self` holds it.
        unsafe {
            std::slice::from_raw_parts(
                self.page.base.as_ptr().add(self.offset as usize),
                self.len as usize,
            )
        }
    }
}

impl std::fmt::Debug for PagedBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PagedBytes")
            .field("offset", &self.offset)
            .field("len", &self.len)
            .finish()
    }
}

/// One anonymous mapping shared by chunks, or a heap block for one chunk.
struct Page {
    base: NonNull<u8>,
    len: usize,
    memory: Memory,
}

enum Memory {
    /// From `mmap`; the head's count of mapped bytes.
    Mapped(Arc<AtomicUsize>),
    /// A page of a chunk file; the head's count of mapped bytes.
    File(FilePage, Arc<AtomicUsize>),
    /// A `Box<[u8]>` taken apart.
    Heap,
}

// SAFETY: a page is plain memory owned by the mapping. Its bytes are written only by
// `ChunkPages::store` under its lock, each byte once and before any reader can see it (readers
// reach a chunk through the series lock that published it), and only read afterwards.
unsafe impl Send for Page {}
unsafe impl Sync for Page {}

impl Page {
    /// Maps a page of zeroed memory; out of memory ends the process as the allocator does.
    fn map(mapped: &Arc<AtomicUsize>) -> Page {
        let len = PAGE_BYTES;
        // SAFETY: a fresh private anonymous mapping at an address the kernel picks touches no
        // existing memory.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        let Some(base) = NonNull::new(base.cast::<u8>()).filter(|_| base != libc::MAP_FAILED)
        else {
            let layout = std::alloc::Layout::from_size_align(len, 1).expect("page size");
            std::alloc::handle_alloc_error(layout);
        };
        mapped.fetch_add(len, Relaxed);
        Page {
            base,
            len,
            memory: Memory::Mapped(Arc::clone(mapped)),
        }
    }

    fn in_file(page: FilePage, mapped: &Arc<AtomicUsize>) -> Page {
        mapped.fetch_add(PAGE_BYTES, Relaxed);
        Page {
            base: page.base(),
            len: PAGE_BYTES,
            memory: Memory::File(page, Arc::clone(mapped)),
        }
    }

    /// Called once the page is full: a file page leaves the process' memory until read.
    fn evict(&self) {
        if let Memory::File(page, _) = &self.memory {
            page.evict();
        }
    }

    /// A heap copy of `bytes`, for one chunk alone.
    fn heap(bytes: &[u8]) -> Page {
        let block: Box<[u8]> = bytes.into();
        let len = block.len();
        let base = NonNull::new(Box::into_raw(block).cast::<u8>()).expect("a box is non-null");
        Page {
            base,
            len,
            memory: Memory::Heap,
        }
    }
}

impl Drop for Page {
    fn drop(&mut self) {
        // No `PagedBytes` into the page is left (each holds it alive), so nothing reads it.
        match &self.memory {
            Memory::Mapped(mapped) => {
                // SAFETY: the mapping was made by `Page::map` with this length.
                let unmapped = unsafe { libc::munmap(self.base.as_ptr().cast(), self.len) };
                debug_assert_eq!(unmapped, 0, "munmap of a page this process mapped");
                mapped.fetch_sub(self.len, Relaxed);
            }
            // The file page punches itself out of its file when dropped with the page.
            Memory::File(_, mapped) => {
                mapped.fetch_sub(self.len, Relaxed);
            }
            Memory::Heap => {
                let block = std::ptr::slice_from_raw_parts_mut(self.base.as_ptr(), self.len);
                // SAFETY: `Page::heap` took exactly this box apart, and it is put back once.
                drop(unsafe { Box::from_raw(block) });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A newest-sample time of the past (2023): chunks with it share pages.
    const PAST: i64 = 1_700_000_000_000;

    #[test]
    fn chunks_share_pages_and_keep_their_bytes() {
        let pages = ChunkPages::new();
        let chunks: Vec<(Vec<u8>, PagedBytes)> = (0..2000u32)
            .map(|i| {
                let bytes: Vec<u8> = (0..100 + i % 300).map(|b| (b ^ i) as u8).collect();
                let stored = pages.store(&bytes, PAST);
                (bytes, stored)
            })
            .collect();
        for (bytes, stored) in &chunks {
            assert_eq!(stored.bytes(), bytes.as_slice());
        }
        let total: usize = chunks.iter().map(|(b, _)| b.len()).sum();
        let pages_needed = total.div_ceil(PAGE_BYTES);
        assert!(
            pages.mapped_bytes() <= (pages_needed + 1) * PAGE_BYTES,
            "{} bytes mapped for {total}",
            pages.mapped_bytes()
        );
    }

    #[test]
    fn a_page_is_unmapped_when_its_last_chunk_goes() {
        let pages = ChunkPages::new();
        let mut first_page: Vec<PagedBytes> = (0..PAGE_BYTES / 1024)
            .map(|_| pages.store(&[7; 1024], PAST))
            .collect();
        assert_eq!(pages.mapped_bytes(), PAGE_BYTES, "exactly full");
        let second_page = pages.store(&[8; 1024], PAST);
        assert_eq!(pages.mapped_bytes(), 2 * PAGE_BYTES);
        let last = first_page.pop().expect("chunks");
        drop(first_page);
        assert_eq!(
            pages.mapped_bytes(),
            2 * PAGE_BYTES,
            "one chunk still holds it"
        );
        assert_eq!(last.bytes(), &[7; 1024][..]);
        drop(last);
        assert_eq!(pages.mapped_bytes(), PAGE_BYTES);
        assert_eq!(second_page.bytes(), &[8; 1024][..]);
    }

    #[test]
    fn pages_in_files_keep_their_bytes_and_go_with_their_chunks() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().expect("temp dir");
        let stale = dir.path().join("00000000");
        std::fs::write(&stale, b"left by an earlier run").expect("write");
        let pages = ChunkPages::new();
        pages.keep_in(dir.path()).expect("chunk files");
        // Three pages' worth: two are full and evicted, so their bytes come back from the file.
        let per_page = PAGE_BYTES / 1000;
        let chunks: Vec<PagedBytes> = (0..3 * per_page)
            .map(|i| pages.store(&[i as u8; 1000], PAST))
            .collect();
        for (i, chunk) in chunks.iter().enumerate() {
            assert_eq!(chunk.bytes(), &[i as u8; 1000][..], "chunk {i}");
        }
        assert_eq!(pages.mapped_bytes(), 3 * PAGE_BYTES);
        pages.evict();
        assert!(
            chunks.iter().all(|c| c.bytes()[0] == c.bytes()[999]),
            "read back after evict"
        );
        let file = std::fs::metadata(&stale).expect("the head's first chunk file");
        assert_eq!(file.len(), 64 << 20, "a fresh file, sized for 256 pages");
        let allocated = file.blocks() * 512;
        let page = PAGE_BYTES as u64;
        assert!(
            (3 * page..4 * page).contains(&allocated),
            "three pages allocated, not {allocated} bytes"
        );

        drop(chunks);
        assert_eq!(
            pages.mapped_bytes(),
            PAGE_BYTES,
            "the page being filled stays"
        );
        let file = std::fs::metadata(&stale).expect("the file stays while a page does");
        let allocated = file.blocks() * 512;
        assert!(
            (page..2 * page).contains(&allocated),
            "two pages punched out, {allocated} bytes left"
        );
        drop(pages);
        let left: Vec<_> = std::fs::read_dir(dir.path()).expect("dir").collect();
        assert!(left.is_empty(), "files left: {left:?}");
    }

    #[test]
    fn a_head_going_late_leaves_the_files_of_the_next_head_on_its_directory() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("00000000");
        let old = ChunkPages::new();
        old.keep_in(dir.path()).expect("chunk files");
        let old_chunk = old.store(&[1; 100], PAST);
        // The same tenant started again while the old head is still referenced.
        let new = ChunkPages::new();
        new.keep_in(dir.path()).expect("chunk files");
        assert!(!file.exists(), "emptied at start");
        let new_chunk = new.store(&[2; 100], PAST);
        assert!(file.exists(), "the new head's first file");
        assert_eq!(old_chunk.bytes(), &[1; 100][..], "still mapped");
        drop((old_chunk, old));
        assert!(file.exists(), "not the old head's to delete");
        assert_eq!(new_chunk.bytes(), &[2; 100][..]);
        drop((new_chunk, new));
        assert!(!file.exists(), "deleted with its own head");
    }

    #[test]
    fn a_chunk_of_the_future_or_too_large_gets_a_block_of_its_own() {
        let pages = ChunkPages::new();
        let future = now_millis() + FUTURE_SLACK_MS + 60_000;
        let ahead = pages.store(&[9; 300], future);
        let big = vec![3u8; PAGE_BYTES + 5];
        let large = pages.store(&big, PAST);
        assert_eq!(pages.mapped_bytes(), 0, "neither took a page");
        let within_slack = pages.store(&[1, 2, 3], now_millis() + 60_000);
        assert_eq!(pages.mapped_bytes(), PAGE_BYTES);
        assert_eq!(within_slack.bytes(), &[1, 2, 3]);
        assert_eq!(ahead.bytes(), &[9; 300][..]);
        assert_eq!(large.bytes(), big.as_slice());
    }
}
