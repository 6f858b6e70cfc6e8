package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	mcpwarden "github.com/mcpwarden/mcpwarden/clients/go"
)

// Enrolment: one organization secret, baked into a package or an MDM profile, gives every
// machine a key of its own. The key is kept in a file only the agent's user can read.

// defaultKeyFile is where an enrolled agent keeps its key: the system's state directory when
// run as root (the packages' service), the user's configuration directory otherwise.
func defaultKeyFile() string {
	if runtime.GOOS != "windows" && os.Geteuid() == 0 {
		if runtime.GOOS == "darwin" {
			return "/Library/Application Support/mcpwarden/agent.key"
		}
		return "/var/lib/mcpwarden/agent.key"
	}
	if dir, err := os.UserConfigDir(); err == nil {
		return filepath.Join(dir, "mcpwarden", "agent.key")
	}
	return filepath.Join(".mcpwarden", "agent.key")
}

// readKeyFile returns the key stored at path, or "" when there is none.
func readKeyFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading the agent key: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// writeKeyFile stores key at path, readable by its owner only, replacing any key there at once
// (a crash leaves the old key or the new one, never half of one).
func writeKeyFile(path, key string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, ".agent-key-*")
	if err != nil {
		return fmt.Errorf("storing the agent key: %w", err)
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(0o600); err != nil && runtime.GOOS != "windows" {
		f.Close()
		return err
	}
	if _, err := f.WriteString(key + "\n"); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// checkServerURL refuses a server URL the agent could not reach as meant, saying how to fix it.
func checkServerURL(raw string) error {
	u, err := url.Parse(raw)
	if err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
		return nil
	}
	if !strings.Contains(raw, "://") {
		return fmt.Errorf("the server URL %q has no scheme: use https://%s (or http://%s for a server without TLS): %w", raw, raw, raw, errUsage)
	}
	return fmt.Errorf("the server URL %q is not an http:// or https:// URL: %w", raw, errUsage)
}

// enroll presents secret with this machine's identity and returns the agent's id and key.
func enroll(ctx context.Context, serverURL, secret, name string) (id, key string, err error) {
	machine, err := machineID()
	if err != nil {
		return "", "", fmt.Errorf("this machine's identity: %w", err)
	}
	hb := heartbeatBody()
	c, err := mcpwarden.NewClientWithResponses(serverURL, mcpwarden.WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
		req.Header.Set("User-Agent", "mcpwarden-agent/"+version)
		return nil
	}))
	if err != nil {
		return "", "", fmt.Errorf("server URL: %w", err)
	}
	body := mcpwarden.EnrollRequest{
		EnrollmentSecret: &secret, MachineId: machine, Hostname: hb.Hostname,
		Username: nonEmpty(hb.Username), AgentVersion: &hb.AgentVersion, Name: nonEmpty(name),
	}
	switch hb.OSType {
	case "linux", "darwin", "windows":
		os := mcpwarden.OsType(hb.OSType)
		body.OsType = &os
	}
	resp, err := c.EnrollAgentWithResponse(ctx, body)
	if err != nil {
		return "", "", err
	}
	if err := mcpwarden.CheckResponse(resp.HTTPResponse, resp.Body); err != nil {
		return "", "", err
	}
	a := resp.JSON201
	if a == nil {
		a = resp.JSON200
	}
	if a == nil {
		return "", "", fmt.Errorf("the server answered %d without an agent", resp.StatusCode())
	}
	return a.Id.String(), a.ApiKey, nil
}

func enrollCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("enroll", flag.ContinueOnError)
	fs.SetOutput(stderr)
	serverURL := fs.String("server", "", "mcpwarden server `URL` (or MCPWARDEN_URL, or url in the config file)")
	secret := fs.String("secret", "", "organization enrolment `secret`, mcp_es_... (or MCPWARDEN_ENROLLMENT_SECRET, or enrollment_secret in the config file)")
	configPath := fs.String("config", "", "JSON config `file` (url, enrollment_secret, key_file)")
	keyFile := fs.String("key-file", "", "`file` to store the agent key in (default: MCPWARDEN_KEY_FILE, key_file in the config file, else "+defaultKeyFile()+")")
	name := fs.String("name", "", "the agent's `name` on the server (default: the hostname)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q: %w", fs.Arg(0), errUsage)
	}
	cfg, err := loadConfig(*configPath, newLogger(stderr))
	if err != nil {
		return err
	}
	url := firstNonEmpty(*serverURL, os.Getenv("MCPWARDEN_URL"), cfg.URL)
	sec := firstNonEmpty(*secret, os.Getenv("MCPWARDEN_ENROLLMENT_SECRET"), cfg.EnrollmentSecret)
	var missing []string
	if url == "" {
		missing = append(missing, "the server (--server, MCPWARDEN_URL or url in the config file)")
	}
	if sec == "" {
		missing = append(missing, "the enrolment secret (--secret, MCPWARDEN_ENROLLMENT_SECRET or enrollment_secret in the config file)")
	}
	if len(missing) > 0 {
		return fmt.Errorf("enroll needs %s: %w", strings.Join(missing, " and "), errUsage)
	}
	if err := checkServerURL(url); err != nil {
		return err
	}
	path := firstNonEmpty(*keyFile, os.Getenv("MCPWARDEN_KEY_FILE"), cfg.KeyFile, defaultKeyFile())
	id, key, err := enroll(ctx, url, sec, *name)
	if err != nil {
		return fmt.Errorf("enrolling with %s: %w", url, err)
	}
	if err := writeKeyFile(path, key); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Enrolled this machine as agent %s; its key is in %s (readable by this user only).\nStart reporting with: mcpwarden-agent run --server %s\n", id, path, url)
	return nil
}
