#!/bin/sh
# After removing the mcpwarden server. deb "remove" and rpm erase (0) keep the data directory
# (the built-in PostgreSQL's database) and the mcpwarden user; deb "purge" deletes them and the
# configuration.
set -e
case "$1" in
  purge)
    rm -rf /var/lib/mcpwarden-server
    rm -f /etc/mcpwarden/server.env
    rmdir /etc/mcpwarden 2>/dev/null || true
    if getent passwd mcpwarden >/dev/null; then userdel mcpwarden; fi
    if getent group mcpwarden >/dev/null; then groupdel mcpwarden; fi
    ;;
  0)
    if [ -d /var/lib/mcpwarden-server ]; then
      echo "mcpwarden: the data directory /var/lib/mcpwarden-server (the built-in database) is kept; delete it to remove everything"
    fi
    ;;
esac
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  systemctl daemon-reload || true
fi
