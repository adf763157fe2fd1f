//! The store data of one request's guest: the real hosts (WASI, wasi:http) and, with `--record`,
//! the request's own recorder, composed through their view traits as `live::LiveHost` is.

use crate::hosts::recorder::{Recorder, RecorderView};
use crate::hosts::wasi::WasiHost;
use wasmtime_wasi::{WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtxView, WasiHttpView};

/// What a request's store holds: its hosts, and its trace while it is being recorded.
pub struct HttpHost {
    pub wasi: WasiHost,
    /// The request's trace; taken out to be finished once the guest is done.
    pub recorder: Option<Recorder>,
}

impl WasiView for HttpHost {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        self.wasi.ctx()
    }
}

impl WasiHttpView for HttpHost {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        self.wasi.http()
    }
}

impl RecorderView for HttpHost {
    fn recorder(&mut self) -> &mut Option<Recorder> {
        &mut self.recorder
    }
}
