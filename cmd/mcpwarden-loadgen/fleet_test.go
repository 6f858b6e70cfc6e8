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
	srv, fake := newFakeServer(t)
	mu, beats, hostnames, answered := &fake.mu, fake.beats, fake.hostnames, fake.answered
	keysPath, keys := writeTestKeys(t, agents)
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

// fakeServer stands in for mcpwarden: it answers heartbeats, and reports as unchanged when the
// body is the one it holds for the key (at first the load generator's baseline), else as
// changed, with servers_created set when the server names are new.
type fakeServer struct {
	mu        sync.Mutex
	beats     map[string]int
	hostnames map[string]string
	held      map[string]string
	answered  map[string]int
}

func newFakeServer(t *testing.T) (*httptest.Server, *fakeServer) {
	f := &fakeServer{beats: map[string]int{}, hostnames: map[string]string{}, held: map[string]string{}, answered: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		key := r.Header.Get("X-API-Key")
		f.mu.Lock()
		defer f.mu.Unlock()
		switch r.URL.Path {
		case "/agents/heartbeat":
			var hb struct {
				Hostname string `json:"hostname"`
			}
			if json.Unmarshal(body, &hb) != nil {
				http.Error(w, "bad heartbeat", http.StatusBadRequest)
				return
			}
			f.beats[key]++
			f.hostnames[key] = hb.Hostname
			f.answered["heartbeat"]++
			fmt.Fprint(w, `{"status":"ok"}`)
		case "/mcp/report":
			prev, ok := f.held[key]
			if !ok {
				prev = baselineForTest()
			}
			f.held[key] = string(body)
			switch {
			case prev == string(body):
				f.answered["report_unchanged"]++
				fmt.Fprint(w, `{"servers_received":10,"unchanged":true,"servers_created":0,"servers_updated":0,"servers_dormant":0}`)
			case firstServerName(body) != firstServerName([]byte(prev)): // new server names (a "new" report)
				f.answered["report_new"]++
				fmt.Fprint(w, `{"servers_received":10,"unchanged":false,"servers_created":10,"servers_updated":0,"servers_dormant":10}`)
			default:
				f.answered["report_changed"]++
				fmt.Fprint(w, `{"servers_received":10,"unchanged":false,"servers_created":0,"servers_updated":10,"servers_dormant":0}`)
			}
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, f
}

func firstServerName(body []byte) string {
	var r struct {
		Servers []struct {
			ServerName string `json:"server_name"`
		} `json:"servers"`
	}
	if json.Unmarshal(body, &r) != nil || len(r.Servers) == 0 {
		return ""
	}
	return r.Servers[0].ServerName
}

func writeTestKeys(t *testing.T, n int) (string, []string) {
	path := filepath.Join(t.TempDir(), "keys")
	var keys []string
	for i := range n {
		keys = append(keys, fmt.Sprintf("mcp_sk_test%04d", i))
	}
	if err := os.WriteFile(path, []byte(strings.Join(keys, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, keys
}

// TestAgentsModeCountsTheSameThroughEitherClient runs the agents mode's mix through the SDK and
// through the raw client, and checks each counts exactly what the server answered, with every
// report the kind it was sent as.
func TestAgentsModeCountsTheSameThroughEitherClient(t *testing.T) {
	for _, client := range []string{"sdk", "raw"} {
		t.Run(client, func(t *testing.T) {
			srv, fake := newFakeServer(t)
			keysPath, _ := writeTestKeys(t, 16)
			mix, _ := parseWeights("heartbeat=2,report=1", "heartbeat", "report")
			reportMix, _ := parseWeights("unchanged=2,changed=1,new=1", "unchanged", "changed", "new")
			o := options{url: srv.URL, mode: "agents", keysFile: keysPath, concurrency: 4, requests: 400, duration: time.Minute,
				mix: mix, reportMix: reportMix, servers: 10, timeout: 10 * time.Second, http: client}
			res, err := runAgents(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			fake.mu.Lock()
			defer fake.mu.Unlock()
			if res.Errors != 0 || res.Requests != 400 {
				t.Fatalf("%d requests, %d errors; want 400 and none", res.Requests, res.Errors)
			}
			for _, name := range []string{"heartbeat", "report_unchanged", "report_changed", "report_new"} {
				ep := res.Endpoint(name)
				if ep.Requests == 0 || ep.Requests != uint64(fake.answered[name]) || ep.Unexpected != 0 {
					t.Errorf("%s: the results count %d requests (%d unexpected), the server answered %d", name, ep.Requests, ep.Unexpected, fake.answered[name])
				}
			}
		})
	}
}
