//! Random values of a WIT type, written straight in recorder-host's value format: the fuzzer's
//! answers to the calls it takes.
//!
//! Every case of every type is reachable, in bounded sizes: strings of up to 12 characters,
//! lists of up to 4 elements (byte lists up to 64 bytes, or up to what the call asked for, see
//! [`Random::value`]), integers often at their edges (0, 1, the extremes), where programs break.
//! `result`s are `ok` 4 times in 5: a program that gets an error at every call rarely gets far
//! enough to show anything else. Handles (`own`) are fresh ids from the caller.

use recorder_host::types::ValueType;
use recorder_host::value::{sleb, uleb};

/// How often a `result` is `ok`, out of 5.
const OK_IN_5: u32 = 4;
/// The longest list, and the longest string in characters.
const MAX_LIST: usize = 4;
const MAX_STRING: usize = 12;
/// The longest byte list when the call does not bound it.
const MAX_BYTES: usize = 64;

/// A seeded generator of values.
pub struct Random {
    rng: fastrand::Rng,
}

impl Random {
    pub fn new(seed: u64) -> Self {
        Random {
            rng: fastrand::Rng::with_seed(seed),
        }
    }

    /// `true` with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.rng.f64() < p
    }

    /// Appends a random value of `ty` to `out`. A `list<u8>` has at most `max_bytes` bytes when
    /// given (a read's `len`: a host never returns more than asked, and a guest may rely on it);
    /// `fresh` gives each `own` handle its id. Types no host returns (a bare resource, futures,
    /// streams) are an error.
    pub fn value(
        &mut self,
        ty: &ValueType,
        max_bytes: Option<u64>,
        fresh: &mut dyn FnMut() -> u32,
        out: &mut Vec<u8>,
    ) -> Result<(), String> {
        use ValueType as V;
        match ty {
            V::Bool => out.push(u8::from(self.rng.bool())),
            V::U8 => out.push(self.edge(u8::MAX.into()) as u8),
            V::S8 => out.push(self.signed_edge(i8::MIN.into(), i8::MAX.into()) as i8 as u8),
            V::U16 => uleb(out, self.edge(u16::MAX.into())),
            V::U32 => uleb(out, self.edge(u32::MAX.into())),
            V::U64 => uleb(out, self.edge(u64::MAX)),
            V::S16 => sleb(out, self.signed_edge(i16::MIN.into(), i16::MAX.into())),
            V::S32 => sleb(out, self.signed_edge(i32::MIN.into(), i32::MAX.into())),
            V::S64 => sleb(out, self.signed_edge(i64::MIN, i64::MAX)),
            V::F32 => {
                let f = (self.signed_edge(-1000, 1000) as f32) / 8.0;
                out.extend_from_slice(&f.to_bits().to_le_bytes())
            }
            V::F64 => {
                let f = (self.signed_edge(-1000, 1000) as f64) / 8.0;
                out.extend_from_slice(&f.to_bits().to_le_bytes())
            }
            V::Char => uleb(out, u32::from(self.char()).into()),
            V::String => {
                let n = self.rng.usize(0..=MAX_STRING);
                let s: String = (0..n).map(|_| self.char()).collect();
                uleb(out, s.len() as u64);
                out.extend_from_slice(s.as_bytes());
            }
            V::List(t) if **t == V::U8 => {
                let max = max_bytes.map_or(MAX_BYTES as u64, |m| m.min(MAX_BYTES as u64));
                let n = self.rng.u64(0..=max) as usize;
                uleb(out, n as u64);
                out.extend((0..n).map(|_| self.rng.u8(..)));
            }
            V::List(t) => {
                let n = self.rng.usize(0..=MAX_LIST);
                uleb(out, n as u64);
                for _ in 0..n {
                    self.value(t, None, fresh, out)?;
                }
            }
            V::FixedLengthList(t, n) => {
                for _ in 0..*n {
                    self.value(t, None, fresh, out)?;
                }
            }
            V::Map(k, v) => {
                let n = self.rng.usize(0..=MAX_LIST);
                uleb(out, n as u64);
                for _ in 0..n {
                    self.value(k, None, fresh, out)?;
                    self.value(v, None, fresh, out)?;
                }
            }
            V::Option(t) => {
                let some = self.rng.bool();
                out.push(u8::from(some));
                if some {
                    self.value(t, max_bytes, fresh, out)?;
                }
            }
            V::Result { ok, err } => {
                let failed = self.rng.u32(0..5) >= OK_IN_5;
                out.push(u8::from(failed));
                if let Some(t) = if failed { err } else { ok } {
                    self.value(t, max_bytes, fresh, out)?;
                }
            }
            V::Tuple(ts) => {
                for t in ts {
                    self.value(t, None, fresh, out)?;
                }
            }
            V::Record { fields, .. } => {
                for (_, t) in fields {
                    self.value(t, None, fresh, out)?;
                }
            }
            V::Variant { cases, .. } => {
                if cases.is_empty() {
                    return Err("a variant without cases has no value".into());
                }
                let case = self.rng.usize(..cases.len());
                uleb(out, case as u64);
                if let (_, Some(t)) = &cases[case] {
                    self.value(t, None, fresh, out)?;
                }
            }
            V::Enum { cases, .. } => {
                if cases.is_empty() {
                    return Err("an enum without cases has no value".into());
                }
                uleb(out, self.rng.usize(..cases.len()) as u64)
            }
            V::Flags { flags, .. } => {
                let mut bytes = vec![0u8; flags.len().div_ceil(8)];
                for i in 0..flags.len() {
                    if self.rng.bool() {
                        bytes[i / 8] |= 1 << (i % 8);
                    }
                }
                out.extend_from_slice(&bytes);
            }
            V::Own(_) | V::Borrow(_) => uleb(out, fresh().into()),
            V::Resource(_) | V::Future(_) | V::Stream(_) | V::ErrorContext | V::Unknown => {
                return Err(format!("no random value of type {ty:?} can be made"))
            }
        }
        Ok(())
    }

    /// A random error of `ty`'s `err` case, when `ty` is a `result` with one: what an injected
    /// fault returns when no value is given.
    pub fn error(
        &mut self,
        ty: &ValueType,
        fresh: &mut dyn FnMut() -> u32,
    ) -> Option<Result<Vec<u8>, String>> {
        let ValueType::Result { err, .. } = ty else {
            return None;
        };
        let mut out = vec![1];
        if let Some(t) = err {
            if let Err(e) = self.value(t, None, fresh, &mut out) {
                return Some(Err(e));
            }
        }
        Some(Ok(out))
    }

    /// An unsigned integer up to `max`: 0, 1 or `max` one time in four, else uniform, often small.
    fn edge(&mut self, max: u64) -> u64 {
        match self.rng.u8(0..8) {
            0 => 0,
            1 => 1.min(max),
            2 => max,
            3..=5 => self.rng.u64(0..=max.min(255)),
            _ => self.rng.u64(0..=max),
        }
    }

    /// A signed integer in `min..=max`, often at an edge or small.
    fn signed_edge(&mut self, min: i64, max: i64) -> i64 {
        match self.rng.u8(0..8) {
            0 => 0,
            1 => min,
            2 => max,
            3..=5 => self.rng.i64(-100.max(min)..=100.min(max)),
            _ => self.rng.i64(min..=max),
        }
    }

    /// A character: printable ASCII mostly, sometimes any scalar value.
    fn char(&mut self) -> char {
        if self.rng.u8(0..8) == 0 {
            self.rng.char(..)
        } else {
            self.rng.char(' '..='~')
        }
    }
}
