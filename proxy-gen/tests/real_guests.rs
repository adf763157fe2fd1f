//! Record-mode instrumentation of the real guests of `tests/guests` (Rust std programs for
//! wasm32-wasip2 and the no_std type zoo) and of the shared WAT fixtures.
//!
//! Execution of the compositions is tested at the runtime level (proxyrt); here: they validate and
//! have exactly the guest's imports and exports.

mod common;
use common::*;

#[test]
fn every_guest_composes() {
    for (name, path) in proxyrt_test_guests::ALL_GUESTS {
        let guest = std::fs::read(path).unwrap_or_else(|e| panic!("{name}: {path}: {e}"));
        let start = std::time::Instant::now();
        let composed = instrument_and_check(&guest);
        assert!(composed.replay.is_some(), "{name}: replay not supported");
        // Stronger than the structural check: the decoded WIT prints identically, `use` links
        // and alias names included, but for the one alias wac-graph is known to flatten when it
        // re-encodes the composition's imports (DESIGN.md, "Limits and gotchas": wasi:http's
        // `type field-name = field-key` becomes `= string`, the same type).
        let flattened =
            |wit: String| wit.replace("type field-name = field-key;", "type field-name = string;");
        assert_eq!(
            flattened(printed_wit(&guest)),
            flattened(printed_wit(&composed.forward)),
            "{name}: WIT differs"
        );
        eprintln!(
            "{name}: {} -> {} (forward) / {} (record) / {} (replay) bytes, instrument x3 + checks {:?}",
            guest.len(),
            composed.forward.len(),
            composed.record.len(),
            composed.replay.as_ref().map_or(0, Vec::len),
            start.elapsed()
        );
    }
}

#[test]
fn wasi_cli_guest_imports_versioned_wasi() {
    let guest = std::fs::read(proxyrt_test_guests::CLI).unwrap();
    let info = proxy_gen::analyze(&guest).unwrap();
    assert!(
        info.imported_interfaces.len() >= 18,
        "{:?}",
        info.imported_interfaces
    );
    let streams = info
        .imported_interfaces
        .iter()
        .find(|i| i.name.starts_with("wasi:io/streams@0.2."))
        .expect("wasi:io/streams@0.2.x imported");
    assert_eq!(streams.package.as_deref(), Some("wasi:io"));
    assert!(streams
        .version
        .as_deref()
        .is_some_and(|v| v.starts_with("0.2.")));
    assert!(streams.resources.contains(&"output-stream".to_string()));
    assert!(info
        .exported_interfaces
        .iter()
        .any(|i| i.name.starts_with("wasi:cli/run@0.2")));
}

#[test]
fn wat_fixtures() {
    use proxy_gen::{instrument, Error, Mode};
    let err = instrument(&proxyrt_test_guests::core_module(), Mode::Record).unwrap_err();
    assert!(matches!(err, Error::CoreModule), "{err:?}");
    for bytes in [
        proxyrt_test_guests::missing_import(),
        proxyrt_test_guests::no_run(),
        proxyrt_test_guests::run_ok(),
        proxyrt_test_guests::run_err(),
        proxyrt_test_guests::run_trap(),
    ] {
        instrument_and_check(&bytes);
    }
}
