// Command durablefloor is the durable baseline of the webhook benchmark: the
// floor program (receive the webhook, post the message to the provider)
// plus the least a durable one-step engine must write — one SQLite row
// committed before the provider is called (the fact that makes a send in
// doubt after a crash) and updated with the outcome after — in WAL mode
// with synchronous=FULL, commits grouped across concurrent requests by one
// writer. It answers 202 once the outcome is committed. No retries,
// plugins, templates or history: Herald's figures are read against it as
// the physical limit of a durable engine on the machine.
//
//	go run ./bench/durablefloor -listen 127.0.0.1:8182 -db /tmp/floor.db -target http://127.0.0.1:8090/chatapi/instance229607/sendMessage?token=sandbox-token
package main

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite"
)

// maxGroup bounds how many writes one commit carries.
const maxGroup = 512

// write is one statement waiting for the group commit.
type write struct {
	query string
	args  []any
	done  chan error
}

// committer writes the statements handed to it in groups: each transaction
// takes every write queued while the previous one was committing, so
// concurrent requests share one fsync.
type committer struct {
	db     *sql.DB
	queue  chan write
	groups atomic.Int64
	writes atomic.Int64
}

func (c *committer) run() {
	for first := range c.queue {
		group := []write{first}
	more:
		for len(group) < maxGroup {
			select {
			case w := <-c.queue:
				group = append(group, w)
			default:
				break more
			}
		}
		err := c.commit(group)
		c.groups.Add(1)
		c.writes.Add(int64(len(group)))
		for _, w := range group {
			w.done <- err
		}
	}
}

func (c *committer) commit(group []write) error {
	tx, err := c.db.Begin()
	if err != nil {
		return err
	}
	for _, w := range group {
		if _, err := tx.Exec(w.query, w.args...); err != nil {
			_ = tx.Rollback()
			return err
		}
	}
	return tx.Commit()
}

// exec queues one statement and waits until its group is committed.
func (c *committer) exec(query string, args ...any) error {
	done := make(chan error, 1)
	c.queue <- write{query: query, args: args, done: done}
	return <-done
}

func main() {
	listen := flag.String("listen", "127.0.0.1:8182", "address to listen on")
	target := flag.String("target", "", "provider URL to post each message to")
	path := flag.String("db", "durablefloor.db", "SQLite database file")
	flag.Parse()
	db, err := sql.Open("sqlite", "file:"+*path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(5000)")
	if err != nil {
		log.Fatal(err)
	}
	// One writer connection: the group commit is the only concurrency.
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS runs (
		id INTEGER PRIMARY KEY, body TEXT NOT NULL, status TEXT NOT NULL,
		provider_status INTEGER, created_at INTEGER NOT NULL, finished_at INTEGER)`); err != nil {
		log.Fatal(err)
	}
	var mode string
	if err := db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		log.Fatalf("journal_mode is %q (%v), want wal", mode, err)
	}
	c := &committer{db: db, queue: make(chan write, 4*maxGroup)}
	go c.run()
	var seq atomic.Int64
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	http.HandleFunc("POST /hooks/bench", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Msg string `json:"msg"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&in); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		id := seq.Add(1)
		body, _ := json.Marshal(map[string]string{"phone": "14155550123", "body": in.Msg})
		// Durable before the send: after a crash the row says the
		// message may have gone out.
		if err := c.exec(`INSERT INTO runs (id, body, status, created_at) VALUES (?, ?, 'sending', ?)`,
			id, body, time.Now().UnixNano()); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		status, outcome := 0, "sent"
		resp, err := client.Post(*target, "application/json", bytes.NewReader(body))
		if err != nil {
			outcome = "failed"
		} else {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			status = resp.StatusCode
		}
		if err := c.exec(`UPDATE runs SET status = ?, provider_status = ?, finished_at = ? WHERE id = ?`,
			outcome, status, time.Now().UnixNano(), id); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		if outcome != "sent" {
			http.Error(w, "provider call failed", http.StatusBadGateway)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})
	// GET /stats tells the harness how well writes were grouped.
	http.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"groups":%s,"writes":%s}`, strconv.FormatInt(c.groups.Load(), 10), strconv.FormatInt(c.writes.Load(), 10))
	})
	log.Fatal(http.ListenAndServe(*listen, nil))
}
