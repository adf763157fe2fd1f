//! [`Cursor`]: the one reader of the value format's bytes. Every reading of recorded values goes
//! through it, whether it builds values ([`Decoder`](super::Decoder)), only steps over them
//! ([`Cursor::skip`]) or looks for the handles in them ([`Cursor::handles`]), so all of them
//! accept and reject exactly the same bytes.
//!
//! Integers follow the rule of the proxy's generated readers: a type of up to 32 bits is at most
//! 5 bytes of LEB128, a 64-bit one at most 10, and the value must fit the type. Every read is
//! bounds-checked and every length is checked against the bytes left before it is used, so no
//! input makes a reader panic, overrun or allocate more than the input's size.

use crate::types::{ResourceRef, ValueType};

/// Why some bytes are not a value of the expected type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("byte {offset}: {reason}")]
pub struct DecodeError {
    pub offset: usize,
    pub reason: String,
}

/// A position in encoded values, reading forward.
#[derive(Debug, Clone)]
pub struct Cursor<'a> {
    bytes: &'a [u8],
    /// Always at most `bytes.len()`.
    pos: usize,
}

/// A resource handle found in a value by [`Cursor::handles`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Handle<'t> {
    /// Its resource type, as the value's type names it.
    pub resource: &'t ResourceRef,
    /// The handle's id (the rep of the proxy's wrapper resource).
    pub id: u32,
    /// `own<R>`; `false` for `borrow<R>`.
    pub own: bool,
}

/// Longest LEB128 encoding of a type of up to 32 bits.
const MAX_LEB32: usize = 5;
/// Longest LEB128 encoding of a 64-bit type.
const MAX_LEB64: usize = 10;

impl<'a> Cursor<'a> {
    /// A cursor at the start of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Cursor { bytes, pos: 0 }
    }

    /// The offset of the next byte to read.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Whether every byte was read.
    pub fn is_empty(&self) -> bool {
        self.pos == self.bytes.len()
    }

    /// The bytes not read yet.
    pub fn rest(&self) -> &'a [u8] {
        self.bytes.get(self.pos..).unwrap_or_default()
    }

    /// An error at the current position (for readers built on the cursor).
    pub fn error(&self, reason: impl Into<String>) -> DecodeError {
        DecodeError {
            offset: self.pos,
            reason: reason.into(),
        }
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let rest = self.rest();
        let taken = rest
            .get(..n)
            .ok_or_else(|| self.error(format!("{n} bytes needed, {} left", rest.len())))?;
        self.pos += n;
        Ok(taken)
    }

    /// The next byte (`u8`; `s8` is its two's complement).
    pub fn byte(&mut self) -> Result<u8, DecodeError> {
        let b = *self
            .rest()
            .first()
            .ok_or_else(|| self.error("1 bytes needed, 0 left"))?;
        self.pos += 1;
        Ok(b)
    }

    /// A `bool`: one byte, 0 or 1.
    pub fn bool(&mut self) -> Result<bool, DecodeError> {
        match self.byte()? {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(self.error(format!("bool byte {b}"))),
        }
    }

    /// Unsigned LEB128 of at most `max_len` bytes (5 or 10), as a `u64`; the caller checks that
    /// it fits its type.
    fn leb(&mut self, max_len: usize) -> Result<u64, DecodeError> {
        let start = self.pos;
        let overflow = |reason: String| DecodeError {
            offset: start,
            reason,
        };
        let mut result: u64 = 0;
        for i in 0.. {
            let b = self.byte()?;
            let shift = 7 * i as u32;
            // At shift 63 only the lowest payload bit still fits in a u64.
            if i == MAX_LEB64 || (shift == 63 && b & 0x7e != 0) {
                return Err(overflow("LEB128 integer overflows 64 bits".into()));
            }
            if i == max_len {
                return Err(overflow(format!(
                    "LEB128 integer longer than {max_len} bytes"
                )));
            }
            result |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                break;
            }
        }
        Ok(result)
    }

    /// Unsigned LEB128 of a type of `bits` (16 or 32) bits.
    fn uleb32(&mut self, bits: u32) -> Result<u32, DecodeError> {
        let start = self.pos;
        let v = self.leb(MAX_LEB32)?;
        if v >> bits != 0 {
            return Err(DecodeError {
                offset: start,
                reason: format!("{v} does not fit in {bits} bits"),
            });
        }
        Ok(v as u32)
    }

    /// Zigzag + LEB128 of a signed type of `bits` bits, in at most `max_len` bytes.
    fn sleb(&mut self, bits: u32, max_len: usize) -> Result<i64, DecodeError> {
        let start = self.pos;
        let z = self.leb(max_len)?;
        let v = ((z >> 1) as i64) ^ -((z & 1) as i64);
        let (min, max) = (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1);
        if i128::from(v) < min || i128::from(v) > max {
            return Err(DecodeError {
                offset: start,
                reason: format!("{v} does not fit in s{bits}"),
            });
        }
        Ok(v)
    }

    /// A `u16`: unsigned LEB128, at most 5 bytes.
    pub fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(self.uleb32(16)? as u16)
    }

    /// A `u32` (also a handle id, a length, a case index): unsigned LEB128, at most 5 bytes.
    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        self.uleb32(32)
    }

    /// A `u64`: unsigned LEB128, at most 10 bytes.
    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        self.leb(MAX_LEB64)
    }

    /// An `s16`: zigzag, then LEB128 of at most 5 bytes.
    pub fn s16(&mut self) -> Result<i16, DecodeError> {
        Ok(self.sleb(16, MAX_LEB32)? as i16)
    }

    /// An `s32`: zigzag, then LEB128 of at most 5 bytes.
    pub fn s32(&mut self) -> Result<i32, DecodeError> {
        Ok(self.sleb(32, MAX_LEB32)? as i32)
    }

    /// An `s64`: zigzag, then LEB128 of at most 10 bytes.
    pub fn s64(&mut self) -> Result<i64, DecodeError> {
        self.sleb(64, MAX_LEB64)
    }

    /// An `f32`: its bits, little-endian (NaN payloads kept).
    pub fn f32(&mut self) -> Result<f32, DecodeError> {
        let mut a = [0u8; 4];
        a.copy_from_slice(self.take(4)?);
        Ok(f32::from_bits(u32::from_le_bytes(a)))
    }

    /// An `f64`: its bits, little-endian (NaN payloads kept).
    pub fn f64(&mut self) -> Result<f64, DecodeError> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(f64::from_bits(u64::from_le_bytes(a)))
    }

    /// A `char`: the LEB128 of a Unicode scalar value.
    pub fn char(&mut self) -> Result<char, DecodeError> {
        let start = self.pos;
        let c = self.u32()?;
        char::from_u32(c).ok_or(DecodeError {
            offset: start,
            reason: format!("{c:#x} is not a Unicode scalar value"),
        })
    }

    /// A length or count, checked against the bytes left: every element takes at least one byte,
    /// so a count larger than that is corrupt, whatever it claims.
    pub fn count(&mut self) -> Result<usize, DecodeError> {
        let n = self.u32()?;
        let left = self.rest().len();
        if u64::from(n) > left as u64 {
            return Err(self.error(format!("length {n} exceeds the {left} bytes left")));
        }
        Ok(n as usize)
    }

    /// The `n` of a fixed-length list `list<T, n>` (from the type, not the bytes), checked against
    /// the bytes left as [`Self::count`] is: every WIT type takes at least one byte (WIT has no
    /// empty tuple, record or flags), so more elements than bytes is a corrupt value or a bogus
    /// type, and no reader counts to a `u32::MAX` a damaged header claims.
    pub fn fixed_count(&self, n: u32) -> Result<usize, DecodeError> {
        let left = self.rest().len();
        if u64::from(n) > left as u64 {
            return Err(self.error(format!(
                "a fixed-length list of {n} elements exceeds the {left} bytes left"
            )));
        }
        Ok(n as usize)
    }

    /// A LEB128 length, then that many bytes: a `list<u8>` (or the bytes of a string), in place.
    pub fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let n = self.count()?;
        self.take(n)
    }

    /// A `string`: a LEB128 length, then that many bytes of UTF-8.
    pub fn str(&mut self) -> Result<&'a str, DecodeError> {
        let n = self.count()?;
        let start = self.pos;
        std::str::from_utf8(self.take(n)?).map_err(|e| DecodeError {
            offset: start,
            reason: format!("invalid UTF-8: {e}"),
        })
    }

    /// The case of a variant or enum of `n` cases: a LEB128 index below `n`.
    pub fn case(&mut self, n: usize) -> Result<usize, DecodeError> {
        let start = self.pos;
        let c = self.u32()? as usize;
        if c >= n {
            return Err(DecodeError {
                offset: start,
                reason: format!("case {c} of {n}"),
            });
        }
        Ok(c)
    }

    /// The tag byte of an `option` (`what` = "option": `true` = some) or a `result` ("result":
    /// `true` = err): 0 or 1.
    pub fn tag(&mut self, what: &str) -> Result<bool, DecodeError> {
        match self.byte()? {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(self.error(format!("{what} tag {b}"))),
        }
    }

    /// The bytes of a flags value of `n` flags: flag i is bit i % 8 of byte i / 8.
    pub fn flags(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        self.take(n.div_ceil(8))
    }

    /// Steps over one value of type `ty`, building nothing (a `list<u8>` or a string is one
    /// bounds check). It accepts exactly the bytes the decoder accepts for a type WAVE can show,
    /// with the same error, and any well-formed value of the other types WIT allows in values.
    pub fn skip(&mut self, ty: &ValueType) -> Result<(), DecodeError> {
        self.walk(ty, None)
    }

    /// [`Self::skip`], appending to `out` every handle (`own`, `borrow`) in the value, in
    /// encoding order: how the replayer finds the streams a result creates without decoding it.
    pub fn handles<'t>(
        &mut self,
        ty: &'t ValueType,
        out: &mut Vec<Handle<'t>>,
    ) -> Result<(), DecodeError> {
        self.walk(ty, Some(out))
    }

    fn walk<'t>(
        &mut self,
        ty: &'t ValueType,
        mut out: Option<&mut Vec<Handle<'t>>>,
    ) -> Result<(), DecodeError> {
        use ValueType as V;
        match ty {
            V::Bool => {
                self.bool()?;
            }
            V::U8 | V::S8 => {
                self.byte()?;
            }
            V::U16 => {
                self.u16()?;
            }
            V::U32 => {
                self.u32()?;
            }
            V::U64 => {
                self.u64()?;
            }
            V::S16 => {
                self.s16()?;
            }
            V::S32 => {
                self.s32()?;
            }
            V::S64 => {
                self.s64()?;
            }
            V::F32 => {
                self.take(4)?;
            }
            V::F64 => {
                self.take(8)?;
            }
            V::Char => {
                self.char()?;
            }
            V::String => {
                self.str()?;
            }
            V::Own(resource) | V::Borrow(resource) => {
                let id = self.u32()?;
                if let Some(out) = out {
                    out.push(Handle {
                        resource,
                        id,
                        own: matches!(ty, V::Own(_)),
                    });
                }
            }
            V::List(t) if **t == V::U8 => {
                self.bytes()?;
            }
            V::List(t) => {
                for _ in 0..self.count()? {
                    self.walk(t, out.as_deref_mut())?;
                }
            }
            V::FixedLengthList(t, n) => {
                for _ in 0..self.fixed_count(*n)? {
                    self.walk(t, out.as_deref_mut())?;
                }
            }
            V::Map(k, v) => {
                for _ in 0..self.count()? {
                    self.walk(k, out.as_deref_mut())?;
                    self.walk(v, out.as_deref_mut())?;
                }
            }
            V::Option(t) => {
                if self.tag("option")? {
                    self.walk(t, out)?;
                }
            }
            V::Result { ok, err } => {
                let side = if self.tag("result")? { err } else { ok };
                if let Some(t) = side {
                    self.walk(t, out)?;
                }
            }
            V::Tuple(ts) => {
                for t in ts {
                    self.walk(t, out.as_deref_mut())?;
                }
            }
            V::Record { fields, .. } => {
                for (_, t) in fields {
                    self.walk(t, out.as_deref_mut())?;
                }
            }
            V::Variant { cases, .. } => {
                let c = self.case(cases.len())?;
                if let Some((_, Some(t))) = cases.get(c) {
                    self.walk(t, out)?;
                }
            }
            V::Enum { cases, .. } => {
                self.case(cases.len())?;
            }
            V::Flags { flags, .. } => {
                self.flags(flags.len())?;
            }
            other => return Err(self.error(format!("values of type {other:?} are not supported"))),
        }
        Ok(())
    }
}
