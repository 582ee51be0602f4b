#!/bin/bash
# Only `mc ready local`: ready once the S3 gateway answers HTTP (any status) on port 9000.
[[ "$*" == "ready local" ]] || { echo "this mc only knows: mc ready local" >&2; exit 2; }
exec 3<>/dev/tcp/127.0.0.1/9000 || exit 1
printf 'GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
read -r -t 4 status <&3 || exit 1
[[ $status == HTTP/1.?\ 200* ]]
