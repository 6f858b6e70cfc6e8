#!/bin/sh
# After installing or upgrading the mcpwarden server (deb: "configure"; rpm: 1 install, 2 upgrade).
set -e
chown root:mcpwarden /etc/mcpwarden/server.env
chmod 0640 /etc/mcpwarden/server.env
chown mcpwarden:mcpwarden /var/lib/mcpwarden-server
chmod 0700 /var/lib/mcpwarden-server
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  systemctl daemon-reload
  # An upgrade restarts a running server; a first install waits for the administrator.
  systemctl try-restart mcpwarden.service || true
fi
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! grep -q '^DATABASE_URL=.' /etc/mcpwarden/server.env; then
  echo "mcpwarden: install PostgreSQL's server binaries (apt-get install postgresql, or dnf install postgresql-server) or set DATABASE_URL in /etc/mcpwarden/server.env"
fi
# A first install: deb "configure" with no previous version, rpm 1.
if [ "$1" = 1 ] || { [ "$1" = configure ] && [ -z "${2:-}" ]; }; then
  echo "mcpwarden: configure /etc/mcpwarden/server.env, then: systemctl enable --now mcpwarden"
fi
