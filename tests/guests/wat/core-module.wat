;; A plain core module (not a component) exporting `_start`: a bad input for proxyrt, which only
;; takes components (`wasmtime run` runs it: it does nothing and exits 0).
(module
  (memory (export "memory") 1)
  (func (export "_start"))
)
