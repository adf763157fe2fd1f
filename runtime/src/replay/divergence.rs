//! The first difference between a replayed guest and its trace, as reports show it: what the
//! trace has and what the guest did (values as people read them), what differs in the values,
//! where in the guest it happened (its wasm backtrace, with source lines where the component has
//! DWARF), the calls just before, and the tail of what the guest had written. A person acts on the
//! text ([`Divergence`]'s `Display`); programs (`replay --report-json`, `bench --json`) read
//! [`Divergence::json`].

use recorder_host::value::is_text;
use serde::Serialize;
use std::fmt;

/// At most this many characters of a value are shown per call in a divergence report.
pub const MAX_SHOWN_CHARS: usize = 300;

/// Arguments bigger than this (encoded) are not decoded for a report (decoding builds one value per
/// list element); their size is shown instead.
pub const MAX_DECODED_BYTES: usize = 64 << 10;

/// At most this many backtrace frames are printed (the JSON has them all).
const MAX_PRINTED_FRAMES: usize = 12;

/// The first difference between the guest's run and the trace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Divergence {
    /// The number of the trace entry that the guest did not follow (as `trace show` numbers them).
    pub entry: u64,
    /// What the trace has there: a call, or how the recorded run ended.
    pub expected: String,
    /// What the guest did instead.
    pub actual: String,
    /// What differs in the values (for a call of the same function: the first argument, field or
    /// element that differs), or more about the difference.
    pub detail: Option<String>,
    /// Where the guest was: its wasm frames, innermost first (empty when the guest was not
    /// running: it had returned from its export, or was not instantiated yet).
    pub backtrace: Vec<Frame>,
    /// When the backtrace is not of the divergence itself: what it is of (for a guest that
    /// ended otherwise than recorded, "its last host call, before it ended").
    pub backtrace_of: Option<String>,
    /// The trace's last calls before the entry, as `trace show` prints them.
    pub before: Vec<String>,
    /// The end of what the guest had written to its stdout and stderr (as recorded, since it
    /// followed the trace until here), and how many bytes it wrote in all.
    pub stdout_tail: Vec<u8>,
    pub stdout_total: u64,
    pub stderr_tail: Vec<u8>,
    pub stderr_total: u64,
}

/// A wasm frame of the guest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Frame {
    /// The function, demangled: from DWARF when the component has it, else from its name section,
    /// else `<wasm function N>`.
    pub function: String,
    /// The source position, from DWARF.
    pub file: Option<String>,
    pub line: Option<u32>,
    pub column: Option<u32>,
}

impl Frame {
    /// Whether the frame is in a toolchain's library rather than the program's own code, by its
    /// source file: Rust's standard library (`/rustc/<hash>/library/...`), wasi-libc of the WASI
    /// SDK (`wasisdk://...`), a crate from the cargo registry; without DWARF, by its name: Rust's
    /// `std`, `core` and `alloc`, its panic and start-up machinery, libc's `abort`.
    pub fn is_library(&self) -> bool {
        match self.file.as_deref() {
            Some(file) => {
                file.starts_with("/rustc/")
                    || file.starts_with("wasisdk://")
                    || file.contains("/.cargo/registry/")
                    || file.contains("/rustlib/")
            }
            None => {
                let f = self.function.as_str();
                [
                    "std::", "std[", "core::", "core[", "alloc::", "alloc[", "__rust",
                ]
                .iter()
                .any(|p| f.starts_with(p))
                    || matches!(
                        f,
                        "abort" | "rust_panic" | "rust_begin_unwind" | "__main_void" | "_start"
                    )
            }
        }
    }
}

impl fmt::Display for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.function)?;
        if let Some(file) = &self.file {
            write!(f, " ({file}")?;
            if let Some(line) = self.line {
                write!(f, ":{line}")?;
            }
            write!(f, ")")?;
        }
        Ok(())
    }
}

/// The tail of an output stream, quoted: `"…last line\n"`.
fn tail(bytes: &[u8], total: u64) -> String {
    let text = match is_text(bytes) {
        Some(t) => t.to_string(),
        None => String::from_utf8_lossy(bytes).into_owned(),
    };
    let mut quoted = String::from("\"");
    if total > bytes.len() as u64 {
        quoted.push('…');
    }
    for ch in text.chars() {
        match ch {
            '"' | '\\' | '\t' | '\r' | '\n' => quoted.extend(ch.escape_default()),
            c if c.is_control() => quoted.extend(c.escape_unicode()),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

impl Divergence {
    /// The report for programs: every field, output tails as (lossy) text.
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "entry": self.entry,
            "expected": self.expected,
            "actual": self.actual,
            "detail": self.detail,
            "backtrace": self.backtrace,
            "backtrace_of": self.backtrace_of,
            "before": self.before,
            "stdout_tail": String::from_utf8_lossy(&self.stdout_tail),
            "stdout_bytes": self.stdout_total,
            "stderr_tail": String::from_utf8_lossy(&self.stderr_tail),
            "stderr_bytes": self.stderr_total,
        })
    }
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "replay diverged from the trace at entry #{}:",
            self.entry
        )?;
        writeln!(f, "  expected (trace): {}", self.expected)?;
        write!(f, "  actual (guest):   {}", self.actual)?;
        if let Some(detail) = &self.detail {
            write!(f, "\n  {detail}")?;
        }
        if !self.backtrace.is_empty() {
            match &self.backtrace_of {
                None => write!(f, "\n  in the guest (innermost frame first):")?,
                Some(of) => write!(f, "\n  in the guest, at {of} (innermost frame first):")?,
            }
            let mut printed = 0;
            let mut frames = self.backtrace.iter().enumerate().peekable();
            while let Some((i, frame)) = frames.next() {
                if printed == MAX_PRINTED_FRAMES {
                    let more = self.backtrace.len() - i;
                    write!(f, "\n    … {more} more frames")?;
                    break;
                }
                // The innermost frame says what the guest called; after it, a run of the
                // toolchain's library frames is one line, so the program's own code shows.
                if i > 0 && frame.is_library() {
                    let mut run = 1;
                    while frames.next_if(|(_, f)| f.is_library()).is_some() {
                        run += 1;
                    }
                    let frames = if run == 1 { "frame" } else { "frames" };
                    write!(f, "\n    … {run} {frames} in the toolchain's libraries")?;
                } else {
                    write!(f, "\n    at {frame}")?;
                }
                printed += 1;
            }
        }
        if !self.before.is_empty() {
            write!(f, "\n  before it, in the trace:")?;
            for line in &self.before {
                write!(f, "\n    {line}")?;
            }
        }
        for (name, bytes, total) in [
            ("stdout", &self.stdout_tail, self.stdout_total),
            ("stderr", &self.stderr_tail, self.stderr_total),
        ] {
            if total > 0 {
                write!(
                    f,
                    "\n  the guest's {name} so far ({total} bytes), ending: {}",
                    tail(bytes, total)
                )?;
            }
        }
        Ok(())
    }
}

/// Shortens `s` to [`MAX_SHOWN_CHARS`] characters, saying how much was left out.
pub fn truncate(s: String) -> String {
    match s.char_indices().nth(MAX_SHOWN_CHARS) {
        None => s,
        Some((cut, _)) => {
            let more = s[cut..].chars().count();
            format!("{}… ({more} more characters)", &s[..cut])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(function: &str, file: Option<&str>, line: u32) -> Frame {
        Frame {
            function: function.into(),
            file: file.map(str::to_string),
            line: file.map(|_| line),
            column: None,
        }
    }

    /// The whole report, pinned: what people read first must not change by accident.
    #[test]
    fn the_report_reads_as_pinned() {
        let d = Divergence {
            entry: 15,
            expected: r#"w(1 (stdout), "second\n" (7 bytes))"#.into(),
            actual: r#"w(1 (stdout), "an extra line in v2\n" (20 bytes))"#.into(),
            detail: Some("(differs in contents: ...)".into()),
            backtrace: vec![
                frame("write", Some("wasisdk://v30.0/src/write.c"), 59),
                frame(
                    "std::io::stdio::_print",
                    Some("/rustc/abc/library/std/src/io/stdio.rs"),
                    1,
                ),
                frame(
                    "<std::io::Stdout>::write",
                    Some("/rustc/abc/library/std/src/io/mod.rs"),
                    2,
                ),
                frame("app::main", Some("/src/app/src/main.rs"), 21),
                frame(
                    "std::rt::lang_start",
                    Some("/rustc/abc/library/std/src/rt.rs"),
                    3,
                ),
                frame("_start", None, 0),
            ],
            backtrace_of: None,
            before: vec!["#13 w(1 (stdout))".into(), "#14   -> ok".into()],
            stdout_tail: b"first\n".to_vec(),
            stdout_total: 6,
            stderr_tail: b"oops\n".to_vec(),
            stderr_total: 300,
        };
        assert_eq!(
            d.to_string(),
            r#"replay diverged from the trace at entry #15:
  expected (trace): w(1 (stdout), "second\n" (7 bytes))
  actual (guest):   w(1 (stdout), "an extra line in v2\n" (20 bytes))
  (differs in contents: ...)
  in the guest (innermost frame first):
    at write (wasisdk://v30.0/src/write.c:59)
    … 2 frames in the toolchain's libraries
    at app::main (/src/app/src/main.rs:21)
    … 2 frames in the toolchain's libraries
  before it, in the trace:
    #13 w(1 (stdout))
    #14   -> ok
  the guest's stdout so far (6 bytes), ending: "first\n"
  the guest's stderr so far (300 bytes), ending: "…oops\n""#
        );
        let json = d.json();
        assert_eq!(json["backtrace"][3]["function"], "app::main");
        assert_eq!(json["backtrace"][3]["line"], 21);
        assert_eq!(json["stderr_bytes"], 300);
        // The other divergences: no backtrace, no context, as before.
        let plain = Divergence {
            entry: 2,
            expected: "f(8)".into(),
            actual: "f(16)".into(),
            ..Divergence::default()
        };
        assert_eq!(
            plain.to_string(),
            "replay diverged from the trace at entry #2:\n  expected (trace): f(8)\n  actual (guest):   f(16)"
        );
    }
}
