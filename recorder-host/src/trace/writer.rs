//! [`TraceWriter`]: appends framed entries to a trace as the events happen.

use super::entry::{Entry, Header, RequestHeader, MAGIC};
use super::frame::write_frame;
use super::payload::{self, bytes_entry_head, MAX_BYTES_HEAD};
use serde::Serialize;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

/// Appends frames to a trace file.
pub struct TraceWriter<W: Write> {
    out: W,
    entries: u64,
    /// The last serde-encoded payload (reused: one allocation for the whole trace).
    scratch: Vec<u8>,
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
    pub fn new(mut out: W, header: &impl HeaderPayload) -> io::Result<Self> {
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
        self.bytes_frame(Some(func), args)?;
        self.bytes_frame(None, results)?;
        self.entries += 2;
        Ok(())
    }

    /// Appends an [`Entry::Call`] from borrowed bytes.
    pub fn append_call(&mut self, func: u32, args: &[u8]) -> io::Result<()> {
        self.bytes_frame(Some(func), args)?;
        self.entries += 1;
        Ok(())
    }

    /// Appends an [`Entry::Return`] from borrowed bytes.
    pub fn append_return(&mut self, results: &[u8]) -> io::Result<()> {
        self.bytes_frame(None, results)?;
        self.entries += 1;
        Ok(())
    }

    /// Frames a `Call` (`func: Some`) or `Return` entry without serde: the bytes bincode writes for
    /// the same [`EntryRef`](super::EntryRef) (variant index, func, length, bytes; a test pins the
    /// equality), with the values going from the caller's slice to the output once and the CRC
    /// computed in place. These two entries are all but two of a trace's, so this is the
    /// recorder's hot path.
    fn bytes_frame(&mut self, func: Option<u32>, bytes: &[u8]) -> io::Result<()> {
        let mut head = [0u8; MAX_BYTES_HEAD];
        let n = bytes_entry_head(func, bytes.len(), &mut head);
        write_frame(&mut self.out, &[&head[..n], bytes])
    }

    /// Number of entries appended so far.
    pub fn entries(&self) -> u64 {
        self.entries
    }

    fn frame<T: Serialize>(&mut self, value: &T) -> io::Result<()> {
        payload::encode(value, &mut self.scratch)?;
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

#[cfg(test)]
mod tests {
    use super::super::entry::EntryRef;
    use super::super::payload::{decode_bytes_entry, CALL, RETURN};
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
