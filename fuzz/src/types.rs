//! Arbitrary [`ValueType`]s: every kind the value codec knows, nested to a bounded depth, with the
//! shapes WIT allows and some it does not (an empty record, a fixed-length list of a billion
//! elements): the decoder takes its types from a trace header, which a damaged or crafted trace
//! can fill with anything, so it must survive those too.

use arbitrary::{Result, Unstructured};
use recorder_host::types::{ResourceRef, ValueType};

/// Deepest nesting generated: deep enough for `result<list<tuple<option<...>>>>`, shallow
/// enough that a type stays small.
const MAX_DEPTH: u32 = 5;
/// Most fields, cases, flags or tuple members of one type.
const MAX_PARTS: usize = 12;

/// A type read from `u`.
pub fn value_type(u: &mut Unstructured<'_>) -> Result<ValueType> {
    ty(u, 0)
}

/// Between one and four types, as a function's parameters are.
pub fn value_types(u: &mut Unstructured<'_>) -> Result<Vec<ValueType>> {
    let n = u.int_in_range(1..=4)?;
    (0..n).map(|_| ty(u, 0)).collect()
}

fn ty(u: &mut Unstructured<'_>, depth: u32) -> Result<ValueType> {
    use ValueType as V;
    // Leaves only, once deep enough (or once the input is used up: `int_in_range` then gives
    // the low end, a leaf).
    let kinds = if depth >= MAX_DEPTH { 17 } else { 33 };
    let boxed = |u: &mut Unstructured<'_>| ty(u, depth + 1).map(Box::new);
    Ok(match u.int_in_range(0..=kinds - 1)? {
        0 => V::Bool,
        1 => V::U8,
        2 => V::U16,
        3 => V::U32,
        4 => V::U64,
        5 => V::S8,
        6 => V::S16,
        7 => V::S32,
        8 => V::S64,
        9 => V::F32,
        10 => V::F64,
        11 => V::Char,
        12 => V::String,
        13 => V::Own(resource(u)?),
        14 => V::Borrow(resource(u)?),
        15 => V::Enum {
            name: name(u)?,
            cases: names(u, 1)?,
        },
        16 => V::Flags {
            name: name(u)?,
            flags: names(u, 0)?,
        },
        17 | 18 => V::List(boxed(u)?),
        19 => V::FixedLengthList(boxed(u)?, fixed_length(u)?),
        20 => V::Map(boxed(u)?, boxed(u)?),
        21 | 22 => V::Option(boxed(u)?),
        23 | 24 => V::Result {
            ok: optional(u, depth)?,
            err: optional(u, depth)?,
        },
        25 => V::Tuple(parts(u, depth)?),
        26 | 27 => V::Record {
            name: name(u)?,
            fields: names(u, 0)?
                .into_iter()
                .map(|n| Ok((n, ty(u, depth + 1)?)))
                .collect::<Result<_>>()?,
        },
        28 | 29 => V::Variant {
            name: name(u)?,
            cases: names(u, 1)?
                .into_iter()
                .map(|n| Ok((n, optional(u, depth)?.map(|t| *t))))
                .collect::<Result<_>>()?,
        },
        30 => V::List(Box::new(V::U8)),
        31 => V::Future(optional(u, depth)?),
        _ => match u.int_in_range(0..=2)? {
            0 => V::Stream(optional(u, depth)?),
            1 => V::ErrorContext,
            _ => V::Unknown,
        },
    })
}

fn optional(u: &mut Unstructured<'_>, depth: u32) -> Result<Option<Box<ValueType>>> {
    Ok(if u.arbitrary()? {
        Some(Box::new(ty(u, depth + 1)?))
    } else {
        None
    })
}

fn parts(u: &mut Unstructured<'_>, depth: u32) -> Result<Vec<ValueType>> {
    let n = u.int_in_range(0..=MAX_PARTS)?;
    (0..n).map(|_| ty(u, depth + 1)).collect()
}

/// Mostly short lengths; sometimes one far beyond any input, to check that the decoder looks at
/// the bytes before it allocates for the elements.
fn fixed_length(u: &mut Unstructured<'_>) -> Result<u32> {
    Ok(if u.ratio(1, 8)? {
        u.arbitrary()?
    } else {
        u.int_in_range(0..=8)?
    })
}

/// Between `min` and [`MAX_PARTS`] distinct names (`a0`, `a1`, ...: the codec never looks at a
/// name's spelling, only WAVE printing does, and it gets a valid label).
fn names(u: &mut Unstructured<'_>, min: usize) -> Result<Vec<String>> {
    let n = u.int_in_range(min..=MAX_PARTS)?;
    Ok((0..n).map(|i| format!("a{i}")).collect())
}

fn name(u: &mut Unstructured<'_>) -> Result<Option<String>> {
    Ok(u.arbitrary::<bool>()?.then(|| "t".to_string()))
}

fn resource(u: &mut Unstructured<'_>) -> Result<ResourceRef> {
    Ok(ResourceRef {
        interface: u.arbitrary::<bool>()?.then(|| "x:y/z".to_string()),
        name: "r".into(),
    })
}
