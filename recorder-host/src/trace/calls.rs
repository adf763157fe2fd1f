//! Where an import call's values end: format 6 writes a call's arguments and results without a
//! length (their types delimit them, and the header holds the types), so the reader steps over
//! them by type with [`Cursor::skip`], the one reader of the value format.

use crate::types::{ComponentInfo, FunctionInfo};
use crate::value::Cursor;

/// The intercepted imports of a [`ComponentInfo`], by id, as places in it: the reader owns the
/// header, so it keeps where each function is rather than a copy of every type (a wasi:http
/// handler's are ~13 KB, and a corpus replay opens a trace per request).
#[derive(Debug, Clone, Default)]
pub(super) struct CallTypes {
    at: Vec<At>,
}

/// Where a function of [`ComponentInfo::intercepted_functions`] is.
#[derive(Debug, Clone, Copy)]
enum At {
    /// `imported_interfaces[i].functions[j]`.
    Interface(usize, usize),
    /// `imported_functions[i]`.
    Bare(usize),
    /// `resource_drops[i].function`.
    Drop(usize),
    /// `export_handles[i].function`.
    Handle(usize),
}

impl CallTypes {
    /// The places of `info`'s intercepted imports, in the order of
    /// [`ComponentInfo::intercepted_functions`] (a test pins the two together).
    pub(super) fn new(info: &ComponentInfo) -> Self {
        let interfaces = info
            .imported_interfaces
            .iter()
            .enumerate()
            .flat_map(|(i, iface)| (0..iface.functions.len()).map(move |j| At::Interface(i, j)));
        let at = interfaces
            .chain((0..info.imported_functions.len()).map(At::Bare))
            .chain((0..info.resource_drops.len()).map(At::Drop))
            .chain((0..info.export_handles.len()).map(At::Handle))
            .collect();
        CallTypes { at }
    }

    /// The import of id `func` in `info` (the info these places were taken from).
    pub(super) fn function<'i>(
        &self,
        info: &'i ComponentInfo,
        func: u32,
    ) -> Option<&'i FunctionInfo> {
        match *self.at.get(usize::try_from(func).ok()?)? {
            At::Interface(i, j) => info.imported_interfaces.get(i)?.functions.get(j),
            At::Bare(i) => info.imported_functions.get(i),
            At::Drop(i) => info.resource_drops.get(i).map(|d| &d.function),
            At::Handle(i) => info.export_handles.get(i).map(|h| &h.function),
        }
    }
}

/// The length of the arguments of `f` that `bytes` start with.
pub(super) fn args_len(f: &FunctionInfo, bytes: &[u8]) -> Result<usize, String> {
    let mut cursor = Cursor::new(bytes);
    for (name, ty) in &f.params {
        cursor
            .skip(ty)
            .map_err(|e| format!("argument `{name}` of `{}`: {e}", f.name))?;
    }
    Ok(cursor.position())
}

/// The length of the results of `f` that `bytes` start with.
pub(super) fn results_len(f: &FunctionInfo, bytes: &[u8]) -> Result<usize, String> {
    let mut cursor = Cursor::new(bytes);
    if let Some(ty) = &f.result {
        cursor
            .skip(ty)
            .map_err(|e| format!("results of `{}`: {e}", f.name))?;
    }
    Ok(cursor.position())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_info::{func, iface};
    use crate::types::{ExportHandle, ResourceDrop, ResourceRef, ValueType};

    /// Every id finds the function [`ComponentInfo::intercepted_functions`] numbers so, and no
    /// other id finds one.
    #[test]
    fn places_follow_the_numbering_of_intercepted_functions() {
        let stream = ResourceRef {
            interface: Some("wasi:io/streams@0.2.6".into()),
            name: "output-stream".into(),
        };
        let info = ComponentInfo {
            imported_interfaces: vec![
                iface(
                    "a:b/c",
                    vec![func("f", vec![], None), func("g", vec![], None)],
                ),
                iface("a:b/empty", vec![]),
                iface("a:b/d", vec![func("h", vec![ValueType::U8], None)]),
            ],
            imported_functions: vec![func("bare", vec![], Some(ValueType::String))],
            resource_drops: vec![ResourceDrop::new(
                "wasi:io/streams@0.2.6",
                "output-stream",
                stream.clone(),
            )],
            export_handles: vec![ExportHandle::new(
                "wasi:io/streams@0.2.6",
                "output-stream",
                stream,
            )],
            ..Default::default()
        };
        let places = CallTypes::new(&info);
        let mut n = 0;
        for f in info.intercepted_functions() {
            assert_eq!(
                places.function(&info, f.id),
                Some(f.function),
                "id {}",
                f.id
            );
            n += 1;
        }
        assert_eq!(n, 6);
        assert_eq!(places.function(&info, n), None);
        assert_eq!(places.function(&info, u32::MAX), None);
    }

    #[test]
    fn values_are_delimited_by_their_types() {
        let f = func(
            "write",
            vec![ValueType::U32, ValueType::List(Box::new(ValueType::U8))],
            Some(ValueType::Option(Box::new(ValueType::U8))),
        );
        // 300 (two bytes of LEB128), then a list of 2 bytes: 5 bytes of arguments, then more.
        assert_eq!(args_len(&f, &[0xac, 0x02, 2, 7, 8, 1, 9]), Ok(5));
        assert_eq!(results_len(&f, &[1, 9, 0xff]), Ok(2));
        assert_eq!(results_len(&f, &[0]), Ok(1));
        assert!(
            args_len(&f, &[0xac, 0x02, 3, 7]).is_err(),
            "cut in the list"
        );
        let none = func("nothing", vec![], None);
        assert_eq!(results_len(&none, &[1, 2]), Ok(0));
    }
}
