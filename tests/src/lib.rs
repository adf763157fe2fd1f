//! Paths of the guest components and WAT fixtures that proxyrt's tests and benches run.
//!
//! The guests are real programs built from source in `tests/guests/` (a separate cargo workspace,
//! target `wasm32-wasip2`, which produces components directly) by this crate's `build.rs`, so the
//! tests never depend on checked-in binaries and every toolchain change is exercised. What each
//! guest does, the `cli` step grammar and the `zoo` world: `tests/guests/README.md`.
//!
//! The constants are absolute paths of `.wasm` files in this crate's OUT_DIR (copies of the
//! guest build's outputs, so they stay valid while another build rebuilds the guests). Read them
//! with `std::fs::read` or hand them to `proxyrt run` / `Component::from_file`.
//!
//! Building this crate needs the `wasm32-wasip2` target (`rustup target add wasm32-wasip2`); the
//! first build compiles the guests (about a minute on 2 cores), later ones reuse
//! `<target dir>/guests` (or `$PROXYRT_GUESTS_TARGET_DIR`).

include!(concat!(env!("OUT_DIR"), "/guests.rs"));

/// The directory of the guests' sources, `tests/guests`.
pub const GUESTS_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/guests");

/// The zoo's WIT package (`proxyrt:zoo@0.1.0`, worlds `zoo` and `zoo-host`).
pub const ZOO_WIT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/guests/zoo/wit/world.wit");

/// What the zoo's `exercise-host` export returns, one entry per line, when its `host` import
/// behaves as documented in [`ZOO_WIT`] (as [`ZOO_HOST`] does). A host implementation for tests
/// can be checked against it.
pub const ZOO_EXERCISE_HOST_EXPECTED: &str = include_str!("../guests/zoo/exercise-host.expected");

/// [`ZOO_EXERCISE_HOST_EXPECTED`] as the list `exercise-host` returns.
pub fn zoo_exercise_host_expected() -> Vec<String> {
    ZOO_EXERCISE_HOST_EXPECTED
        .lines()
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_artifact_exists_and_is_wasm() {
        for (name, path) in ALL_GUESTS.iter().chain(ALL_FIXTURES) {
            let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{name}: {path}: {e}"));
            assert_eq!(&bytes[..4], b"\0asm", "{name}: {path}");
        }
        // Components have layer 1 in the header; the core module has layer 0.
        assert_eq!(&std::fs::read(CLI).unwrap()[4..8], &[0x0d, 0, 0x01, 0]);
        assert_eq!(&core_module()[4..8], &[1, 0, 0, 0]);
    }

    #[test]
    fn cli_builds_differ() {
        assert_ne!(std::fs::read(CLI).unwrap(), std::fs::read(CLI_O0).unwrap());
    }

    #[test]
    fn expected_exercise_host_output_is_there() {
        let lines = zoo_exercise_host_expected();
        assert_eq!(lines.first().map(String::as_str), Some("ping() = ()"));
        assert!(lines.len() > 60);
    }
}
