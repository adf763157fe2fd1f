//! The forward-equivalent of splicing stubs *inside* a component instead of composing a proxy
//! component above it (#17, part 4, the composition floor), as a file-to-file tool for timing.
//!
//! `cargo run -p proxy-gen --example splice_forward -- IN.wasm OUT.wasm` writes IN with a
//! pass-through function between each of its core modules and every function that module imports
//! ([`proxy_gen::splice::splice_passthrough`]). Timing OUT against IN and against the
//! `proxyrt instrument -m forward` composition measures what that layout saves.

use anyhow::{bail, Context, Result};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, input, output] = args.as_slice() else {
        bail!("usage: splice_forward IN.wasm OUT.wasm");
    };
    let component = std::fs::read(input).with_context(|| format!("reading {input}"))?;
    let spliced = proxy_gen::splice::splice_passthrough(&component)
        .with_context(|| format!("splicing {input}"))?;
    std::fs::write(output, &spliced).with_context(|| format!("writing {output}"))?;
    Ok(())
}
