//! proxyrt's fuzz targets: what must hold on any input, as plain functions of bytes that panic
//! when it does not.
//!
//! - [`trace_file`] and [`trace_entries`]: the trace reader on arbitrary files (the second with
//!   every frame's checksum made right, so that mutations reach the entries and their values);
//! - [`value_decoder`]: the value format's readers on arbitrary types and bytes;
//! - [`generated_world`]: proxy-gen on random WIT worlds made into components.
//!
//! Two drivers run them: cargo-fuzz on nightly (`fuzz/libfuzzer`, coverage-guided, for long runs)
//! and [`driver::run`] on stable, a bounded seeded run that `cargo test --workspace` makes of every
//! target on its kept inputs (`fuzz/corpus/<target>`: seeds and every input a run ever failed on).

pub mod driver;
pub mod trace;
pub mod types;
pub mod value;
pub mod world;

pub use trace::{trace_entries, trace_file};
pub use value::value_decoder;
pub use world::generated_world;

/// A target: a function of the input bytes that panics on a finding.
pub type Target = fn(&[u8]);

/// Every target, by the name its corpus directory and its cargo-fuzz binary have.
pub const TARGETS: &[(&str, Target)] = &[
    ("trace_file", trace_file),
    ("trace_entries", trace_entries),
    ("value_decoder", value_decoder),
    ("generated_world", generated_world),
];
