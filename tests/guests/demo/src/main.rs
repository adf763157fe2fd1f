//! `demo`: the bundled example of proxyrt's README (`examples/demo.wasm`).
//!
//! Usage: `demo [NAME]` (or the `NAME` environment variable; default "world").
//! It greets, prints the wall-clock time and a few random bytes, and, if a directory is preopened
//! at `/data` (`--dir some/dir::/data`), writes `/data/demo.txt` and reads it back. It never reads
//! stdin. Every run differs (time, random), which is what a record/replay demo wants to show.

use std::time::{SystemTime, UNIX_EPOCH};

fn main() {
    let name = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("NAME").ok())
        .unwrap_or_else(|| "world".to_string());
    println!("Hello, {name}!");

    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => println!(
            "The time is {}.{:03} s since the Unix epoch.",
            d.as_secs(),
            d.subsec_millis()
        ),
        Err(e) => println!("The clock is before the Unix epoch ({e})."),
    }

    let bytes = wasip2::random::random::get_random_bytes(8);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    println!("Your lucky bytes: {hex}");

    let dir = std::path::Path::new("/data");
    if dir.is_dir() {
        let file = dir.join("demo.txt");
        let text = format!("{name} was here; lucky bytes {hex}\n");
        match std::fs::write(&file, &text).and_then(|()| std::fs::read_to_string(&file)) {
            Ok(back) => print!("Wrote and read back {}: {back}", file.display()),
            Err(e) => println!("Could not write {}: {e}", file.display()),
        }
    } else {
        println!("(No /data directory: run with `--dir <host-dir>::/data` to also write a file.)");
    }
}
