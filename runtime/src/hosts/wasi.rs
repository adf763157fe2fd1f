//! The real hosts a component runs against: wasmtime-wasi (wasi:cli, filesystem, clocks, random,
//! sockets) and, when asked for, wasmtime-wasi-http. [`WasiHost`] is their state; a store's data
//! holds one and implements [`WasiView`] and [`WasiHttpView`] through it.

use anyhow::{Context, Result};
use wasmtime::component::{Linker, ResourceTable};
use wasmtime::{StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// WASI switches, as `wasmtime run -S` names them (`None`: the default).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WasiOptions {
    pub cli: Option<bool>,
    pub http: Option<bool>,
    pub inherit_env: Option<bool>,
    pub inherit_network: Option<bool>,
    pub tcp: Option<bool>,
    pub udp: Option<bool>,
    pub allow_ip_name_lookup: Option<bool>,
    pub inherit_stdin: Option<bool>,
    pub inherit_stdout: Option<bool>,
    pub inherit_stderr: Option<bool>,
    pub max_random_size: Option<u64>,
}

/// Everything a [`WasiHost`] is made from, already resolved (no flag parsing here).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WasiConfig {
    /// The guest's `argv`, `argv[0]` included.
    pub argv: Vec<String>,
    /// The guest's environment, in order.
    pub env: Vec<(String, String)>,
    /// Preopened directories: (host path, guest path).
    pub dirs: Vec<(String, String)>,
    pub options: WasiOptions,
    /// The limit of each linear memory, in bytes.
    pub max_memory_size: Option<usize>,
}

/// The state of the real WASI hosts for one store.
pub struct WasiHost {
    wasi: WasiCtx,
    table: ResourceTable,
    http: WasiHttpCtx,
    /// The store's memory limits (`-W max-memory-size`): for `Store::limiter`.
    pub limits: StoreLimits,
}

impl WasiView for WasiHost {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for WasiHost {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: Default::default(),
        }
    }
}

impl WasiHost {
    /// Builds the WASI context the way `wasmtime run` does: stdio inherited, the environment and
    /// the preopens of `config` applied, network off unless asked for.
    pub fn new(config: &WasiConfig) -> Result<Self> {
        let wasi = &config.options;
        let mut b = WasiCtxBuilder::new();
        b.args(&config.argv);
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
        for (name, value) in &config.env {
            b.env(name, value);
        }
        for (host, guest) in &config.dirs {
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
        if let Some(max) = config.max_memory_size {
            limits = limits.memory_size(max);
        }
        Ok(WasiHost {
            wasi: b.build(),
            table: ResourceTable::new(),
            http: WasiHttpCtx::new(),
            limits: limits.build(),
        })
    }
}

/// Adds the hosts selected by `options` to `linker`: wasi:cli and friends unless `-S cli=n`,
/// wasi:http with `-S http`.
pub fn add_to_linker<T>(linker: &mut Linker<T>, options: &WasiOptions) -> Result<()>
where
    T: WasiView + WasiHttpView + 'static,
{
    if options.cli != Some(false) {
        wasmtime_wasi::p2::add_to_linker_async(linker).map_err(anyhow::Error::from)?;
    }
    if options.http == Some(true) {
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(linker)
            .map_err(anyhow::Error::from)?;
    }
    Ok(())
}

/// Adds the hosts of an HTTP server's guest (`serve`), as `wasmtime serve` does: the interfaces of
/// the `wasi:http/proxy` world only (wasi:http, clocks, random, stdio), or with `-S cli` all of
/// wasi:cli (filesystem, sockets, ...) and wasi:http. wasi:http cannot be turned off: it is what
/// the server calls.
pub fn add_proxy_to_linker<T>(linker: &mut Linker<T>, options: &WasiOptions) -> Result<()>
where
    T: WasiView + WasiHttpView + 'static,
{
    if options.http == Some(false) {
        anyhow::bail!("`serve` needs wasi:http, it cannot be turned off with `-S http=n`");
    }
    if options.cli == Some(true) {
        wasmtime_wasi::p2::add_to_linker_async(linker).map_err(anyhow::Error::from)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(linker)
            .map_err(anyhow::Error::from)?;
    } else {
        wasmtime_wasi_http::p2::add_to_linker_async(linker).map_err(anyhow::Error::from)?;
    }
    Ok(())
}
