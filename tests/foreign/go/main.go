// proxyrt foreign-toolchain test app: Go (GOOS=wasip1), made a wasi:cli/command component with the
// wasi_snapshot_preview1 adapter by tests/integration/foreign.rs. Same spec as the py/js/c apps.
package main

import (
	"crypto/rand"
	"fmt"
	"os"
	"strings"
	"time"
)

func main() {
	fmt.Println("go-app: hello from Go")
	for _, a := range os.Args[1:] {
		fmt.Println("go-app: arg", a)
	}
	fmt.Println("go-app: GREETING=" + os.Getenv("GREETING"))
	data, err := os.ReadFile("/data/in.txt")
	if err != nil {
		fmt.Fprintln(os.Stderr, "go-app:", err)
		os.Exit(2)
	}
	text := string(data)
	fmt.Printf("go-app: read %d bytes, first line: %s\n", len(data), strings.SplitN(text, "\n", 2)[0])
	out := strings.ToUpper(text) + "greeting=" + os.Getenv("GREETING") + "\n"
	if err := os.WriteFile("/data/out.txt", []byte(out), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "go-app:", err)
		os.Exit(2)
	}
	fmt.Println("go-app: wrote /data/out.txt")
	fmt.Println("go-app: wall-clock", time.Now().UnixNano())
	b := make([]byte, 8)
	rand.Read(b)
	fmt.Printf("go-app: random bytes=%x\n", b)
	fmt.Fprintln(os.Stderr, "go-app: to stderr")
	fmt.Println("go-app: done")
}
