package localpg

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

// SharedBuffersFor sizes the built-in cluster's shared_buffers for a machine (or container) with
// memBytes of memory: an eighth of it, from PostgreSQL's default of 128 MB up to 1 GB. The
// cluster shares the machine with the server and whatever else runs there, so it takes less than
// the quarter PostgreSQL's documentation suggests for a dedicated database server. 128 MB is
// too little for a fleet: 10,000 agents' servers and their indexes are about 200 MB, and every
// report batch then read its agents' pages back from the kernel's cache and wrote others out.
// Memory that is not known (0) gets the default.
func SharedBuffersFor(memBytes int64) int {
	const minMB, maxMB = 128, 1024
	return min(max(int(memBytes>>20)/8, minMB), maxMB)
}

// MemoryLimit is the memory this process may use: the machine's, or its cgroup's limit when
// that is lower (a container's); 0 when neither can be read.
func MemoryLimit() int64 {
	total := memTotal("/proc/meminfo")
	if limit := cgroupLimit("/sys/fs/cgroup/memory.max"); limit > 0 && (total == 0 || limit < total) {
		return limit
	}
	return total
}

// memTotal reads MemTotal from a /proc/meminfo file, in bytes.
func memTotal(path string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 3 && fields[0] == "MemTotal:" && fields[2] == "kB" {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

// cgroupLimit reads a cgroup v2 memory.max file, in bytes; "max" (no limit) is 0.
func cgroupLimit(path string) int64 {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	if err != nil {
		return 0
	}
	return n
}
