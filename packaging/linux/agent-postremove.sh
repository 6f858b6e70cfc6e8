#!/bin/sh
# After removing mcpwarden-agent. deb "remove" keeps the configuration and the agent's key (a
# reinstall reports as the same agent); "purge" deletes them. rpm erase (0) deletes the key,
# and rpm keeps an edited configuration as agent.json.rpmsave.
set -e
case "$1" in
  purge|0)
    rm -rf /var/lib/mcpwarden
    if [ "$1" = purge ]; then rm -f /etc/mcpwarden/agent.json; fi
    rmdir /etc/mcpwarden 2>/dev/null || true
    ;;
esac
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  systemctl daemon-reload || true
fi
