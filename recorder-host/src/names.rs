//! Handles named by what created them, for people: `stdout` and `stderr` (the results of
//! `get-stdout` / `get-stderr`), `stdin`, a preopened directory's path, the path an `open-at`
//! opened (joined to its directory's), the file a stream reads or writes, and the URL of an
//! outgoing request (and of its future, response, body and stream). `trace show` and the replay's
//! divergence reports show a handle as `1 (stdout)` with the names a [`HandleNamer`] gives.
//!
//! Why from the calls: a handle's id says nothing by itself, but the trace has the call that
//! created it, with its arguments. The namer follows the calls as [`crate::http`] and the replay's
//! output mirror do: functions recognized by interface (any 0.2 version) and name, values read
//! only through the trace header's types, so an unexpected signature names nothing. A handle's
//! name is forgotten when it is dropped or its id comes back from another call (ids are reused).

use crate::functions::FunctionTable;
use crate::http::{string, RequestDraft, RequestPart};
use crate::types::ValueType;
use crate::value::{Cursor, Decoder, HandleNames};
use std::collections::HashMap;
use wasm_wave::value::Value;
use wasm_wave::wasm::{WasmTypeKind, WasmValue};

/// What a function does to handle names.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Role {
    /// Creates no handle.
    Other,
    /// Creates handles that have no name (their ids lose any old name).
    Creates,
    /// Creates one handle of this name (`stdout`).
    Named(&'static str),
    /// `get-directories`: `list<tuple<own<descriptor>, string>>`.
    Preopens,
    /// `open-at(self, path-flags, path, ...)`: the path, under `self`'s.
    OpenAt,
    /// Creates a handle that carries what `self` (its first argument) carries: a file's stream,
    /// a request's future, a response's body.
    Inherits,
    /// `[constructor]outgoing-request`.
    NewRequest,
    /// `outgoing-request.set-method` / `set-scheme` / `set-authority` / `set-path-with-query`.
    SetPart(RequestPart),
    /// `[resource-drop]R(own<R>)`.
    Drop,
}

fn holds_own(ty: &ValueType) -> bool {
    use ValueType as V;
    match ty {
        V::Own(_) => true,
        V::List(t) | V::Option(t) | V::FixedLengthList(t, _) => holds_own(t),
        V::Map(k, v) => holds_own(k) || holds_own(v),
        V::Result { ok, err } => [ok, err].into_iter().flatten().any(|t| holds_own(t)),
        V::Tuple(ts) => ts.iter().any(holds_own),
        V::Record { fields, .. } => fields.iter().any(|(_, t)| holds_own(t)),
        V::Variant { cases, .. } => cases.iter().flat_map(|(_, t)| t).any(holds_own),
        _ => false,
    }
}

fn role(interface: Option<&str>, name: &str, result: Option<&ValueType>) -> Role {
    let base = interface.map(|i| i.split('@').next().unwrap_or(i));
    if name.starts_with("[resource-drop]") {
        return Role::Drop;
    }
    let creates = result.is_some_and(holds_own);
    let by_name = match (base.unwrap_or(""), name) {
        ("wasi:cli/stdout", "get-stdout") => Role::Named("stdout"),
        ("wasi:cli/stderr", "get-stderr") => Role::Named("stderr"),
        ("wasi:cli/stdin", "get-stdin") => Role::Named("stdin"),
        ("wasi:filesystem/preopens", "get-directories") => Role::Preopens,
        ("wasi:filesystem/types", "[method]descriptor.open-at") => Role::OpenAt,
        ("wasi:filesystem/types", "[method]descriptor.read-via-stream")
        | ("wasi:filesystem/types", "[method]descriptor.write-via-stream")
        | ("wasi:filesystem/types", "[method]descriptor.append-via-stream")
        | ("wasi:filesystem/types", "[method]descriptor.read-directory")
        | ("wasi:http/outgoing-handler", "handle")
        | ("wasi:http/types", "[method]future-incoming-response.get")
        | ("wasi:http/types", "[method]incoming-response.consume")
        | ("wasi:http/types", "[method]incoming-body.stream")
        | ("wasi:http/types", "[method]outgoing-request.body")
        | ("wasi:http/types", "[method]outgoing-body.write") => Role::Inherits,
        ("wasi:http/types", "[constructor]outgoing-request") => Role::NewRequest,
        ("wasi:http/types", _) if RequestPart::of(name).is_some() => {
            RequestPart::of(name).map_or(Role::Other, Role::SetPart)
        }
        _ => Role::Other,
    };
    match by_name {
        // Creating roles need a result with a handle; setters need none.
        Role::Named(_) | Role::Preopens | Role::OpenAt | Role::Inherits | Role::NewRequest
            if !creates =>
        {
            Role::Other
        }
        Role::Other if creates => Role::Creates,
        r => r,
    }
}

/// The name of an outgoing request as far as the guest set it: `GET http://host/path`, or
/// `outgoing request` until it has an authority.
fn draft_name(draft: &RequestDraft) -> String {
    match &draft.authority {
        None => "outgoing request".into(),
        Some(_) => format!("{} {}", draft.method(), draft.url()),
    }
}

/// A function as the namer sees it.
struct Func {
    role: Role,
    params: Vec<ValueType>,
    result: Option<ValueType>,
}

/// Follows a trace's calls and names the handles they create.
pub struct HandleNamer {
    funcs: Vec<Func>,
    state: State,
}

/// The names given so far.
#[derive(Default)]
struct State {
    names: HashMap<u32, String>,
    drafts: HashMap<u32, RequestDraft>,
    /// The ids of the handles a result holds (reused between calls).
    created: Vec<u32>,
}

impl State {
    fn forget(&mut self, id: u32) {
        self.names.remove(&id);
        self.drafts.remove(&id);
    }
}

impl HandleNames for HandleNamer {
    fn name(&self, id: u32) -> Option<&str> {
        self.state.names.get(&id).map(String::as_str)
    }
}

impl HandleNamer {
    /// A namer of the handles of the functions in `table`. Only the functions that name or drop
    /// handles keep their types (most functions do neither; copying every type was most of the
    /// cost of making a namer, which every replay does).
    pub fn new(table: &FunctionTable) -> Self {
        let funcs = table
            .info()
            .intercepted_functions()
            .map(|f| {
                let result = f.function.result.as_ref();
                match role(f.interface, &f.function.name, result) {
                    Role::Other => Func {
                        role: Role::Other,
                        params: Vec::new(),
                        result: None,
                    },
                    role => Func {
                        role,
                        params: f.param_types(),
                        result: result.cloned(),
                    },
                }
            })
            .collect();
        HandleNamer {
            funcs,
            state: State::default(),
        }
    }

    /// Takes one call (`func`, its encoded arguments and results) into account. Cheap for the
    /// calls that create no handle (most of them): a lookup.
    pub fn observe(&mut self, func: u32, args: &[u8], results: &[u8]) {
        let Some(f) = self.funcs.get(func as usize) else {
            return;
        };
        if f.role == Role::Other {
            return;
        }
        let role = f.role.clone();
        let st = &mut self.state;
        // The handle in the first argument (`self`, or the dropped one).
        let first = || {
            let mut c = Cursor::new(args);
            match f.params.first() {
                Some(ValueType::Own(_) | ValueType::Borrow(_)) => c.u32().ok(),
                _ => None,
            }
        };
        if role == Role::Drop {
            if let Some(id) = first() {
                st.forget(id);
            }
            return;
        }
        // Every handle the result holds is new: its id no longer names what it named.
        st.created.clear();
        if let Some(ty) = &f.result {
            let mut handles = Vec::new();
            if Cursor::new(results).handles(ty, &mut handles).is_ok() {
                st.created
                    .extend(handles.iter().filter(|h| h.own).map(|h| h.id));
            }
        }
        // What `self` carries, read before the new handles take their ids (a request consumed
        // by `handle` leaves its id to the future it returns).
        let inherited = match role {
            Role::Inherits => first().and_then(|s| st.names.get(&s).cloned()),
            _ => None,
        };
        let created = std::mem::take(&mut st.created);
        for &id in &created {
            st.forget(id);
        }
        let new = created.first().copied();
        st.created = created;
        match role {
            Role::Other | Role::Creates | Role::Drop => {}
            Role::Named(name) => {
                if let Some(id) = new {
                    st.names.insert(id, name.into());
                }
            }
            Role::Inherits => {
                if let (Some(id), Some(name)) = (new, inherited) {
                    st.names.insert(id, name);
                }
            }
            Role::NewRequest => {
                if let Some(id) = new {
                    let draft = RequestDraft::default();
                    st.names.insert(id, draft_name(&draft));
                    st.drafts.insert(id, draft);
                }
            }
            Role::OpenAt => {
                let (Some(dir), Some(id)) = (first(), new) else {
                    return;
                };
                // (self, path-flags, path, ...): the path is the third argument.
                let Ok(values) = Decoder::decode_all(args, &f.params) else {
                    return;
                };
                let Some(path) = values.get(2).and_then(string) else {
                    return;
                };
                let name = match st.names.get(&dir) {
                    Some(d) if d.ends_with('/') => format!("{d}{path}"),
                    Some(d) => format!("{d}/{path}"),
                    None => path,
                };
                st.names.insert(id, name);
            }
            Role::Preopens => {
                let Ok(values) = Decoder::decode_all(results, f.result.as_slice()) else {
                    return;
                };
                let Some(list) = values.first().filter(|v| v.kind() == WasmTypeKind::List) else {
                    return;
                };
                for pair in list.unwrap_list() {
                    if pair.kind() != WasmTypeKind::Tuple {
                        continue;
                    }
                    let fields: Vec<Value> = pair.unwrap_tuple().map(|v| v.into_owned()).collect();
                    if let [handle, path] = fields.as_slice() {
                        if let (true, Some(path)) =
                            (handle.kind() == WasmTypeKind::U32, string(path))
                        {
                            st.names.insert(handle.unwrap_u32(), path);
                        }
                    }
                }
            }
            Role::SetPart(part) => {
                let Some(id) = first() else {
                    return;
                };
                let Some(draft) = st.drafts.get_mut(&id) else {
                    return;
                };
                let Ok(values) = Decoder::decode_all(args, &f.params) else {
                    return;
                };
                let Some(v) = values.get(1) else {
                    return;
                };
                draft.set(part, v);
                let name = draft_name(draft);
                st.names.insert(id, name);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_info::{borrow, func, iface, own};
    use crate::types::{ComponentInfo, ResourceRef};

    const FS: &str = "wasi:filesystem/types@0.2.6";
    const STREAMS: &str = "wasi:io/streams@0.2.6";

    /// get-stdout (0), open-at (1), write-via-stream (2), get-directories (3), a drop (4).
    fn table() -> FunctionTable {
        let ok = |t: ValueType| ValueType::Result {
            ok: Some(Box::new(t)),
            err: Some(Box::new(ValueType::U8)),
        };
        let info = ComponentInfo {
            imported_interfaces: vec![
                iface(
                    "wasi:cli/stdout@0.2.6",
                    vec![func(
                        "get-stdout",
                        vec![],
                        Some(own(STREAMS, "output-stream")),
                    )],
                ),
                iface(
                    FS,
                    vec![
                        func(
                            "[method]descriptor.open-at",
                            vec![
                                borrow(FS, "descriptor"),
                                ValueType::U8,
                                ValueType::String,
                                ValueType::U8,
                                ValueType::U8,
                            ],
                            Some(ok(own(FS, "descriptor"))),
                        ),
                        func(
                            "[method]descriptor.write-via-stream",
                            vec![borrow(FS, "descriptor"), ValueType::U64],
                            Some(ok(own(STREAMS, "output-stream"))),
                        ),
                    ],
                ),
                iface(
                    "wasi:filesystem/preopens@0.2.6",
                    vec![func(
                        "get-directories",
                        vec![],
                        Some(ValueType::List(Box::new(ValueType::Tuple(vec![
                            own(FS, "descriptor"),
                            ValueType::String,
                        ])))),
                    )],
                ),
            ],
            resource_drops: vec![crate::types::ResourceDrop::new(
                FS,
                "descriptor",
                ResourceRef {
                    interface: Some(FS.into()),
                    name: "descriptor".into(),
                },
            )],
            ..Default::default()
        };
        FunctionTable::new(&info.into())
    }

    #[test]
    fn handles_are_named_by_the_calls_that_created_them() {
        let table = table();
        let mut n = HandleNamer::new(&table);
        n.observe(0, &[], &[1]);
        assert_eq!(n.name(1), Some("stdout"));
        // Preopen 3 is `/data`; open-at(3, 0, "f.txt", 0, 0) -> ok(4): `/data/f.txt`.
        n.observe(3, &[], &[1, 3, 5, b'/', b'd', b'a', b't', b'a']);
        assert_eq!(n.name(3), Some("/data"));
        n.observe(1, &[3, 0, 5, b'f', b'.', b't', b'x', b't', 0, 0], &[0, 4]);
        assert_eq!(n.name(4), Some("/data/f.txt"));
        // Its stream carries its name.
        n.observe(2, &[4, 0], &[0, 5]);
        assert_eq!(n.name(5), Some("/data/f.txt"));
        // A drop forgets the name; a new handle with a known id loses the old name.
        n.observe(4, &[4], &[]);
        assert_eq!(n.name(4), None);
        n.observe(2, &[9, 0], &[0, 1]);
        assert_eq!(n.name(1), None, "id 1 is another stream now");
        // Unknown functions and malformed values name nothing, and do not panic.
        n.observe(99, &[1], &[1]);
        n.observe(1, &[3, 0, 200], &[0, 6]);
        assert_eq!(n.name(6), None);
    }
}
