// Command herald-testhttp is the cross-process baseline of the plugin
// benchmarks: an HTTP server on 127.0.0.1 that answers every request with
// its body. It prints its address on stdout and exits when stdin closes, so
// it never outlives the benchmark that started it.
package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
)

func main() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "herald-testhttp:", err)
		os.Exit(1)
	}
	fmt.Println(ln.Addr().String())
	go func() {
		_ = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(body)
		}))
	}()
	_, _ = io.Copy(io.Discard, os.Stdin)
}
