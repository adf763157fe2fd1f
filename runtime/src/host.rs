//! The real hosts a component runs against: wasmtime-wasi (wasi:cli, filesystem, clocks, random,
//! sockets) and, when asked for, wasmtime-wasi-http. This is the store data of every live run.

use crate::cli::{RunArgs, WasiOptions, WasmOptions};
use anyhow::{anyhow, Context, Result};
use wasmtime::component::{Linker, ResourceTable};
use wasmtime::{Engine, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// Store data for a live run.
pub struct Host {
    wasi: WasiCtx,
    table: ResourceTable,
    http: WasiHttpCtx,
    pub(crate) limits: StoreLimits,
    /// Writes the trace while recording; `None` for a plain run.
    pub(crate) recorder: Option<crate::recorder::Recorder>,
}

impl WasiView for Host {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for Host {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: Default::default(),
        }
    }
}

impl Host {
    /// Builds the WASI context from the run options, the way `wasmtime run` does: stdio inherited,
    /// `--env` and `--dir` applied, network off unless asked for.
    pub fn new(args: &RunArgs, wasi: &WasiOptions, wasm: &WasmOptions) -> Result<Self> {
        let mut b = WasiCtxBuilder::new();
        b.args(&args.guest_argv()?);
        // proxyrt is the only thing running on this thread, so blocking WASI calls may block it
        // (faster than bouncing through tokio's blocking pool), as `wasmtime run` does.
        b.allow_blocking_current_thread(true);
        if wasi.inherit_stdin.unwrap_or(true) {
            b.inherit_stdin();
        }
        if wasi.inherit_stdout.unwrap_or(true) {
            b.inherit_stdout();
        }
        if wasi.inherit_stderr.unwrap_or(true) {
            b.inherit_stderr();
        }
        if wasi.inherit_env == Some(true) {
            for (k, v) in std::env::vars_os() {
                let (k, v) = (k.into_string(), v.into_string());
                let (Ok(k), Ok(v)) = (k, v) else {
                    return Err(anyhow!(
                        "an inherited environment variable is not valid UTF-8"
                    ));
                };
                b.env(&k, &v);
            }
        }
        for (name, value) in &args.vars {
            let value = match value {
                Some(value) => value.clone(),
                None => match std::env::var_os(name) {
                    Some(v) => v
                        .into_string()
                        .map_err(|_| anyhow!("environment variable `{name}` is not valid UTF-8"))?,
                    // Like wasmtime: `--env NAME` of an unset variable leaves it unset in the guest.
                    None => continue,
                },
            };
            b.env(name, &value);
        }
        for (host, guest) in &args.dirs {
            b.preopened_dir(host, guest, FsPerms::ReadWrite)
                .map_err(anyhow::Error::from)
                .with_context(|| format!("failed to open directory `{host}` for `--dir`"))?;
        }
        if wasi.inherit_network == Some(true) {
            b.inherit_network();
            b.allow_tcp(true).allow_udp(true);
        }
        if let Some(on) = wasi.allow_ip_name_lookup {
            b.allow_ip_name_lookup(on);
        }
        if let Some(on) = wasi.tcp {
            b.allow_tcp(on);
        }
        if let Some(on) = wasi.udp {
            b.allow_udp(on);
        }
        if let Some(max) = wasi.max_random_size {
            b.max_random_size(max);
        }
        let mut limits = StoreLimitsBuilder::new();
        if let Some(max) = wasm.max_memory_size {
            limits = limits.memory_size(max);
        }
        Ok(Host {
            wasi: b.build(),
            table: ResourceTable::new(),
            http: WasiHttpCtx::new(),
            limits: limits.build(),
            recorder: None,
        })
    }
}

/// A linker holding the hosts selected by `-S`: wasi:cli and friends unless `-S cli=n`, wasi:http with
/// `-S http`.
pub fn linker(engine: &Engine, wasi: &WasiOptions) -> Result<Linker<Host>> {
    let mut linker = Linker::new(engine);
    if wasi.cli != Some(false) {
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(anyhow::Error::from)?;
    }
    if wasi.http == Some(true) {
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)
            .map_err(anyhow::Error::from)?;
    }
    Ok(linker)
}
