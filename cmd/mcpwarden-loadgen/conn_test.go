package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestRawConnPostsAndReconnects sends requests over one rawConn to a server that closes every
// other connection after its answer, and checks every request arrives whole with its headers and
// every answer comes back whole.
func TestRawConnPostsAndReconnects(t *testing.T) {
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		n++
		if n%2 == 0 {
			w.Header().Set("Connection", "close")
		}
		if r.Method != http.MethodPost || r.Header.Get("X-API-Key") != "k1" || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "bad request line or headers", http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, r.URL.Path+" "+string(body))
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	c := newRawConn(u.Host, u.Host, 5*time.Second)
	for i, body := range []string{`{"a":1}`, `{"b":` + strings.Repeat("2", 40000) + `}`, `{}`, `{"c":3}`} {
		code, answer, err := c.post("/mcp/report", "k1", []byte(body))
		if err != nil || code != http.StatusAccepted || string(answer) != "/mcp/report "+body {
			t.Fatalf("request %d: %d %.60q %v", i, code, answer, err)
		}
	}
}
