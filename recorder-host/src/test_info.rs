//! Builders of `ComponentInfo` parts for this crate's unit tests: a freestanding function with
//! parameters `p0, p1, ...`, an interface of functions, handles of a named resource.

use crate::types::{FuncKind, FunctionInfo, InterfaceInfo, ResourceRef, ValueType};

pub fn func(name: &str, params: Vec<ValueType>, result: Option<ValueType>) -> FunctionInfo {
    FunctionInfo {
        name: name.into(),
        kind: FuncKind::Freestanding,
        params: params
            .into_iter()
            .enumerate()
            .map(|(i, t)| (format!("p{i}"), t))
            .collect(),
        result,
    }
}

pub fn iface(name: &str, functions: Vec<FunctionInfo>) -> InterfaceInfo {
    InterfaceInfo {
        name: name.into(),
        package: None,
        interface: None,
        version: None,
        resources: vec![],
        functions,
    }
}

pub fn own(interface: &str, name: &str) -> ValueType {
    ValueType::Own(resource(interface, name))
}

pub fn borrow(interface: &str, name: &str) -> ValueType {
    ValueType::Borrow(resource(interface, name))
}

fn resource(interface: &str, name: &str) -> ResourceRef {
    ResourceRef {
        interface: Some(interface.into()),
        name: name.into(),
    }
}
