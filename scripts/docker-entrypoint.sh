#!/bin/sh
# The image's entry point: the build's choices (ONNX recogniser, CPU inference) apply unless the deployment
# sets those variables itself, then `kartoteka <command>`.
set -eu
for defaults in /app/onnx.env /app/inference.env; do
    [ -f "$defaults" ] || continue
    while IFS='=' read -r name value; do
        eval "[ -n \"\${$name+set}\" ]" || export "$name=$value"
    done < "$defaults"
done
exec kartoteka "$@"
