//! Prints the WIT package that an input of the `generated_world` target generates, for triage:
//! `cargo run -p proxyrt-fuzz --example wit -- INPUT`.

use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(path) = std::env::args_os().nth(1) else {
        eprintln!("usage: wit INPUT");
        return ExitCode::from(2);
    };
    let data = match std::fs::read(&path) {
        Ok(data) => data,
        Err(e) => {
            eprintln!("{}: {e}", path.to_string_lossy());
            return ExitCode::FAILURE;
        }
    };
    let Some((resolve, package)) = proxyrt_fuzz::world::package(&data) else {
        eprintln!("this input generates no package");
        return ExitCode::FAILURE;
    };
    let mut printer = wit_component::WitPrinter::default();
    for (id, pkg) in resolve.packages.iter() {
        if id == package {
            continue;
        }
        if printer.print(&resolve, id, &[]).is_ok() {
            println!("// dependency {}\n{}", pkg.name, printer.output);
            printer = wit_component::WitPrinter::default();
        }
    }
    match printer.print(&resolve, package, &[]) {
        Ok(()) => {
            println!("{}", printer.output);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("printing: {e:#}");
            ExitCode::FAILURE
        }
    }
}
