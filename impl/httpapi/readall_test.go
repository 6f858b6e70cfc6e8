package httpapi

import (
	"bytes"
	"strings"
	"testing"
)

// TestReadAllTrustsADeclaredLengthOnlySoFar: a body that declares 8 MiB and sends a few bytes
// costs no 8 MiB allocation, and a body longer than the trusted length is still read whole.
func TestReadAllTrustsADeclaredLengthOnlySoFar(t *testing.T) {
	b, err := readAll(strings.NewReader(`{"servers":[]}`), 8<<20)
	if err != nil || string(b) != `{"servers":[]}` {
		t.Fatalf("small body: %q, %v", b, err)
	}
	if cap(b) > readAllTrust+1 {
		t.Fatalf("allocated %d bytes on the declared length, want at most %d", cap(b), readAllTrust+1)
	}
	big := bytes.Repeat([]byte("x"), 3*readAllTrust+7)
	if b, err := readAll(bytes.NewReader(big), int64(len(big))); err != nil || !bytes.Equal(b, big) {
		t.Fatalf("large body: %d bytes read, %v; want %d", len(b), err, len(big))
	}
	if b, err := readAll(bytes.NewReader(big), -1); err != nil || !bytes.Equal(b, big) {
		t.Fatalf("body of unknown length: %d bytes read, %v; want %d", len(b), err, len(big))
	}
}
