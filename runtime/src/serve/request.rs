//! One HTTP request: a fresh store and instance (from the server's pre-instantiated component),
//! the guest's `wasi:http/incoming-handler.handle` call in a task of its own, and the response.
//!
//! The guest runs in its own task because in wasi:http the response is handed over through
//! `response-outparam.set`, possibly before `handle` returns (the body may stream after): the
//! server answers as soon as the response is set and the task goes on until the guest is done.
//! Only then, when the store is done, is the request's trace finished.

use super::host::HttpHost;
use super::shutdown::Guard;
use super::Shared;
use crate::exit::{error_report, Ending};
use crate::hosts::recorder;
use crate::hosts::wasi::WasiHost;
use anyhow::{Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Response, StatusCode};
use recorder_host::trace::HttpRequestLine;
use std::sync::Arc;
use wasmtime::component::Resource;
use wasmtime::Store;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::p2::types::HostIncomingRequest;
use wasmtime_wasi_http::p2::types::HostResponseOutparam;
use wasmtime_wasi_http::WasiHttpView;

/// The exported interface the server calls, as the host's bindings name it (no version).
pub const HANDLER_INTERFACE: &str = "wasi:http/incoming-handler";

/// Serves request number `number`: never fails, a guest or host failure is a 500 response and a
/// report on stderr.
pub async fn serve(
    shared: Arc<Shared>,
    number: u64,
    req: hyper::Request<Incoming>,
    guard: Guard,
) -> Response<HyperOutgoingBody> {
    let line = request_line(&req, &shared);
    match respond(&shared, number, &line, req, guard).await {
        Ok(response) => response,
        Err(e) => {
            let e = e.context(format!("request {number} ({} {})", line.method, line.uri));
            eprintln!("{}", error_report(&e));
            internal_error()
        }
    }
}

/// The request's method and `scheme://authority/path?query`, for the trace and for messages. The
/// authority is the URI's, else the `Host` header's, else the address the server listens on.
fn request_line(req: &hyper::Request<Incoming>, shared: &Shared) -> HttpRequestLine {
    let uri = req.uri();
    let authority = uri
        .authority()
        .map(|a| a.to_string())
        .or_else(|| {
            req.headers()
                .get(hyper::header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(str::to_string)
        })
        .unwrap_or_else(|| shared.local_addr.to_string());
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    HttpRequestLine {
        method: req.method().to_string(),
        uri: format!("http://{authority}{path}"),
    }
}

/// How the guest's task ended, as the response path needs to know it (the task reported the
/// details on stderr already).
enum GuestEnd {
    /// `handle` returned (or the guest exited).
    Returned,
    /// The guest trapped or the host failed: reported.
    Failed,
}

async fn respond(
    shared: &Arc<Shared>,
    number: u64,
    line: &HttpRequestLine,
    req: hyper::Request<Incoming>,
    guard: Guard,
) -> Result<Response<HyperOutgoingBody>> {
    let recorder = match &shared.traces {
        Some(traces) => Some(traces.create(number, line)?),
        None => None,
    };
    let mut store = Store::new(
        shared.pre.engine(),
        HttpHost {
            wasi: WasiHost::new(&shared.wasi)?,
            recorder,
        },
    );
    store.limiter(|h| &mut h.wasi.limits);
    if let Some(fuel) = shared.fuel {
        store.set_fuel(fuel).map_err(anyhow::Error::from)?;
    }
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let req = store
        .data_mut()
        .http()
        .new_incoming_request(Scheme::Http, req)
        .map_err(anyhow::Error::from)
        .context("cannot pass the request to the guest")?;
    let out = store
        .data_mut()
        .http()
        .new_response_outparam(sender)
        .map_err(anyhow::Error::from)?;
    let pre = shared.pre.clone();
    let label = format!("request {number} ({} {})", line.method, line.uri);
    let task = tokio::task::spawn(async move {
        let end = run_guest(store, &pre, req, out, &label).await;
        drop(guard);
        end
    });
    match receiver.await {
        Ok(Ok(response)) => Ok(response),
        Ok(Err(code)) => anyhow::bail!("the guest responded with an error: {code:?}"),
        // The guest's store is gone without a response: see how the guest ended.
        Err(_) => match task.await {
            Ok(GuestEnd::Returned) => {
                anyhow::bail!(
                    "the guest returned without setting a response (`response-outparam.set`)"
                )
            }
            Ok(GuestEnd::Failed) => Ok(internal_error()),
            Err(e) => Err(anyhow::Error::from(e).context("the guest's task failed")),
        },
    }
}

/// Instantiates the guest in `store` and calls its handler; when recording, the call goes into the
/// trace and the trace is finished (or, after a host failure, flushed and left cut) once the
/// guest is done. Traps and failures are reported on stderr, under `label`.
async fn run_guest(
    mut store: Store<HttpHost>,
    pre: &ProxyPre<HttpHost>,
    req: Resource<HostIncomingRequest>,
    out: Resource<HostResponseOutparam>,
    label: &str,
) -> GuestEnd {
    let ending = handle(&mut store, pre, req, out).await;
    let recorder = store.data_mut().recorder.take();
    // Nothing the guest owns outlives the store: drop it before the trace says the request ended.
    drop(store);
    let mut end = match &ending {
        Ok(Ending::Exit(_)) => GuestEnd::Returned,
        Ok(Ending::Trap(e)) => {
            eprintln!("{label}: the guest trapped\n{}", error_report(e));
            GuestEnd::Failed
        }
        Err(e) => {
            eprintln!("{label}: failed\n{}", error_report(e));
            GuestEnd::Failed
        }
    };
    if let Some(mut recorder) = recorder {
        let written = match &ending {
            Ok(ending) => recorder.finish(Some(ending)).map(drop),
            // The host failed: keep what was recorded, unended, so readers report it as cut.
            Err(_) => recorder.flush(),
        };
        if let Err(e) = written {
            eprintln!("{}", error_report(&e.context(label.to_string())));
            end = GuestEnd::Failed;
        }
    }
    end
}

/// The guest's part: instantiate, call `handle` (recorded as the export call, with no encoded
/// arguments: its two parameters are host resources, which the record proxy reports as calls of
/// their own), and sort out how it ended.
async fn handle(
    store: &mut Store<HttpHost>,
    pre: &ProxyPre<HttpHost>,
    req: Resource<HostIncomingRequest>,
    out: Resource<HostResponseOutparam>,
) -> Result<Ending> {
    let proxy = match pre.instantiate_async(&mut *store).await {
        Ok(proxy) => proxy,
        Err(e) => return Ending::from_error(e).context("failed to instantiate the component"),
    };
    let recording = match store.data_mut().recorder.as_mut() {
        Some(recorder) => Some(recorder.export_call(Some(HANDLER_INTERFACE), "handle", &[])?),
        None => None,
    };
    let called = proxy
        .wasi_http_incoming_handler()
        .call_handle(&mut *store, req, out)
        .await;
    // The proxy's last calls, in its batch, come before the export's end or the trap.
    let drained = recorder::drain_batch(&mut *store);
    if let Err(e) = called {
        return Ending::from_error(e);
    }
    drained?;
    if let (Some(id), Some(recorder)) = (recording, store.data_mut().recorder.as_mut()) {
        recorder.export_return(id, &[])?;
    }
    Ok(Ending::Exit(0))
}

/// The response to a request the guest could not answer.
pub fn internal_error() -> Response<HyperOutgoingBody> {
    let body = Full::new(Bytes::from_static(b"500 Internal Server Error\n"))
        .map_err(|never| match never {})
        .boxed_unsync();
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response
}
