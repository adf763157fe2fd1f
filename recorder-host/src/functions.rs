//! The function table of a component: its intercepted imports and its exports, by id, each with
//! its name as reports show it and its WIT types; and how a call's encoded values are shown.
//! Recording, replaying and `trace show` all name functions and show values this one way, so a
//! divergence report and a trace listing say the same thing about the same call.

use crate::types::{ComponentInfo, InterceptedFunction, ValueType};
use crate::value::{show_all, wave, Decoder, HandleNames};
use std::sync::{Arc, OnceLock};

/// An imported or exported function, as a trace's entries refer to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Function {
    /// The qualified name ([`InterceptedFunction::qualified_name`]):
    /// `wasi:io/streams@0.2.6.[method]output-stream.write`, or a bare name.
    pub name: String,
    /// The interface it belongs to (`None` for a function of the world).
    pub interface: Option<String>,
    /// Its name in the interface (`[method]output-stream.write`).
    pub func: String,
    /// The parameters' types: what its encoded arguments are made of. For an export, the
    /// handles the host creates are left out ([`ComponentInfo::is_host_handle`]): they are
    /// recorded as calls of their own.
    pub params: Vec<ValueType>,
    /// The parameters' names, as the WIT names them (`self`, `contents`): how a divergence
    /// report names the argument that differs.
    pub param_names: Vec<String>,
    /// The result type, if any.
    pub result: Option<ValueType>,
}

impl Function {
    fn of(f: InterceptedFunction<'_>) -> Self {
        Function {
            name: f.qualified_name(),
            interface: f.interface.map(str::to_string),
            func: f.function.name.clone(),
            params: f.param_types(),
            param_names: f.function.params.iter().map(|(n, _)| n.clone()).collect(),
            result: f.function.result.clone(),
        }
    }

    /// [`Self::show_args`] as people read them ([`readable_values`]).
    pub fn readable_args(
        &self,
        bytes: &[u8],
        max_decoded: Option<usize>,
        names: &dyn HandleNames,
    ) -> String {
        format!(
            "({})",
            readable_values(&self.params, bytes, max_decoded, names)
        )
    }

    /// [`Self::show_results`] as people read them ([`readable_values`]).
    pub fn readable_results(
        &self,
        bytes: &[u8],
        max_decoded: Option<usize>,
        names: &dyn HandleNames,
    ) -> String {
        if self.result.is_none() && bytes.is_empty() {
            return "()".into();
        }
        readable_values(self.result.as_slice(), bytes, max_decoded, names)
    }

    /// The encoded arguments `bytes` as a WAVE tuple, `(1, "x")`; `(<N bytes of values>)` when
    /// there are more than `max_decoded` bytes (if `Some`), `(<undecodable: {e}; N bytes>)` when
    /// they are not values of the parameters' types.
    pub fn show_args(&self, bytes: &[u8], max_decoded: Option<usize>) -> String {
        format!("({})", show_values(&self.params, bytes, max_decoded))
    }

    /// The encoded results `bytes`: `()` for a function without result that returned nothing,
    /// else the value in WAVE (bare, not in a tuple), or what [`show_values`] says instead.
    pub fn show_results(&self, bytes: &[u8], max_decoded: Option<usize>) -> String {
        if self.result.is_none() && bytes.is_empty() {
            return "()".into();
        }
        show_values(self.result.as_slice(), bytes, max_decoded)
    }
}

/// `bytes` decoded as one value of each of `types`, in WAVE separated by commas (`1, "x"`);
/// `<N bytes of values>` when there are more than `max_decoded` bytes (if `Some`: decoding and
/// showing a large write is not worth it in a report), `<undecodable: {e}; N bytes>` when they
/// are not such values.
pub fn show_values(types: &[ValueType], bytes: &[u8], max_decoded: Option<usize>) -> String {
    if max_decoded.is_some_and(|max| bytes.len() > max) {
        return format!("<{} bytes of values>", bytes.len());
    }
    match Decoder::decode_all(bytes, types) {
        Ok(values) => values.iter().map(wave).collect::<Vec<_>>().join(", "),
        Err(e) => format!("<undecodable: {e}; {} bytes>", bytes.len()),
    }
}

/// [`show_values`] as people read them (`crate::value::show`): text and bytes readable, long
/// values cut in the middle, handles named by `names`; the same `<...>` when there are too many
/// bytes or they are not values of `types`.
pub fn readable_values(
    types: &[ValueType],
    bytes: &[u8],
    max_decoded: Option<usize>,
    names: &dyn HandleNames,
) -> String {
    if max_decoded.is_some_and(|max| bytes.len() > max) {
        return format!("<{} bytes of values>", bytes.len());
    }
    match show_all(types, bytes, names) {
        Ok(shown) => shown,
        Err(e) => format!("<undecodable: {e}; {} bytes>", bytes.len()),
    }
}

/// A component's functions by id: its intercepted imports (the `func` of `Call` entries and the
/// recorder's `func-id`) and its exports (the `func` of export entries).
#[derive(Debug, Clone, Default)]
pub struct FunctionTable {
    info: Arc<ComponentInfo>,
    /// Each made on first use: a replay that does not diverge never shows an import, and a
    /// recording only looks its exports up. Making every [`Function`] copies every name and type
    /// of the component, ~0.1 ms of each `replay` and `record` process before this was lazy.
    imports: OnceLock<Vec<Function>>,
    exports: OnceLock<Vec<Function>>,
}

/// Tables of the same component are equal.
impl PartialEq for FunctionTable {
    fn eq(&self, other: &Self) -> bool {
        self.info == other.info
    }
}

impl Eq for FunctionTable {}

impl FunctionTable {
    /// The table of `info`: imports in [`ComponentInfo::intercepted_functions`] order, exports
    /// in [`ComponentInfo::exports`] order, so that an id indexes each.
    pub fn new(info: &Arc<ComponentInfo>) -> Self {
        FunctionTable {
            info: info.clone(),
            imports: OnceLock::new(),
            exports: OnceLock::new(),
        }
    }

    /// The component's interfaces, which the table is made from.
    pub fn info(&self) -> &ComponentInfo {
        &self.info
    }

    /// The intercepted import of id `id`.
    pub fn import(&self, id: u32) -> Option<&Function> {
        self.imports().get(usize::try_from(id).ok()?)
    }

    /// The export of id `id`.
    pub fn export(&self, id: u32) -> Option<&Function> {
        self.exports().get(usize::try_from(id).ok()?)
    }

    /// Every intercepted import, indexed by id.
    pub fn imports(&self) -> &[Function] {
        self.imports.get_or_init(|| {
            self.info
                .intercepted_functions()
                .map(Function::of)
                .collect()
        })
    }

    /// Every export, indexed by id.
    pub fn exports(&self) -> &[Function] {
        self.exports.get_or_init(|| {
            let info = &self.info;
            info.exports()
                .map(|f| {
                    let params = info.recorded_params(&f);
                    // The host's handles are left out of the types: out of the names too.
                    let param_names = f
                        .function
                        .params
                        .iter()
                        .filter(|(_, t)| !info.is_host_handle(t))
                        .map(|(n, _)| n.clone())
                        .collect();
                    Function {
                        params,
                        param_names,
                        ..Function::of(f)
                    }
                })
                .collect()
        })
    }

    /// The export `name` of `interface` (`None`: a function of the world) and its id.
    /// `interface` may omit the version, as the host's bindings name exported instances:
    /// `wasi:cli/run` finds `wasi:cli/run@0.2.0`'s `run`. The first match wins.
    pub fn find_export(&self, interface: Option<&str>, name: &str) -> Option<(u32, &Function)> {
        let same_interface = |have: Option<&str>| match (have, interface) {
            (None, None) => true,
            (Some(have), Some(want)) => {
                have == want || have.split_once('@').is_some_and(|(base, _)| base == want)
            }
            _ => false,
        };
        self.exports()
            .iter()
            .enumerate()
            .find(|(_, f)| f.func == name && same_interface(f.interface.as_deref()))
            .and_then(|(id, f)| Some((u32::try_from(id).ok()?, f)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_info::{func, iface as interface};
    use crate::types::{ResourceDrop, ResourceRef};

    const RANDOM: &str = "wasi:random/random@0.2.6";
    const STREAMS: &str = "wasi:io/streams@0.2.6";

    fn info() -> ComponentInfo {
        let stream = ResourceRef {
            interface: Some(STREAMS.into()),
            name: "output-stream".into(),
        };
        ComponentInfo {
            imported_interfaces: vec![
                interface(
                    RANDOM,
                    vec![func(
                        "get-random-bytes",
                        vec![ValueType::U64],
                        Some(ValueType::List(Box::new(ValueType::U8))),
                    )],
                ),
                interface(
                    "wasi:cli/exit@0.2.6",
                    vec![func("exit-with-code", vec![ValueType::U8], None)],
                ),
            ],
            imported_functions: vec![func("log", vec![ValueType::String, ValueType::U32], None)],
            exported_interfaces: vec![interface(
                "wasi:cli/run@0.2.0",
                vec![func(
                    "run",
                    vec![],
                    Some(ValueType::Result {
                        ok: None,
                        err: None,
                    }),
                )],
            )],
            exported_functions: vec![func("run", vec![ValueType::S32], Some(ValueType::S32))],
            resource_drops: vec![ResourceDrop::new(STREAMS, "output-stream", stream)],
            ..Default::default()
        }
    }

    #[test]
    fn ids_follow_the_component_info() {
        let info = info();
        let table = FunctionTable::new(&Arc::new(info.clone()));
        let names: Vec<&str> = table.imports().iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "wasi:random/random@0.2.6.get-random-bytes",
                "wasi:cli/exit@0.2.6.exit-with-code",
                "log",
                "wasi:io/streams@0.2.6.[resource-drop]output-stream",
            ]
        );
        for f in info.intercepted_functions() {
            let got = table.import(f.id).expect("every id");
            assert_eq!(got.name, f.qualified_name());
            assert_eq!(got.interface.as_deref(), f.interface);
            assert_eq!(got.func, f.function.name);
            assert_eq!(got.params, f.param_types());
            assert_eq!(got.result, f.function.result);
        }
        assert_eq!(table.import(4), None);
        assert_eq!(table.import(u32::MAX), None);
        assert_eq!(table.exports().len(), 2);
        assert_eq!(table.export(1).map(|f| f.name.as_str()), Some("run"));
        assert_eq!(table.export(2), None);
    }

    #[test]
    fn exports_are_found_with_or_without_the_version() {
        let table = FunctionTable::new(&info().into());
        let run = |i, n| table.find_export(i, n).map(|(id, f)| (id, f.name.as_str()));
        assert_eq!(
            run(Some("wasi:cli/run"), "run"),
            Some((0, "wasi:cli/run@0.2.0.run"))
        );
        assert_eq!(
            run(Some("wasi:cli/run@0.2.0"), "run"),
            Some((0, "wasi:cli/run@0.2.0.run"))
        );
        assert_eq!(run(None, "run"), Some((1, "run")));
        assert_eq!(run(Some("wasi:cli/run@0.2"), "run"), None);
        assert_eq!(run(Some("wasi:cli"), "run"), None);
        assert_eq!(run(Some("wasi:cli/run"), "nope"), None);
    }

    #[test]
    fn values_are_shown_as_trace_show_and_replay_reports_show_them() {
        let table = FunctionTable::new(&info().into());
        let random = table.import(0).unwrap();
        assert_eq!(random.show_args(&[16], None), "(16)");
        assert_eq!(random.show_results(&[3, 1, 2, 255], None), "[1, 2, 255]");
        assert_eq!(random.show_results(&[3, 1, 2, 255], Some(4)), "[1, 2, 255]");
        assert_eq!(
            random.show_results(&[3, 1, 2, 255], Some(3)),
            "<4 bytes of values>"
        );
        assert_eq!(random.show_args(&[16, 0], Some(1)), "(<2 bytes of values>)");
        assert_eq!(
            random.show_args(&[16, 0], None),
            "(<undecodable: byte 1: 1 unexpected trailing bytes; 2 bytes>)"
        );
        assert_eq!(
            random.show_results(&[3, 1], None),
            "<undecodable: byte 1: length 3 exceeds the 1 bytes left; 2 bytes>"
        );
        // No result: `()` for no bytes, bytes that should not be there are undecodable.
        let exit = table.import(1).unwrap();
        assert_eq!(exit.show_args(&[3], None), "(3)");
        assert_eq!(exit.show_results(&[], None), "()");
        assert_eq!(exit.show_results(&[], Some(0)), "()");
        assert_eq!(
            exit.show_results(&[0], None),
            "<undecodable: byte 0: 1 unexpected trailing bytes; 1 bytes>"
        );
        let log = table.import(2).unwrap();
        assert_eq!(log.show_args(&[1, b'x', 7], None), "(\"x\", 7)");
        assert_eq!(show_values(&log.params, &[1, b'x', 7], Some(3)), "\"x\", 7");
        assert_eq!(table.import(3).unwrap().show_args(&[4], None), "(4)");
        // Exports: a result-only `result` and a plain one.
        let run = table.export(0).unwrap();
        assert_eq!(run.show_args(&[], None), "()");
        assert_eq!(run.show_results(&[1], None), "err");
        let bare = table.export(1).unwrap();
        assert_eq!(bare.show_args(&[3], None), "(-2)");
        assert_eq!(bare.show_results(&[4], None), "2");
        assert_eq!(
            bare.show_results(&[], None),
            "<undecodable: byte 0: 1 bytes needed, 0 left; 0 bytes>"
        );
    }

    /// What the runtime printed before it used this table, copied from it at 29ed716
    /// (`runtime/src/trace.rs` `show_args`/`show_results`, `runtime/src/replay.rs`
    /// `decode_args`/`decode_values` and the values of `describe_export_return`): the table must
    /// print exactly the same.
    mod before {
        use super::super::Function;
        use crate::types::ValueType;
        use crate::value::{wave, wave_args, Decoder};

        pub fn trace_show_args(f: &Function, bytes: &[u8]) -> String {
            match Decoder::decode_all(bytes, &f.params) {
                Ok(values) => wave_args(&values),
                Err(e) => format!("(<undecodable: {e}; {} bytes>)", bytes.len()),
            }
        }

        pub fn trace_show_results(f: &Function, bytes: &[u8]) -> String {
            match f {
                Function { result: None, .. } if bytes.is_empty() => "()".into(),
                f => match Decoder::decode_all(bytes, f.result.as_ref()) {
                    Ok(values) => values.iter().map(wave).collect::<Vec<_>>().join(", "),
                    Err(e) => format!("<undecodable: {e}; {} bytes>", bytes.len()),
                },
            }
        }

        pub fn replay_decode_args(types: &[ValueType], bytes: &[u8], max: usize) -> String {
            format!("({})", replay_decode_values(types, bytes, max))
        }

        pub fn replay_decode_values(types: &[ValueType], bytes: &[u8], max: usize) -> String {
            if bytes.len() > max {
                return format!("<{} bytes of values>", bytes.len());
            }
            match Decoder::decode_all(bytes, types) {
                Ok(values) => values.iter().map(wave).collect::<Vec<_>>().join(", "),
                Err(e) => format!("<undecodable: {e}; {} bytes>", bytes.len()),
            }
        }

        pub fn replay_export_results(f: &Function, results: &[u8], max: usize) -> String {
            match f {
                Function { result: None, .. } if results.is_empty() => "()".to_string(),
                f => replay_decode_values(f.result.as_slice(), results, max),
            }
        }
    }

    #[test]
    fn values_are_shown_exactly_as_before() {
        let table = FunctionTable::new(&info().into());
        let alphabet = [0u8, 1, 2, 3, b'x', 0x80, 0xff];
        let mut inputs: Vec<Vec<u8>> = vec![vec![]];
        for &a in &alphabet {
            inputs.push(vec![a]);
            for &b in &alphabet {
                inputs.push(vec![a, b]);
                inputs.push(vec![a, b, b'x']);
            }
        }
        for f in table.imports().iter().chain(table.exports()) {
            for bytes in &inputs {
                let shown = (f.show_args(bytes, None), f.show_results(bytes, None));
                let expected = (
                    before::trace_show_args(f, bytes),
                    before::trace_show_results(f, bytes),
                );
                assert_eq!(shown, expected, "{} {bytes:?}", f.name);
                for max in 0..4 {
                    let shown = (
                        f.show_args(bytes, Some(max)),
                        f.show_results(bytes, Some(max)),
                    );
                    let expected = (
                        before::replay_decode_args(&f.params, bytes, max),
                        before::replay_export_results(f, bytes, max),
                    );
                    assert_eq!(shown, expected, "{} {bytes:?} max {max}", f.name);
                }
            }
        }
    }
}
