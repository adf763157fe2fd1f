//! [`TraceWriter`]: appends entries to a trace as the events happen, a block at a time.

use super::block::{BlockWriter, Compression};
use super::entry::{Entry, Header, RequestHeader, FORMAT_VERSION, MAGIC, MAX_FRAME_LEN};
use super::frame::write_frame;
use super::payload::{self, call_head, CallHead, MAX_CALL_HEAD};
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
    /// The header's encoding until it is written (with the first block or flush, once the
    /// compression is known), then a serde-encoded entry's (reused).
    scratch: Vec<u8>,
    header_written: bool,
    /// The lone call the open block ends with (its head's start, the head's length, its func):
    /// a return that follows it at once turns the two into a pair.
    open_call: Option<(usize, usize, u32)>,
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
    /// A trace with `header` written to `out`; entries follow, compressed as
    /// [`Compression::default`] says unless [`Self::with_compression`] says otherwise. The magic
    /// bytes and the header go to `out` with the first block or flush (stored as the blocks
    /// are), which is when a buffered writer would have written them anyway.
    pub fn new(out: W, header: &impl HeaderPayload) -> io::Result<Self> {
        let mut scratch = Vec::new();
        payload::encode(header, &mut scratch)?;
        Ok(TraceWriter {
            out: Some(out),
            entries: 0,
            block: Vec::new(),
            blocks: BlockWriter::new(Compression::default()),
            scratch,
            header_written: false,
            open_call: None,
            failed: false,
        })
    }

    /// This writer, storing the header and the blocks as `compression` says.
    pub fn with_compression(mut self, compression: Compression) -> Self {
        self.blocks.set_compression(compression);
        self
    }

    /// Writes the magic bytes and the header frame, once: `version codec raw_len:u32le data`,
    /// the version first (bincode's varint, as every format had it) so that a reader of another
    /// format finds it and refuses the trace by it, then the header's bincode bytes as a block's
    /// are stored (a wasi:http handler's ~14 KB shrink to ~3 KB compressed).
    fn write_header(&mut self) -> io::Result<()> {
        if self.header_written {
            return Ok(());
        }
        let Some(out) = self.out.as_mut() else {
            return Ok(());
        };
        let mut version = [0u8; MAX_CALL_HEAD];
        let n = payload::put_version(FORMAT_VERSION, &mut version);
        let raw_len = u32::try_from(self.scratch.len())
            .map_err(|_| io::Error::other("the trace header is over 4 GiB"))?
            .to_le_bytes();
        let written = self.blocks.pack(&self.scratch).and_then(|(codec, data)| {
            out.write_all(MAGIC)?;
            write_frame(out, &[&version[..n], &[codec], &raw_len, data])
        });
        if written.is_err() {
            self.failed = true;
        }
        written?;
        self.header_written = true;
        Ok(())
    }

    /// Appends one entry (buffered: call [`flush`](Self::flush) to push it to the file).
    pub fn append(&mut self, entry: &Entry) -> io::Result<()> {
        match entry {
            Entry::Call { func, args } => return self.append_call(*func, args),
            Entry::Return { results } => return self.append_return(results),
            _ => {}
        }
        // Until the header is written, the scratch buffer holds it: write it before reusing it.
        self.write_header()?;
        let mut scratch = std::mem::take(&mut self.scratch);
        let result = payload::encode(entry, &mut scratch).and_then(|()| self.push(&[&scratch]));
        self.scratch = scratch;
        result?;
        self.entries += 1;
        Ok(())
    }

    /// Appends an import call and its results: the same two entries as appending
    /// [`Entry::Call`] and [`Entry::Return`], written as one pair from borrowed bytes (the
    /// recorder host reads them in place in the proxy's memory, and copies them once, into the
    /// block).
    pub fn append_call_return(&mut self, func: u32, args: &[u8], results: &[u8]) -> io::Result<()> {
        let mut head = [0u8; MAX_CALL_HEAD];
        let n = call_head(CallHead::Pair(func), &mut head);
        self.push(&[&head[..n], args, results])?;
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

    /// Appends an [`Entry::Call`] from borrowed bytes. If its [`Entry::Return`] is the next
    /// entry and fits in the same block, the two are written as a pair.
    pub fn append_call(&mut self, func: u32, args: &[u8]) -> io::Result<()> {
        let mut head = [0u8; MAX_CALL_HEAD];
        let n = call_head(CallHead::Lone(func), &mut head);
        self.push(&[&head[..n], args])?;
        self.open_call = Some((self.block.len() - n - args.len(), n, func));
        self.entries += 1;
        Ok(())
    }

    /// Appends an [`Entry::Return`] from borrowed bytes: the return of the last call.
    pub fn append_return(&mut self, results: &[u8]) -> io::Result<()> {
        if let Some((start, lone_len, func)) = self.open_call.take() {
            let mut head = [0u8; MAX_CALL_HEAD];
            let n = call_head(CallHead::Pair(func), &mut head);
            if self.block.len() - lone_len + n + results.len() <= BLOCK_SIZE {
                // The lone call's head becomes a pair's (its arguments move by a byte or two).
                self.block
                    .splice(start..start + lone_len, head[..n].iter().copied());
                self.block.extend_from_slice(results);
                self.entries += 1;
                return Ok(());
            }
        }
        let mut head = [0u8; MAX_CALL_HEAD];
        let n = call_head(CallHead::Return, &mut head);
        self.push(&[&head[..n], results])?;
        self.entries += 1;
        Ok(())
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
        self.open_call = None;
        if !self.block.is_empty() && self.block.len() + total > BLOCK_SIZE {
            self.close_block()?;
        }
        for part in parts {
            self.block.extend_from_slice(part);
        }
        Ok(())
    }

    /// Writes the open block, if it holds anything, to the output (buffered), after the header
    /// if that is not written yet.
    fn close_block(&mut self) -> io::Result<()> {
        self.open_call = None;
        if self.block.is_empty() && self.header_written {
            return Ok(());
        }
        if self.failed {
            return Err(io::Error::other(
                "an earlier write of the trace failed, so nothing more is written",
            ));
        }
        self.write_header()?;
        if self.block.is_empty() {
            return Ok(());
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
        self.write_header()?;
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
    use super::super::payload::read_call_head;
    use super::*;
    use crate::test_info::{func, iface};
    use crate::types::{ComponentInfo, ValueType};

    /// Funcs at every boundary of bincode's varint forms, for the pair's tag too.
    const FUNCS: &[u32] = &[
        0,
        7,
        242,
        243,
        250,
        251,
        65535,
        65536,
        u32::MAX - 8,
        u32::MAX,
    ];

    /// A header whose functions 0 and 1 take a `list<u8>` and return one.
    fn header() -> Header {
        let bytes = || ValueType::List(Box::new(ValueType::U8));
        let f = |name| func(name, vec![bytes()], Some(bytes()));
        Header {
            component: ComponentInfo {
                imported_interfaces: vec![iface("a:b/c", vec![f("f"), f("g")])],
                ..Default::default()
            }
            .into(),
            ..Header::empty()
        }
    }

    /// `n` bytes as an encoded `list<u8>`: its LEB128 length, then the bytes.
    fn list(n: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut v = n;
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(byte);
                break;
            }
            out.push(byte | 0x80);
        }
        out.extend((0..n).map(|i| (i % 251) as u8));
        out
    }

    /// The open block after appending with `append` to a fresh writer.
    fn appended(append: impl FnOnce(&mut TraceWriter<Vec<u8>>)) -> Vec<u8> {
        let mut w = TraceWriter::new(Vec::new(), &header()).unwrap();
        append(&mut w);
        std::mem::take(&mut w.block)
    }

    #[test]
    fn call_heads_read_back_as_written() {
        for &f in FUNCS {
            for which in [CallHead::Lone(f), CallHead::Pair(f), CallHead::Return] {
                let mut head = [0u8; MAX_CALL_HEAD];
                let n = call_head(which, &mut head);
                let mut more = head[..n].to_vec();
                more.extend_from_slice(&[1, 2, 3]);
                assert_eq!(read_call_head(&more), Some((which, n)), "{which:?}");
            }
        }
        // The other entries' tags are serde's, and a head that does not parse is left to it.
        for entry in [
            Entry::ExportCall {
                func: 1,
                args: vec![1],
            },
            Entry::ExportReturn { results: vec![] },
            Entry::Trap {
                message: "x".into(),
            },
            Entry::Exit { code: 3 },
            Entry::End { entries: 9 },
        ] {
            let bytes = appended(|w| w.append(&entry).unwrap());
            assert_eq!(read_call_head(&bytes), None, "{entry:?}");
        }
        assert_eq!(read_call_head(&[7]), None);
        assert_eq!(read_call_head(&[0, 252, 1]), None, "a cut func");
        assert_eq!(read_call_head(&[]), None);
    }

    /// A lone call followed at once by its return is written as the pair; a flush between the
    /// two keeps them apart; either way the reader gives back the same two entries.
    #[test]
    fn a_lone_call_and_its_return_make_a_pair() {
        let (args, results) = (list(3), list(300));
        let pair = appended(|w| w.append_call_return(1, &args, &results).unwrap());
        assert_eq!(pair.len(), 1 + args.len() + results.len());
        let merged = appended(|w| {
            w.append_call(1, &args).unwrap();
            w.append_return(&results).unwrap();
            assert_eq!(w.entries(), 2);
        });
        assert_eq!(merged, pair);
        let mut w = TraceWriter::new(Vec::new(), &header())
            .unwrap()
            .with_compression(Compression::None);
        w.append_call(1, &args).unwrap();
        w.flush().unwrap();
        w.append_return(&results).unwrap();
        w.append_call_return(0, &results, &args).unwrap();
        let bytes = w.finish().unwrap();
        let mut r = super::super::TraceReader::from_slice(&bytes).unwrap();
        let mut got = Vec::new();
        while let Some(e) = r.next_entry().unwrap() {
            got.push(e);
        }
        assert_eq!(
            got,
            [
                Entry::Call {
                    func: 1,
                    args: args.clone()
                },
                Entry::Return {
                    results: results.clone()
                },
                Entry::Call {
                    func: 0,
                    args: results.clone()
                },
                Entry::Return {
                    results: args.clone()
                },
            ]
        );
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

    /// Entries go to the open block until the next would overflow it; one larger than a block
    /// has a block of its own; flushing closes the block, and nothing is written before (not
    /// even the header, which is stored as the blocks are).
    #[test]
    fn entries_are_packed_in_blocks() {
        let mut w = TraceWriter::new(Vec::new(), &header())
            .unwrap()
            .with_compression(Compression::None);
        let small = list(1000);
        let entry = 2 + small.len(); // tag, func, the list
        let mut appended = 0;
        while appended + entry <= BLOCK_SIZE {
            w.append_call(1, &small).unwrap();
            appended += entry;
        }
        assert!(w.out.as_ref().unwrap().is_empty(), "nothing written yet");
        w.append_call(1, &small).unwrap(); // overflows: the full block is written
        assert_eq!(w.block_sizes().0, appended as u64);
        let big = list(2 * BLOCK_SIZE);
        w.append_return(&big).unwrap(); // closes the lone call's block, opens its own
        assert_eq!(w.block_sizes().0, (appended + entry) as u64);
        w.flush().unwrap();
        assert_eq!(w.block_sizes().0, (appended + entry + 1 + big.len()) as u64);
        let n = w.entries();
        let bytes = w.finish().unwrap();
        let mut r = super::super::TraceReader::from_slice(&bytes).unwrap();
        let mut read = 0;
        while let Some(e) = r.next_entry_ref().unwrap() {
            if let EntryRef::Return { results } = e {
                assert_eq!(results, &big[..]);
            }
            read += 1;
        }
        assert_eq!(read, n);
    }
}
