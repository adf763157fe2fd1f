;; A component with one root export, `answer: func() -> u32` (42), and no `wasi:cli/run`:
;; `run` without `--invoke` must refuse it; `--invoke 'answer()'` prints 42.
(component
  (core module $m
    (func (export "answer") (result i32) i32.const 42))
  (core instance $i (instantiate $m))
  (func $answer (result u32) (canon lift (core func $i "answer")))
  (export "answer" (func $answer))
)
