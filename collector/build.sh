#!/usr/bin/env bash
# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0
#
# Build the otelcol-toolaudit OpenTelemetry Collector from builder-config.yaml into
# collector/_build/otelcol-toolaudit with the OpenTelemetry Collector Builder (ocb) v0.161.0.
#
# Every module's checksum is pinned by collector/go.sum: it is copied beside the generated go.mod
# before `go mod tidy`, so a module whose content differs from the one recorded fails the build.
# When the binary is newer than this script, the manifest and go.sum, nothing is rebuilt.
# Needs Go (1.25 or newer) and the Go module proxy; the Go caches make a rebuild quick.
set -euo pipefail

BUILDER_VERSION=v0.161.0
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/_build"
binary="$out/otelcol-toolaudit"
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"

up_to_date() {
    [[ -x "$binary" ]] || return 1
    local input
    for input in "$here/build.sh" "$here/builder-config.yaml" "$here/go.sum"; do
        [[ "$binary" -nt "$input" ]] || return 1
    done
}

if up_to_date; then
    echo "collector: $binary is up to date" >&2
    exit 0
fi

command -v go >/dev/null || { echo "collector: go is not installed (Go 1.25 or newer is needed)" >&2; exit 2; }
mkdir -p "$out/bin" "$out/src"
exec 9>"$out/.lock"
flock 9
if up_to_date; then  # another build finished while this one waited for the lock
    echo "collector: $binary is up to date" >&2
    exit 0
fi

if [[ ! -x "$out/bin/builder" ]] || [[ "$("$out/bin/builder" version 2>&1)" != *"${BUILDER_VERSION#v}"* ]]; then
    echo "collector: installing the OpenTelemetry Collector Builder $BUILDER_VERSION" >&2
    GOBIN="$out/bin" go install "go.opentelemetry.io/collector/cmd/builder@$BUILDER_VERSION"
fi

cp "$here/go.sum" "$out/src/go.sum"
echo "collector: building otelcol-toolaudit (a few minutes the first time)" >&2
(cd "$here" && "$out/bin/builder" --config builder-config.yaml)

if ! cmp -s "$out/src/go.sum" "$here/go.sum"; then
    if [[ "${CI:-}" == "true" ]]; then
        echo "collector: go.sum does not match builder-config.yaml; run collector/build.sh and commit collector/go.sum" >&2
        exit 1
    fi
    cp "$out/src/go.sum" "$here/go.sum"
    echo "collector: collector/go.sum updated for builder-config.yaml; commit it" >&2
fi
cp "$out/src/otelcol-toolaudit" "$binary.tmp"
mv -f "$binary.tmp" "$binary"
echo "collector: built $binary" >&2
