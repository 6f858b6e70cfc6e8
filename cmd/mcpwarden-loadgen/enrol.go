package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mcpwarden "github.com/mcpwarden/mcpwarden/clients/go"
)

// login returns an access token for the user, registering the user (and a new organization)
// first when the email is not taken yet.
func login(ctx context.Context, base string, hc *http.Client, email, password string) (string, error) {
	c, err := newSDK(base, hc)
	if err != nil {
		return "", err
	}
	reg, err := c.RegisterUserWithResponse(ctx, mcpwarden.RegisterRequest{
		Email: mcpwarden.Email(email), Password: password,
		FullName: "Load Generator", OrganizationName: "Loadgen Fleet " + email[:strings.IndexByte(email, '@')],
	})
	if err != nil {
		return "", fmt.Errorf("register: %w", err)
	}
	if code := reg.StatusCode(); code != http.StatusCreated && code != http.StatusConflict {
		return "", fmt.Errorf("register %s: HTTP %d: %s", email, code, strings.TrimSpace(string(reg.Body)))
	}
	lr, err := c.LoginWithFormdataBodyWithResponse(ctx, mcpwarden.LoginForm{Username: email, Password: password})
	if err != nil {
		return "", fmt.Errorf("login: %w", err)
	}
	if lr.JSON200 == nil {
		return "", fmt.Errorf("login %s: HTTP %d: %s", email, lr.StatusCode(), strings.TrimSpace(string(lr.Body)))
	}
	return lr.JSON200.AccessToken, nil
}

func bearer(token string) mcpwarden.RequestEditorFn {
	return func(_ context.Context, req *http.Request) error {
		req.Header.Set("Authorization", "Bearer "+token)
		return nil
	}
}

// enrol creates n agents in parallel and returns their keys.
func enrol(ctx context.Context, o options, hc *http.Client) ([]string, error) {
	email := o.email
	if email == "" {
		b := make([]byte, 6)
		rand.Read(b)
		email = "loadgen-" + hex.EncodeToString(b) + "@example.com"
	}
	token, err := login(ctx, o.url, hc, email, o.password)
	if err != nil {
		return nil, err
	}
	c, err := newSDK(o.url, hc, bearer(token))
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "enrolling %d agents as %s with %d in parallel\n", o.agents, email, o.enrolConc)
	keys := make([]string, o.agents)
	var (
		next, done atomic.Int64
		firstErr   error
		once       sync.Once
		wg         sync.WaitGroup
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	stopProgress := progressTicker(o.progress, func() {
		fmt.Fprintf(os.Stderr, "  enrolled %d/%d (%.0f/s)\n", done.Load(), o.agents, float64(done.Load())/time.Since(start).Seconds())
	})
	for range o.enrolConc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= o.agents || ctx.Err() != nil {
					return
				}
				r, err := c.CreateAgentWithResponse(ctx, mcpwarden.CreateAgentRequest{Name: fmt.Sprintf("loadgen-%06d", i)})
				if err == nil && r.JSON201 == nil {
					err = fmt.Errorf("POST /agents/: HTTP %d: %s", r.StatusCode(), strings.TrimSpace(string(r.Body)))
				}
				if err != nil {
					once.Do(func() { firstErr = err; cancel() })
					return
				}
				keys[i] = r.JSON201.ApiKey
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	stopProgress()
	if firstErr != nil {
		return nil, firstErr
	}
	el := time.Since(start)
	fmt.Fprintf(os.Stderr, "enrolled %d agents in %.1fs (%.0f/s)\n", len(keys), el.Seconds(), float64(len(keys))/el.Seconds())
	if o.saveKeys != "" {
		if err := os.WriteFile(o.saveKeys, []byte(strings.Join(keys, "\n")+"\n"), 0o600); err != nil {
			return nil, err
		}
	}
	return keys, nil
}

func readKeys(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var keys []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k := strings.TrimSpace(sc.Text()); k != "" && !strings.HasPrefix(k, "#") {
			keys = append(keys, k)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s holds no keys", path)
	}
	if len(keys) > maxAgents {
		keys = keys[:maxAgents]
	}
	return keys, nil
}

// progressTicker calls fn every interval until the returned stop function is called.
func progressTicker(every time.Duration, fn func()) (stop func()) {
	if every <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				fn()
			case <-done:
				return
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}
