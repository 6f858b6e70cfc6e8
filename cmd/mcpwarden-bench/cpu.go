package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// cpuUse is where the machine's CPU went during a phase, in cores.
type cpuUse struct {
	Server, Postgres, Machine float64
}

type cpuSnap struct {
	at                 time.Time
	server             float64            // CPU seconds
	pg                 map[string]float64 // CPU seconds by pid
	machineBusy, ticks float64            // jiffies
}

// procCPU is a process's user+system CPU seconds and its parent's pid.
func procCPU(pid string) (float64, int) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0, 0
	}
	ppid, _ := strconv.Atoi(f[1])
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100, ppid // USER_HZ is 100 on Linux
}

// postgresCPU returns the CPU seconds of the postmaster and each of its backends, by pid.
func postgresCPU(dataDir string) map[string]float64 {
	m := map[string]float64{}
	b, err := os.ReadFile(filepath.Join(dataDir, "postgres", "pgdata", "postmaster.pid"))
	if err != nil {
		return m
	}
	pm, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	if err != nil {
		return m
	}
	m[strconv.Itoa(pm)], _ = procCPU(strconv.Itoa(pm))
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		if cpu, ppid := procCPU(e.Name()); ppid == pm {
			m[e.Name()] = cpu
		}
	}
	return m
}

// pgDelta is the CPU PostgreSQL's processes used between two snapshots; backends that exited in
// between are missed, so it is a lower bound.
func pgDelta(before, after map[string]float64) float64 {
	var d float64
	for pid, cpu := range after {
		d += cpu - before[pid]
	}
	return d
}

// machineCPU returns busy and total jiffies across all CPUs from /proc/stat.
func machineCPU() (busy, total float64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line := strings.SplitN(string(b), "\n", 2)[0]
	f := strings.Fields(line)
	for i, v := range f[1:] {
		n, _ := strconv.ParseFloat(v, 64)
		total += n
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return busy, total
}

func (b *bench) cpuSnapshot() cpuSnap {
	s := cpuSnap{at: time.Now(), server: b.srv.cpuSeconds(), pg: postgresCPU(b.dataDir)}
	s.machineBusy, s.ticks = machineCPU()
	return s
}

func (s cpuSnap) since(s0 cpuSnap, cores int) cpuUse {
	d := s.at.Sub(s0.at).Seconds()
	u := cpuUse{Server: (s.server - s0.server) / d, Postgres: pgDelta(s0.pg, s.pg) / d}
	if dt := s.ticks - s0.ticks; dt > 0 {
		u.Machine = (s.machineBusy - s0.machineBusy) / dt * float64(cores)
	}
	return u
}
