//! Prototype for #17 part 4 (the composition floor): the forward-equivalent of splicing stubs
//! *inside* a component instead of composing a proxy component above it.
//!
//! `cargo run -p proxy-gen --example splice_forward -- IN.wasm OUT.wasm` takes a component made by
//! wit-component from one core module (a Rust `wasm32-wasip2` program), puts a pass-through
//! function between the module and every function it imports (each call of an import now calls
//! the wrapper, which calls the import), and builds the component again with wit-component, with
//! the same world. A recording stub would sit where the wrapper is: in the guest's own module,
//! reading arguments and results in the guest's memory, with the canonical ABI's lowering the only
//! boundary on the call path (no second component, no fused adapter). Timing the output against
//! the original and against today's `-m forward` composition measures what that layout saves.

use anyhow::{bail, Context, Result};
use wasm_encoder::reencode::{utils, Error, Reencode};
use wasm_encoder::{CodeSection, Function, FunctionSection, Instruction};
use wasmparser::{Parser, Payload, TypeRef};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, input, output] = args.as_slice() else {
        bail!("usage: splice_forward IN.wasm OUT.wasm");
    };
    let component = std::fs::read(input).with_context(|| format!("reading {input}"))?;
    let (resolve, world) = match wit_component::decode(&component)? {
        wit_component::DecodedWasm::Component(resolve, world) => (resolve, world),
        _ => bail!("{input} is not a component"),
    };
    let modules = core_modules(&component)?;
    let main = modules
        .iter()
        .max_by_key(|m| m.len())
        .context("no core module")?;
    eprintln!(
        "{} core modules; the main one has {} bytes",
        modules.len(),
        main.len()
    );
    let mut spliced = splice(main)?;
    wit_component::embed_component_metadata(
        &mut spliced,
        &resolve,
        world,
        wit_component::StringEncoding::UTF8,
    )?;
    let out = wit_component::ComponentEncoder::default()
        .validate(true)
        .module(&spliced)?
        .encode()?;
    std::fs::write(output, &out).with_context(|| format!("writing {output}"))?;
    Ok(())
}

/// The core modules at the component's top level.
fn core_modules(component: &[u8]) -> Result<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    for payload in Parser::new(0).parse_all(component) {
        if let Payload::ModuleSection {
            unchecked_range, ..
        } = payload?
        {
            let range = unchecked_range.start as usize..unchecked_range.end as usize;
            out.push(component[range].to_vec());
        }
    }
    Ok(out)
}

/// The module with a wrapper between its code and each imported function.
fn splice(module: &[u8]) -> Result<Vec<u8>> {
    let mut types = Vec::new();
    let mut imports = Vec::new();
    let mut defined = 0u32;
    for payload in Parser::new(0).parse_all(module) {
        match payload? {
            Payload::TypeSection(s) => {
                for group in s {
                    for sub in group?.into_types() {
                        let params = match &sub.composite_type.inner {
                            wasmparser::CompositeInnerType::Func(f) => f.params().len() as u32,
                            _ => 0,
                        };
                        types.push(params);
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
            _ => {}
        }
    }
    let total = imports.len() as u32 + defined;
    let mut splicer = Splicer {
        imports,
        types,
        total,
    };
    let mut out = wasm_encoder::Module::new();
    utils::parse_core_module(&mut splicer, &mut out, Parser::new(0), module)
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    Ok(out.finish())
}

/// Redirects every use of imported function `i` to its wrapper, function `total + i`.
struct Splicer {
    /// Type index of each imported function.
    imports: Vec<u32>,
    /// Parameter count of each type.
    types: Vec<u32>,
    /// Functions in the original module.
    total: u32,
}

impl Reencode for Splicer {
    type Error = std::convert::Infallible;

    fn function_index(&mut self, func: u32) -> Result<u32, Error<Self::Error>> {
        if (func as usize) < self.imports.len() {
            Ok(self.total + func)
        } else {
            Ok(func)
        }
    }

    fn parse_function_section(
        &mut self,
        functions: &mut FunctionSection,
        section: wasmparser::FunctionSectionReader<'_>,
    ) -> Result<(), Error<Self::Error>> {
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
    ) -> Result<(), Error<Self::Error>> {
        utils::parse_code_section(self, code, section)?;
        for (i, ty) in self.imports.iter().enumerate() {
            let mut f = Function::new([]);
            for p in 0..self.types[*ty as usize] {
                f.instruction(&Instruction::LocalGet(p));
            }
            f.instruction(&Instruction::Call(i as u32));
            f.instruction(&Instruction::End);
            code.function(&f);
        }
        Ok(())
    }
}
