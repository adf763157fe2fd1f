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
        // The reader of our output went away (`trace show ... | head`): nothing to report.
        Err(e)
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{}", proxyrt::exit::error_report(&e));
            ExitCode::FAILURE
        }
    }
}
