//go:build !darwin && !windows

package main

import (
	"fmt"
	"os"
)

// rawMachineID reads systemd's machine ID, or D-Bus's on systems without systemd.
func rawMachineID() (string, error) {
	for _, p := range []string{"/etc/machine-id", "/var/lib/dbus/machine-id"} {
		if b, err := os.ReadFile(p); err == nil && len(b) > 0 {
			return string(b), nil
		}
	}
	return "", fmt.Errorf("no machine ID in /etc/machine-id or /var/lib/dbus/machine-id")
}
