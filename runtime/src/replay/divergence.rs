//! The first difference between a replayed guest and its trace, as reports show it.

use std::fmt;

/// At most this many characters of WAVE are shown per call in a divergence report.
pub const MAX_SHOWN_CHARS: usize = 300;

/// Arguments bigger than this (encoded) are not decoded for a report (decoding builds one value per
/// list element); their size is shown instead.
pub const MAX_DECODED_BYTES: usize = 64 << 10;

/// The first difference between the guest's run and the trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Divergence {
    /// The number of the trace entry that the guest did not follow (as `trace show` numbers them).
    pub entry: u64,
    /// What the trace has there: a call in WAVE, or how the recorded run ended.
    pub expected: String,
    /// What the guest did instead.
    pub actual: String,
    /// More detail when there is some (where the argument bytes first differ).
    pub detail: Option<String>,
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
