;; A plain core module (not a component) exporting `_start` and importing nothing: a WASI
;; preview-1 command that does nothing (`wasmtime run` and `proxyrt run` run it and exit 0; proxyrt
;; makes it a component with the preview-1 adapter first).
(module
  (memory (export "memory") 1)
  (func (export "_start"))
)
