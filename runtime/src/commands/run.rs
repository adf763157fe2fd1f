//! `proxyrt run [OPTIONS] app.wasm [--] [ARGS...]`: a drop-in for `wasmtime run`.

use crate::cache::ComponentBytes;
use crate::live;
use crate::load;
use crate::options::{ComponentAndArgs, RunOptions};
use anyhow::Result;
use clap::Args;

/// Runs a component on the real hosts, exactly like `wasmtime run`.
#[derive(Args, Debug, Clone)]
pub struct RunCommand {
    #[command(flatten)]
    pub run: RunOptions,

    #[command(flatten)]
    pub component: ComponentAndArgs,
}

impl RunCommand {
    /// Runs the component; returns the guest's exit status (134 for a trap, as wasmtime).
    pub async fn execute(self) -> Result<i32> {
        let path = self.component.wasm_path()?;
        let argv = self.run.guest_argv(&path, self.component.guest_args())?;
        let bytes = load::read_component(&path)?;
        let config = self.run.live_config(argv)?;
        let wasm = ComponentBytes::new(bytes);
        let (ending, _) = live::execute(&config, &path, &wasm, None).await;
        Ok(ending?.report())
    }
}
