//! `cli-v2`: the `cli` program rebuilt with one change, as a user changes a program between a
//! recording and a replay: it prints an extra line after its first step. Same imports and exports
//! as `cli` (the same code, `src/main.rs`), so a trace of `cli` replays on it and diverges at that
//! line's write.

#[allow(dead_code)]
#[path = "../main.rs"]
mod cli;

use std::io::Write;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    for (i, step) in args.iter().skip(1).enumerate() {
        if let Err(msg) = cli::run_step(step, &args) {
            let _ = std::io::stdout().flush();
            eprintln!("cli: {msg}");
            std::process::exit(2);
        }
        if i == 0 {
            println!("an extra line in v2");
        }
    }
}
