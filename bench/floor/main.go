// Command floor is the baseline of the webhook benchmark: the least a
// program must do for the same job — receive the webhook and post the
// message to the provider — with no durability, retries or plugins. Herald's
// figures are read against it.
//
//	go run ./bench/floor -listen 127.0.0.1:8181 -target http://127.0.0.1:8090/chatapi/instance229607/sendMessage?token=sandbox-token
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"log"
	"net/http"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8181", "address to listen on")
	target := flag.String("target", "", "provider URL to post each message to")
	flag.Parse()
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	http.HandleFunc("POST /hooks/bench", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Msg string `json:"msg"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&in); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body, _ := json.Marshal(map[string]string{"phone": "14155550123", "body": in.Msg})
		resp, err := client.Post(*target, "application/json", bytes.NewReader(body))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		w.WriteHeader(http.StatusAccepted)
	})
	log.Fatal(http.ListenAndServe(*listen, nil))
}
