//! Runs one target on the given inputs, each on its own, and says which fail (a panic prints its
//! message and backtrace as usual): how a finding is reproduced and checked fixed without a
//! fuzzer. `cargo run -p proxyrt-fuzz --example run -- TARGET INPUT...`.

use std::process::ExitCode;
use std::time::Instant;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((name, inputs)) = args.split_first() else {
        eprintln!("usage: run TARGET INPUT...");
        return ExitCode::from(2);
    };
    let Some((_, target)) = proxyrt_fuzz::TARGETS.iter().find(|(n, _)| n == name) else {
        let names: Vec<_> = proxyrt_fuzz::TARGETS.iter().map(|(n, _)| *n).collect();
        eprintln!("no target `{name}`; the targets: {}", names.join(", "));
        return ExitCode::from(2);
    };
    let mut failed = 0;
    for path in inputs {
        let data = match std::fs::read(path) {
            Ok(data) => data,
            Err(e) => {
                eprintln!("{path}: {e}");
                failed += 1;
                continue;
            }
        };
        let start = Instant::now();
        match std::panic::catch_unwind(|| target(&data)) {
            Ok(()) => println!("{path}: ok ({:.1?})", start.elapsed()),
            Err(_) => {
                println!("{path}: FAILED");
                failed += 1;
            }
        }
    }
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
