package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestFleetPlaysEveryAgentAtItsRate runs the fleet mode against a stand-in server for longer
// than one heartbeat interval and checks that every agent was heard from with its own key and
// heartbeat body, that changed reports carry a new configuration and unchanged ones the one the
// server holds, and that the results count exactly what the server answered.
func TestFleetPlaysEveryAgentAtItsRate(t *testing.T) {
	const agents = 40
	var (
		mu        sync.Mutex
		beats     = map[string]int{}
		hostnames = map[string]string{}
		held      = map[string]string{} // the report the server holds for each key
		answered  = map[string]int{}
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		key := r.Header.Get("X-API-Key")
		mu.Lock()
		defer mu.Unlock()
		switch r.URL.Path {
		case "/agents/heartbeat":
			var hb struct {
				Hostname string `json:"hostname"`
			}
			if json.Unmarshal(body, &hb) != nil {
				http.Error(w, "bad heartbeat", http.StatusBadRequest)
				return
			}
			beats[key]++
			hostnames[key] = hb.Hostname
			answered["heartbeat"]++
			fmt.Fprint(w, `{"status":"ok"}`)
		case "/mcp/report":
			prev, ok := held[key]
			if !ok {
				prev = baselineForTest()
			}
			held[key] = string(body)
			if prev == string(body) {
				answered["report_unchanged"]++
				fmt.Fprint(w, `{"servers_received":10,"unchanged":true,"servers_created":0,"servers_updated":0,"servers_dormant":0}`)
				return
			}
			answered["report_changed"]++
			fmt.Fprint(w, `{"servers_received":10,"unchanged":false,"servers_created":0,"servers_updated":10,"servers_dormant":0}`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()

	keysPath := filepath.Join(t.TempDir(), "keys")
	var keys []string
	for i := range agents {
		keys = append(keys, fmt.Sprintf("mcp_sk_test%04d", i))
	}
	if err := os.WriteFile(keysPath, []byte(strings.Join(keys, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	o := options{
		url: srv.URL, mode: "fleet", keysFile: keysPath, agents: agents, concurrency: 8, servers: 10, timeout: 10 * time.Second,
		interval: 300 * time.Millisecond, reportInterval: 200 * time.Millisecond, jitter: 0.1, changed: 0.5,
		duration: time.Second, maxLag: time.Minute,
	}
	res, err := runFleet(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for i, k := range keys {
		if beats[k] == 0 {
			t.Errorf("agent %d sent no heartbeat in a run longer than its interval", i)
		} else if want := fmt.Sprintf("loadgen-%06d.local", i); hostnames[k] != want {
			t.Errorf("agent %d heartbeats as %q, want %q", i, hostnames[k], want)
		}
	}
	if res.Errors != 0 || res.Fleet == nil || res.Fleet.Dropped != 0 {
		t.Fatalf("errors %d, fleet %+v", res.Errors, res.Fleet)
	}
	for _, name := range []string{"heartbeat", "report_unchanged", "report_changed"} {
		ep := res.Endpoint(name)
		if ep.Requests == 0 || ep.Requests != uint64(answered[name]) || ep.Unexpected != 0 {
			t.Errorf("%s: the results count %d requests (%d unexpected), the server answered %d", name, ep.Requests, ep.Unexpected, answered[name])
		}
	}
}

func baselineForTest() string {
	s := &simulation{o: options{servers: 10}}
	return string(s.reportBody(0, 0, 0))
}
