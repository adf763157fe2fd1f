//! Which core module of a component records which host call when the recording stubs are spliced
//! inside it (#17): `cargo run -p proxy-gen --example splice_origins -- IN.wasm [ADAPTER.wasm]`
//! prints, per instantiated module, its host calls and the memory their pointers are in, or why
//! the component cannot be recorded from inside. With `ADAPTER.wasm`, IN is a WASI preview-1
//! command module, made a component with that adapter first.

use anyhow::{bail, Context, Result};
use proxy_gen::splice::origin::{origins, ImportOrigin};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (input, adapter) = match args.as_slice() {
        [_, input] => (input, None),
        [_, input, adapter] => (input, Some(adapter)),
        _ => bail!("usage: splice_origins IN.wasm [ADAPTER.wasm]"),
    };
    let mut component = std::fs::read(input).with_context(|| format!("reading {input}"))?;
    if let Some(adapter) = adapter {
        let adapter = std::fs::read(adapter).with_context(|| format!("reading {adapter}"))?;
        component = proxy_gen::adapt_command(&component, &adapter)?;
    }
    let modules = origins(&component).map_err(|refused| anyhow::anyhow!("refused: {refused}"))?;
    for m in &modules {
        let host: Vec<_> = m
            .imports
            .iter()
            .filter_map(|o| match o {
                ImportOrigin::Host { call, memory, .. } => Some((call, memory)),
                ImportOrigin::Internal => None,
            })
            .collect();
        println!(
            "module {} (core instance {}): {} function imports, {} host calls",
            m.module,
            m.instance,
            m.imports.len(),
            host.len()
        );
        for (call, memory) in host {
            println!("    {call:?} memory {memory:?}");
        }
    }
    Ok(())
}
