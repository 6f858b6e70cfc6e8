package localpg

import (
	"os"
	"path/filepath"
	"testing"
)

func TestSharedBuffersFor(t *testing.T) {
	for _, tc := range []struct {
		mem  int64
		want int
	}{
		{0, 128},         // unknown
		{512 << 20, 128}, // a small VM: never below PostgreSQL's default
		{4 << 30, 512},
		{24 << 30, 1024},
		{256 << 30, 1024}, // capped
	} {
		if got := SharedBuffersFor(tc.mem); got != tc.want {
			t.Errorf("SharedBuffersFor(%d MB) = %d MB, want %d MB", tc.mem>>20, got, tc.want)
		}
	}
}

func TestMemoryFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	meminfo := write("meminfo", "MemTotal:       24578900 kB\nMemFree:        1000 kB\n")
	if got := memTotal(meminfo); got != 24578900<<10 {
		t.Errorf("memTotal = %d", got)
	}
	if got := memTotal(filepath.Join(dir, "missing")); got != 0 {
		t.Errorf("memTotal of a missing file = %d, want 0", got)
	}
	if got := cgroupLimit(write("max", "max\n")); got != 0 {
		t.Errorf(`cgroupLimit("max") = %d, want 0 (no limit)`, got)
	}
	if got := cgroupLimit(write("limit", "2147483648\n")); got != 2<<30 {
		t.Errorf("cgroupLimit = %d, want 2 GiB", got)
	}
}
