use clap::Parser;
use proxyrt::cli::{Cli, Command, TraceCommand};
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
    let status = runtime.block_on(async {
        match cli.command {
            Command::Run(args) => proxyrt::run::run(&args).await,
            Command::Record(args) => proxyrt::recorder::record(&args).await,
            Command::Replay(args) => proxyrt::replay::replay(&args).await,
            Command::Instrument(args) => proxyrt::instrument::instrument(&args).map(|()| 0),
            Command::Trace(TraceCommand::Show(args)) => proxyrt::trace::show(&args),
            Command::Trace(TraceCommand::Stats(args)) => proxyrt::trace::stats(&args),
        }
    });
    match status {
        // Exit statuses outside 0..=255 are truncated by the OS anyway; keep the low byte, as wasmtime.
        Ok(code) => ExitCode::from(code as u8),
        Err(e) => {
            eprintln!("{}", proxyrt::run::error_report(&e));
            ExitCode::FAILURE
        }
    }
}
