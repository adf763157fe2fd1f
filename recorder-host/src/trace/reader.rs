//! [`TraceReader`]: reads a trace one entry at a time, up to the last entry of its last complete
//! block, and says how it ends ([`TraceError`]).

use super::block::{unpack, BlockReader};
use super::calls::{self, CallTypes};
use super::entry::{Entry, EntryRef, Header, FORMAT_VERSION, MAGIC, MAX_FRAME_LEN};
use super::frame::{FrameError, FrameReader};
use super::payload::{self, CallHead};
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
    /// Where the header's imports are, to find where a call's values end.
    calls: CallTypes,
    /// The func of the lone call (`Call` entry) whose return is still to come.
    awaiting: Option<u32>,
    /// The results of the pair whose call was read last, in the current block: the next entry.
    pair_results: Option<(usize, usize)>,
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
        let header = read_header(frames.payload())?;
        let (input, offset, remaining) = frames.into_parts();
        Ok(TraceReader {
            blocks: BlockReader::new(input, offset, remaining),
            calls: CallTypes::new(&header.component),
            header,
            awaiting: None,
            pair_results: None,
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
        if let Some((start, end)) = self.pair_results.take() {
            // The return of the pair just read: no head of its own.
            self.pos = end;
            self.index += 1;
            let results = self.blocks.raw().get(start..end).unwrap_or_default();
            return Ok(Some(EntryRef::Return { results }));
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
        let (entry, used) = match payload::read_call_head(rest) {
            Some((head, n)) => {
                match call_entry(&self.header, &self.calls, self.awaiting, head, rest, n) {
                    Ok(CallEntry::Call { func, args_end }) => {
                        self.awaiting = Some(func);
                        let args = &rest[n..args_end];
                        (EntryRef::Call { func, args }, args_end)
                    }
                    Ok(CallEntry::Return { end }) => {
                        self.awaiting = None;
                        (
                            EntryRef::Return {
                                results: &rest[n..end],
                            },
                            end,
                        )
                    }
                    Ok(CallEntry::Pair {
                        func,
                        args_end,
                        end,
                    }) => {
                        self.awaiting = None;
                        self.pair_results = Some((self.pos + args_end, self.pos + end));
                        let args = &rest[n..args_end];
                        (EntryRef::Call { func, args }, args_end)
                    }
                    Err(reason) => {
                        self.done = true;
                        return Err(corrupt(reason));
                    }
                }
            }
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

/// A call entry of a block, as offsets from its start (its head is `n` bytes).
enum CallEntry {
    /// A lone call; its arguments end at `args_end`.
    Call { func: u32, args_end: usize },
    /// The return of the lone call before; its results end at `end`.
    Return { end: usize },
    /// A call and its return, the one's arguments ending at `args_end`, the other's results
    /// at `end`.
    Pair {
        func: u32,
        args_end: usize,
        end: usize,
    },
}

/// Where the call entry with head `head` (`n` bytes) at the start of `rest` ends, by the types
/// of its function in `header`; `awaiting` is the func of the lone call a return returns from.
fn call_entry(
    header: &Header,
    calls: &CallTypes,
    awaiting: Option<u32>,
    head: CallHead,
    rest: &[u8],
    n: usize,
) -> Result<CallEntry, String> {
    let function = |func: u32| {
        calls
            .function(&header.component, func)
            .ok_or_else(|| format!("a call of function {func}, which the header does not have"))
    };
    let values = &rest[n..];
    Ok(match head {
        CallHead::Lone(func) => CallEntry::Call {
            func,
            args_end: n + calls::args_len(function(func)?, values)?,
        },
        CallHead::Return => {
            let func = awaiting.ok_or("a return with no call before it")?;
            CallEntry::Return {
                end: n + calls::results_len(function(func)?, values)?,
            }
        }
        CallHead::Pair(func) => {
            let f = function(func)?;
            let args_end = n + calls::args_len(f, values)?;
            let end = args_end + calls::results_len(f, &rest[args_end..])?;
            CallEntry::Pair {
                func,
                args_end,
                end,
            }
        }
    })
}

/// The header of a trace from its frame's payload: `version codec raw_len:u32le data` (see
/// [`TraceWriter`](super::TraceWriter)). The version is read first, so an older or newer
/// trace gets a clear error (format 5 had the header's bincode bytes right after it, uncompressed;
/// this reader does not read it).
fn read_header(payload: &[u8]) -> Result<Header, TraceError> {
    let corrupt = |reason: String| TraceError::CorruptHeader(reason);
    let (version, n) = payload::get_version(payload)
        .ok_or_else(|| corrupt("the header does not start with a format version".into()))?;
    if version != FORMAT_VERSION {
        return Err(TraceError::UnsupportedVersion { found: version });
    }
    let rest = &payload[n..];
    let (&codec, rest) = rest
        .split_first()
        .ok_or_else(|| corrupt("the header ends after its version".into()))?;
    let (raw_len, data) = rest
        .split_first_chunk::<4>()
        .ok_or_else(|| corrupt("the header ends before its length".into()))?;
    let raw_len = u32::from_le_bytes(*raw_len);
    if raw_len > MAX_FRAME_LEN {
        return Err(corrupt(format!(
            "the header claims {raw_len} bytes, over the {MAX_FRAME_LEN}-byte limit"
        )));
    }
    let mut bytes = Vec::new();
    unpack(codec, data, raw_len as usize, &mut bytes)?
        .map_err(|e| corrupt(format!("its stored bytes: {e}")))?;
    let header: Header = payload::decode(&bytes).map_err(corrupt)?;
    if header.format_version != version {
        return Err(corrupt(format!(
            "it says format {} inside, {version} outside",
            header.format_version
        )));
    }
    Ok(header)
}

impl<R: Read> Iterator for TraceReader<R> {
    type Item = Result<Entry, TraceError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_entry().transpose()
    }
}
