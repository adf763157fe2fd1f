//! `http-handler`: a `wasi:http/proxy` handler (for `proxyrt serve`). For each request it reads
//! the whole body, GETs the URL in the `x-upstream` header (if any) through
//! `wasi:http/outgoing-handler`, and responds
//!
//! ```text
//! 200  "{method} {path} body={body} upstream={status}:{upstream body}\n"   (upstream=none without the header)
//! 502  "{method} {path} upstream error: {error code}\n"                  (the upstream call failed)
//! ```
//!
//! Reading the body into memory is deliberate: a body larger than the guest's memory limit
//! (`-W max-memory-size`) makes the allocation fail, and the guest trap, in that request only.
//!
//! It is `no_std` (allocator and panic handler from `zoo`'s `nostd.rs`) so that it imports only
//! interfaces of the `wasi:http/proxy` world: std on wasm32-wasip2 would import
//! `wasi:cli/environment` (the panic hook reads `RUST_BACKTRACE`), which `serve` provides only
//! with `-S cli`, as `wasmtime serve` does.

#![no_std]

extern crate alloc;

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use wasip2::exports::http::incoming_handler::Guest;
use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    Fields, IncomingBody, IncomingRequest, Method, OutgoingBody, OutgoingRequest,
    OutgoingResponse, ResponseOutparam, Scheme,
};
use wasip2::io::streams::{InputStream, StreamError};

struct Handler;

impl Guest for Handler {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let method = method_name(&request.method());
        let path = request.path_with_query().unwrap_or_default();
        let upstream = request
            .headers()
            .get("x-upstream")
            .first()
            .map(|v| String::from_utf8_lossy(v).into_owned());
        let body = match request.consume() {
            Ok(body) => read_body(body),
            Err(()) => Err("the request body was taken".to_string()),
        };
        let body = match body {
            Ok(body) => String::from_utf8_lossy(&body).into_owned(),
            Err(e) => return respond(out, 400, &format!("{method} {path} bad body: {e}\n")),
        };
        let (status, text) = match upstream {
            None => (200, format!("{method} {path} body={body} upstream=none\n")),
            Some(url) => match get(&url) {
                Ok((code, upstream_body)) => (
                    200,
                    format!(
                        "{method} {path} body={body} upstream={code}:{}\n",
                        String::from_utf8_lossy(&upstream_body)
                    ),
                ),
                Err(e) => (502, format!("{method} {path} upstream error: {e}\n")),
            },
        };
        respond(out, status, &text);
    }
}

wasip2::http::proxy::export!(Handler);

// The global allocator, the panic handler and `cabi_realloc`: what std would give.
#[path = "../../zoo/src/nostd.rs"]
mod nostd;

fn method_name(method: &Method) -> String {
    match method {
        Method::Get => "GET".into(),
        Method::Head => "HEAD".into(),
        Method::Post => "POST".into(),
        Method::Put => "PUT".into(),
        Method::Delete => "DELETE".into(),
        Method::Connect => "CONNECT".into(),
        Method::Options => "OPTIONS".into(),
        Method::Trace => "TRACE".into(),
        Method::Patch => "PATCH".into(),
        Method::Other(other) => other.clone(),
    }
}

/// Reads a whole body, then ends it.
fn read_body(body: IncomingBody) -> Result<Vec<u8>, String> {
    let stream = body.stream().map_err(|()| "no body stream")?;
    let bytes = read_all(&stream)?;
    drop(stream);
    drop(IncomingBody::finish(body));
    Ok(bytes)
}

fn read_all(stream: &InputStream) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    loop {
        match stream.blocking_read(64 << 10) {
            Ok(chunk) => bytes.extend_from_slice(&chunk),
            Err(StreamError::Closed) => return Ok(bytes),
            Err(StreamError::LastOperationFailed(e)) => {
                return Err(format!("reading a body: {}", e.to_debug_string()))
            }
        }
    }
}

/// GETs `http://HOST:PORT/PATH`; returns the status and the body, or the error code.
fn get(url: &str) -> Result<(u16, Vec<u8>), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("not an http:// URL: {url}"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let request = OutgoingRequest::new(Fields::new());
    request.set_method(&Method::Get).map_err(|()| "bad method")?;
    request
        .set_scheme(Some(&Scheme::Http))
        .map_err(|()| "bad scheme")?;
    request
        .set_authority(Some(authority))
        .map_err(|()| "bad authority")?;
    request
        .set_path_with_query(Some(path))
        .map_err(|()| "bad path")?;
    let body = request.body().map_err(|()| "no request body")?;
    OutgoingBody::finish(body, None).map_err(|e| format!("{e:?}"))?;
    let future = outgoing_handler::handle(request, None).map_err(|e| format!("{e:?}"))?;
    let response = loop {
        if let Some(result) = future.get() {
            break result
                .map_err(|()| "response taken twice".to_string())?
                .map_err(|e| format!("{e:?}"))?;
        }
        future.subscribe().block();
    };
    let status = response.status();
    let incoming = response.consume().map_err(|()| "no response body")?;
    let stream = incoming.stream().map_err(|()| "no body stream")?;
    let bytes = read_all(&stream)?;
    drop(stream);
    Ok((status, bytes))
}

/// Sends a `text/plain` response with `status` and `text`.
fn respond(out: ResponseOutparam, status: u16, text: &str) {
    let headers = Fields::new();
    // A constant, valid header: cannot be refused.
    let _ = headers.set("content-type", &[b"text/plain".to_vec()]);
    let response = OutgoingResponse::new(headers);
    let _ = response.set_status_code(status);
    let Ok(body) = response.body() else {
        return;
    };
    ResponseOutparam::set(out, Ok(response));
    if let Ok(stream) = body.write() {
        // `blocking-write-and-flush` takes at most 4096 bytes at a time.
        for chunk in text.as_bytes().chunks(4096) {
            if stream.blocking_write_and_flush(chunk).is_err() {
                return;
            }
        }
        drop(stream);
    }
    let _ = OutgoingBody::finish(body, None);
}
