//! proxyrt's recorder host side: the trace format ([`trace`]) written while recording and read while
//! replaying. The WIT of the interfaces the proxy imports lives in `wit/`.

pub mod functions;
pub mod trace;
pub mod types;
pub mod value;
