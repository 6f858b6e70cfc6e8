package ingest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mcpwarden/mcpwarden/impl/redact"
)

// TestRedactCacheAnswersAsRedactAndStaysBounded: cached answers are redact.Command's, first time
// and later; no secret is kept; the cache never holds more than two generations.
func TestRedactCacheAnswersAsRedactAndStaysBounded(t *testing.T) {
	var c redactCache
	secret := "ghp_R7x2Lq9ZtW4mN8vB3cK6yH1jP5sD0fG2aE7u"
	inputs := []string{"", "npx -y @modelcontextprotocol/server-github", "uvx mcp-server-git --token " + secret,
		"https://user:" + secret + "@example.com/mcp", "/home/dev/projects"}
	for round := range 3 {
		for _, in := range inputs {
			if got, want := c.command(in), redact.Command(in); got != want {
				t.Fatalf("round %d: command(%q) = %q, want %q", round, in, got, want)
			}
		}
	}
	for _, gen := range []map[[32]byte]string{c.cur, c.old} {
		for _, v := range gen {
			if strings.Contains(v, secret) {
				t.Fatalf("the cache holds the secret: %q", v)
			}
		}
	}
	for i := range 3 * redactCacheSize {
		in := fmt.Sprintf("uvx mcp-server-%d", i)
		if got := c.command(in); got != in {
			t.Fatalf("command(%q) = %q", in, got)
		}
	}
	if n := len(c.cur) + len(c.old); n > 2*redactCacheSize {
		t.Fatalf("%d entries cached, want at most %d", n, 2*redactCacheSize)
	}
	// A recent entry survives the rotation; its answer is still right.
	last := fmt.Sprintf("uvx mcp-server-%d", 3*redactCacheSize-1)
	if got := c.command(last); got != last {
		t.Fatalf("command(%q) = %q after rotation", last, got)
	}
}
