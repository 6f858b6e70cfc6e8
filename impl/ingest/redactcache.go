package ingest

import (
	"crypto/sha256"
	"strings"
	"sync"

	"github.com/mcpwarden/mcpwarden/impl/redact"
)

// redactCacheSize bounds each of the cache's two generations (see redactCache).
const redactCacheSize = 8 << 10

// redactCache remembers redact.Command's results for recently seen texts. A fleet's reports
// repeat the same server types, scopes, configuration paths and URLs, and redaction is the
// dearest step of normalizing them. Texts are keyed by their SHA-256, so no secret a report
// carried stays in memory. When the current generation is full it becomes the old one, and the
// old one is dropped: at most 2×redactCacheSize entries, and recently used ones survive.
type redactCache struct {
	mu       sync.Mutex
	cur, old map[[sha256.Size]byte]string
}

func (c *redactCache) command(s string) string {
	if s == "" {
		return s
	}
	return c.through(sha256.Sum256([]byte(s)), func() string { return redact.Command(s) })
}

// args is redact.Args through the cache: a vector is kept as its arguments joined with NUL,
// which no reported text holds (normalizeReport refuses it), so no vector's key is a text's.
// Vectors longer than a command may be are redacted without the cache, which keeps its size
// bounded as it is for texts.
func (c *redactCache) args(a []string) []string {
	joined := strings.Join(a, "\x00")
	if len(joined) > maxCommand {
		return redact.Args(a)
	}
	v := c.through(sha256.Sum256([]byte("args\x00"+joined)), func() string { return strings.Join(redact.Args(a), "\x00") })
	return strings.Split(v, "\x00")
}

// through returns the cached value of k, or computes it with redacted and caches it.
func (c *redactCache) through(k [sha256.Size]byte, redacted func() string) string {
	c.mu.Lock()
	v, ok := c.cur[k]
	if !ok {
		if v, ok = c.old[k]; ok {
			c.putLocked(k, v)
		}
	}
	c.mu.Unlock()
	if ok {
		return v
	}
	v = redacted()
	c.mu.Lock()
	c.putLocked(k, v)
	c.mu.Unlock()
	return v
}

func (c *redactCache) putLocked(k [sha256.Size]byte, v string) {
	if c.cur == nil || len(c.cur) >= redactCacheSize {
		c.old, c.cur = c.cur, make(map[[sha256.Size]byte]string, redactCacheSize)
	}
	c.cur[k] = v
}
