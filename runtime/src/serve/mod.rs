//! The HTTP server of `proxyrt serve`: a `wasi:http/proxy` component served over HTTP/1.1 (hyper,
//! through wasmtime-wasi-http), as `wasmtime serve` serves it, optionally recording every request
//! into a trace of its own.
//!
//! The component is compiled and linked once ([`Server::prepare`]) into a pre-instantiated
//! `ProxyPre`; every request gets a fresh store and instance from it ([`request`]), in a task of its
//! own, so requests run concurrently and share nothing. With `--record` the component run is the
//! record composition (as `record` runs it) and each request's store holds its own recorder
//! writing `DIR/request-NNNNNN.trace` ([`traces`]). Ctrl-C or SIGTERM stops the server gracefully
//! ([`shutdown`]): no new connection is accepted, idle connections are closed, and the requests in
//! flight get a bounded time to finish, and their traces with them.
//!
//! The parts, each using only those before it: `host` (a request's store data), `traces` (the
//! record directory), `shutdown` (signals, work in flight), `request` (one request), and this
//! module (preparing, binding, the accept loop).

mod host;
mod request;
mod shutdown;
mod traces;

pub use host::HttpHost;

use crate::cache::{self, Cache, ComponentBytes, Instrumented};
use crate::engine::{self, WasmOptions};
use crate::hosts::recorder;
use crate::hosts::wasi::{self, WasiConfig, WasiHost};
use crate::{identity, load};
use anyhow::{bail, Context, Result};
use hyper::server::conn::http1;
use recorder_host::trace::Compression;
use shutdown::{Guard, InFlight, Signals};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use traces::TraceDir;
use wasmtime::component::{Component, Linker};
use wasmtime::Engine;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::p2::bindings::ProxyPre;

/// How long requests in flight may take to finish after a shutdown signal before the server exits
/// anyway (their traces are then cut, readable up to their last complete entry).
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The export a `wasi:http/proxy` component must have, at any 0.2.x version (export lookups in
/// wasmtime match semver-compatible versions).
const HANDLER_EXPORT: &str = "wasi:http/incoming-handler@0.2.0";

/// What a server is made of: the resolved options of `serve`.
pub struct ServeConfig {
    /// The hosts of every request (a fresh WASI context each, from this).
    pub wasi: WasiConfig,
    pub wasm: WasmOptions,
    pub cache: Option<Cache>,
    /// `--record DIR`: one trace per request in `DIR`.
    pub record: Option<PathBuf>,
    /// How the request traces' blocks are stored.
    pub trace_compression: Compression,
}

/// A component ready to serve: compiled, linked and pre-instantiated.
pub struct Server {
    pre: ProxyPre<HttpHost>,
    wasi: WasiConfig,
    fuel: Option<u64>,
    traces: Option<TraceDir>,
}

/// What every request shares.
struct Shared {
    pre: ProxyPre<HttpHost>,
    wasi: WasiConfig,
    fuel: Option<u64>,
    traces: Option<TraceDir>,
    /// The address the server listens on: the authority of requests that name none.
    local_addr: SocketAddr,
    /// The number of the last request that arrived (requests are numbered from 1).
    requests: AtomicU64,
}

/// A server bound to its address, not yet accepting.
pub struct Listening {
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    signals: Signals,
}

/// How a server ended.
#[derive(Debug)]
pub struct Stopped {
    /// The signal that stopped it.
    pub signal: &'static str,
    /// How many requests arrived.
    pub requests: u64,
    /// Whether every request in flight finished within [`SHUTDOWN_GRACE`].
    pub drained: bool,
}

impl Server {
    /// Loads the component at `path` (instrumented for recording with `--record`), compiles and
    /// links it, and checks that it is a `wasi:http/proxy`; with `--record`, opens the trace
    /// directory last, so that a component that cannot be served leaves no directory behind.
    pub fn prepare(config: ServeConfig, path: &Path) -> Result<Self> {
        let (bytes, header) = match &config.record {
            None => (ComponentBytes::new(load::read_component(path)?), None),
            Some(_) => {
                let original = load::read_binary_component(path, "serve --record")?;
                let Instrumented {
                    composed,
                    interfaces,
                    original_sha256,
                } = cache::instrumented(&original, proxy_gen::Mode::Record, config.cache.as_ref())
                    .with_context(|| format!("cannot record {}", path.display()))?;
                let header =
                    identity::header(original_sha256, &interfaces, config.wasi.argv.clone())?;
                (composed, Some(header))
            }
        };
        let engine = engine::engine(&config.wasm)?;
        let component = engine::compile_composed(&engine, &bytes, config.cache.as_ref())
            .with_context(|| format!("failed to compile {}", path.display()))?;
        check_proxy(&engine, &component, path)?;
        let mut linker = Linker::new(&engine);
        wasi::add_proxy_to_linker(&mut linker, &config.wasi.options)?;
        if header.is_some() {
            recorder::add_to_linker(&mut linker)?;
        }
        if config.wasm.unknown_imports_trap == Some(true) {
            linker
                .define_unknown_imports_as_traps(&component)
                .map_err(anyhow::Error::from)?;
        }
        let pre = linker
            .instantiate_pre(&component)
            .map_err(anyhow::Error::from)
            .and_then(|pre| ProxyPre::new(pre).map_err(anyhow::Error::from))
            .with_context(|| format!("cannot serve {}", path.display()))?;
        // Every request builds its hosts from this: a bad `--dir` is an error now, not a 500 on
        // every request.
        WasiHost::new(&config.wasi)?;
        let traces = match (&config.record, header) {
            (Some(dir), Some(header)) => {
                Some(TraceDir::open(dir, header, config.trace_compression)?)
            }
            _ => None,
        };
        Ok(Server {
            pre,
            wasi: config.wasi,
            fuel: config.wasm.fuel,
            traces,
        })
    }

    /// Binds `addr` (port 0: any free port) and installs the shutdown signals' handlers; print
    /// [`Listening::local_addr`] after this, clients may connect from then on.
    pub async fn bind(self, addr: SocketAddr) -> Result<Listening> {
        let signals = Signals::install()?;
        let listener = listen(addr).with_context(|| format!("cannot listen on {addr}"))?;
        let local_addr = listener
            .local_addr()
            .with_context(|| format!("cannot listen on {addr}"))?;
        Ok(Listening {
            listener,
            shared: Arc::new(Shared {
                pre: self.pre,
                wasi: self.wasi,
                fuel: self.fuel,
                traces: self.traces,
                local_addr,
                requests: AtomicU64::new(0),
            }),
            signals,
        })
    }
}

/// Refuses a component that does not export `wasi:http/incoming-handler`, naming what it exports
/// (a command exports `wasi:cli/run`: it is for `run`).
fn check_proxy(engine: &Engine, component: &Component, path: &Path) -> Result<()> {
    if component.get_export_index(None, HANDLER_EXPORT).is_some() {
        return Ok(());
    }
    let exports: Vec<String> = component
        .component_type()
        .exports(engine)
        .map(|(name, _)| format!("`{name}`"))
        .collect();
    bail!(
        "{} is not a wasi:http/proxy component: it does not export `wasi:http/incoming-handler` \
         (0.2.x); it exports {}{}",
        path.display(),
        if exports.is_empty() {
            "nothing".to_string()
        } else {
            exports.join(", ")
        },
        if exports.iter().any(|e| e.contains("wasi:cli/run")) {
            " (a command: run it with `proxyrt run`)"
        } else {
            ""
        }
    )
}

/// A listening socket on `addr`. Address reuse is on (on Unix) as in `wasmtime serve`, so that a
/// restarted server can bind an address whose old connections linger in TIME_WAIT; a port another
/// socket listens on is still refused.
fn listen(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(!cfg!(windows))?;
    socket.bind(addr)?;
    socket.listen(1024)
}

impl Listening {
    /// The address the server listens on (with the port chosen when asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local_addr
    }

    /// Serves until Ctrl-C or SIGTERM, then stops gracefully: stops accepting, closes idle
    /// connections, lets the requests in flight finish (within [`SHUTDOWN_GRACE`], or until a
    /// second signal) with their traces.
    pub async fn run(self) -> Result<Stopped> {
        let Listening {
            listener,
            shared,
            mut signals,
        } = self;
        let in_flight = InFlight::new();
        let (stop, stopping) = watch::channel(false);
        let signal = loop {
            let stream = tokio::select! {
                signal = signals.next() => break signal,
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // Out of file descriptors, a connection reset before it was accepted: the
                        // server goes on (after a pause, not to spin on a persistent error).
                        eprintln!("warning: cannot accept a connection: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
            };
            // Small writes of a streamed body go out at once (no Nagle delay), as in wasmtime serve.
            if let Err(e) = stream.set_nodelay(true) {
                eprintln!("warning: cannot set TCP_NODELAY on a connection: {e}");
            }
            tokio::task::spawn(connection(
                stream,
                shared.clone(),
                stopping.clone(),
                in_flight.guard(),
            ));
        };
        drop(listener);
        // Connections that are gone have dropped their receivers: nobody left to tell is fine.
        let _ = stop.send(true);
        let drained = in_flight.wait(SHUTDOWN_GRACE, &mut signals).await;
        Ok(Stopped {
            signal,
            requests: shared.requests.load(Ordering::SeqCst),
            drained,
        })
    }
}

/// Serves the requests of one connection (HTTP/1.1, keep-alive) until the client closes it or the
/// server stops (then after the request in progress, if any).
async fn connection(
    stream: tokio::net::TcpStream,
    shared: Arc<Shared>,
    mut stopping: watch::Receiver<bool>,
    guard: Guard,
) {
    let requests_guard = guard.clone();
    let service = hyper::service::service_fn(move |req| {
        // Numbered here, as the request arrives (its head is read), in arrival order.
        let number = shared.requests.fetch_add(1, Ordering::SeqCst) + 1;
        let shared = shared.clone();
        let guard = requests_guard.clone();
        async move { Ok::<_, Infallible>(request::serve(shared, number, req, guard).await) }
    });
    let conn = http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let result = tokio::select! {
        result = conn.as_mut() => Some(result),
        _ = stopping.changed() => None,
    };
    let result = match result {
        Some(result) => result,
        None => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        // A client that hangs up mid-request is its own business, not the server's failure.
        eprintln!("warning: HTTP connection error: {e}");
    }
    drop(guard);
}
