//! The hosts a live store can be made of. Each is a separate piece with its own state and its own
//! `add_to_linker`, generic over the store's data through a view trait (the style of
//! wasmtime-wasi's `WasiView`), so that a command composes the ones it needs and none of them
//! knows another:
//!
//! - [`wasi`]: the real WASI hosts (wasmtime-wasi, and wasmtime-wasi-http on request);
//! - [`recorder`]: `proxyrt:recorder/recorder`, which a record-mode proxy reports every host call to.
//!
//! The third host, `proxyrt:recorder/replayer`, which answers a replay-mode proxy's calls from a
//! source of host results, is [`crate::replay::host`], beside the replay's other parts.

pub mod recorder;
pub mod wasi;
