//! The error type of proxy-gen's public API.
//!
//! Callers (the `proxyrt` CLI) show these messages to users, so each variant says what is wrong with
//! the input and, where there is one, what to do about it. Internal failures (a bug in proxy-gen or in
//! a wasm-tools crate) are kept apart from bad input so that a report can tell the two apart.

/// Everything that can go wrong in [`crate::analyze`] and [`crate::instrument`].
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The bytes do not start with the `\0asm` magic number.
    #[error("input is not WebAssembly: it does not start with the `\\0asm` magic header")]
    NotWasm,

    /// A core module was given where a component is required.
    #[error(
        "this is a core wasm module, not a component: proxyrt instruments WebAssembly components \
         (build for `wasm32-wasip2`, or wrap the module with `wasm-tools component new`)"
    )]
    CoreModule,

    /// The bytes have a WebAssembly header, but not one of a known core module or component version.
    #[error("unsupported WebAssembly binary version/layer {0:#010x}")]
    UnknownVersion(u32),

    /// A core module that cannot be made a component with the preview-1 command adapter
    /// ([`crate::adapt_command`]): not a WASI command, or invalid.
    #[error("{0:#}")]
    NotACommand(anyhow::Error),

    /// The component does not validate or its WIT cannot be decoded.
    #[error("malformed component: {0:#}")]
    Malformed(anyhow::Error),

    /// The component uses something this version of proxy-gen cannot proxy yet.
    #[error("unsupported by proxy-gen: {0}")]
    Unsupported(String),

    /// proxy-gen produced something invalid or a composition step failed: a bug, not bad input.
    #[error("internal error in proxy-gen (please report it with the input component): {0:#}")]
    Internal(anyhow::Error),
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Marks an `anyhow` error from the generators as "input uses something not supported yet", so
/// that [`crate::instrument`] reports [`Error::Unsupported`] rather than an internal error.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct UnsupportedFeature(pub String);

/// `bail!` with an [`UnsupportedFeature`].
macro_rules! unsupported {
    ($($arg:tt)*) => {
        return Err(anyhow::Error::new($crate::error::UnsupportedFeature(format!($($arg)*))))
    };
}
pub(crate) use unsupported;

impl Error {
    /// Classifies a generator failure: unsupported input, or an internal error.
    pub(crate) fn from_generator(e: anyhow::Error) -> Error {
        match e
            .chain()
            .find_map(|c| c.downcast_ref::<UnsupportedFeature>())
        {
            Some(u) => Error::Unsupported(format!("{u} ({e:#})")),
            None => Error::Internal(e),
        }
    }
}
