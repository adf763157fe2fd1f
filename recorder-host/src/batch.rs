//! The records of a record-mode proxy's batch (`recorder.batch-buffer` and
//! `recorder.record-batch` in `wit/recorder.wit`): how the proxy hands over most of its calls,
//! many at a time, instead of one host call per import call.
//!
//! A batch is a sequence of records, every integer u32 little-endian:
//! - `func, args_len, args, results_len, results`: import `func` was called with `args` and
//!   returned `results` (a trace's `Call` and its `Return`);
//! - [`RETURN_ONLY`]`, results_len, results`: the results of the call last reported before it was
//!   forwarded (`recorder.call`), a `Return` alone.
//!
//! The batch buffer the proxy hands over once holds a fill count (u32 little-endian, the bytes of
//! records in it) followed by the records: [`pending`] reads it. Lengths are checked against the
//! bytes there before anything is used: a malformed batch is an error naming the offset, never a
//! panic.

use std::fmt;

/// The `func` of a record that is a `Return` alone.
pub const RETURN_ONLY: u32 = u32::MAX;

/// Bytes of the fill count at the start of the batch buffer.
pub const FILL_LEN: usize = 4;

/// One record of a batch, borrowed from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record<'a> {
    /// A call and its results.
    Call {
        func: u32,
        args: &'a [u8],
        results: &'a [u8],
    },
    /// The results of the call last reported before it was forwarded.
    Return { results: &'a [u8] },
}

/// A batch that does not parse: the proxy and this reader disagree on the format (an internal
/// error, or memory the guest overwrote).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchError {
    /// Byte offset in the batch (the records, after the fill count) where it went wrong.
    pub offset: usize,
    /// What was expected there.
    pub what: &'static str,
}

impl fmt::Display for BatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the proxy's batch of calls is malformed at byte {}: {}",
            self.offset, self.what
        )
    }
}

impl std::error::Error for BatchError {}

/// The records of `batch`, in order; after the first error, nothing more.
pub fn records(batch: &[u8]) -> Records<'_> {
    Records {
        rest: batch,
        offset: 0,
        failed: false,
    }
}

/// The records in the batch buffer `buffer` (fill count, then records) that the proxy has not
/// handed over yet: the first `fill count` bytes after the count.
pub fn pending(buffer: &[u8]) -> Result<&[u8], BatchError> {
    let Some((count, rest)) = buffer.split_first_chunk::<FILL_LEN>() else {
        return Err(BatchError {
            offset: 0,
            what: "a batch buffer of at least the 4-byte fill count",
        });
    };
    let fill = u32::from_le_bytes(*count) as usize;
    rest.get(..fill).ok_or(BatchError {
        offset: 0,
        what: "a fill count within the batch buffer",
    })
}

/// The iterator [`records`] returns.
pub struct Records<'a> {
    rest: &'a [u8],
    offset: usize,
    failed: bool,
}

impl<'a> Records<'a> {
    fn u32(&mut self, what: &'static str) -> Result<u32, BatchError> {
        let Some((n, rest)) = self.rest.split_first_chunk::<4>() else {
            return Err(self.error(what));
        };
        self.rest = rest;
        self.offset += 4;
        Ok(u32::from_le_bytes(*n))
    }

    fn bytes(&mut self, what: &'static str) -> Result<&'a [u8], BatchError> {
        let len = self.u32(what)? as usize;
        if len > self.rest.len() {
            return Err(self.error(what));
        }
        let (bytes, rest) = self.rest.split_at(len);
        self.rest = rest;
        self.offset += len;
        Ok(bytes)
    }

    fn error(&mut self, what: &'static str) -> BatchError {
        self.failed = true;
        BatchError {
            offset: self.offset,
            what,
        }
    }

    fn record(&mut self) -> Result<Record<'a>, BatchError> {
        let func = self.u32("a record's 4-byte function id")?;
        if func == RETURN_ONLY {
            let results = self.bytes("results: a 4-byte length and that many bytes")?;
            return Ok(Record::Return { results });
        }
        let args = self.bytes("arguments: a 4-byte length and that many bytes")?;
        let results = self.bytes("results: a 4-byte length and that many bytes")?;
        Ok(Record::Call {
            func,
            args,
            results,
        })
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<Record<'a>, BatchError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        Some(self.record())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(func: u32, args: &[u8], results: &[u8]) -> Vec<u8> {
        let mut out = func.to_le_bytes().to_vec();
        out.extend((args.len() as u32).to_le_bytes());
        out.extend(args);
        out.extend((results.len() as u32).to_le_bytes());
        out.extend(results);
        out
    }

    #[test]
    fn records_in_order() {
        let mut batch = call(3, b"ab", b"");
        batch.extend(RETURN_ONLY.to_le_bytes());
        batch.extend(1u32.to_le_bytes());
        batch.push(9);
        batch.extend(call(0, b"", b"xyz"));
        let got: Vec<_> = records(&batch).collect::<Result<_, _>>().unwrap();
        assert_eq!(
            got,
            [
                Record::Call {
                    func: 3,
                    args: b"ab",
                    results: b""
                },
                Record::Return { results: &[9] },
                Record::Call {
                    func: 0,
                    args: b"",
                    results: b"xyz"
                },
            ]
        );
        assert_eq!(records(&[]).count(), 0);
    }

    /// Every cut of a record is an error at the right offset, and then the iterator stops.
    #[test]
    fn cut_records_are_errors() {
        let whole = call(7, b"abc", b"de");
        for cut in 1..whole.len() {
            let mut it = records(&whole[..cut]);
            let err = it.next().unwrap().unwrap_err();
            assert!(err.offset <= cut, "cut {cut}: {err}");
            assert!(it.next().is_none());
        }
        // A length beyond the bytes.
        let mut huge = 1u32.to_le_bytes().to_vec();
        huge.extend(u32::MAX.to_le_bytes());
        let err = records(&huge).next().unwrap().unwrap_err();
        assert_eq!(err.offset, 8);
        assert!(err.to_string().contains("arguments"), "{err}");
    }

    #[test]
    fn pending_reads_the_fill_count() {
        let mut buffer = 3u32.to_le_bytes().to_vec();
        buffer.extend([1, 2, 3, 4, 5]);
        assert_eq!(pending(&buffer), Ok(&[1, 2, 3][..]));
        buffer[0] = 6;
        assert!(pending(&buffer).is_err());
        assert!(pending(&[0, 0]).is_err());
        assert_eq!(pending(&[0, 0, 0, 0]), Ok(&[][..]));
    }
}
