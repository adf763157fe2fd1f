use clap::Parser;
use proxyrt::commands::Cli;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_time()
        .enable_io()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("Error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli.command.execute()) {
        // Exit statuses outside 0..=255 are truncated by the OS anyway; keep the low byte, as wasmtime.
        Ok(code) => ExitCode::from(code as u8),
        Err(e) => {
            eprintln!("{}", proxyrt::exit::error_report(&e));
            ExitCode::FAILURE
        }
    }
}
