#!/bin/sh
# Installs or upgrades mcpwarden-agent on macOS as a LaunchDaemon (root, every user).
#   sudo ./install.sh [--url https://mcpwarden.example.com --secret SECRET]
# The configuration, "/Library/Application Support/mcpwarden/agent.json", is kept across
# upgrades; --url and --secret write it (an MDM can push the file instead).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
label=com.mcpwarden.agent
plist=/Library/LaunchDaemons/$label.plist
confdir="/Library/Application Support/mcpwarden"
url="" secret=""
while [ $# -gt 0 ]; do
  case "$1" in
    --url) url=$2; shift 2 ;;
    --secret) secret=$2; shift 2 ;;
    *) echo "usage: sudo $0 [--url URL --secret SECRET]" >&2; exit 2 ;;
  esac
done
if [ "$(id -u)" != 0 ]; then echo "run it as root: sudo $0" >&2; exit 1; fi

launchctl bootout system/$label 2>/dev/null || true
install -d -m 755 /usr/local/bin
install -m 755 "$here/mcpwarden-agent" /usr/local/bin/mcpwarden-agent
xattr -d com.apple.quarantine /usr/local/bin/mcpwarden-agent 2>/dev/null || true
install -d -m 755 "$confdir"
if [ -n "$url" ] || [ -n "$secret" ]; then
  umask 077
  printf '{"url": "%s", "enrollment_secret": "%s"}\n' "$url" "$secret" > "$confdir/agent.json"
elif [ ! -f "$confdir/agent.json" ]; then
  install -m 600 "$here/agent.json" "$confdir/agent.json"
fi
chown root:wheel "$confdir/agent.json"
chmod 600 "$confdir/agent.json"
install -m 644 "$here/$label.plist" "$plist"
chown root:wheel "$plist"
launchctl bootstrap system "$plist"
echo "mcpwarden-agent $(/usr/local/bin/mcpwarden-agent version) installed; log: /Library/Logs/mcpwarden-agent.log"
if ! grep -q '"url": *"[^"]' "$confdir/agent.json"; then
  echo "set \"url\" and \"enrollment_secret\" in $confdir/agent.json, then: sudo launchctl kickstart -k system/$label"
fi
