package apikey

import (
	"strings"
	"testing"
)

func TestNewKeysAreValidAndDistinct(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		k := New()
		if !Valid(k) {
			t.Fatalf("New() = %q is not Valid", k)
		}
		if len(k) != Len || !strings.HasPrefix(k, Prefix) {
			t.Fatalf("New() = %q: want %d characters starting %q", k, Len, Prefix)
		}
		if seen[k] {
			t.Fatalf("New() repeated %q", k)
		}
		seen[k] = true
	}
}

func TestValidRefusesMalformedKeys(t *testing.T) {
	good := New()
	flip := func(i int) string {
		b := []byte(good)
		if b[i] == 'a' {
			b[i] = 'b'
		} else {
			b[i] = 'a'
		}
		return string(b)
	}
	for name, key := range map[string]string{
		"empty":                 "",
		"prefix only":           Prefix,
		"wrong prefix":          "mcp_pk_" + good[len(Prefix):],
		"truncated":             good[:Len-1],
		"extra character":       good + "a",
		"secret changed":        flip(len(Prefix) + 5),
		"checksum changed":      flip(Len - 1),
		"not base62":            good[:Len-7] + "-" + good[Len-6:],
		"legacy style hex key":  "mcp_sk_" + strings.Repeat("ab", 32),
		"unicode in secret":     good[:10] + "é" + good[12:],
		"whitespace around key": " " + good[:Len-1],
	} {
		if Valid(key) {
			t.Errorf("%s: Valid(%q) = true", name, key)
		}
	}
}

func TestHashIsSHA256AndPrefixIsShort(t *testing.T) {
	k := New()
	if h := Hash(k); len(h) != 32 {
		t.Errorf("Hash length %d, want 32", len(h))
	}
	if string(Hash(k)) == string(Hash(New())) {
		t.Error("two keys hash alike")
	}
	p := DisplayPrefix(k)
	if !strings.HasPrefix(k, p) || len(p) > 20 || len(p) <= len(Prefix) {
		t.Errorf("DisplayPrefix = %q", p)
	}
}

func BenchmarkValidAndHash(b *testing.B) {
	k := New()
	for b.Loop() {
		if Valid(k) {
			Hash(k)
		}
	}
}
