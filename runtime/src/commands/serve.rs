//! `proxyrt serve [run options] [--addr ADDR] [--record DIR] app.wasm`: a `wasi:http/proxy`
//! component served over HTTP, as `wasmtime serve` serves it, optionally recording each request.

use crate::options::RunOptions;
use crate::serve::{ServeConfig, Server, SHUTDOWN_GRACE};
use anyhow::{bail, Result};
use clap::Args;
use recorder_host::trace::Compression;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Serves HTTP with a `wasi:http/proxy` component: a fresh instance per request, requests in
/// parallel. Ctrl-C or SIGTERM stops it gracefully.
#[derive(Args, Debug, Clone)]
// The run options are shared, but `serve` calls the handler, never an `--invoke` export.
#[command(mut_arg("invoke", |a| a.hide(true)))]
pub struct ServeCommand {
    /// Socket address to listen on (port 0: any free port; the address is printed).
    #[arg(long, value_name = "SOCKADDR", default_value = "0.0.0.0:8080")]
    pub addr: SocketAddr,

    /// Record every request into a trace of its own, `DIR/request-NNNNNN.trace` (numbered from 1
    /// in arrival order). DIR is created if missing and must hold no traces yet.
    #[arg(long, value_name = "DIR")]
    pub record: Option<PathBuf>,

    /// How the traces of `--record` are stored: `zstd` (compressed, the default) or `none`.
    #[arg(long, value_name = "CODEC", default_value = "zstd", value_parser = crate::options::trace_compression)]
    pub trace_compression: Compression,

    #[command(flatten)]
    pub run: RunOptions,

    /// The component to serve.
    #[arg(value_name = "WASM")]
    pub component: PathBuf,
}

impl ServeCommand {
    /// Serves until a signal stops the server; 0 after a graceful stop.
    pub async fn execute(self) -> Result<i32> {
        // Hidden from `--help`, still refused clearly if given.
        if self.run.invoke.is_some() {
            bail!("`serve` calls `wasi:http/incoming-handler.handle` for each request; `--invoke` is for `run` and `record`");
        }
        let argv = self.run.guest_argv(&self.component, &[])?;
        let config = ServeConfig {
            wasi: self.run.wasi_config(argv)?,
            wasm: self.run.wasm_options()?,
            cache: self.run.cache.cache(),
            record: self.record.clone(),
            trace_compression: self.trace_compression,
        };
        let server = Server::prepare(config, &self.component)?;
        let listening = server.bind(self.addr).await?;
        // The line `wasmtime serve` prints, once the socket is bound (port 0 resolved): tests and
        // scripts read the address from it.
        eprintln!("Serving HTTP on http://{}/", listening.local_addr());
        let stopped = listening.run().await?;
        eprintln!(
            "{}: stopped after {} request{}",
            stopped.signal,
            stopped.requests,
            if stopped.requests == 1 { "" } else { "s" }
        );
        if !stopped.drained {
            eprintln!(
                "warning: stopped with requests still running (after {} s, or a second signal); \
                 their traces are cut",
                SHUTDOWN_GRACE.as_secs()
            );
        }
        if let Some(dir) = &self.record {
            eprintln!("traces in {}", dir.display());
        }
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use crate::commands::Cli;
    use clap::Parser;

    /// `serve` takes the run options but not `--invoke`, which its help does not offer.
    #[test]
    fn serve_help_does_not_offer_invoke() {
        let help = match Cli::try_parse_from(["proxyrt", "serve", "--help"]) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("--help parsed"),
        };
        assert!(
            help.contains("--addr") && help.contains("--record"),
            "{help}"
        );
        assert!(!help.contains("--invoke"), "{help}");
        let help = match Cli::try_parse_from(["proxyrt", "run", "--help"]) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("--help parsed"),
        };
        assert!(help.contains("--invoke"), "{help}");
    }
}
