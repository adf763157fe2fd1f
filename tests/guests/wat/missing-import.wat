;; A command component that imports an interface no runtime provides,
;; `proxyrt:missing/thing@1.0.0` with `poke: func(x: u32) -> u32`, and calls it from `run`.
;; Instantiation fails with a "matching implementation was not found" error; with
;; `wasmtime run -W unknown-imports-trap=y` the call traps instead.
(component
  (import "proxyrt:missing/thing@1.0.0" (instance $thing
    (export "poke" (func (param "x" u32) (result u32)))))
  (core func $poke (canon lower (func $thing "poke")))
  (core module $m
    (import "thing" "poke" (func $poke (param i32) (result i32)))
    (func (export "run") (result i32)
      (drop (call $poke (i32.const 7)))
      i32.const 0))
  (core instance $i (instantiate $m
    (with "thing" (instance (export "poke" (func $poke))))))
  (func $run (result (result)) (canon lift (core func $i "run")))
  (instance $run-instance (export "run" (func $run)))
  (export "wasi:cli/run@0.2.0" (instance $run-instance))
)
