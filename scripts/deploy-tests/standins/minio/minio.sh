#!/bin/bash
set -euo pipefail
[[ ${1:-} == minio ]] && shift
[[ ${1:-} == server && -n ${2:-} ]] || { echo "usage: minio server DIR" >&2; exit 2; }
mkdir -p "$2"
export AWS_ACCESS_KEY_ID=${MINIO_ROOT_USER:-minioadmin} AWS_SECRET_ACCESS_KEY=${MINIO_ROOT_PASSWORD:-minioadmin}
exec weed -logtostderr mini -dir="$2" -ip=127.0.0.1 -ip.bind=0.0.0.0 -s3.port=9000 -admin.ui=false \
    -webdav=false -s3.port.iceberg=0 -s3.port.lance=0 -master.telemetry=false -volume.preStopSeconds=0
