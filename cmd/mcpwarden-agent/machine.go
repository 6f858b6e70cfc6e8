package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"strings"
)

// machineID is this machine's identity as the server sees it: the hex HMAC-SHA256, keyed with
// "mcpwarden", of the operating system's machine identifier (the hardware UUID on macOS,
// /etc/machine-id on Linux, MachineGuid on Windows). The raw identifier never leaves the
// machine, as systemd's machine-id(5) asks of applications. MCPWARDEN_MACHINE_ID overrides the
// identifier, for machines without one or cloned from one image without regenerating it.
func machineID() (string, error) {
	if v := os.Getenv("MCPWARDEN_MACHINE_ID"); v != "" {
		return hashMachineID(v)
	}
	raw, err := rawMachineID()
	if err != nil {
		return "", err
	}
	return hashMachineID(raw)
}

func hashMachineID(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", errors.New("the machine identifier is empty")
	}
	mac := hmac.New(sha256.New, []byte("mcpwarden"))
	mac.Write([]byte(raw))
	return hex.EncodeToString(mac.Sum(nil)), nil
}
