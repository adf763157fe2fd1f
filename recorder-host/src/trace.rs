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
//!
//! The parts, each using only those listed before it:
//! - `entry`: what a trace holds ([`Header`], [`Entry`], [`EntryRef`]) and the format constants;
//! - `payload`: an entry or header as a frame's payload (bincode through serde, and the
//!   hand-written encoding of `Call`/`Return`, the entries that make up nearly all of a trace);
//! - `frame`: the length + CRC-32 framing of payloads, written and read;
//! - `writer` ([`TraceWriter`]) and `reader` ([`TraceReader`], [`TraceError`]);
//! - [`service`]: a recorded service, a directory of one trace per request.

mod entry;
mod frame;
mod payload;
mod reader;
pub mod service;
mod writer;

pub use entry::{
    Entry, EntryRef, Header, HttpRequestLine, RequestHeader, FORMAT_VERSION, MAGIC, MAX_FRAME_LEN,
};
pub use reader::{TraceError, TraceReader};
pub use writer::{HeaderPayload, TraceWriter, BUFFER};
