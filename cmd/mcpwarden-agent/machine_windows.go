//go:build windows

package main

import (
	"fmt"

	"golang.org/x/sys/windows/registry"
)

// rawMachineID reads MachineGuid, which Windows sets at installation.
func rawMachineID() (string, error) {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, `SOFTWARE\Microsoft\Cryptography`, registry.QUERY_VALUE|registry.WOW64_64KEY)
	if err != nil {
		return "", fmt.Errorf("open the Cryptography registry key: %w", err)
	}
	defer k.Close()
	v, _, err := k.GetStringValue("MachineGuid")
	if err != nil {
		return "", fmt.Errorf("read MachineGuid: %w", err)
	}
	return v, nil
}
