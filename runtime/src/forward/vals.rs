//! Encoded values as wasmtime `Val`s and back, for forwarded calls, with the host's handles kept
//! under the ids the guest sees.
//!
//! recorder-host's decoder gives WAVE values, in which a handle is its id (a `u32`): a call on
//! the real host needs the `ResourceAny` itself, so arguments are decoded here straight into
//! `Val`s, looking each handle up; results go the other way, each `ResourceAny` the host returns
//! given a fresh id, then through recorder-host's encoder like any value.

use recorder_host::types::ValueType;
use recorder_host::value::{encode, Cursor, DecodeError};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use wasmtime::component::{ResourceAny, Val};

/// The host's handles of one run, by id.
pub struct Handles {
    /// Where ids come from: shared with the source, which makes up handles of its own.
    ids: Arc<AtomicU32>,
    table: HashMap<u32, ResourceAny>,
}

impl Handles {
    pub fn new(ids: Arc<AtomicU32>) -> Self {
        Handles {
            ids,
            table: HashMap::new(),
        }
    }

    /// Takes the handle `id` out (its `own` is passed on, or it is dropped).
    pub fn take(&mut self, id: u32) -> Option<ResourceAny> {
        self.table.remove(&id)
    }

    /// The encoded `args` as values of `params`; every handle they name must be the host's
    /// (checked before any is taken, so a refused call leaves the table as it was).
    pub fn decode_args(&mut self, args: &[u8], params: &[ValueType]) -> Result<Vec<Val>, String> {
        let mut cursor = Cursor::new(args);
        let mut named = Vec::new();
        for ty in params {
            cursor.handles(ty, &mut named).map_err(|e| e.to_string())?;
        }
        if let Some(h) = named.iter().find(|h| !self.table.contains_key(&h.id)) {
            return Err(format!(
                "handle {} ({}) is not one the real host made",
                h.id, h.resource.name
            ));
        }
        let mut cursor = Cursor::new(args);
        params
            .iter()
            .map(|ty| self.val(&mut cursor, ty).map_err(|e| e.to_string()))
            .collect()
    }

    /// Appends the encoding of `value` (of type `ty`) to `out`, its handles given new ids.
    pub fn encode(&mut self, value: &Val, ty: &ValueType, out: &mut Vec<u8>) -> Result<(), String> {
        let numbered = self.number(value.clone());
        encode(&numbered, ty, out)
    }

    /// `value` with each handle replaced by its new id.
    fn number(&mut self, value: Val) -> Val {
        let mut boxed = |b: Option<Box<Val>>| b.map(|v| Box::new(self.number(*v)));
        match value {
            Val::Resource(r) => {
                let id = self.ids.fetch_add(1, Ordering::Relaxed);
                self.table.insert(id, r);
                Val::U32(id)
            }
            Val::List(vs) => Val::List(vs.into_iter().map(|v| self.number(v)).collect()),
            Val::FixedLengthList(vs) => {
                Val::FixedLengthList(vs.into_iter().map(|v| self.number(v)).collect())
            }
            Val::Tuple(vs) => Val::Tuple(vs.into_iter().map(|v| self.number(v)).collect()),
            Val::Map(kvs) => Val::Map(
                kvs.into_iter()
                    .map(|(k, v)| (self.number(k), self.number(v)))
                    .collect(),
            ),
            Val::Record(fs) => {
                Val::Record(fs.into_iter().map(|(n, v)| (n, self.number(v))).collect())
            }
            Val::Variant(case, payload) => Val::Variant(case, boxed(payload)),
            Val::Option(v) => Val::Option(boxed(v)),
            Val::Result(Ok(v)) => Val::Result(Ok(boxed(v))),
            Val::Result(Err(v)) => Val::Result(Err(boxed(v))),
            other => other,
        }
    }

    /// Decodes one value of type `ty` as a `Val`; an `own` handle is taken out of the table (it
    /// goes to the host), a `borrow` is lent.
    fn val(&mut self, c: &mut Cursor<'_>, ty: &ValueType) -> Result<Val, DecodeError> {
        use ValueType as V;
        Ok(match ty {
            V::Bool => Val::Bool(c.bool()?),
            V::U8 => Val::U8(c.byte()?),
            V::S8 => Val::S8(c.byte()? as i8),
            V::U16 => Val::U16(c.u16()?),
            V::U32 => Val::U32(c.u32()?),
            V::U64 => Val::U64(c.u64()?),
            V::S16 => Val::S16(c.s16()?),
            V::S32 => Val::S32(c.s32()?),
            V::S64 => Val::S64(c.s64()?),
            V::F32 => Val::Float32(c.f32()?),
            V::F64 => Val::Float64(c.f64()?),
            V::Char => Val::Char(c.char()?),
            V::String => Val::String(c.str()?.to_string()),
            V::Own(_) | V::Borrow(_) => {
                let id = c.u32()?;
                let own = matches!(ty, V::Own(_));
                let resource = if own {
                    self.table.remove(&id)
                } else {
                    self.table.get(&id).copied()
                };
                Val::Resource(resource.ok_or_else(|| c.error(format!("no host handle {id}")))?)
            }
            V::List(t) => {
                let n = c.count()?;
                Val::List(self.vals(c, t, n)?)
            }
            V::FixedLengthList(t, n) => {
                let n = c.fixed_count(*n)?;
                Val::FixedLengthList(self.vals(c, t, n)?)
            }
            V::Map(k, v) => {
                let n = c.count()?;
                let mut entries = Vec::with_capacity(n);
                for _ in 0..n {
                    entries.push((self.val(c, k)?, self.val(c, v)?));
                }
                Val::Map(entries)
            }
            V::Option(t) => Val::Option(if c.tag("option")? {
                Some(Box::new(self.val(c, t)?))
            } else {
                None
            }),
            V::Result { ok, err } => {
                let failed = c.tag("result")?;
                let payload = if failed { err } else { ok };
                let v = match payload {
                    Some(t) => Some(Box::new(self.val(c, t)?)),
                    None => None,
                };
                Val::Result(if failed { Err(v) } else { Ok(v) })
            }
            V::Tuple(ts) => Val::Tuple(
                ts.iter()
                    .map(|t| self.val(c, t))
                    .collect::<Result<_, _>>()?,
            ),
            V::Record { fields, .. } => {
                let mut vals = Vec::with_capacity(fields.len());
                for (name, t) in fields {
                    vals.push((name.clone(), self.val(c, t)?));
                }
                Val::Record(vals)
            }
            V::Variant { cases, .. } => {
                let (name, t) = &cases[c.case(cases.len())?];
                let payload = match t {
                    Some(t) => Some(Box::new(self.val(c, t)?)),
                    None => None,
                };
                Val::Variant(name.clone(), payload)
            }
            V::Enum { cases, .. } => Val::Enum(cases[c.case(cases.len())?].clone()),
            V::Flags { flags, .. } => {
                let bits = c.flags(flags.len())?;
                let set = flags
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| bits[i / 8] & (1 << (i % 8)) != 0)
                    .map(|(_, f)| f.clone())
                    .collect();
                Val::Flags(set)
            }
            V::Resource(_) | V::Future(_) | V::Stream(_) | V::ErrorContext | V::Unknown => {
                return Err(c.error(format!("a value of type {ty:?} cannot be forwarded")))
            }
        })
    }

    fn vals(
        &mut self,
        c: &mut Cursor<'_>,
        t: &ValueType,
        n: usize,
    ) -> Result<Vec<Val>, DecodeError> {
        (0..n).map(|_| self.val(c, t)).collect()
    }
}
