//go:build darwin

package main

import (
	"fmt"
	"os/exec"
	"regexp"
)

var platformUUID = regexp.MustCompile(`"IOPlatformUUID" = "([0-9A-Fa-f-]+)"`)

// rawMachineID reads the hardware UUID from the I/O Registry (without cgo, through ioreg).
func rawMachineID() (string, error) {
	out, err := exec.Command("/usr/sbin/ioreg", "-rd1", "-c", "IOPlatformExpertDevice").Output()
	if err != nil {
		return "", fmt.Errorf("ioreg: %w", err)
	}
	m := platformUUID.FindSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("ioreg printed no IOPlatformUUID")
	}
	return string(m[1]), nil
}
