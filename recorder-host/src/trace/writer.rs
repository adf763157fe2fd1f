//! [`TraceWriter`]: appends entries to a trace as the events happen, a block at a time.

use super::block::{BlockWriter, Compression};
use super::entry::{Entry, Header, RequestHeader, MAGIC, MAX_FRAME_LEN};
use super::frame::write_frame;
use super::payload::{self, bytes_entry_head, MAX_BYTES_HEAD};
use crate::batch::Record;
use serde::Serialize;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

/// Appends entries to a trace file, packed in blocks of [`BLOCK_SIZE`] bytes.
pub struct TraceWriter<W: Write> {
    /// `None` once [`Self::finish`] took it.
    out: Option<W>,
    entries: u64,
    /// The open block's entries, encoded (reused: one allocation for the whole trace).
    block: Vec<u8>,
    blocks: BlockWriter,
    /// The header's encoding, and then a serde-encoded entry's (reused).
    scratch: Vec<u8>,
    /// A write failed: nothing more is written, so that the bytes on disk stay a trace cut at a
    /// block (or in one), never a block followed by a piece of another.
    failed: bool,
}

/// What a trace's header frame can be written from: a [`Header`], or a [`RequestHeader`]
/// (which encodes as the header it stands for).
pub trait HeaderPayload: Serialize + private::Sealed {}
impl HeaderPayload for Header {}
impl HeaderPayload for RequestHeader<'_> {}

mod private {
    pub trait Sealed {}
    impl Sealed for super::Header {}
    impl Sealed for super::RequestHeader<'_> {}
}

/// The write buffer of a trace file: large, since a long run's trace is written through it and
/// every flush is a system call.
pub const BUFFER: usize = 256 << 10;

/// Bytes of encoded entries a block holds (a block holding one larger entry holds just it):
/// what is compressed at once, and what a process killed while computing loses at most beyond
/// the write buffer. Measured in BENCHMARKS.md: 64 KiB compresses within 17 % of 256 KiB on
/// small calls, in a quarter of the memory.
pub const BLOCK_SIZE: usize = 64 << 10;

impl TraceWriter<BufWriter<File>> {
    /// Creates (truncates) `path` and writes the header, with a [`BUFFER`]-byte write buffer.
    pub fn create(path: &Path, header: &impl HeaderPayload) -> io::Result<Self> {
        Self::create_buffered(path, header, BUFFER)
    }

    /// [`Self::create`] with a `capacity`-byte write buffer: smaller for the many short traces
    /// of a service (one per request), where a large buffer per request costs more than it saves.
    pub fn create_buffered(
        path: &Path,
        header: &impl HeaderPayload,
        capacity: usize,
    ) -> io::Result<Self> {
        let file = File::create(path)?;
        TraceWriter::new(BufWriter::with_capacity(capacity, file), header)
    }
}

impl<W: Write> TraceWriter<W> {
    /// Writes the magic bytes and the header to `out`; entries follow, compressed as
    /// [`Compression::default`] says unless [`Self::with_compression`] says otherwise.
    pub fn new(mut out: W, header: &impl HeaderPayload) -> io::Result<Self> {
        out.write_all(MAGIC)?;
        let mut scratch = Vec::new();
        payload::encode(header, &mut scratch)?;
        write_frame(&mut out, &[&scratch])?;
        Ok(TraceWriter {
            out: Some(out),
            entries: 0,
            block: Vec::new(),
            blocks: BlockWriter::new(Compression::default()),
            scratch,
            failed: false,
        })
    }

    /// This writer, storing the blocks that follow as `compression` says.
    pub fn with_compression(mut self, compression: Compression) -> Self {
        self.blocks.set_compression(compression);
        self
    }

    /// Appends one entry (buffered: call [`flush`](Self::flush) to push it to the file).
    pub fn append(&mut self, entry: &Entry) -> io::Result<()> {
        let mut scratch = std::mem::take(&mut self.scratch);
        let result = payload::encode(entry, &mut scratch).and_then(|()| self.push(&[&scratch]));
        self.scratch = scratch;
        result?;
        self.entries += 1;
        Ok(())
    }

    /// Appends an import call and its results: the same two entries as appending
    /// [`Entry::Call`] and [`Entry::Return`], written from borrowed bytes (the recorder host reads
    /// them in place in the proxy's memory, and copies them once, into the block).
    pub fn append_call_return(&mut self, func: u32, args: &[u8], results: &[u8]) -> io::Result<()> {
        self.bytes_entry(Some(func), args)?;
        self.bytes_entry(None, results)?;
        self.entries += 2;
        Ok(())
    }

    /// Appends the calls of a record-mode proxy's batch (see [`crate::batch`]): the same
    /// `Call` and `Return` entries as one [`Self::append_call_return`] or
    /// [`Self::append_return`] per record, copied once from `batch` into the block. A malformed
    /// batch is an error (`InvalidData`) after the records before the bad one.
    pub fn append_batch(&mut self, batch: &[u8]) -> io::Result<()> {
        for record in crate::batch::records(batch) {
            match record.map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))? {
                Record::Call {
                    func,
                    args,
                    results,
                } => self.append_call_return(func, args, results)?,
                Record::Return { results } => self.append_return(results)?,
            }
        }
        Ok(())
    }

    /// Appends an [`Entry::Call`] from borrowed bytes.
    pub fn append_call(&mut self, func: u32, args: &[u8]) -> io::Result<()> {
        self.bytes_entry(Some(func), args)?;
        self.entries += 1;
        Ok(())
    }

    /// Appends an [`Entry::Return`] from borrowed bytes.
    pub fn append_return(&mut self, results: &[u8]) -> io::Result<()> {
        self.bytes_entry(None, results)?;
        self.entries += 1;
        Ok(())
    }

    /// Appends a `Call` (`func: Some`) or `Return` entry without serde: the bytes bincode writes
    /// for the same [`EntryRef`](super::EntryRef) (variant index, func, length, bytes; a test pins
    /// the equality), with the values going from the caller's slice to the block once. These two
    /// entries are all but two of a trace's, so this is the recorder's hot path: no allocation
    /// once the block buffer has its size.
    fn bytes_entry(&mut self, func: Option<u32>, bytes: &[u8]) -> io::Result<()> {
        let mut head = [0u8; MAX_BYTES_HEAD];
        let n = bytes_entry_head(func, bytes.len(), &mut head);
        self.push(&[&head[..n], bytes])
    }

    /// Adds one entry, `parts` concatenated, to the open block, closing it first if the entry
    /// does not fit. An entry over [`MAX_FRAME_LEN`] is an error (a reader would take its block
    /// for corruption).
    fn push(&mut self, parts: &[&[u8]]) -> io::Result<()> {
        let total: usize = parts.iter().map(|p| p.len()).sum();
        if total > MAX_FRAME_LEN as usize {
            return Err(io::Error::other(format!(
                "a trace entry of {total} bytes exceeds the {MAX_FRAME_LEN}-byte limit"
            )));
        }
        if !self.block.is_empty() && self.block.len() + total > BLOCK_SIZE {
            self.close_block()?;
        }
        for part in parts {
            self.block.extend_from_slice(part);
        }
        Ok(())
    }

    /// Writes the open block, if it holds anything, to the output (buffered).
    fn close_block(&mut self) -> io::Result<()> {
        if self.block.is_empty() {
            return Ok(());
        }
        if self.failed {
            return Err(io::Error::other(
                "an earlier write of the trace failed, so nothing more is written",
            ));
        }
        let Some(out) = self.out.as_mut() else {
            return Ok(());
        };
        if let Err(e) = self.blocks.write(out, &self.block) {
            self.failed = true;
            return Err(e);
        }
        self.block.clear();
        if self.block.capacity() > 4 * BLOCK_SIZE {
            // One huge entry does not keep its buffer for the rest of the run.
            self.block.shrink_to(BLOCK_SIZE);
        }
        Ok(())
    }

    /// Number of entries appended so far.
    pub fn entries(&self) -> u64 {
        self.entries
    }

    /// Bytes of entries (encoded, before compression) and bytes of blocks (as stored: heads and
    /// compressed data) written so far, without the open block.
    pub fn block_sizes(&self) -> (u64, u64) {
        (self.blocks.raw_bytes, self.blocks.stored_bytes)
    }

    /// Closes the open block and pushes everything to the underlying writer: the trace on disk
    /// then holds every entry appended so far (the recorder's flush points).
    pub fn flush(&mut self) -> io::Result<()> {
        self.close_block()?;
        match self.out.as_mut() {
            Some(out) => out.flush(),
            None => Ok(()),
        }
    }

    /// Writes the end marker and flushes; returns the writer.
    pub fn finish(mut self) -> io::Result<W> {
        let entries = self.entries;
        let mut scratch = std::mem::take(&mut self.scratch);
        payload::encode(&Entry::End { entries }, &mut scratch)?;
        self.push(&[&scratch])?;
        self.flush()?;
        self.out
            .take()
            .ok_or_else(|| io::Error::other("the trace was already finished"))
    }
}

impl<W: Write> Drop for TraceWriter<W> {
    /// A writer dropped unfinished (its run failed) writes its open block, as a `BufWriter`
    /// writes its buffer: what was recorded stays readable, as a cut trace.
    fn drop(&mut self) {
        if self.out.is_some() && !self.failed {
            let _ = self.close_block();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::entry::EntryRef;
    use super::super::payload::{decode_bytes_entry, CALL, RETURN};
    use super::*;

    /// Lengths and ids at every boundary of bincode's varint forms.
    const SIZES: &[usize] = &[0, 1, 250, 251, 252, 65535, 65536, 70000];
    const FUNCS: &[u32] = &[0, 7, 250, 251, 65535, 65536, u32::MAX];

    /// The bytes serde + bincode write for `value`.
    fn serde_bytes<T: Serialize>(value: &T) -> Vec<u8> {
        let mut out = Vec::new();
        payload::encode(value, &mut out).unwrap();
        out
    }

    /// The open block after appending with `append` to a fresh writer.
    fn appended(append: impl FnOnce(&mut TraceWriter<Vec<u8>>)) -> Vec<u8> {
        let mut w = TraceWriter::new(Vec::new(), &Header::empty()).unwrap();
        append(&mut w);
        std::mem::take(&mut w.block)
    }

    #[test]
    fn hand_framed_calls_and_returns_are_bincodes_bytes() {
        for &size in SIZES {
            let bytes: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            for &func in FUNCS {
                let fast = appended(|w| w.append_call(func, &bytes).unwrap());
                let entry = EntryRef::Call { func, args: &bytes };
                assert_eq!(fast, serde_bytes(&entry), "call {func} with {size} bytes");
                // Followed by more bytes (the next entry of the block), it decodes the same.
                let mut more = fast.clone();
                more.extend_from_slice(&[1, 2, 3]);
                assert_eq!(decode_bytes_entry(&more), Some((entry, fast.len())));
            }
            let fast = appended(|w| w.append_return(&bytes).unwrap());
            let entry = EntryRef::Return { results: &bytes };
            assert_eq!(fast, serde_bytes(&entry), "return with {size} bytes");
            assert_eq!(decode_bytes_entry(&fast), Some((entry, fast.len())));
        }
    }

    /// A batch gives the entries its records stand for, byte for byte.
    #[test]
    fn a_batch_is_its_calls_and_returns() {
        let mut batch = Vec::new();
        for (func, args, results) in [(5u32, &b"ab"[..], &b"c"[..]), (0, b"", b"")] {
            batch.extend(func.to_le_bytes());
            batch.extend((args.len() as u32).to_le_bytes());
            batch.extend(args);
            batch.extend((results.len() as u32).to_le_bytes());
            batch.extend(results);
        }
        batch.extend(crate::batch::RETURN_ONLY.to_le_bytes());
        batch.extend(2u32.to_le_bytes());
        batch.extend([8, 9]);
        let got = appended(|w| {
            w.append_batch(&batch).unwrap();
            assert_eq!(w.entries(), 5);
        });
        let want = appended(|w| {
            w.append_call_return(5, b"ab", b"c").unwrap();
            w.append_call_return(0, b"", b"").unwrap();
            w.append_return(&[8, 9]).unwrap();
        });
        assert_eq!(got, want);
        // Cut in its last record: the records before it are appended, then the error.
        let mut w = TraceWriter::new(Vec::new(), &Header::empty()).unwrap();
        let err = w.append_batch(&batch[..batch.len() - 1]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert_eq!(w.entries(), 4);
    }

    #[test]
    fn the_fast_decoder_leaves_everything_else_to_serde() {
        for entry in [
            Entry::ExportCall {
                func: 1,
                args: vec![1],
            },
            Entry::Exit { code: 3 },
            Entry::End { entries: 9 },
        ] {
            let bytes = appended(|w| w.append(&entry).unwrap());
            assert_eq!(decode_bytes_entry(&bytes), None, "{entry:?}");
        }
        // A length beyond the bytes, a cut varint, a non-canonical varint.
        assert_eq!(decode_bytes_entry(&[CALL as u8, 3, 2, 0xaa]), None);
        assert_eq!(decode_bytes_entry(&[CALL as u8, 252, 1]), None);
        assert_eq!(decode_bytes_entry(&[RETURN as u8, 251, 1, 0, 0xaa]), None);
        assert_eq!(decode_bytes_entry(&[]), None);
    }

    /// Entries go to the open block until the next would overflow it; one larger than a block
    /// has a block of its own; flushing closes the block, and nothing is written before.
    #[test]
    fn entries_are_packed_in_blocks() {
        let mut w = TraceWriter::new(Vec::new(), &Header::empty())
            .unwrap()
            .with_compression(Compression::None);
        let header_len = w.out.as_ref().unwrap().len();
        let small = vec![7u8; 1000];
        let mut appended = 0;
        while appended + 1005 <= BLOCK_SIZE {
            w.append_call(1, &small).unwrap();
            appended += 1005; // variant, func, a 3-byte length, the bytes
        }
        assert_eq!(
            w.out.as_ref().unwrap().len(),
            header_len,
            "nothing written yet"
        );
        w.append_call(1, &small).unwrap(); // overflows: the full block is written
        assert_eq!(w.block_sizes().0, appended as u64);
        let big = vec![1u8; 2 * BLOCK_SIZE];
        w.append_return(&big).unwrap(); // closes the 1005-byte block, opens its own
        assert_eq!(w.block_sizes().0, appended as u64 + 1005);
        w.flush().unwrap();
        assert_eq!(
            w.block_sizes().0,
            (appended + 1005 + 6 + 2 * BLOCK_SIZE) as u64
        );
        let n = w.entries();
        let bytes = w.finish().unwrap();
        let mut r = super::super::TraceReader::from_slice(&bytes).unwrap();
        let mut read = 0;
        while r.next_entry_ref().unwrap().is_some() {
            read += 1;
        }
        assert_eq!(read, n);
    }
}
