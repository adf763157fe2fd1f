//! A hand-written component (no wit-component involved in producing it): a versioned interface
//! with a resource (constructor, method, static with `list<borrow<r>>`, `tuple<own<r>, own<r>>`
//! result) and a bare function import, used by real core code.

mod common;
use common::*;

const GUEST: &str = r#"
(component
  (import "t:hand/store@0.2.6" (instance $store
    (export "r" (type $r (sub resource)))
    (export "[constructor]r" (func (param "x" u32) (result (own $r))))
    (export "[method]r.get" (func (param "self" (borrow $r)) (result u32)))
    (export "[static]r.sum" (func (param "items" (list (borrow $r))) (result u32)))
    (export "make-pair" (func (param "x" u32) (result (tuple (own $r) (own $r)))))
    (export "describe" (func (param "self" (borrow $r)) (param "prefix" string) (result string)))
  ))
  (import "log" (func $log (param "msg" string)))
  (alias export $store "r" (type $r))
  (alias export $store "[constructor]r" (func $ctor))
  (alias export $store "[method]r.get" (func $get))
  (alias export $store "[static]r.sum" (func $sum))
  (alias export $store "make-pair" (func $pair))
  (alias export $store "describe" (func $describe))

  (core module $mem
    (memory (export "mem") 1)
    (global $bump (mut i32) (i32.const 1024))
    (func (export "realloc") (param i32 i32 i32 i32) (result i32)
      (local $p i32)
      global.get $bump
      local.set $p
      global.get $bump
      local.get 3
      i32.add
      global.set $bump
      local.get $p))
  (core instance $mi (instantiate $mem))
  (alias core export $mi "mem" (core memory $m))
  (alias core export $mi "realloc" (core func $realloc))

  (core func $ctor_l (canon lower (func $ctor)))
  (core func $get_l (canon lower (func $get)))
  (core func $sum_l (canon lower (func $sum) (memory $m)))
  (core func $pair_l (canon lower (func $pair) (memory $m)))
  (core func $describe_l (canon lower (func $describe) (memory $m) (realloc $realloc)))
  (core func $log_l (canon lower (func $log) (memory $m)))
  (core func $drop (canon resource.drop $r))

  (core module $main
    (import "m" "mem" (memory 1))
    (import "h" "ctor" (func $ctor (param i32) (result i32)))
    (import "h" "get" (func $get (param i32) (result i32)))
    (import "h" "sum" (func $sum (param i32 i32) (result i32)))
    (import "h" "pair" (func $pair (param i32 i32)))
    (import "h" "describe" (func $describe (param i32 i32 i32 i32)))
    (import "h" "log" (func $log (param i32 i32)))
    (import "h" "drop" (func $drop (param i32)))
    (data (i32.const 0) "hello")
    (func (export "run") (result i32)
      (local $a i32) (local $b i32) (local $n i32)
      i32.const 0 i32.const 5 call $log
      i32.const 7 call $ctor local.set $a
      ;; pair written at 64: two handles
      i32.const 3 i32.const 64 call $pair
      ;; list of borrows at 128: [a, pair.0]
      i32.const 128 local.get $a i32.store
      i32.const 132 i32.const 64 i32.load i32.store
      i32.const 128 i32.const 2 call $sum local.set $n
      local.get $a i32.const 0 i32.const 5 i32.const 256 call $describe
      local.get $a call $get local.get $n i32.add local.set $n
      local.get $a call $drop
      i32.const 64 i32.load call $drop
      i32.const 68 i32.load call $drop
      local.get $n))
  (core instance $main (instantiate $main
    (with "m" (instance $mi))
    (with "h" (instance
      (export "ctor" (func $ctor_l)) (export "get" (func $get_l)) (export "sum" (func $sum_l))
      (export "pair" (func $pair_l)) (export "describe" (func $describe_l))
      (export "log" (func $log_l)) (export "drop" (func $drop))))))
  (func (export "run") (result u32) (canon lift (core func $main "run")))
)
"#;

#[test]
fn hand_written_guest_with_resources() {
    let guest = wat::parse_str(GUEST).expect("WAT parses");
    let composed = instrument_and_check(&guest);
    let info = proxy_gen::analyze(&composed.record).unwrap();
    assert_eq!(info.imported_interfaces[0].name, "t:hand/store@0.2.6");
    assert_eq!(info.imported_interfaces[0].resources, ["r"]);
    assert_eq!(info.imported_functions[0].name, "log");
}
