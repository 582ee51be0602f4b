#!/bin/bash
# Only what the healthcheck uses: `valkey-cli ping` prints PONG when the server answers.
exec 3<>/dev/tcp/127.0.0.1/6379 || exit 1
printf 'PING\r\n' >&3
read -r -t 4 reply <&3 || exit 1
[[ ${reply%$'\r'} == +PONG ]] || exit 1
echo PONG
