//! [`TraceReader`]: reads a trace one entry at a time, up to the last entry of its last complete
//! block, and says how it ends ([`TraceError`]).

use super::block::BlockReader;
use super::entry::{Entry, EntryRef, Header, FORMAT_VERSION, MAGIC};
use super::frame::{FrameError, FrameReader};
use super::payload;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

/// Errors reading a trace. Every one says where the problem is.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error("not a proxyrt trace (bad magic bytes)")]
    NotATrace,
    #[error("trace format version {found} is not supported (this proxyrt reads version {FORMAT_VERSION}; record the trace again with this proxyrt)")]
    UnsupportedVersion { found: u32 },
    #[error("the trace header is corrupt: {0}")]
    CorruptHeader(String),
    /// A block's checksum, lengths or compressed data are wrong: nothing of it is read.
    #[error("the block at byte {offset} (entries from {index} on) is corrupt: {reason}")]
    CorruptBlock {
        /// The index of the block's first entry (the entries before it were read).
        index: u64,
        offset: u64,
        reason: String,
    },
    /// An entry of a sound block does not decode.
    #[error("entry {index} (in the block at byte {offset}) is corrupt: {reason}")]
    CorruptEntry {
        index: u64,
        /// The offset of the entry's block.
        offset: u64,
        reason: String,
    },
    #[error("the trace ends with {complete} complete entries but no end marker (it ends cut off{torn})", torn = if *.torn_bytes > 0 { format!(", with {} bytes of a torn block", .torn_bytes) } else { String::new() })]
    Cut { complete: u64, torn_bytes: u64 },
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Reads a trace one entry at a time, one block in memory.
pub struct TraceReader<R: Read> {
    blocks: BlockReader<R>,
    header: Header,
    /// Where the next entry starts in the current block's entries.
    pos: usize,
    /// Offset of the current block.
    block_offset: u64,
    /// Entries read so far.
    index: u64,
    /// The end marker was read, or reading stopped at an error.
    done: bool,
}

impl TraceReader<BufReader<File>> {
    /// Opens a trace file and reads its header.
    pub fn open(path: &Path) -> Result<Self, TraceError> {
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        TraceReader::with_len(BufReader::with_capacity(256 << 10, file), Some(len))
    }
}

impl<'a> TraceReader<&'a [u8]> {
    /// Reads a trace held in memory, whose length is known as a file's is (so a length prefix
    /// beyond the end is a cut, as in [`Self::open`]).
    pub fn from_slice(bytes: &'a [u8]) -> Result<Self, TraceError> {
        TraceReader::with_len(bytes, Some(bytes.len() as u64))
    }
}

impl<R: Read> TraceReader<R> {
    /// Reads the header from a stream of unknown length.
    pub fn new(input: R) -> Result<Self, TraceError> {
        Self::with_len(input, None)
    }

    fn with_len(mut input: R, len: Option<u64>) -> Result<Self, TraceError> {
        let mut magic = [0u8; MAGIC.len()];
        match input.read_exact(&mut magic) {
            Ok(()) if &magic == MAGIC => {}
            Ok(()) => return Err(TraceError::NotATrace),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                return Err(TraceError::NotATrace)
            }
            Err(e) => return Err(e.into()),
        }
        let at = MAGIC.len() as u64;
        let mut frames = FrameReader::new(input, at, len.map(|l| l.saturating_sub(at)));
        match frames.read() {
            Ok(true) => {}
            Ok(false) => {
                return Err(TraceError::CorruptHeader(
                    "the file ends after the magic bytes".into(),
                ))
            }
            Err(FrameError::Torn(n)) => {
                return Err(TraceError::CorruptHeader(format!(
                    "the header is cut off ({n} bytes)"
                )))
            }
            Err(FrameError::Corrupt(reason)) => return Err(TraceError::CorruptHeader(reason)),
            Err(FrameError::Io(e)) => return Err(e.into()),
        };
        // Check the version before decoding the rest, so an older or newer trace gets a clear
        // error (format 4 framed its entries one by one; this reader does not read it).
        let version: u32 =
            payload::decode_prefix(frames.payload()).map_err(TraceError::CorruptHeader)?;
        if version != FORMAT_VERSION {
            return Err(TraceError::UnsupportedVersion { found: version });
        }
        let header = payload::decode(frames.payload()).map_err(TraceError::CorruptHeader)?;
        let (input, offset, remaining) = frames.into_parts();
        Ok(TraceReader {
            blocks: BlockReader::new(input, offset, remaining),
            header,
            pos: 0,
            block_offset: offset,
            index: 0,
            done: false,
        })
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Bytes of entries (as encoded, before compression) and bytes of blocks (as stored: heads
    /// and compressed data) read so far; after the last entry, the whole trace's but its header.
    pub fn block_sizes(&self) -> (u64, u64) {
        self.blocks.sizes()
    }

    /// The next entry; `Ok(None)` after the end marker. A trace without an end marker yields its
    /// complete entries and then [`TraceError::Cut`].
    pub fn next_entry(&mut self) -> Result<Option<Entry>, TraceError> {
        Ok(self.next_entry_ref()?.map(|e| e.to_entry()))
    }

    /// [`Self::next_entry`], borrowing the entry's bytes from the reader's block (valid until the
    /// next read): no allocation per entry.
    pub fn next_entry_ref(&mut self) -> Result<Option<EntryRef<'_>>, TraceError> {
        if self.done {
            return Ok(None);
        }
        if self.pos >= self.blocks.raw().len() {
            let offset = self.blocks.offset();
            let ended = match self.blocks.read() {
                Ok(true) => None,
                Ok(false) => Some(TraceError::Cut {
                    complete: self.index,
                    torn_bytes: 0,
                }),
                Err(FrameError::Torn(n)) => Some(TraceError::Cut {
                    complete: self.index,
                    torn_bytes: n,
                }),
                Err(FrameError::Corrupt(reason)) => Some(TraceError::CorruptBlock {
                    index: self.index,
                    offset,
                    reason,
                }),
                Err(FrameError::Io(e)) => return Err(e.into()),
            };
            if let Some(e) = ended {
                self.done = true;
                return Err(e);
            }
            self.pos = 0;
            self.block_offset = offset;
        }
        let (index, offset) = (self.index, self.block_offset);
        let corrupt = |reason| TraceError::CorruptEntry {
            index,
            offset,
            reason,
        };
        let raw = self.blocks.raw();
        let rest = raw.get(self.pos..).unwrap_or_default();
        let (entry, used) = match payload::decode_bytes_entry(rest) {
            Some(decoded) => decoded,
            None => match payload::decode_ref_prefix::<EntryRef<'_>>(rest) {
                Ok(decoded) => decoded,
                Err(reason) => {
                    self.done = true;
                    return Err(corrupt(reason));
                }
            },
        };
        self.pos += used;
        if let EntryRef::End { entries } = entry {
            self.done = true;
            if entries != index {
                return Err(corrupt(format!(
                    "the end marker counts {entries} entries, the trace has {index}"
                )));
            }
            if self.pos != raw.len() {
                return Err(corrupt(format!(
                    "{} bytes after the end marker in its block",
                    raw.len() - self.pos
                )));
            }
            return Ok(None);
        }
        self.index += 1;
        Ok(Some(entry))
    }
}

impl<R: Read> Iterator for TraceReader<R> {
    type Item = Result<Entry, TraceError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_entry().transpose()
    }
}
