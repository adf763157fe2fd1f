//! What a trace holds: its [`Header`] and its entries ([`Entry`], and [`EntryRef`], the same
//! borrowing its bytes), with the constants of the format.

use crate::types::ComponentInfo;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// First bytes of every trace file.
pub const MAGIC: &[u8; 8] = b"PRXYTRC\0";

/// Version of the layout of [`Header`] and [`Entry`]; bumped on every incompatible change.
/// 2: the host's call of the guest's export is recorded (`ExportCall` .. `ExportReturn`), and replay
/// expects it. 3: drops of imported resources are calls (`ComponentInfo::resource_drops`).
/// 4: the header says which HTTP request a trace of `proxyrt serve` handled (`Header::request`).
/// 5: entries are packed in blocks, one length and CRC-32 per block, compressed (zstd) or raw;
/// the header frame is as in format 4, so readers of 4 refuse 5 by its version, and this one
/// refuses 4 the same way. 6: `Call` and `Return` entries carry no length (their types, in the
/// header, delimit their values), a call and its return in one block are one tag, and the
/// header is stored as the blocks are (compressed by default), after its version.
pub const FORMAT_VERSION: u32 = 6;

/// Largest header frame, entry and block (of entries, before compression) a reader accepts: a
/// single call's arguments or results. Guests moving more than this in one call are not
/// realistic; a larger length is treated as corruption.
pub const MAX_FRAME_LEN: u32 = 256 << 20;

/// What the trace was recorded from; checked before replaying.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub format_version: u32,
    /// The proxyrt version that wrote the trace.
    pub proxyrt_version: String,
    /// SHA-256 of the original component's bytes.
    pub component_sha256: [u8; 32],
    /// SHA-256 of the component's import and export interfaces (their WIT): a rebuilt component with
    /// the same interfaces may replay this trace, an unrelated one may not
    /// ([`ComponentInfo::interface_sha256`]).
    pub interface_sha256: [u8; 32],
    /// The component's imports and exports with their WIT types: entries refer to functions by their
    /// index in [`ComponentInfo::intercepted_functions`], and the types let a reader decode and show
    /// the values without the component.
    pub component: Arc<ComponentInfo>,
    /// The guest's arguments, as passed (for display).
    pub argv: Vec<String>,
    /// The HTTP request the guest handled, for a trace of one request of `proxyrt serve` (one
    /// trace per request); `None` for a trace of a CLI run or an `--invoke` call. For display and
    /// for finding a request's trace: the request itself (headers, body) is in the entries, as the
    /// guest read it.
    pub request: Option<HttpRequestLine>,
}

/// The request line of an HTTP request, as the server saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpRequestLine {
    /// The method, e.g. `GET`.
    pub method: String,
    /// `scheme://authority/path?query`: the authority from the request's URI or its `Host`
    /// header.
    pub uri: String,
}

/// A [`Header`] for one request of a service: `base` (a service's header, whose `request` is
/// ignored) with `request`, borrowed. `serve` writes one per request, and the component's info in
/// a header is large (every function's types: ~13 KB for a wasi:http handler), so copying a
/// whole `Header` for each request cost more than writing it. Encodes exactly as the `Header` it
/// stands for (the fields in the same order; a test pins it).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct RequestHeader<'a> {
    format_version: u32,
    proxyrt_version: &'a str,
    component_sha256: &'a [u8; 32],
    interface_sha256: &'a [u8; 32],
    component: &'a ComponentInfo,
    argv: &'a [String],
    request: Option<&'a HttpRequestLine>,
}

impl Header {
    /// This header with `request` as its request, borrowed (see [`RequestHeader`]).
    pub fn for_request<'a>(&'a self, request: &'a HttpRequestLine) -> RequestHeader<'a> {
        RequestHeader {
            format_version: self.format_version,
            proxyrt_version: &self.proxyrt_version,
            component_sha256: &self.component_sha256,
            interface_sha256: &self.interface_sha256,
            component: &self.component,
            argv: &self.argv,
            request: Some(request),
        }
    }

    /// A header with nothing in it (for tests).
    #[cfg(test)]
    pub(super) fn empty() -> Self {
        Header {
            format_version: FORMAT_VERSION,
            proxyrt_version: String::new(),
            component_sha256: [0; 32],
            interface_sha256: [0; 32],
            component: Arc::default(),
            argv: Vec::new(),
            request: None,
        }
    }
}

/// One event of a recorded run. Values are in the proxy's compact binary encoding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Entry {
    /// The guest called an import.
    Call {
        func: u32,
        #[serde(with = "serde_bytes")]
        args: Vec<u8>,
    },
    /// The import the guest called last returned.
    Return {
        #[serde(with = "serde_bytes")]
        results: Vec<u8>,
    },
    /// The host called one of the guest's exports.
    ExportCall {
        func: u32,
        #[serde(with = "serde_bytes")]
        args: Vec<u8>,
    },
    /// That export returned.
    ExportReturn {
        #[serde(with = "serde_bytes")]
        results: Vec<u8>,
    },
    /// The guest trapped.
    Trap { message: String },
    /// The guest exited with this status.
    Exit { code: i32 },
    /// The trace is complete; `entries` counts the entries before this one.
    End { entries: u64 },
}

/// An [`Entry`] whose bytes and text are borrowed: what [`TraceReader::next_entry_ref`] returns
/// from its frame buffer, and what the recorder host writes straight from the proxy's memory, so
/// that neither side copies a call's values per entry. serde + bincode encode an enum as its
/// variant index and its fields, and the variants mirror `Entry`'s in the same order, so both
/// types have exactly the same encoding (a test pins it).
///
/// [`TraceReader::next_entry_ref`]: super::TraceReader::next_entry_ref
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EntryRef<'a> {
    Call {
        func: u32,
        #[serde(with = "serde_bytes", borrow)]
        args: &'a [u8],
    },
    Return {
        #[serde(with = "serde_bytes", borrow)]
        results: &'a [u8],
    },
    ExportCall {
        func: u32,
        #[serde(with = "serde_bytes", borrow)]
        args: &'a [u8],
    },
    ExportReturn {
        #[serde(with = "serde_bytes", borrow)]
        results: &'a [u8],
    },
    Trap {
        message: &'a str,
    },
    Exit {
        code: i32,
    },
    End {
        entries: u64,
    },
}

impl EntryRef<'_> {
    /// The owned entry.
    pub fn to_entry(&self) -> Entry {
        match *self {
            EntryRef::Call { func, args } => Entry::Call {
                func,
                args: args.to_vec(),
            },
            EntryRef::Return { results } => Entry::Return {
                results: results.to_vec(),
            },
            EntryRef::ExportCall { func, args } => Entry::ExportCall {
                func,
                args: args.to_vec(),
            },
            EntryRef::ExportReturn { results } => Entry::ExportReturn {
                results: results.to_vec(),
            },
            EntryRef::Trap { message } => Entry::Trap {
                message: message.to_string(),
            },
            EntryRef::Exit { code } => Entry::Exit { code },
            EntryRef::End { entries } => Entry::End { entries },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::payload;

    /// A request's borrowed header encodes exactly as the owned header it stands for.
    #[test]
    fn a_request_header_encodes_as_the_header() {
        let mut base = Header::empty();
        base.proxyrt_version = "0.1.0".into();
        base.component_sha256 = [7; 32];
        base.interface_sha256 = [9; 32];
        base.argv = vec!["handler.wasm".into()];
        let request = HttpRequestLine {
            method: "POST".into(),
            uri: "http://127.0.0.1:8080/x?y=1".into(),
        };
        let owned = Header {
            request: Some(request.clone()),
            ..base.clone()
        };
        let (mut a, mut b) = (Vec::new(), Vec::new());
        payload::encode(&owned, &mut a).unwrap();
        payload::encode(&base.for_request(&request), &mut b).unwrap();
        assert_eq!(a, b);
    }
}
