#!/bin/sh
# Before installing the mcpwarden server: the unprivileged user it runs as.
set -e
if ! getent group mcpwarden >/dev/null; then
  groupadd --system mcpwarden
fi
if ! getent passwd mcpwarden >/dev/null; then
  useradd --system --gid mcpwarden --home-dir /var/lib/mcpwarden-server --no-create-home \
    --shell /usr/sbin/nologin --comment "mcpwarden server" mcpwarden
fi
