//! [`TraceReader`]: reads a trace one entry at a time, up to its last complete entry, and says
//! how it ends ([`TraceError`]).

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
    #[error("trace format version {found} is not supported (this proxyrt reads version {FORMAT_VERSION})")]
    UnsupportedVersion { found: u32 },
    #[error("the trace header is corrupt: {0}")]
    CorruptHeader(String),
    #[error("entry {index} (at byte {offset}) is corrupt: {reason}")]
    CorruptEntry {
        index: u64,
        offset: u64,
        reason: String,
    },
    #[error("the trace ends with {complete} complete entries but no end marker (it ends cut off{torn})", torn = if *.torn_bytes > 0 { format!(", with {} bytes of a torn entry", .torn_bytes) } else { String::new() })]
    Cut { complete: u64, torn_bytes: u64 },
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Reads a trace one entry at a time.
pub struct TraceReader<R: Read> {
    frames: FrameReader<R>,
    header: Header,
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
        let mut r = TraceReader {
            frames: FrameReader::new(input, at, len.map(|l| l.saturating_sub(at))),
            header: Header::empty(),
            index: 0,
            done: false,
        };
        match r.frames.read() {
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
        // Check the version before decoding the rest, so an older or newer trace gets a clear error.
        let version: u32 =
            payload::decode_prefix(r.frames.payload()).map_err(TraceError::CorruptHeader)?;
        if version != FORMAT_VERSION {
            return Err(TraceError::UnsupportedVersion { found: version });
        }
        r.header = payload::decode(r.frames.payload()).map_err(TraceError::CorruptHeader)?;
        Ok(r)
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The next entry; `Ok(None)` after the end marker. A trace without an end marker yields its
    /// complete entries and then [`TraceError::Cut`].
    pub fn next_entry(&mut self) -> Result<Option<Entry>, TraceError> {
        Ok(self.next_entry_ref()?.map(|e| e.to_entry()))
    }

    /// [`Self::next_entry`], borrowing the entry's bytes from the reader (valid until the next
    /// read): no allocation per entry.
    pub fn next_entry_ref(&mut self) -> Result<Option<EntryRef<'_>>, TraceError> {
        if self.done {
            return Ok(None);
        }
        let offset = self.frames.offset();
        match self.frames.read() {
            Ok(true) => {}
            Ok(false) => {
                self.done = true;
                return Err(TraceError::Cut {
                    complete: self.index,
                    torn_bytes: 0,
                });
            }
            Err(FrameError::Torn(n)) => {
                self.done = true;
                return Err(TraceError::Cut {
                    complete: self.index,
                    torn_bytes: n,
                });
            }
            Err(FrameError::Corrupt(reason)) => {
                self.done = true;
                return Err(TraceError::CorruptEntry {
                    index: self.index,
                    offset,
                    reason,
                });
            }
            Err(FrameError::Io(e)) => return Err(e.into()),
        };
        let frame = self.frames.payload();
        let entry = match payload::decode_bytes_entry(frame) {
            Some(entry) => entry,
            None => payload::decode_ref(frame).map_err(|reason| TraceError::CorruptEntry {
                index: self.index,
                offset,
                reason,
            })?,
        };
        if let EntryRef::End { entries } = entry {
            self.done = true;
            if entries != self.index {
                return Err(TraceError::CorruptEntry {
                    index: self.index,
                    offset,
                    reason: format!(
                        "the end marker counts {entries} entries, the trace has {}",
                        self.index
                    ),
                });
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
