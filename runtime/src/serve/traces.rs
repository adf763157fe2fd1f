//! The directory of `serve --record DIR`: one trace per request, `request-NNNNNN.trace`, numbered
//! in arrival order from 1.
//!
//! Why one trace per request rather than one for the server: requests run concurrently, each in
//! its own store, and one file would interleave their calls; a trace of one request is an ordinary
//! trace (one export call, its host calls, its ending), which `trace show`, `trace stats` and
//! replay read like any other. Each is written by its own recorder and finished when its guest is
//! done, so a completed request is complete on disk whatever happens to the server later.

use crate::hosts::recorder::Recorder;
use anyhow::{bail, Context, Result};
use recorder_host::functions::FunctionTable;
use recorder_host::trace::{service, Compression, Header, HttpRequestLine};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The extension of trace files in the directory.
const EXTENSION: &str = "trace";

/// The write buffer of a request's trace: a request's calls are few (a handler's trace is ~14 KB,
/// mostly the header), and a trace's default 256 KB buffer, allocated per request, cost more
/// than the whole trace.
const REQUEST_BUFFER: usize = 32 << 10;

/// Where request traces go, and the header they share.
pub struct TraceDir {
    dir: PathBuf,
    /// The header of every request's trace, but for its `request`.
    header: Header,
    /// The component's function table, made once for every request's recorder.
    table: Arc<FunctionTable>,
    /// How the traces' blocks are stored (`--trace-compression`).
    compression: Compression,
}

impl TraceDir {
    /// Creates `dir` if it is missing. A directory that already holds traces is refused: a new
    /// server would number its requests from 1 again and overwrite them, or mix two servers' runs.
    pub fn open(dir: &Path, header: Header, compression: Compression) -> Result<Self> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the trace directory {}", dir.display()))?;
        let entries = std::fs::read_dir(dir)
            .with_context(|| format!("cannot read the trace directory {}", dir.display()))?;
        for entry in entries {
            let entry = entry
                .with_context(|| format!("cannot read the trace directory {}", dir.display()))?;
            if entry.path().extension().is_some_and(|e| e == EXTENSION) {
                bail!(
                    "the trace directory {} already holds traces (e.g. {}); record into a new or \
                     empty directory",
                    dir.display(),
                    entry.file_name().to_string_lossy()
                );
            }
        }
        Ok(TraceDir {
            dir: dir.to_path_buf(),
            table: Arc::new(FunctionTable::new(&header.component)),
            header,
            compression,
        })
    }

    /// The path of the trace of request `number`.
    pub fn path(&self, number: u64) -> PathBuf {
        self.dir.join(service::request_trace_name(number))
    }

    /// Creates the trace of request `number`, `request`, with its header written.
    pub fn create(&self, number: u64, request: &HttpRequestLine) -> Result<Recorder> {
        Recorder::create_for_request(
            &self.path(number),
            &self.header,
            request,
            self.table.clone(),
            REQUEST_BUFFER,
            self.compression,
        )
    }
}
