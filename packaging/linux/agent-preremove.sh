#!/bin/sh
# Before removing mcpwarden-agent (deb: "remove"; rpm: 0), not before an upgrade.
set -e
case "$1" in
  remove|0)
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
      systemctl disable --now mcpwarden-agent.service >/dev/null 2>&1 || true
    fi
    ;;
esac
