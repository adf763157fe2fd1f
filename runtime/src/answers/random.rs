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

#[cfg(test)]
mod tests {
    use super::*;
    use recorder_host::types::ResourceRef;
    use recorder_host::value::{Cursor, Decoder};

    /// A type of every kind a host returns, nested.
    fn every_kind() -> ValueType {
        use ValueType as V;
        let r = ResourceRef {
            interface: Some("i".into()),
            name: "r".into(),
        };
        V::Tuple(vec![
            V::Bool,
            V::U8,
            V::U16,
            V::U32,
            V::U64,
            V::S8,
            V::S16,
            V::S32,
            V::S64,
            V::F32,
            V::F64,
            V::Char,
            V::String,
            V::List(Box::new(V::U8)),
            V::List(Box::new(V::Option(Box::new(V::String)))),
            V::FixedLengthList(Box::new(V::U16), 3),
            V::Map(Box::new(V::String), Box::new(V::U32)),
            V::Result {
                ok: Some(Box::new(V::Own(r.clone()))),
                err: Some(Box::new(V::Enum {
                    name: Some("e".into()),
                    cases: vec!["a".into(), "b".into()],
                })),
            },
            V::Result {
                ok: None,
                err: None,
            },
            V::Record {
                name: Some("rec".into()),
                fields: vec![("x".into(), V::S32), ("y".into(), V::Own(r.clone()))],
            },
            V::Variant {
                name: Some("v".into()),
                cases: vec![("none".into(), None), ("some".into(), Some(V::F64))],
            },
            V::Flags {
                name: Some("f".into()),
                flags: (0..11).map(|i| format!("f{i}")).collect(),
            },
        ])
    }

    #[test]
    fn random_values_decode_as_their_type_with_fresh_handles() {
        let ty = every_kind();
        let mut next = 1;
        let mut shapes = std::collections::HashSet::new();
        for seed in 0..300 {
            let mut out = Vec::new();
            let mut fresh = || {
                next += 1;
                next
            };
            Random::new(seed)
                .value(&ty, None, &mut fresh, &mut out)
                .unwrap();
            let mut decoder = Decoder::new(&out);
            let value = decoder.value(&ty).unwrap();
            let mut cursor = Cursor::new(&out);
            cursor.skip(&ty).unwrap();
            assert!(cursor.is_empty(), "seed {seed}: bytes left over");
            shapes.insert(recorder_host::value::wave(&value).len() / 16);
        }
        assert!(shapes.len() > 3, "the values all look alike: {shapes:?}");
    }

    #[test]
    fn byte_lists_respect_the_length_asked_for() {
        let ty = ValueType::Result {
            ok: Some(Box::new(ValueType::List(Box::new(ValueType::U8)))),
            err: None,
        };
        for seed in 0..200 {
            let mut out = Vec::new();
            Random::new(seed)
                .value(&ty, Some(3), &mut || 0, &mut out)
                .unwrap();
            if out[0] == 0 {
                assert!(out[1] <= 3, "seed {seed}: {} bytes", out[1]);
            }
        }
    }

    #[test]
    fn errors_are_the_err_case() {
        let ty = ValueType::Result {
            ok: Some(Box::new(ValueType::U32)),
            err: Some(Box::new(ValueType::Enum {
                name: None,
                cases: vec!["a".into(), "b".into()],
            })),
        };
        let mut r = Random::new(1);
        let e = r.error(&ty, &mut || 0).unwrap().unwrap();
        assert_eq!(e[0], 1);
        assert!(e[1] < 2 && e.len() == 2);
        assert!(r.error(&ValueType::U32, &mut || 0).is_none());
    }
}
