#!/bin/sh
# After installing or upgrading mcpwarden-agent (deb: "configure"; rpm: 1 install, 2 upgrade).
set -e
chmod 0600 /etc/mcpwarden/agent.json
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  systemctl daemon-reload
  systemctl enable mcpwarden-agent.service >/dev/null 2>&1 || true
  if grep -q '"url": *"[^"]' /etc/mcpwarden/agent.json; then
    systemctl restart mcpwarden-agent.service || true
    exit 0
  fi
fi
if ! grep -q '"url": *"[^"]' /etc/mcpwarden/agent.json; then
  echo "mcpwarden-agent: set \"url\" and \"enrollment_secret\" in /etc/mcpwarden/agent.json, then: systemctl restart mcpwarden-agent"
fi
