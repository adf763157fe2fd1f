//! The framing of the header: `len:u32le crc32(payload):u32le payload[len]` (entries are in
//! blocks, `block`; the header keeps the framing of format 4, so that an older reader finds the
//! version and says it is not its own). Writing checks the
//! length against [`MAX_FRAME_LEN`]; reading checks the length before allocating anything and
//! the CRC before anyone sees the payload, and tells a torn last frame (the writer was killed)
//! from a corrupt one.

use super::entry::MAX_FRAME_LEN;
use std::io::{self, Read, Write};

/// Length of a frame's prefix: the payload's length and its CRC-32.
pub(super) const PREFIX_LEN: u64 = 8;

/// Writes one frame whose payload is `parts` concatenated: its length and CRC-32, then the parts.
/// A payload over [`MAX_FRAME_LEN`] is an error (a reader would take it for corruption).
pub(super) fn write_frame(out: &mut impl Write, parts: &[&[u8]]) -> io::Result<()> {
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

/// Why no frame could be read.
pub(super) enum FrameError {
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

/// Reads frames from `input` one at a time into one reused buffer.
pub(super) struct FrameReader<R> {
    input: R,
    /// Bytes left in the input, when known (files): length prefixes beyond it are torn or corrupt.
    remaining: Option<u64>,
    /// Offset in the input of the next frame.
    offset: u64,
    /// The last frame's payload (reused: one allocation for the whole trace).
    payload: Vec<u8>,
}

impl<R: Read> FrameReader<R> {
    /// Frames from `input`, which is at `offset` in its file and has `remaining` bytes left if
    /// that is known.
    pub(super) fn new(input: R, offset: u64, remaining: Option<u64>) -> Self {
        FrameReader {
            input,
            remaining,
            offset,
            payload: Vec::new(),
        }
    }

    /// The input, its offset and the bytes left in it after the frames read.
    pub(super) fn into_parts(self) -> (R, u64, Option<u64>) {
        (self.input, self.offset, self.remaining)
    }

    /// The payload of the last frame read.
    pub(super) fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// Reads one frame into [`Self::payload`]: `Ok(false)` at a clean end of input (a frame
    /// boundary).
    pub(super) fn read(&mut self) -> Result<bool, FrameError> {
        let mut prefix = [0u8; PREFIX_LEN as usize];
        let got = read_full(&mut self.input, &mut prefix)?;
        if got == 0 {
            return Ok(false);
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
            let rem = rem.saturating_sub(PREFIX_LEN);
            if u64::from(len) > rem {
                // Not enough bytes left: either the writer was killed mid-frame or the prefix is
                // corrupt. Both end the readable trace here; no allocation of `len` happens.
                return Err(FrameError::Torn(PREFIX_LEN + rem));
            }
        }
        let payload = &mut self.payload;
        read_up_to(&mut self.input, payload, len, self.remaining.is_some())?;
        if payload.len() < len as usize {
            return Err(FrameError::Torn(PREFIX_LEN + payload.len() as u64));
        }
        if crc32fast::hash(payload) != crc {
            return Err(FrameError::Corrupt("checksum mismatch".into()));
        }
        self.offset += PREFIX_LEN + u64::from(len);
        if let Some(rem) = &mut self.remaining {
            *rem = rem.saturating_sub(PREFIX_LEN + u64::from(len));
        }
        Ok(true)
    }
}

/// Replaces `buf` with the next `len` bytes of `input`, or as many as it has. `checked` says that
/// the caller knows the bytes are there (a file's length was checked against `len`): they are
/// then read in place. Else `take` + `read_to_end` grows the buffer as bytes arrive, so a bogus
/// length on a stream of unknown size cannot allocate more than what is really there.
pub(super) fn read_up_to(
    input: &mut impl Read,
    buf: &mut Vec<u8>,
    len: u32,
    checked: bool,
) -> io::Result<()> {
    buf.clear();
    if checked {
        buf.resize(len as usize, 0);
        let got = read_full(input, buf)?;
        buf.truncate(got);
    } else {
        input.take(u64::from(len)).read_to_end(buf)?;
    }
    Ok(())
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
pub(super) fn read_full(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
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
