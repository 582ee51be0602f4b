#!/bin/sh
exec /usr/local/lib/valkey/valkey-server "$@" --protected-mode no --bind "0.0.0.0 ::" --port 6379
