#!/bin/sh
# Removes mcpwarden-agent from macOS: the LaunchDaemon and the binary; --purge also deletes the
# configuration and the agent's key.
#   sudo ./uninstall.sh [--purge]
set -eu
label=com.mcpwarden.agent
if [ "$(id -u)" != 0 ]; then echo "run it as root: sudo $0" >&2; exit 1; fi
launchctl bootout system/$label 2>/dev/null || true
rm -f /Library/LaunchDaemons/$label.plist /usr/local/bin/mcpwarden-agent /Library/Logs/mcpwarden-agent.log
if [ "${1:-}" = --purge ]; then
  rm -rf "/Library/Application Support/mcpwarden"
else
  echo "kept \"/Library/Application Support/mcpwarden\" (configuration and key); --purge deletes it"
fi
