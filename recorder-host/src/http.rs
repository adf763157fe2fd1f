//! HTTP traffic as a person reads it, from a trace's recorded calls of wasi:http: the response a
//! handler produced (status, body size), the request body it read, and every outgoing request it
//! made (method, URL, the status or the error it got). `trace show` and `trace stats` print it.
//!
//! Why from the calls: they are what the guest did and saw, in every build and every toolchain
//! (the host's own view of the connection is not in the trace), and they are all there is on
//! replay. The calls are followed by the handles they create: the request's body and its stream,
//! the response's body and its stream, each outgoing request, its future and its response. A
//! function is recognized by its interface (`wasi:http/types`, `wasi:http/outgoing-handler`,
//! `wasi:io/streams`, any 0.2 version) and its name; its values are read only through the types
//! the trace header gives, checked at every step, so an unexpected signature is ignored, never
//! misread.

use crate::functions::FunctionTable;
use crate::trace::{EntryRef, Header, TraceError, TraceReader};
use crate::value::Decoder;
use std::collections::HashMap;
use std::path::Path;
use wasm_wave::value::Value;
use wasm_wave::wasm::{WasmTypeKind, WasmValue};

/// What one handler call did over HTTP.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Exchange {
    /// The status of the response the guest set (`response-outparam.set` with a response; 200
    /// unless it set another); `None` if it set none or set an error.
    pub status: Option<u16>,
    /// The error the guest answered with instead of a response (`response-outparam.set` with
    /// `err`), in WAVE.
    pub error: Option<String>,
    /// Bytes of the incoming request's body the guest read.
    pub request_body: u64,
    /// Bytes the guest wrote to the response's body.
    pub response_body: u64,
    /// The outgoing requests, in the order the guest made them.
    pub outgoing: Vec<Outgoing>,
}

/// One outgoing request (`wasi:http/outgoing-handler.handle`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outgoing {
    /// `GET`, `POST`, ... (GET unless the guest set another).
    pub method: String,
    /// `scheme://authority/path?query` as far as the guest set them.
    pub url: String,
    /// The upstream's status, or the error the guest got (WAVE), once it had one.
    pub response: Option<Result<u16, String>>,
    /// Bytes of the upstream's response body the guest read.
    pub response_body: u64,
}

/// What a function is, for HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    RequestConsume,
    IncomingBodyStream,
    Read,
    Write,
    NewResponse,
    SetStatus,
    ResponseBody,
    OutgoingBodyWrite,
    SetResponse,
    NewRequest,
    SetPart,
    Handle,
    FutureGet,
    ResponseStatus,
    ResponseConsume,
    Other,
}

fn role(interface: Option<&str>, name: &str) -> Role {
    let Some(interface) = interface else {
        return Role::Other;
    };
    let base = interface.split('@').next().unwrap_or(interface);
    match (base, name) {
        ("wasi:http/types", "[method]incoming-request.consume") => Role::RequestConsume,
        ("wasi:http/types", "[method]incoming-body.stream") => Role::IncomingBodyStream,
        ("wasi:io/streams", "[method]input-stream.read")
        | ("wasi:io/streams", "[method]input-stream.blocking-read") => Role::Read,
        ("wasi:io/streams", "[method]output-stream.write")
        | ("wasi:io/streams", "[method]output-stream.blocking-write-and-flush") => Role::Write,
        ("wasi:http/types", "[constructor]outgoing-response") => Role::NewResponse,
        ("wasi:http/types", "[method]outgoing-response.set-status-code") => Role::SetStatus,
        ("wasi:http/types", "[method]outgoing-response.body") => Role::ResponseBody,
        ("wasi:http/types", "[method]outgoing-request.body") => Role::ResponseBody,
        ("wasi:http/types", "[method]outgoing-body.write") => Role::OutgoingBodyWrite,
        ("wasi:http/types", "[static]response-outparam.set") => Role::SetResponse,
        ("wasi:http/types", "[constructor]outgoing-request") => Role::NewRequest,
        ("wasi:http/types", _) if RequestPart::of(name).is_some() => Role::SetPart,
        ("wasi:http/outgoing-handler", "handle") => Role::Handle,
        ("wasi:http/types", "[method]future-incoming-response.get") => Role::FutureGet,
        ("wasi:http/types", "[method]incoming-response.status") => Role::ResponseStatus,
        ("wasi:http/types", "[method]incoming-response.consume") => Role::ResponseConsume,
        _ => Role::Other,
    }
}

/// Whose body a body or stream handle carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    /// The incoming request's (the handler reads it).
    Request,
    /// The response's (the handler writes it).
    Response,
    /// An outgoing request's body (the handler writes it; not counted).
    OutgoingRequest,
    /// The upstream's response to outgoing request `k` (the handler reads it).
    Upstream(usize),
}

/// An outgoing request as the guest builds it, one `set-*` call at a time: what the HTTP summary
/// and the handle namer (`crate::names`) both read of it.
#[derive(Debug, Default, Clone)]
pub(crate) struct RequestDraft {
    pub method: Option<String>,
    pub scheme: Option<String>,
    pub authority: Option<String>,
    pub path: Option<String>,
}

/// The part of an outgoing request a `set-*` call sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RequestPart {
    Method,
    Scheme,
    Authority,
    Path,
}

impl RequestPart {
    /// The part that `outgoing-request`'s method `name` sets, if it sets one.
    pub(crate) fn of(name: &str) -> Option<RequestPart> {
        Some(match name {
            "[method]outgoing-request.set-method" => RequestPart::Method,
            "[method]outgoing-request.set-scheme" => RequestPart::Scheme,
            "[method]outgoing-request.set-authority" => RequestPart::Authority,
            "[method]outgoing-request.set-path-with-query" => RequestPart::Path,
            _ => return None,
        })
    }
}

impl RequestDraft {
    /// Takes the value `v` a `set-*` call gave `part`.
    pub(crate) fn set(&mut self, part: RequestPart, v: &Value) {
        match part {
            RequestPart::Method => self.method = method_name(v),
            RequestPart::Scheme => self.scheme = option(v).map(|s| scheme_name(&s)),
            RequestPart::Authority => self.authority = option(v).and_then(|s| string(&s)),
            RequestPart::Path => self.path = option(v).and_then(|s| string(&s)),
        }
    }

    /// The method, `GET` unless the guest set another.
    pub(crate) fn method(&self) -> String {
        self.method.clone().unwrap_or_else(|| "GET".into())
    }

    /// `scheme://authority/path?query`, `http` and `/` unless the guest set others.
    pub(crate) fn url(&self) -> String {
        format!(
            "{}://{}{}",
            self.scheme.as_deref().unwrap_or("http"),
            self.authority.as_deref().unwrap_or_default(),
            self.path.as_deref().unwrap_or("/")
        )
    }
}

/// Follows a trace's calls and builds the [`Exchange`] they make up.
pub struct HttpObserver<'t> {
    table: &'t FunctionTable,
    roles: Vec<Role>,
    exchange: Exchange,
    /// Status set on each outgoing-response handle.
    responses: HashMap<u32, u16>,
    /// Body and stream handles, by whose body they carry.
    bodies: HashMap<u32, Owner>,
    streams: HashMap<u32, Owner>,
    /// Outgoing requests being built, by handle.
    drafts: HashMap<u32, RequestDraft>,
    /// Outgoing request index by future handle, by incoming-response handle.
    futures: HashMap<u32, usize>,
    upstream: HashMap<u32, usize>,
    /// The outgoing-response handles whose body handles are the response's, and the
    /// outgoing-request handles (whose bodies are not).
    response_handles: Vec<u32>,
}

impl<'t> HttpObserver<'t> {
    /// An observer of the calls of the functions in `table`.
    pub fn new(table: &'t FunctionTable) -> Self {
        let roles = table
            .imports()
            .iter()
            .map(|f| role(f.interface.as_deref(), &f.func))
            .collect();
        HttpObserver {
            table,
            roles,
            exchange: Exchange::default(),
            responses: HashMap::new(),
            bodies: HashMap::new(),
            streams: HashMap::new(),
            drafts: HashMap::new(),
            futures: HashMap::new(),
            upstream: HashMap::new(),
            response_handles: Vec::new(),
        }
    }

    /// Whether the component makes or serves HTTP requests at all.
    pub fn speaks_http(&self) -> bool {
        self.roles.iter().any(|r| *r != Role::Other)
    }

    /// Takes one recorded call (`func`, its encoded arguments and results) into account.
    pub fn observe(&mut self, func: u32, args: &[u8], results: &[u8]) {
        let Some(role) = self.roles.get(func as usize).copied() else {
            return;
        };
        if role == Role::Other {
            return;
        }
        let Some(f) = self.table.import(func) else {
            return;
        };
        let (Ok(args), Ok(results)) = (
            Decoder::decode_all(args, &f.params),
            Decoder::decode_all(results, f.result.as_slice()),
        ) else {
            return;
        };
        let arg = |i: usize| args.get(i);
        let result = results.first();
        let this = arg(0).and_then(handle);
        match role {
            Role::RequestConsume => {
                if let Some(body) = result.and_then(ok_handle) {
                    self.bodies.insert(body, Owner::Request);
                }
            }
            Role::ResponseConsume => {
                if let (Some(k), Some(body)) = (
                    this.and_then(|r| self.upstream.get(&r).copied()),
                    result.and_then(ok_handle),
                ) {
                    self.bodies.insert(body, Owner::Upstream(k));
                }
            }
            Role::IncomingBodyStream | Role::OutgoingBodyWrite => {
                if let (Some(owner), Some(stream)) = (
                    this.and_then(|b| self.bodies.get(&b).copied()),
                    result.and_then(ok_handle),
                ) {
                    self.streams.insert(stream, owner);
                }
            }
            Role::Read => {
                let n = result.and_then(ok_bytes).unwrap_or(0);
                match this.and_then(|s| self.streams.get(&s).copied()) {
                    Some(Owner::Request) => self.exchange.request_body += n,
                    Some(Owner::Upstream(k)) => {
                        if let Some(o) = self.exchange.outgoing.get_mut(k) {
                            o.response_body += n;
                        }
                    }
                    _ => {}
                }
            }
            Role::Write => {
                let ok = result
                    .is_some_and(|r| r.kind() == WasmTypeKind::Result && r.unwrap_result().is_ok());
                if let (true, Some(Owner::Response)) =
                    (ok, this.and_then(|s| self.streams.get(&s).copied()))
                {
                    self.exchange.response_body += arg(1).and_then(bytes_len).unwrap_or(0);
                }
            }
            Role::NewResponse => {
                if let Some(r) = result.and_then(handle) {
                    self.responses.insert(r, 200);
                    self.response_handles.push(r);
                }
            }
            Role::SetStatus => {
                if let (Some(r), Some(code)) = (this, arg(1).and_then(u16_of)) {
                    self.responses.insert(r, code);
                }
            }
            Role::ResponseBody => {
                if let (Some(r), Some(body)) = (this, result.and_then(ok_handle)) {
                    let owner = if self.response_handles.contains(&r) {
                        Owner::Response
                    } else {
                        Owner::OutgoingRequest
                    };
                    self.bodies.insert(body, owner);
                }
            }
            Role::SetResponse => match arg(1) {
                Some(v) if v.kind() == WasmTypeKind::Result => match v.unwrap_result() {
                    Ok(response) => {
                        let r = response.as_deref().and_then(handle);
                        self.exchange.status = r.and_then(|r| self.responses.get(&r).copied());
                        self.exchange.error = None;
                    }
                    Err(e) => {
                        self.exchange.status = None;
                        self.exchange.error =
                            Some(e.map(|e| wave(&e)).unwrap_or_else(|| "error".to_string()));
                    }
                },
                _ => {}
            },
            Role::NewRequest => {
                if let Some(q) = result.and_then(handle) {
                    self.drafts.insert(q, RequestDraft::default());
                }
            }
            Role::SetPart => {
                let (Some(q), Some(v), Some(part)) = (this, arg(1), RequestPart::of(&f.func))
                else {
                    return;
                };
                if let Some(draft) = self.drafts.get_mut(&q) {
                    draft.set(part, v);
                }
            }
            Role::Handle => {
                let Some(q) = arg(0).and_then(handle) else {
                    return;
                };
                let draft = self.drafts.remove(&q).unwrap_or_default();
                let k = self.exchange.outgoing.len();
                let mut outgoing = Outgoing {
                    method: draft.method(),
                    url: draft.url(),
                    ..Outgoing::default()
                };
                match result {
                    Some(r) if r.kind() == WasmTypeKind::Result => match r.unwrap_result() {
                        Ok(future) => {
                            if let Some(fut) = future.as_deref().and_then(handle) {
                                self.futures.insert(fut, k);
                            }
                        }
                        Err(e) => {
                            outgoing.response = Some(Err(e.map(|e| wave(&e)).unwrap_or_default()))
                        }
                    },
                    _ => {}
                }
                self.exchange.outgoing.push(outgoing);
            }
            Role::FutureGet => {
                // option<result<result<own<incoming-response>, error-code>, ()>>
                let (Some(k), Some(got)) = (
                    this.and_then(|f| self.futures.get(&f).copied()),
                    result.and_then(option),
                ) else {
                    return;
                };
                if got.kind() != WasmTypeKind::Result {
                    return;
                }
                let Ok(Some(inner)) = got.unwrap_result() else {
                    return;
                };
                if inner.kind() != WasmTypeKind::Result {
                    return;
                }
                match inner.unwrap_result() {
                    Ok(response) => {
                        if let Some(r) = response.as_deref().and_then(handle) {
                            self.upstream.insert(r, k);
                        }
                    }
                    Err(e) => {
                        if let Some(o) = self.exchange.outgoing.get_mut(k) {
                            o.response = Some(Err(e.map(|e| wave(&e)).unwrap_or_default()));
                        }
                    }
                }
            }
            Role::ResponseStatus => {
                if let (Some(k), Some(code)) = (
                    this.and_then(|r| self.upstream.get(&r).copied()),
                    result.and_then(u16_of),
                ) {
                    if let Some(o) = self.exchange.outgoing.get_mut(k) {
                        o.response = Some(Ok(code));
                    }
                }
            }
            Role::Other => {}
        }
    }

    /// What the calls observed so far make up.
    pub fn exchange(&self) -> &Exchange {
        &self.exchange
    }
}

/// A handle value (handles decode as `u32`).
fn handle(v: &Value) -> Option<u32> {
    (v.kind() == WasmTypeKind::U32).then(|| v.unwrap_u32())
}

fn u16_of(v: &Value) -> Option<u16> {
    (v.kind() == WasmTypeKind::U16).then(|| v.unwrap_u16())
}

/// The handle inside `ok(handle)`.
fn ok_handle(v: &Value) -> Option<u32> {
    if v.kind() != WasmTypeKind::Result {
        return None;
    }
    match v.unwrap_result() {
        Ok(Some(h)) => handle(&h),
        _ => None,
    }
}

/// The length of the `list<u8>` inside `ok(bytes)`.
fn ok_bytes(v: &Value) -> Option<u64> {
    if v.kind() != WasmTypeKind::Result {
        return None;
    }
    match v.unwrap_result() {
        Ok(Some(list)) => bytes_len(&list),
        _ => None,
    }
}

fn bytes_len(v: &Value) -> Option<u64> {
    (v.kind() == WasmTypeKind::List).then(|| v.unwrap_list().count() as u64)
}

fn option(v: &Value) -> Option<Value> {
    if v.kind() != WasmTypeKind::Option {
        return None;
    }
    v.unwrap_option().map(|v| v.into_owned())
}

pub(crate) fn string(v: &Value) -> Option<String> {
    (v.kind() == WasmTypeKind::String).then(|| v.unwrap_string().into_owned())
}

/// `method`'s case as HTTP spells it: `get` is `GET`, `other("PURGE")` is `PURGE`.
fn method_name(v: &Value) -> Option<String> {
    if v.kind() != WasmTypeKind::Variant {
        return None;
    }
    let (case, payload) = v.unwrap_variant();
    Some(match payload.as_deref().and_then(string) {
        Some(other) => other,
        None => case.to_uppercase(),
    })
}

/// `scheme`'s case as a URL spells it: `HTTP` is `http`, `other("ws")` is `ws`.
fn scheme_name(v: &Value) -> String {
    if v.kind() != WasmTypeKind::Variant {
        return "http".into();
    }
    let (case, payload) = v.unwrap_variant();
    payload
        .as_deref()
        .and_then(string)
        .unwrap_or_else(|| case.to_lowercase())
}

fn wave(v: &Value) -> String {
    crate::value::wave(v)
}

/// The [`Exchange`] of the trace at `path` (a request trace of `proxyrt serve --record`), with its
/// header; a trace cut short gives what its complete entries say.
pub fn read_exchange(path: &Path) -> Result<(Header, Exchange), TraceError> {
    let mut reader = TraceReader::open(path)?;
    let header = reader.header().clone();
    let table = FunctionTable::new(&header.component);
    let mut observer = HttpObserver::new(&table);
    let mut call: Option<(u32, Vec<u8>)> = None;
    loop {
        match reader.next_entry_ref() {
            Ok(Some(EntryRef::Call { func, args })) => call = Some((func, args.to_vec())),
            Ok(Some(EntryRef::Return { results })) => {
                if let Some((func, args)) = call.take() {
                    observer.observe(func, &args, results);
                }
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(TraceError::Cut { .. }) => break,
            Err(e) => return Err(e),
        }
    }
    let exchange = observer.exchange().clone();
    Ok((header, exchange))
}

impl Exchange {
    /// One line for people: `200, 35 B in, 12 B out; GET http://up/x -> 200 (5 B)`.
    pub fn summary(&self) -> String {
        let mut line = match (&self.status, &self.error) {
            (Some(status), _) => status.to_string(),
            (None, Some(e)) => format!("error {e}"),
            (None, None) => "no response".to_string(),
        };
        line.push_str(&format!(
            ", request body {} B, response body {} B",
            self.request_body, self.response_body
        ));
        for o in &self.outgoing {
            let got = match &o.response {
                Some(Ok(status)) => format!("{status} ({} B)", o.response_body),
                Some(Err(e)) => format!("error {e}"),
                None => "no response".to_string(),
            };
            line.push_str(&format!("; {} {} -> {got}", o.method, o.url));
        }
        line
    }
}
