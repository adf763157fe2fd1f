//! The trace file: a header, then one framed entry per event, written as the events happen.
//!
//! ```text
//! trace  := MAGIC header-frame entry-frame*
//! frame  := len:u32le crc32(payload):u32le payload[len]
//! header := bincode(Header)        entry := bincode(Entry)
//! ```
//!
//! Why this shape:
//! - **Streamed**: the writer appends frames through a buffer; the reader pulls one frame at a time, so
//!   memory stays flat however long the run.
//! - **Torn writes are detectable**: a process killed mid-write leaves a last frame that is shorter than
//!   its length prefix; the reader reports the trace as cut after the last complete entry instead of
//!   failing. A complete trace ends with [`Entry::End`], so "cut exactly at a frame boundary" is told
//!   apart from "finished" too.
//! - **Corruption is detectable**: every frame carries a CRC-32 of its payload; a flipped byte is an
//!   error that names the entry, never a misdecoded value.
//! - **Bounded allocation**: a length prefix is checked against [`MAX_FRAME_LEN`] and, for files, against
//!   the bytes actually left before anything is allocated; bincode decoding is limited to the frame.

use crate::types::ComponentInfo;
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::Path;

/// First bytes of every trace file.
pub const MAGIC: &[u8; 8] = b"PRXYTRC\0";

/// Version of the layout of [`Header`] and [`Entry`]; bumped on every incompatible change.
/// 2: the host's call of the guest's export is recorded (`ExportCall` .. `ExportReturn`), and replay
/// expects it. 3: drops of imported resources are calls (`ComponentInfo::resource_drops`).
pub const FORMAT_VERSION: u32 = 3;

/// Largest frame a reader accepts (a single call's arguments or results). Guests moving more than this
/// in one call are not realistic; a larger prefix is treated as corruption.
pub const MAX_FRAME_LEN: u32 = 256 << 20;

fn bincode_config() -> impl bincode::config::Config {
    bincode::config::standard()
}

/// What the trace was recorded from; checked before replaying.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub format_version: u32,
    /// The proxyrt version that wrote the trace.
    pub proxyrt_version: String,
    /// SHA-256 of the original component's bytes.
    pub component_sha256: [u8; 32],
    /// SHA-256 of the component's import and export interfaces (their WIT): a rebuilt component with
    /// the same interfaces may replay this trace, an unrelated one may not.
    pub interface_sha256: [u8; 32],
    /// The component's imports and exports with their WIT types: entries refer to functions by their
    /// index in [`ComponentInfo::intercepted_functions`], and the types let a reader decode and show
    /// the values without the component.
    pub component: ComponentInfo,
    /// The guest's arguments, as passed (for display).
    pub argv: Vec<String>,
}

/// One event of a recorded run. Values are in the proxy's compact binary encoding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Entry {
    /// The guest called an import.
    Call {
        func: u32,
        #[serde(with = "serde_bytes")]
        args: Vec<u8>,
    },
    /// The import the guest called last returned.
    Return {
        #[serde(with = "serde_bytes")]
        results: Vec<u8>,
    },
    /// The host called one of the guest's exports.
    ExportCall {
        func: u32,
        #[serde(with = "serde_bytes")]
        args: Vec<u8>,
    },
    /// That export returned.
    ExportReturn {
        #[serde(with = "serde_bytes")]
        results: Vec<u8>,
    },
    /// The guest trapped.
    Trap { message: String },
    /// The guest exited with this status.
    Exit { code: i32 },
    /// The trace is complete; `entries` counts the entries before this one.
    End { entries: u64 },
}

/// An [`Entry`] whose bytes and text are borrowed: what [`TraceReader::next_entry_ref`] returns
/// from its frame buffer, and what the recorder host writes straight from the proxy's memory, so
/// that neither side copies a call's values per entry. serde + bincode encode an enum as its
/// variant index and its fields, and the variants mirror `Entry`'s in the same order, so both
/// types have exactly the same encoding (a test pins it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EntryRef<'a> {
    Call {
        func: u32,
        #[serde(with = "serde_bytes", borrow)]
        args: &'a [u8],
    },
    Return {
        #[serde(with = "serde_bytes", borrow)]
        results: &'a [u8],
    },
    ExportCall {
        func: u32,
        #[serde(with = "serde_bytes", borrow)]
        args: &'a [u8],
    },
    ExportReturn {
        #[serde(with = "serde_bytes", borrow)]
        results: &'a [u8],
    },
    Trap {
        message: &'a str,
    },
    Exit {
        code: i32,
    },
    End {
        entries: u64,
    },
}

impl EntryRef<'_> {
    /// The owned entry.
    pub fn to_entry(&self) -> Entry {
        match *self {
            EntryRef::Call { func, args } => Entry::Call {
                func,
                args: args.to_vec(),
            },
            EntryRef::Return { results } => Entry::Return {
                results: results.to_vec(),
            },
            EntryRef::ExportCall { func, args } => Entry::ExportCall {
                func,
                args: args.to_vec(),
            },
            EntryRef::ExportReturn { results } => Entry::ExportReturn {
                results: results.to_vec(),
            },
            EntryRef::Trap { message } => Entry::Trap {
                message: message.to_string(),
            },
            EntryRef::Exit { code } => Entry::Exit { code },
            EntryRef::End { entries } => Entry::End { entries },
        }
    }
}

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

/// Appends frames to a trace file.
pub struct TraceWriter<W: Write> {
    out: W,
    entries: u64,
    scratch: Vec<u8>,
}

impl TraceWriter<BufWriter<File>> {
    /// Creates (truncates) `path` and writes the header.
    pub fn create(path: &Path, header: &Header) -> io::Result<Self> {
        let file = File::create(path)?;
        TraceWriter::new(BufWriter::with_capacity(256 << 10, file), header)
    }
}

impl<W: Write> TraceWriter<W> {
    pub fn new(mut out: W, header: &Header) -> io::Result<Self> {
        out.write_all(MAGIC)?;
        let mut w = TraceWriter {
            out,
            entries: 0,
            scratch: Vec::new(),
        };
        w.frame(header)?;
        Ok(w)
    }

    /// Appends one entry (buffered: call [`flush`](Self::flush) to push it to the file).
    pub fn append(&mut self, entry: &Entry) -> io::Result<()> {
        self.frame(entry)?;
        self.entries += 1;
        Ok(())
    }

    /// Appends an import call and its results: the same two entries as appending
    /// [`Entry::Call`] and [`Entry::Return`], written from borrowed bytes (the recorder host reads
    /// them in place in the proxy's memory, so no copy is made).
    pub fn append_call_return(&mut self, func: u32, args: &[u8], results: &[u8]) -> io::Result<()> {
        self.bytes_frame(CALL, Some(func), args)?;
        self.bytes_frame(RETURN, None, results)?;
        self.entries += 2;
        Ok(())
    }

    /// Appends an [`Entry::Call`] from borrowed bytes.
    pub fn append_call(&mut self, func: u32, args: &[u8]) -> io::Result<()> {
        self.bytes_frame(CALL, Some(func), args)?;
        self.entries += 1;
        Ok(())
    }

    /// Appends an [`Entry::Return`] from borrowed bytes.
    pub fn append_return(&mut self, results: &[u8]) -> io::Result<()> {
        self.bytes_frame(RETURN, None, results)?;
        self.entries += 1;
        Ok(())
    }

    /// Frames a `Call` (`func: Some`) or `Return` entry without serde: the bytes bincode writes for
    /// the same [`EntryRef`] (variant index, func, length, bytes; a test pins the equality), with
    /// the values going from the caller's slice to the output once and the CRC computed in place.
    /// These two entries are all but two of a trace's, so this is the recorder's hot path.
    fn bytes_frame(&mut self, variant: u32, func: Option<u32>, bytes: &[u8]) -> io::Result<()> {
        let mut head = [0u8; 3 * MAX_VARINT];
        let mut n = put_varint(&mut head, u64::from(variant));
        if let Some(func) = func {
            n += put_varint(&mut head[n..], u64::from(func));
        }
        n += put_varint(&mut head[n..], bytes.len() as u64);
        write_frame(&mut self.out, &[&head[..n], bytes])
    }

    /// Number of entries appended so far.
    pub fn entries(&self) -> u64 {
        self.entries
    }

    fn frame<T: Serialize>(&mut self, value: &T) -> io::Result<()> {
        self.scratch.clear();
        bincode::serde::encode_into_std_write(value, &mut self.scratch, bincode_config())
            .map_err(|e| io::Error::other(format!("encoding a trace entry: {e}")))?;
        write_frame(&mut self.out, &[&self.scratch])
    }

    /// Pushes buffered entries to the underlying writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Writes the end marker and flushes; returns the writer.
    pub fn finish(mut self) -> io::Result<W> {
        let entries = self.entries;
        self.frame(&Entry::End { entries })?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Reads a trace one entry at a time.
pub struct TraceReader<R: Read> {
    input: R,
    header: Header,
    /// Bytes left in the input, when known (files): length prefixes beyond it are torn or corrupt.
    remaining: Option<u64>,
    offset: u64,
    index: u64,
    done: bool,
    /// The last frame's payload (reused: one allocation for the whole trace).
    frame: Vec<u8>,
}

impl TraceReader<BufReader<File>> {
    /// Opens a trace file and reads its header.
    pub fn open(path: &Path) -> Result<Self, TraceError> {
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        TraceReader::with_len(BufReader::with_capacity(256 << 10, file), Some(len))
    }
}

impl<R: Read> TraceReader<R> {
    /// Reads the header from a stream of unknown length.
    pub fn new(input: R) -> Result<Self, TraceError> {
        Self::with_len(input, None)
    }

    fn with_len(mut input: R, len: Option<u64>) -> Result<Self, TraceError> {
        let mut magic = [0u8; 8];
        match input.read_exact(&mut magic) {
            Ok(()) if &magic == MAGIC => {}
            Ok(()) => return Err(TraceError::NotATrace),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                return Err(TraceError::NotATrace)
            }
            Err(e) => return Err(e.into()),
        }
        let mut r = TraceReader {
            input,
            header: placeholder_header(),
            remaining: len.map(|l| l.saturating_sub(8)),
            offset: 8,
            index: 0,
            done: false,
            frame: Vec::new(),
        };
        match r.read_frame() {
            Ok(Some(())) => {}
            Ok(None) => {
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
        let (version, _) = bincode::serde::decode_from_slice::<u32, _>(&r.frame, bincode_config())
            .map_err(|e| TraceError::CorruptHeader(e.to_string()))?;
        if version != FORMAT_VERSION {
            return Err(TraceError::UnsupportedVersion { found: version });
        }
        r.header = decode(&r.frame).map_err(TraceError::CorruptHeader)?;
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
        let offset = self.offset;
        match self.read_frame() {
            Ok(Some(())) => {}
            Ok(None) => {
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
        let entry = match decode_bytes_entry(&self.frame) {
            Some(entry) => entry,
            None => decode_ref(&self.frame).map_err(|reason| TraceError::CorruptEntry {
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

    /// Reads one frame into `self.frame`: `Ok(None)` at a clean end of input (a frame boundary).
    fn read_frame(&mut self) -> Result<Option<()>, FrameError> {
        let mut prefix = [0u8; 8];
        let got = read_full(&mut self.input, &mut prefix)?;
        if got == 0 {
            return Ok(None);
        }
        if got < prefix.len() {
            return Err(FrameError::Torn(got as u64));
        }
        let len = u32::from_le_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]);
        let crc = u32::from_le_bytes([prefix[4], prefix[5], prefix[6], prefix[7]]);
        if len > MAX_FRAME_LEN {
            return Err(FrameError::Corrupt(format!(
                "length prefix {len} exceeds the {MAX_FRAME_LEN}-byte limit"
            )));
        }
        if let Some(rem) = self.remaining {
            let rem = rem.saturating_sub(8);
            if u64::from(len) > rem {
                // Not enough bytes left: either the writer was killed mid-frame or the prefix is
                // corrupt. Both end the readable trace here; no allocation of `len` happens.
                return Err(FrameError::Torn(8 + rem));
            }
        }
        let payload = &mut self.frame;
        payload.clear();
        if self.remaining.is_some() {
            // The bytes are there (checked above): read them in place.
            payload.resize(len as usize, 0);
            let got = read_full(&mut self.input, payload)?;
            payload.truncate(got);
        } else {
            // `take` + `read_to_end` grows the buffer as bytes arrive, so a bogus length on a
            // stream of unknown size cannot allocate more than what is really there.
            (&mut self.input)
                .take(u64::from(len))
                .read_to_end(payload)?;
        }
        if payload.len() < len as usize {
            return Err(FrameError::Torn(8 + payload.len() as u64));
        }
        if crc32fast::hash(payload) != crc {
            return Err(FrameError::Corrupt("checksum mismatch".into()));
        }
        self.offset += 8 + u64::from(len);
        if let Some(rem) = &mut self.remaining {
            *rem = rem.saturating_sub(8 + u64::from(len));
        }
        Ok(Some(()))
    }
}

impl<R: Read> Iterator for TraceReader<R> {
    type Item = Result<Entry, TraceError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_entry().transpose()
    }
}

enum FrameError {
    /// The input ended inside a frame after this many bytes of it.
    Torn(u64),
    Corrupt(String),
    Io(io::Error),
}

impl From<io::Error> for FrameError {
    fn from(e: io::Error) -> Self {
        FrameError::Io(e)
    }
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match input.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

fn decode<T: serde::de::DeserializeOwned>(payload: &[u8]) -> Result<T, String> {
    // Decoding works on one checked frame: serde caps what it preallocates for a sequence
    // (`size_hint::cautious`) and bincode stops at the end of the slice, so a bogus inner length
    // cannot make a large allocation.
    let (value, used) =
        bincode::serde::decode_from_slice(payload, bincode_config()).map_err(|e| e.to_string())?;
    if used != payload.len() {
        return Err(format!(
            "{} trailing bytes after the value",
            payload.len() - used
        ));
    }
    Ok(value)
}

/// [`decode`] of a value that borrows from `payload`.
fn decode_ref<'a, T: Deserialize<'a>>(payload: &'a [u8]) -> Result<T, String> {
    let (value, used) = bincode::serde::borrow_decode_from_slice(payload, bincode_config())
        .map_err(|e| e.to_string())?;
    if used != payload.len() {
        return Err(format!(
            "{} trailing bytes after the value",
            payload.len() - used
        ));
    }
    Ok(value)
}

/// Writes one frame whose payload is `parts` concatenated: its length and CRC-32, then the parts.
/// A payload over [`MAX_FRAME_LEN`] is an error (a reader would take it for corruption).
fn write_frame(out: &mut impl Write, parts: &[&[u8]]) -> io::Result<()> {
    let total: usize = parts.iter().map(|p| p.len()).sum();
    let len = u32::try_from(total)
        .ok()
        .filter(|&l| l <= MAX_FRAME_LEN)
        .ok_or_else(|| {
            io::Error::other(format!(
                "a trace entry of {total} bytes exceeds the {MAX_FRAME_LEN}-byte limit"
            ))
        })?;
    let mut crc = crc32fast::Hasher::new();
    for part in parts {
        crc.update(part);
    }
    out.write_all(&len.to_le_bytes())?;
    out.write_all(&crc.finalize().to_le_bytes())?;
    for part in parts {
        out.write_all(part)?;
    }
    Ok(())
}

/// bincode's variant index of [`Entry::Call`] / [`EntryRef::Call`].
const CALL: u32 = 0;
/// bincode's variant index of [`Entry::Return`] / [`EntryRef::Return`].
const RETURN: u32 = 1;
/// Longest bincode varint of a `u64`: a marker byte and 8 bytes.
const MAX_VARINT: usize = 9;

/// Writes `v` as bincode 2's `standard()` configuration does (what serde + bincode produce for
/// integers, variant indices and lengths): one byte below 251, else a marker (251: `u16`, 252:
/// `u32`, 253: `u64`) and the value little-endian. Returns the number of bytes written.
fn put_varint(out: &mut [u8], v: u64) -> usize {
    if v < 251 {
        out[0] = v as u8;
        1
    } else if let Ok(v) = u16::try_from(v) {
        out[0] = 251;
        out[1..3].copy_from_slice(&v.to_le_bytes());
        3
    } else if let Ok(v) = u32::try_from(v) {
        out[0] = 252;
        out[1..5].copy_from_slice(&v.to_le_bytes());
        5
    } else {
        out[0] = 253;
        out[1..9].copy_from_slice(&v.to_le_bytes());
        9
    }
}

/// Reads a varint written by [`put_varint`] from the start of `bytes`: the value and its length.
/// `None` for anything else (a longer form, a non-canonical one, too few bytes).
fn get_varint(bytes: &[u8]) -> Option<(u64, usize)> {
    let (v, n) = match *bytes.first()? {
        b @ 0..=250 => (u64::from(b), 1),
        251 => (
            u64::from(u16::from_le_bytes(bytes.get(1..3)?.try_into().ok()?)),
            3,
        ),
        252 => (
            u64::from(u32::from_le_bytes(bytes.get(1..5)?.try_into().ok()?)),
            5,
        ),
        253 => (u64::from_le_bytes(bytes.get(1..9)?.try_into().ok()?), 9),
        _ => return None,
    };
    // bincode writes the shortest form; a longer one is left to bincode to judge.
    let canonical = match n {
        1 => true,
        3 => v >= 251,
        5 => v > u64::from(u16::MAX),
        _ => v > u64::from(u32::MAX),
    };
    canonical.then_some((v, n))
}

/// Decodes a `Call` or `Return` frame without serde (the replayer's hot path); `None` for every
/// other entry and for anything unusual, which the serde decoder then decodes or reports.
fn decode_bytes_entry(frame: &[u8]) -> Option<EntryRef<'_>> {
    let (variant, mut at) = get_varint(frame)?;
    let func = match u32::try_from(variant).ok()? {
        CALL => {
            let (func, n) = get_varint(&frame[at..])?;
            at += n;
            Some(u32::try_from(func).ok()?)
        }
        RETURN => None,
        _ => return None,
    };
    let (len, n) = get_varint(&frame[at..])?;
    at += n;
    let bytes = frame.get(at..)?;
    if bytes.len() as u64 != len {
        return None;
    }
    Some(match func {
        Some(func) => EntryRef::Call { func, args: bytes },
        None => EntryRef::Return { results: bytes },
    })
}

fn placeholder_header() -> Header {
    Header {
        format_version: FORMAT_VERSION,
        proxyrt_version: String::new(),
        component_sha256: [0; 32],
        interface_sha256: [0; 32],
        component: ComponentInfo::default(),
        argv: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lengths and ids at every boundary of bincode's varint forms.
    const SIZES: &[usize] = &[0, 1, 250, 251, 252, 65535, 65536, 70000];
    const FUNCS: &[u32] = &[0, 7, 250, 251, 65535, 65536, u32::MAX];

    fn writer() -> TraceWriter<Vec<u8>> {
        TraceWriter {
            out: Vec::new(),
            entries: 0,
            scratch: Vec::new(),
        }
    }

    #[test]
    fn hand_framed_calls_and_returns_are_bincodes_bytes() {
        for &size in SIZES {
            let bytes: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            for &func in FUNCS {
                let (mut fast, mut serde) = (writer(), writer());
                fast.append_call(func, &bytes).unwrap();
                serde.frame(&EntryRef::Call { func, args: &bytes }).unwrap();
                assert_eq!(fast.out, serde.out, "call {func} with {size} bytes");
                let payload = &fast.out[8..];
                assert_eq!(
                    decode_bytes_entry(payload),
                    Some(EntryRef::Call { func, args: &bytes })
                );
            }
            let (mut fast, mut serde) = (writer(), writer());
            fast.append_return(&bytes).unwrap();
            serde.frame(&EntryRef::Return { results: &bytes }).unwrap();
            assert_eq!(fast.out, serde.out, "return with {size} bytes");
            assert_eq!(
                decode_bytes_entry(&fast.out[8..]),
                Some(EntryRef::Return { results: &bytes })
            );
        }
    }

    #[test]
    fn the_fast_decoder_leaves_everything_else_to_serde() {
        let mut w = writer();
        for entry in [
            Entry::ExportCall {
                func: 1,
                args: vec![1],
            },
            Entry::Exit { code: 3 },
            Entry::End { entries: 9 },
        ] {
            w.out.clear();
            w.append(&entry).unwrap();
            assert_eq!(decode_bytes_entry(&w.out[8..]), None, "{entry:?}");
        }
        // A length that disagrees with the bytes, a cut varint, a non-canonical varint.
        assert_eq!(decode_bytes_entry(&[CALL as u8, 3, 2, 0xaa]), None);
        assert_eq!(decode_bytes_entry(&[CALL as u8, 252, 1]), None);
        assert_eq!(decode_bytes_entry(&[RETURN as u8, 251, 1, 0, 0xaa]), None);
        assert_eq!(decode_bytes_entry(&[]), None);
    }
}
