//! The engine side shared by every command: the wasmtime engine and its settings, compiling through
//! the on-disk cache, and calling an export of an instance, generic over the store's data so that
//! run, record and replay (and later bench and serve) use one executor.
//!
//! Exports are named either by a `--invoke` call written in WAVE
//! (<https://github.com/bytecodealliance/wasm-tools/tree/main/crates/wasm-wave>), the syntax
//! `wasmtime run --invoke` uses, or by their interface and name (as a trace records them).

use crate::cache::{Cache, ComponentBytes};
use anyhow::{bail, Context, Result};
use wasmtime::component::types::{ComponentFunc, ComponentItem};
use wasmtime::component::wasm_wave::untyped::UntypedFuncCall;
use wasmtime::component::wasm_wave::wasm::DisplayFuncResults;
use wasmtime::component::{Component, ComponentExportIndex, Instance, Type, Val};
use wasmtime::{Config, Engine, Store};

/// Engine and store settings, as `wasmtime run -W` names them (`None`: the default).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WasmOptions {
    pub fuel: Option<u64>,
    pub max_memory_size: Option<usize>,
    pub unknown_imports_trap: Option<bool>,
    /// Compile with epoch checks, so that a store can be interrupted (or sampled by a profiler)
    /// every epoch tick.
    pub epoch_interruption: bool,
    /// Keep the components' DWARF in the compiled code, so that backtraces name source files and
    /// lines (`replay`'s divergence reports). It changes no generated code, only what the
    /// compiled artifact keeps (and so the cache key).
    pub backtrace_details: bool,
}

/// Builds the engine. Everything that changes generated code (fuel, epochs) is set here, so it is part of
/// the compilation cache key through the engine's compatibility hash.
pub fn engine(wasm: &WasmOptions) -> Result<Engine> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    if wasm.fuel.is_some() {
        config.consume_fuel(true);
    }
    config.epoch_interruption(wasm.epoch_interruption);
    if wasm.backtrace_details {
        config.wasm_backtrace_details(wasmtime::WasmBacktraceDetails::Enable);
        // Deep enough for a guest's own frame under its runtime's I/O layers.
        config.wasm_backtrace_max_frames(std::num::NonZeroUsize::new(100));
    }
    Engine::new(&config).map_err(anyhow::Error::from)
}

/// Compiles `bytes`, through `cache` when there is one.
pub fn compile(engine: &Engine, bytes: &[u8], cache: Option<&Cache>) -> Result<Component> {
    match cache {
        Some(cache) => Ok(cache.load_or_compile(engine, bytes)?.0),
        None => Component::new(engine, bytes).map_err(anyhow::Error::from),
    }
}

/// [`compile`] of a composition: when its SHA-256 is known (it came from the composition cache),
/// the compiled cache's key costs no hashing and its bytes are read only on a miss.
pub fn compile_composed(
    engine: &Engine,
    composed: &ComponentBytes,
    cache: Option<&Cache>,
) -> Result<Component> {
    match (cache, composed.sha256()) {
        (Some(cache), Some(sha256)) => Ok(cache
            .load_or_compile_known(engine, sha256, || composed.bytes())?
            .0),
        _ => compile(engine, composed.bytes()?, cache),
    }
}

/// An export function of a component, found by name and ready to be called on any instance of it.
pub struct Export {
    index: ComponentExportIndex,
    result_count: usize,
    /// The types of its parameters, in order.
    pub param_types: Vec<Type>,
    /// The name as the user wrote it, for messages.
    pub name: String,
    /// The exported instance the function is in, as the component names it (`None` for a function
    /// of the world), and the function's name in it: how a recording names the export.
    pub interface: Option<String>,
    pub func: String,
}

/// The host's call of an export: which function, with which arguments.
pub struct ExportCall {
    pub export: Export,
    /// The arguments, type-checked against the export's parameters.
    pub params: Vec<Val>,
}

impl ExportCall {
    /// Parses `call` (e.g. `echo-u8(7)`, `pkg:ns/iface.f("x")`) and type-checks its arguments against
    /// the export it names. Bare names are looked up at the root and then in every exported instance,
    /// and must be unambiguous.
    pub fn parse(engine: &Engine, component: &Component, call: &str) -> Result<Self> {
        let untyped = UntypedFuncCall::parse(call).map_err(|e| {
            anyhow::anyhow!(
                "cannot parse `--invoke {call}`: {e} (expected a WAVE call such as `f(1, \"x\")`)"
            )
        })?;
        let name = untyped.name().to_string();
        let export = Export::find(engine, component, &name)?;
        let params = untyped
            .to_wasm_params::<Val>(&export.param_types)
            .map_err(|e| anyhow::anyhow!("{e}"))
            .with_context(|| format!("bad arguments in `--invoke {call}`"))?;
        Ok(ExportCall { export, params })
    }

    /// Calls the export on `instance` and returns its results (print them with [`display`]).
    pub async fn call<T: Send>(
        &self,
        store: &mut Store<T>,
        instance: &Instance,
    ) -> wasmtime::Result<Vec<Val>> {
        self.export.call(store, instance, &self.params).await
    }
}

impl Export {
    /// Finds the function export `name` (see [`ExportCall::parse`]).
    pub fn find(engine: &Engine, component: &Component, name: &str) -> Result<Self> {
        let found = find_export(engine, component, name)?;
        let export = Export {
            index: found.index,
            result_count: found.ty.results().len(),
            param_types: found.ty.params().map(|(_, ty)| ty).collect(),
            name: name.to_string(),
            interface: found.interface,
            func: found.func,
        };
        Ok(export)
    }

    /// The export `func` of the exported instance `interface` (`None`: a function of the world),
    /// named exactly as the component names them (as a trace records them).
    pub fn named(component: &Component, interface: Option<&str>, func: &str) -> Result<Self> {
        let parent = match interface {
            Some(i) => Some(
                component
                    .get_export(None, i)
                    .with_context(|| format!("the component exports no instance `{i}`"))?
                    .1,
            ),
            None => None,
        };
        let qualified = match interface {
            Some(i) => format!("{i}.{func}"),
            None => func.to_string(),
        };
        match component.get_export(parent.as_ref(), func) {
            Some((ComponentItem::ComponentFunc(ty), index)) => Ok(Export {
                index,
                result_count: ty.results().len(),
                param_types: ty.params().map(|(_, ty)| ty).collect(),
                name: qualified,
                interface: interface.map(str::to_string),
                func: func.to_string(),
            }),
            Some(_) => bail!("the export `{qualified}` is not a function"),
            None => bail!("the component exports no function `{qualified}`"),
        }
    }

    /// Calls the export on `instance` with `params` and returns its results.
    pub async fn call<T: Send>(
        &self,
        store: &mut Store<T>,
        instance: &Instance,
        params: &[Val],
    ) -> wasmtime::Result<Vec<Val>> {
        let func = instance
            .get_func(&mut *store, self.index)
            .ok_or_else(|| wasmtime::format_err!("export `{}` is not a function", self.name))?;
        let mut results = vec![Val::Bool(false); self.result_count];
        func.call_async(&mut *store, params, &mut results).await?;
        Ok(results)
    }
}

/// An export's results in WAVE, as `--invoke` prints them.
pub fn display(results: &[Val]) -> String {
    DisplayFuncResults(results).to_string()
}

/// An export function found by name.
struct Found {
    index: ComponentExportIndex,
    ty: ComponentFunc,
    interface: Option<String>,
    func: String,
}

/// Finds the function export `name`: either a full `pkg:ns/iface.func` path (with an optional
/// `@version`), a root-level function, or a function of exactly one exported instance.
fn find_export(engine: &Engine, component: &Component, name: &str) -> Result<Found> {
    let ty = component.component_type();
    // Root-level function.
    if let Some((ComponentItem::ComponentFunc(f), index)) = component.get_export(None, name) {
        return Ok(Found {
            index,
            ty: f,
            interface: None,
            func: name.to_string(),
        });
    }
    // `pkg:ns/iface.func` or, with a version, `pkg:ns/iface.func@1.0.0` (the spelling of
    // `wasmtime run --invoke`; the version belongs to the interface).
    if let Some(slash) = name.find('/') {
        let (path, version) = match name.split_once('@') {
            Some((path, version)) => (path, Some(version)),
            None => (name, None),
        };
        let dot = path[slash..]
            .rfind('.')
            .map(|d| d + slash)
            .with_context(|| format!("`{name}` names an interface, not a function"))?;
        let (iface, func) = (&path[..dot], &path[dot + 1..]);
        let instance = match version {
            Some(v) => format!("{iface}@{v}"),
            None => iface.to_string(),
        };
        if let Some(found) = instance_func(engine, component, &instance, func) {
            return Ok(found);
        }
        bail!("the component exports no function `{name}`");
    }
    // Bare name: search every exported instance.
    let mut found = Vec::new();
    for (inst_name, item) in ty.exports(engine) {
        let ComponentItem::ComponentInstance(inst) = item.ty else {
            continue;
        };
        for (func_name, item) in inst.exports(engine) {
            if func_name == name {
                if let ComponentItem::ComponentFunc(f) = item.ty {
                    found.push((inst_name.to_string(), f));
                }
            }
        }
    }
    match found.len() {
        0 => bail!("the component exports no function `{name}`"),
        1 => {
            let (inst_name, f) = found.remove(0);
            let (_, inst_index) = component
                .get_export(None, &inst_name)
                .with_context(|| format!("export `{inst_name}` vanished"))?;
            let (_, index) = component
                .get_export(Some(&inst_index), name)
                .with_context(|| format!("export `{inst_name}.{name}` vanished"))?;
            Ok(Found {
                index,
                ty: f,
                interface: Some(inst_name),
                func: name.to_string(),
            })
        }
        _ => {
            let places = found
                .iter()
                .map(|(i, _)| format!("`{i}.{name}`"))
                .collect::<Vec<_>>()
                .join(", ");
            bail!("`{name}` is ambiguous, it is exported as {places}; write the full name")
        }
    }
}

/// Looks up `func` in the exported instance `instance`; an instance name without a version matches
/// the exported instance of that name at any version.
fn instance_func(
    engine: &Engine,
    component: &Component,
    instance: &str,
    func: &str,
) -> Option<Found> {
    let name = if component.get_export(None, instance).is_some() {
        instance.to_string()
    } else if instance.contains('@') {
        return None;
    } else {
        component
            .component_type()
            .exports(engine)
            .map(|(n, _)| n)
            .find(|n| n.split_once('@').is_some_and(|(base, _)| base == instance))?
            .to_string()
    };
    let (_, index) = component.get_export(None, &name)?;
    match component.get_export(Some(&index), func) {
        Some((ComponentItem::ComponentFunc(f), i)) => Some(Found {
            index: i,
            ty: f,
            interface: Some(name),
            func: func.to_string(),
        }),
        _ => None,
    }
}
