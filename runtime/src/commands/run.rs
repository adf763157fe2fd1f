//! `proxyrt run [OPTIONS] app.wasm [--] [ARGS...]`: a drop-in for `wasmtime run`.

use crate::live::{self, LiveConfig};
use crate::load;
use crate::options::RunOptions;
use anyhow::Result;
use clap::Args;

/// Runs a component on the real hosts, exactly like `wasmtime run`.
#[derive(Args, Debug, Clone)]
pub struct RunCommand {
    #[command(flatten)]
    pub run: RunOptions,
}

impl RunCommand {
    /// Runs the component; returns the guest's exit status (134 for a trap, as wasmtime).
    pub async fn execute(self) -> Result<i32> {
        let path = self.run.wasm_path()?;
        let bytes = load::read_component(&path)?;
        let config = live_config(&self.run)?;
        let (ending, _) = live::execute(&config, &path, &bytes, None).await;
        Ok(ending?.report())
    }
}

/// The live execution `run` and `record` make of these options.
pub fn live_config(run: &RunOptions) -> Result<LiveConfig<'_>> {
    Ok(LiveConfig {
        wasi: run.wasi_config()?,
        wasm: run.wasm_options()?,
        invoke: run.invoke.as_deref(),
        cache: run.cache.cache(),
    })
}
