//! Stubs spliced *inside* a component: a function between each core module's code and every
//! function the module imports (#17, part 4, the composition floor).
//!
//! Composing a proxy component above the guest puts wasmtime's fused adapter on every host call
//! (lists copied between the two instances, borrows moved through the host). A stub inside the
//! guest's own core module sits next to the guest's memory, with the canonical ABI's lowering as
//! the only boundary on the call path. This module is the structural half of that layout, for
//! any component: it rewrites every core module of the component (the guest's, an adapter's,
//! every library of a componentize-py component, nested components' too) and copies every other
//! section byte for byte, so the component's index spaces, imports, exports and instantiation are
//! exactly the original's. Today the stub passes the call through ([`splice_passthrough`]); the
//! recording stubs of record mode are to take its place (ARCHITECTURE.md, "The composition
//! floor").
//!
//! [`origin`] finds, for every function a core module imports, the host call it stands for (through
//! wit-component's shims and fixups and the instances between), which a recording stub needs.
//!
//! Inside a module: the stubs are new defined functions, one per imported function, appended
//! after the module's own, so no existing index moves; every use of imported function `i`
//! (calls, `ref.func`, element segments, exports, the start function) is redirected to stub `i`,
//! which forwards its parameters to the import and returns its results. Modules that import no
//! function, or define none (wit-component's fixup modules, which only fill a table with
//! imports), are kept as they are.

use crate::error::{Error, Result};
use anyhow::anyhow;
use std::ops::Range;
use wasm_encoder::reencode::{utils, Reencode};
use wasm_encoder::{CodeSection, ComponentSectionId, Function, FunctionSection, Instruction};
use wasmparser::{Chunk, Parser, Payload, TypeRef};

mod home;
pub mod origin;
mod record;
mod replay;

pub use record::{splice_record, splice_replay};

/// `component` with a pass-through stub between every core module and each function it imports.
/// The result validates and behaves as `component` does (same imports, exports and effects).
/// Bad input (not a component, malformed) is an error, never a panic.
pub fn splice_passthrough(component: &[u8]) -> Result<Vec<u8>> {
    crate::analyze::validate(component)?;
    if !wasmparser::Parser::is_component(component) {
        return Err(Error::CoreModule);
    }
    let spliced = rewrite_component(component).map_err(Error::Malformed)?;
    let features = wasmparser::WasmFeatures::all();
    wasmparser::Validator::new_with_features(features)
        .validate_all(&spliced)
        .map_err(|e| Error::Internal(anyhow!("the spliced component does not validate: {e}")))?;
    Ok(spliced)
}

/// The component (or nested component) `bytes` with its core modules spliced and every other
/// section copied.
fn rewrite_component(bytes: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut out = wasm_encoder::Component::new();
    let mut parser = Parser::new(0);
    let mut offset = 0usize;
    loop {
        let rest = bytes
            .get(offset..)
            .ok_or_else(|| anyhow!("section past the end"))?;
        let (consumed, payload) = match parser.parse(rest, true)? {
            Chunk::Parsed { consumed, payload } => (consumed, payload),
            Chunk::NeedMoreData(_) => anyhow::bail!("the component is cut short"),
        };
        offset += consumed;
        match &payload {
            Payload::Version { .. } => {}
            Payload::End(_) => break,
            Payload::ModuleSection {
                unchecked_range, ..
            } => {
                let module = slice(bytes, unchecked_range)?;
                let spliced = splice_module(module)?;
                out.section(&wasm_encoder::RawSection {
                    id: ComponentSectionId::CoreModule as u8,
                    data: &spliced,
                });
                offset = end(unchecked_range)?;
            }
            Payload::ComponentSection {
                unchecked_range, ..
            } => {
                let nested = rewrite_component(slice(bytes, unchecked_range)?)?;
                out.section(&wasm_encoder::RawSection {
                    id: ComponentSectionId::Component as u8,
                    data: &nested,
                });
                offset = end(unchecked_range)?;
            }
            other => {
                let (id, range) = other
                    .as_section()
                    .ok_or_else(|| anyhow!("a payload that is not a section"))?;
                out.section(&wasm_encoder::RawSection {
                    id,
                    data: slice(bytes, &range)?,
                });
            }
        }
    }
    Ok(out.finish())
}

/// The bytes of a section's `range` (offsets in `bytes`, as the parser gives them).
fn slice<'a>(bytes: &'a [u8], range: &Range<u64>) -> anyhow::Result<&'a [u8]> {
    usize::try_from(range.start)
        .ok()
        .zip(end(range).ok())
        .and_then(|(start, end)| bytes.get(start..end))
        .ok_or_else(|| anyhow!("a section runs past the end of its component"))
}

fn end(range: &Range<u64>) -> anyhow::Result<usize> {
    usize::try_from(range.end).map_err(|_| anyhow!("a section ends past the address space"))
}

/// The core module with a stub between its code and each imported function, or the module as
/// it is if it imports no function or defines none.
fn splice_module(module: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut params = Vec::new();
    let mut imports = Vec::new();
    let (mut defined, mut has_code) = (0, false);
    for payload in Parser::new(0).parse_all(module) {
        match payload? {
            Payload::TypeSection(s) => {
                for group in s {
                    for sub in group?.into_types() {
                        params.push(match &sub.composite_type.inner {
                            wasmparser::CompositeInnerType::Func(f) => f.params().len() as u32,
                            _ => 0,
                        });
                    }
                }
            }
            Payload::ImportSection(s) => {
                for import in s.into_imports() {
                    if let TypeRef::Func(ty) = import?.ty {
                        imports.push(ty);
                    }
                }
            }
            Payload::FunctionSection(s) => defined = s.count(),
            Payload::CodeSectionStart { .. } => has_code = true,
            _ => {}
        }
    }
    // The stubs go into the function and code sections: a module without them is kept whole.
    if imports.is_empty() || !has_code {
        return Ok(module.to_vec());
    }
    let mut splicer = Splicer {
        first_stub: imports.len() as u32 + defined,
        imports,
        params,
    };
    let mut out = wasm_encoder::Module::new();
    utils::parse_core_module(&mut splicer, &mut out, Parser::new(0), module)
        .map_err(|e| anyhow!("rewriting a core module: {e:?}"))?;
    Ok(out.finish())
}

/// Redirects every use of imported function `i` to its stub, function `first_stub + i`, and
/// appends the stubs to the function and code sections.
struct Splicer {
    /// The type index of each imported function, in import order.
    imports: Vec<u32>,
    /// The parameter count of each type (0 for non-function types).
    params: Vec<u32>,
    /// The index of the first stub: the module's function count before splicing.
    first_stub: u32,
}

impl Reencode for Splicer {
    type Error = std::convert::Infallible;

    fn function_index(
        &mut self,
        func: u32,
    ) -> std::result::Result<u32, wasm_encoder::reencode::Error<Self::Error>> {
        Ok(if (func as usize) < self.imports.len() {
            self.first_stub + func
        } else {
            func
        })
    }

    fn parse_function_section(
        &mut self,
        functions: &mut FunctionSection,
        section: wasmparser::FunctionSectionReader<'_>,
    ) -> std::result::Result<(), wasm_encoder::reencode::Error<Self::Error>> {
        utils::parse_function_section(self, functions, section)?;
        for ty in &self.imports {
            functions.function(*ty);
        }
        Ok(())
    }

    fn parse_code_section(
        &mut self,
        code: &mut CodeSection,
        section: wasmparser::CodeSectionReader<'_>,
    ) -> std::result::Result<(), wasm_encoder::reencode::Error<Self::Error>> {
        utils::parse_code_section(self, code, section)?;
        for (import, ty) in self.imports.iter().enumerate() {
            let mut stub = Function::new([]);
            let params = self.params.get(*ty as usize).copied().unwrap_or(0);
            for p in 0..params {
                stub.instruction(&Instruction::LocalGet(p));
            }
            // The import itself, not `function_index(import)`: the one call left to it.
            stub.instruction(&Instruction::Call(import as u32));
            stub.instruction(&Instruction::End);
            code.function(&stub);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wat(text: &str) -> Vec<u8> {
        wat::parse_str(text).expect("test WAT")
    }

    #[test]
    fn every_use_of_an_import_goes_through_its_stub() {
        // Indices, not names: the name section follows the remapping, and the printout with it.
        let module = wat(r#"(module
            (import "host" "add" (func (param i32 i32) (result i32)))
            (import "host" "log" (func (param i32)))
            (table 1 funcref)
            (elem (i32.const 0) func 1)
            (func (export "run") (param i32) (result i32)
                local.get 0
                i32.const 0
                call_indirect (param i32)
                local.get 0 i32.const 1 call 0)
            (export "add" (func 0)))"#);
        wasmparser::Validator::new().validate_all(&module).unwrap();
        let spliced = splice_module(&module).unwrap();
        let text = wasmprinter::print_bytes(&spliced).unwrap();
        wasmparser::Validator::new()
            .validate_all(&spliced)
            .expect(&text);
        // Two stubs after the one defined function (3 and 4), each calling its import.
        assert!(text.contains("(func (;3;) (type 0) (param i32 i32) (result i32)\n    local.get 0\n    local.get 1\n    call 0"), "{text}");
        assert!(
            text.contains("(func (;4;) (type 1) (param i32)\n    local.get 0\n    call 1"),
            "{text}"
        );
        assert!(
            text.contains("i32.const 1\n    call 3\n"),
            "run calls the stub: {text}"
        );
        assert!(text.contains("(elem (;0;) (i32.const 0) func 4)"), "{text}");
        assert!(text.contains("(export \"add\" (func 3))"), "{text}");
    }

    #[test]
    fn modules_with_nothing_to_splice_are_kept_byte_for_byte() {
        let no_imports = wat(r#"(module (func (export "f")))"#);
        assert_eq!(splice_module(&no_imports).unwrap(), no_imports);
        let fixup = wat(r#"(module
            (import "" "0" (func (param i32)))
            (import "" "$imports" (table 1 funcref))
            (elem (i32.const 0) func 0))"#);
        assert_eq!(splice_module(&fixup).unwrap(), fixup);
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(matches!(splice_passthrough(b"nope"), Err(Error::NotWasm)));
        let module = wat(r#"(module)"#);
        assert!(matches!(
            splice_passthrough(&module),
            Err(Error::CoreModule)
        ));
    }
}
