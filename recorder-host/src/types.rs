//! The component model, as plain data: what a component imports and exports, every function's
//! WIT signature with aliases resolved. proxy-gen produces it from a component (its `analyze`); the
//! trace header carries it, so that traces can be decoded and shown without the component; the
//! runtime uses it to name calls in reports.
//!
//! These types deliberately depend on no wasm tooling (serde only, plus bincode and SHA-256 for
//! [`ComponentInfo::interface_sha256`]): wasmtime (wasm-tools 0.254) and proxy-gen (0.258) each
//! convert their own type representations into this one.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What a component imports and exports: the table of calls a proxy intercepts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentInfo {
    /// Imported interfaces, in the component's import order (dependencies first).
    pub imported_interfaces: Vec<InterfaceInfo>,
    /// Functions imported directly by the world (`import f: func(...)`).
    pub imported_functions: Vec<FunctionInfo>,
    /// Types imported directly by the world (rare).
    pub imported_types: Vec<NamedType>,
    /// Exported interfaces (e.g. `wasi:cli/run@0.2.0`).
    pub exported_interfaces: Vec<InterfaceInfo>,
    /// Functions exported directly by the world.
    pub exported_functions: Vec<FunctionInfo>,
    /// Types exported directly by the world.
    pub exported_types: Vec<NamedType>,
    /// The destructors of the imported interfaces' resource types (`[resource-drop]R`), in the
    /// order of [`Self::imported_interfaces`] and of their `resources`: the guest dropping a handle
    /// is a host call like any other (it closes a stream, ends a request), so the proxy reports
    /// and replay checks it. Their ids follow the functions' (see
    /// [`Self::intercepted_functions`]).
    pub resource_drops: Vec<ResourceDrop>,
    /// The imported resources that exports take as `own` parameters (a wasi:http handler's
    /// `incoming-request` and `response-outparam`), in the order of [`Self::resource_drops`]:
    /// the host creates such a handle and hands it to the export, so the proxy sees it arrive
    /// as the call `[export-handle]R: func() -> own<R>`, made once per such parameter (in
    /// parameter order) when the export is called. The export's own recorded arguments leave
    /// these parameters out ([`Self::is_host_handle`]). Their ids follow the drops'.
    pub export_handles: Vec<ExportHandle>,
}

/// A handle of an imported resource that the host creates and passes to an export, seen as the
/// function `[export-handle]R: func() -> own<R>` of the interface defining `R` (see
/// [`ComponentInfo::export_handles`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportHandle {
    /// The import name of the interface defining the resource (`wasi:http/types@0.2.6`).
    pub interface: String,
    /// The function: named `[export-handle]R`, kind [`FuncKind::ExportHandle`], no parameter,
    /// result `own<R>`.
    pub function: FunctionInfo,
}

impl ExportHandle {
    /// The handle of resource `name` defined by interface `interface` (its import name).
    pub fn new(interface: &str, name: &str, resource: ResourceRef) -> Self {
        ExportHandle {
            interface: interface.to_string(),
            function: FunctionInfo {
                name: format!("[export-handle]{name}"),
                kind: FuncKind::ExportHandle(resource.clone()),
                params: Vec::new(),
                result: Some(ValueType::Own(resource)),
            },
        }
    }
}

/// The destructor of an imported resource type, seen as the function
/// `[resource-drop]R: func(self: own<R>)` of the interface defining `R`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceDrop {
    /// The import name of the interface defining the resource (`wasi:io/streams@0.2.6`).
    pub interface: String,
    /// The function: named `[resource-drop]R`, kind [`FuncKind::Drop`], one `own<R>` parameter.
    pub function: FunctionInfo,
}

impl ResourceDrop {
    /// The drop of resource `name` defined by interface `interface` (its import name; `resource`
    /// names the resource as `own`/`borrow` types do).
    pub fn new(interface: &str, name: &str, resource: ResourceRef) -> Self {
        ResourceDrop {
            interface: interface.to_string(),
            function: FunctionInfo {
                name: format!("[resource-drop]{name}"),
                kind: FuncKind::Drop(resource.clone()),
                params: vec![("self".into(), ValueType::Own(resource))],
                result: None,
            },
        }
    }
}

impl ComponentInfo {
    /// Every imported function the proxy intercepts, with its id: interface functions (in import
    /// order, then function order), then bare function imports, then the
    /// [`resource drops`](Self::resource_drops). The id is the stub index in the generated proxy
    /// (for drops: the number of functions plus the wrapper type's index) and the `func-id` of
    /// the recorder interface.
    pub fn intercepted_functions(&self) -> impl Iterator<Item = InterceptedFunction<'_>> {
        let drops = self
            .resource_drops
            .iter()
            .map(|d| (Some(d.interface.as_str()), &d.function));
        let handles = self
            .export_handles
            .iter()
            .map(|h| (Some(h.interface.as_str()), &h.function));
        numbered(
            functions_of(&self.imported_interfaces, &self.imported_functions)
                .chain(drops)
                .chain(handles),
        )
    }

    /// The types of export `f`'s recorded arguments: its parameters but the handles the host
    /// creates ([`Self::is_host_handle`]).
    pub fn recorded_params(&self, f: &InterceptedFunction<'_>) -> Vec<ValueType> {
        f.param_types()
            .into_iter()
            .filter(|t| !self.is_host_handle(t))
            .collect()
    }

    /// Whether a parameter of type `ty` of an export is a handle the host creates: an `own` of a
    /// resource of an imported interface (not also exported). The proxy records such a handle as the call
    /// `[export-handle]R` ([`Self::export_handles`]), so the export's recorded arguments leave it
    /// out, and replay, which has no host to create it, gets it from that call.
    pub fn is_host_handle(&self, ty: &ValueType) -> bool {
        let ValueType::Own(r) = ty else {
            return false;
        };
        let defines = |i: &InterfaceInfo| {
            Some(&i.name) == r.interface.as_ref() && i.resources.contains(&r.name)
        };
        // An interface both imported and exported names its resources alike in both; an
        // exported interface's functions take the exported one's, which the guest creates
        // (found by the fuzzer: such a parameter was taken for a host handle).
        self.imported_interfaces.iter().any(defines)
            && !self.exported_interfaces.iter().any(defines)
    }

    /// Every exported function with its id, numbered like [`Self::intercepted_functions`]: interface
    /// functions (in export order, then function order), then bare function exports. The id is the
    /// `func` of a trace's export entries: the host calls exports, and records each call there.
    pub fn exports(&self) -> impl Iterator<Item = InterceptedFunction<'_>> {
        numbered(functions_of(
            &self.exported_interfaces,
            &self.exported_functions,
        ))
    }

    /// SHA-256 of the component's interfaces: of this info (its import/export WIT, as plain
    /// data) encoded with bincode 2's `standard()` configuration. Two builds of one program share
    /// it, unrelated programs do not: a trace header carries it, and replay refuses a trace of
    /// another program before running anything. The bytes hashed are part of the trace format:
    /// changing them (or this type's layout) makes every recorded trace "another program".
    pub fn interface_sha256(&self) -> Result<[u8; 32], InterfaceHashError> {
        let bytes = bincode::serde::encode_to_vec(self, bincode::config::standard())?;
        Ok(Sha256::digest(&bytes).into())
    }
}

/// A [`ComponentInfo`] that bincode could not encode, so it has no interface hash. (serde's
/// derived encoders of these types do not fail; the encoder's API can.)
#[derive(Debug, thiserror::Error)]
#[error("cannot encode the component's interfaces: {0}")]
pub struct InterfaceHashError(#[from] bincode::error::EncodeError);

impl InterceptedFunction<'_> {
    /// `interface.function` (`wasi:io/streams@0.2.6.[method]output-stream.write`), or the bare
    /// name: how reports and `trace show` name the function.
    pub fn qualified_name(&self) -> String {
        match self.interface {
            Some(i) => format!("{i}.{}", self.function.name),
            None => self.function.name.clone(),
        }
    }

    /// The parameters' types, in order: what a call's encoded arguments are made of.
    pub fn param_types(&self) -> Vec<ValueType> {
        self.function
            .params
            .iter()
            .map(|(_, t)| t.clone())
            .collect()
    }
}

/// The functions of `interfaces` (in order, then function order), then the bare `functions`, each
/// with its interface.
fn functions_of<'a>(
    interfaces: &'a [InterfaceInfo],
    functions: &'a [FunctionInfo],
) -> impl Iterator<Item = (Option<&'a str>, &'a FunctionInfo)> {
    interfaces
        .iter()
        .flat_map(|i| i.functions.iter().map(move |f| (Some(i.name.as_str()), f)))
        .chain(functions.iter().map(|f| (None, f)))
}

/// `functions`, numbered from 0.
fn numbered<'a>(
    functions: impl Iterator<Item = (Option<&'a str>, &'a FunctionInfo)>,
) -> impl Iterator<Item = InterceptedFunction<'a>> {
    functions
        .enumerate()
        .map(|(id, (interface, function))| InterceptedFunction {
            id: id as u32,
            interface,
            function,
        })
}

/// Whether a record-mode proxy reports a call of import `name` (of `interface`) *before*
/// forwarding it, rather than together with its results once it returned: calls that may never
/// return (`wasi:cli/exit`), and calls that may wait for an unbounded time, after which the trace
/// must already be on disk should the process be killed while the guest waits. By wasi:io's naming
/// convention every waiting call is `poll`, `pollable.block` or a `blocking-*` method; of those,
/// output streams' (`blocking-flush`, `blocking-write-and-flush`, ...) only wait while the host
/// drains what the guest wrote, so they are left out: a program printing line by line would
/// otherwise pay two recorder calls and a `write(2)` of the trace per line.
pub fn reported_before_forwarding(interface: Option<&str>, name: &str) -> bool {
    if interface.is_some_and(|i| i.starts_with("wasi:cli/exit@") || i == "wasi:cli/exit") {
        return true;
    }
    if name.contains("output-stream.") {
        return false;
    }
    let leaf = name.rsplit(['.', ']']).next().unwrap_or(name);
    leaf.starts_with("blocking-") || leaf == "poll" || leaf == "block"
}

/// One entry of [`ComponentInfo::intercepted_functions`] or of [`ComponentInfo::exports`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InterceptedFunction<'a> {
    /// The function's id (stub index, recorder `func-id`; for exports, the `func` of the trace's
    /// export entries).
    pub id: u32,
    /// The interface it belongs to (`None` for a bare function import or export).
    pub interface: Option<&'a str>,
    /// The function.
    pub function: &'a FunctionInfo,
}

/// One imported or exported interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterfaceInfo {
    /// The import/export name, e.g. `wasi:io/streams@0.2.6` (or a plain kebab name for inline ones).
    pub name: String,
    /// `namespace:package`, e.g. `wasi:io`, for interfaces of a package.
    pub package: Option<String>,
    /// The interface's own name, e.g. `streams`.
    pub interface: Option<String>,
    /// The package version, e.g. `0.2.6`.
    pub version: Option<String>,
    /// Names of the resource types this interface defines.
    pub resources: Vec<String>,
    /// The interface's functions (only those the component actually imports or exports).
    pub functions: Vec<FunctionInfo>,
}

/// One function of an interface or of the world.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionInfo {
    /// The component-level name, e.g. `[method]input-stream.read`.
    pub name: String,
    /// Freestanding, or the resource it belongs to.
    pub kind: FuncKind,
    /// Parameter names and types (a method's first parameter is `self: borrow<R>`).
    pub params: Vec<(String, ValueType)>,
    /// The result type, if any.
    pub result: Option<ValueType>,
}

/// The role of a function with respect to resources.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum FuncKind {
    /// A plain function.
    Freestanding,
    /// A plain `async` function.
    AsyncFreestanding,
    /// `[constructor]R`.
    Constructor(ResourceRef),
    /// `[method]R.name`.
    Method(ResourceRef),
    /// `async` method.
    AsyncMethod(ResourceRef),
    /// `[static]R.name`.
    Static(ResourceRef),
    /// `async` static function.
    AsyncStatic(ResourceRef),
    /// `[resource-drop]R`: the guest dropped its `own<R>` (see [`ComponentInfo::resource_drops`]).
    Drop(ResourceRef),
    /// `[export-handle]R`: the host handed the export an `own<R>` (see
    /// [`ComponentInfo::export_handles`]).
    ExportHandle(ResourceRef),
}

/// A resource type, named by its defining interface and its name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ResourceRef {
    /// The defining interface (e.g. `wasi:io/streams@0.2.6`); `None` for world-level resources.
    pub interface: Option<String>,
    /// The resource's name, e.g. `input-stream`.
    pub name: String,
}

/// A named type item of a world.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedType {
    /// The item name.
    pub name: String,
    /// Its type.
    pub ty: ValueType,
}

/// A WIT value type with all aliases resolved and all parts spelled out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum ValueType {
    Bool,
    U8,
    U16,
    U32,
    U64,
    S8,
    S16,
    S32,
    S64,
    F32,
    F64,
    Char,
    String,
    ErrorContext,
    List(Box<ValueType>),
    FixedLengthList(Box<ValueType>, u32),
    Map(Box<ValueType>, Box<ValueType>),
    Option(Box<ValueType>),
    Result {
        ok: Option<Box<ValueType>>,
        err: Option<Box<ValueType>>,
    },
    Tuple(Vec<ValueType>),
    Record {
        name: Option<String>,
        fields: Vec<(String, ValueType)>,
    },
    Variant {
        name: Option<String>,
        cases: Vec<(String, Option<ValueType>)>,
    },
    Enum {
        name: Option<String>,
        cases: Vec<String>,
    },
    Flags {
        name: Option<String>,
        flags: Vec<String>,
    },
    Own(ResourceRef),
    Borrow(ResourceRef),
    Resource(ResourceRef),
    Future(Option<Box<ValueType>>),
    Stream(Option<Box<ValueType>>),
    Unknown,
}

#[cfg(test)]
mod tests {
    use super::reported_before_forwarding as first;
    use super::*;

    /// The hash is SHA-256 of exactly bincode's bytes, equal for equal infos, different for
    /// different ones.
    #[test]
    fn interface_hash() {
        let mut info = ComponentInfo {
            imported_functions: vec![FunctionInfo {
                name: "log".into(),
                kind: FuncKind::Freestanding,
                params: vec![("message".into(), ValueType::String)],
                result: None,
            }],
            ..Default::default()
        };
        let hash = info.interface_sha256().unwrap();
        assert_eq!(hash, info.clone().interface_sha256().unwrap());
        let bytes = bincode::serde::encode_to_vec(&info, bincode::config::standard()).unwrap();
        assert_eq!(hash, <[u8; 32]>::from(Sha256::digest(&bytes)));
        // SHA-256 of the empty info's bincode bytes (eight empty sequences, eight zero bytes).
        assert_eq!(
            ComponentInfo::default().interface_sha256().unwrap(),
            <[u8; 32]>::from(Sha256::digest([0u8; 8]))
        );
        info.imported_functions[0].params[0].1 = ValueType::U32;
        assert_ne!(info.interface_sha256().unwrap(), hash);
    }

    #[test]
    fn waiting_and_exiting_calls_are_reported_first() {
        let io = Some("wasi:io/streams@0.2.6");
        for (interface, name) in [
            (io, "[method]input-stream.blocking-read"),
            (Some("wasi:io/poll@0.2.6"), "poll"),
            (Some("wasi:io/poll@0.2.6"), "[method]pollable.block"),
            (io, "[method]input-stream.blocking-skip"),
            (Some("wasi:cli/exit@0.2.6"), "exit"),
            (Some("wasi:cli/exit@0.2.6"), "exit-with-code"),
        ] {
            assert!(first(interface, name), "{name}");
        }
        for (interface, name) in [
            (io, "[method]input-stream.read"),
            (Some("wasi:random/random@0.2.6"), "get-random-bytes"),
            (Some("wasi:io/poll@0.2.6"), "[method]pollable.ready"),
            (io, "[method]output-stream.check-write"),
            (io, "[method]output-stream.blocking-flush"),
            (io, "[method]output-stream.blocking-write-and-flush"),
            (None, "exit"),
        ] {
            assert!(!first(interface, name), "{name}");
        }
    }
}
