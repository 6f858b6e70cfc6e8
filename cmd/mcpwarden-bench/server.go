package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// serverProc is one `mcpwarden serve` the bench started, with its resource use sampled.
type serverProc struct {
	cmd       *exec.Cmd
	url       string
	pprofURL  string
	dataDir   string
	logPath   string
	done      chan struct{}
	waitErr   error
	mu        sync.Mutex
	maxRSSKiB int64
	stopPoll  chan struct{}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startServer runs bin/mcpwarden serve on a free loopback port with the built-in PostgreSQL in
// dataDir, and waits until /health answers.
func startServer(ctx context.Context, bin, dataDir, logPath string, extraEnv ...string) (*serverProc, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	pport, err := freePort()
	if err != nil {
		return nil, err
	}
	mport, err := freePort()
	if err != nil {
		return nil, err
	}
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(filepath.Join(bin, "mcpwarden"), "serve")
	cmd.Env = append(os.Environ(),
		"MCPWARDEN_DATA_DIR="+dataDir,
		fmt.Sprintf("MCPWARDEN_ADDR=127.0.0.1:%d", port),
		fmt.Sprintf("MCPWARDEN_PPROF_ADDR=127.0.0.1:%d", pport),
		// Metrics on, as in production: the figures include what they cost.
		fmt.Sprintf("MCPWARDEN_METRICS_ADDR=127.0.0.1:%d", mport),
		"MCPWARDEN_LOG_LEVEL=warn",
	)
	cmd.Env = append(cmd.Env, extraEnv...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	s := &serverProc{
		cmd: cmd, url: fmt.Sprintf("http://127.0.0.1:%d", port), pprofURL: fmt.Sprintf("http://127.0.0.1:%d", pport),
		dataDir: dataDir, logPath: logPath, done: make(chan struct{}), stopPoll: make(chan struct{}),
	}
	go func() {
		s.waitErr = cmd.Wait()
		logf.Close()
		close(s.done)
	}()
	go s.pollRSS()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		select {
		case <-s.done:
			return nil, fmt.Errorf("mcpwarden serve exited while starting (%v); see %s:\n%s", s.waitErr, logPath, tail(logPath, 20))
		case <-ctx.Done():
			s.stop()
			return nil, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
		resp, err := http.Get(s.url + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("mcpwarden serve did not become healthy in 3 minutes; see %s", logPath)
		}
	}
}

func (s *serverProc) pid() int { return s.cmd.Process.Pid }

// pollRSS samples VmRSS every 200 ms; VmHWM (read at the end) is the kernel's own peak, this is
// a cross-check that also survives the process's exit.
func (s *serverProc) pollRSS() {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-s.stopPoll:
			return
		case <-t.C:
			if st, err := procStatus(s.pid()); err == nil {
				s.mu.Lock()
				s.maxRSSKiB = max(s.maxRSSKiB, st["VmRSS"], st["VmHWM"])
				s.mu.Unlock()
			}
		}
	}
}

// peakRSSMiB is the server's peak resident memory so far (VmHWM).
func (s *serverProc) peakRSSMiB() float64 {
	if st, err := procStatus(s.pid()); err == nil {
		s.mu.Lock()
		s.maxRSSKiB = max(s.maxRSSKiB, st["VmHWM"])
		s.mu.Unlock()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return float64(s.maxRSSKiB) / 1024
}

// cpuSeconds is the CPU time the server process has used.
func (s *serverProc) cpuSeconds() float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.pid()))
	if err != nil {
		return 0
	}
	// The command name may hold spaces; fields resume after its closing parenthesis.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ is 100 on Linux
}

// stop sends SIGTERM (the server flushes, then stops its PostgreSQL) and waits.
func (s *serverProc) stop() error {
	select {
	case <-s.done:
		return nil
	default:
	}
	close(s.stopPoll)
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
		return nil
	case <-time.After(90 * time.Second):
		syscall.Kill(-s.pid(), syscall.SIGKILL)
		<-s.done
		return errors.New("mcpwarden serve did not stop within 90s; killed")
	}
}

// socketDir reads the built-in PostgreSQL's socket directory from postmaster.pid (line 5).
func socketDir(dataDir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, "postgres", "pgdata", "postmaster.pid"))
	if err != nil {
		return "", err
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) < 5 || strings.TrimSpace(lines[4]) == "" {
		return "", errors.New("postmaster.pid has no socket directory")
	}
	return strings.TrimSpace(lines[4]), nil
}

func procStatus(pid int) (map[string]int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m := map[string]int64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fs := strings.Fields(v)
		if len(fs) > 0 {
			if n, err := strconv.ParseInt(fs[0], 10, 64); err == nil {
				m[k] = n
			}
		}
	}
	return m, sc.Err()
}

func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
