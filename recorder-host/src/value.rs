//! proxyrt's compact value encoding, on the host side: reading recorded bytes, into values (shown
//! in WAVE syntax) or without building any, and encoding values (the host records its calls of
//! the guest's exports with it).
//!
//! The proxy's generated wasm writes this format; the two must agree byte for byte:
//!
//! | type | bytes |
//! |---|---|
//! | `bool`, `u8` | 1 byte; `s8`: 1 byte two's complement |
//! | `u16`, `u32`, `u64` | unsigned LEB128 |
//! | `s16`, `s32`, `s64` | zigzag, then unsigned LEB128 |
//! | `f32`, `f64` | 4 / 8 bytes, little-endian raw bits (NaN payloads kept in the bytes; WAVE, the display form, shows every NaN as `nan`) |
//! | `char` | unsigned LEB128 of the scalar value |
//! | `string` | LEB128 byte length, UTF-8 bytes |
//! | `list<T>` | LEB128 element count, elements (`list<u8>`: the raw bytes) |
//! | `list<T, N>` (fixed length) | the N elements, no count |
//! | `map<K, V>` | LEB128 entry count, then key and value of each entry |
//! | record, tuple | fields in order |
//! | variant, enum | LEB128 case index, then the case's payload if it has one |
//! | `option<T>` | 1 byte 0 = none / 1 = some, then the payload |
//! | `result<T, E>` | 1 byte 0 = ok / 1 = err, then that side's payload if typed |
//! | flags (n) | ceil(n/8) bytes, flag i = bit i%8 of byte i/8 |
//! | `own<R>`, `borrow<R>` | LEB128 handle id |
//!
//! No type tags: the types come from the trace header. Why: for I/O-heavy guests the payload bytes
//! dominate, so a call's encoding is the payload plus a few bytes (the trace-size goal is 1.2x the
//! payload), and `list<u8>` is a single `memory.copy` in the proxy.
//!
//! Decoding never trusts the bytes: every length is checked against what is left before anything is
//! allocated, and malformed input is a [`DecodeError`] naming the offset, never a panic. A LEB128
//! integer is at most 5 bytes for a type of up to 32 bits (lengths, cases and handle ids
//! included) and at most 10 for a 64-bit one, as the proxy's generated readers require.
//!
//! The parts, each using only those listed before it:
//! - `cursor`: [`Cursor`], the one reader of the bytes: integers, lengths, strings, tags, and
//!   whole values stepped over ([`Cursor::skip`]) or searched for their [`Handle`]s, building
//!   nothing;
//! - `wave`: the WAVE type of a [`ValueType`](crate::types::ValueType) and the text of values;
//! - `decode`: [`Decoder`], bytes to WAVE [`Value`]s, through a [`Cursor`];
//! - `encode`: [`encode`], any [`WasmValue`](wasm_wave::wasm::WasmValue) to bytes;
//! - `convert`: [`convert`], a value as another `WasmValue` implementation (WAVE to wasmtime's);
//! - `show`: values as people read them ([`show_all`]: bytes as text or hex, named handles, long
//!   values cut) and the first difference between two encodings ([`first_difference`]).

mod convert;
mod cursor;
mod decode;
mod encode;
mod show;
mod wave;

pub use convert::convert;
pub use cursor::{Cursor, DecodeError, Handle};
pub use decode::Decoder;
pub use encode::{encode, sleb, uleb};
pub use show::{first_difference, is_text, show, show_all, show_bytes, HandleNames, NoNames};
/// The values [`Decoder`] builds and [`wave`] shows: wasm-wave's, the crate wasmtime's `Val` also
/// implements [`WasmValue`](wasm_wave::wasm::WasmValue) from (see [`encode`], [`convert`]).
pub use wasm_wave::value::Value;
pub use wave::{wave, wave_args, wave_type};
