#!/usr/bin/env bash
# Installs what the test suite talks to, once: kcat, the Debian Python
# Kafka client and Chromium (apt; headless, renders the web console), a
# real MinIO and OpenTofu (which runs the Terraform modules' tests), both
# built from the Go module proxy.
# Re-running it is cheap: each step is skipped when already present.
set -euo pipefail

MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
TOFU_VERSION=v1.12.6
GOBIN_DIR=$(go env GOPATH)/bin

need_apt=()
command -v kcat >/dev/null 2>&1 || need_apt+=(kcat)
/usr/bin/python3 -c 'import confluent_kafka' >/dev/null 2>&1 || need_apt+=(python3-confluent-kafka)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "test-deps: installing ${need_apt[*]} from Debian"
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if [ ! -x "$GOBIN_DIR/minio" ]; then
  echo "test-deps: building MinIO $MINIO_VERSION (about 5 minutes, once)"
  (cd /tmp && GOFLAGS=-buildvcs=false go install "github.com/minio/minio@$MINIO_VERSION")
fi
if [ ! -x "$GOBIN_DIR/tofu" ]; then
  # OpenTofu's go.mod has replace directives, so `go install module@version`
  # refuses it: build from a copy of the downloaded module instead.
  echo "test-deps: building OpenTofu $TOFU_VERSION (about 4 minutes, once)"
  src=$(cd /tmp && go mod download -json "github.com/opentofu/opentofu@$TOFU_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  mkdir -p "$GOBIN_DIR"
  build=$(mktemp -d)
  cp -r "$src/." "$build/"
  chmod -R u+w "$build"
  (cd "$build" && GOFLAGS=-buildvcs=false go build -o "$GOBIN_DIR/tofu" ./cmd/tofu)
  rm -rf "$build"
fi
echo "test-deps: kcat $(kcat -V 2>&1 | awk '/^Version/ {print $2}'), confluent-kafka $(/usr/bin/python3 -c 'import confluent_kafka; print(confluent_kafka.version()[0])'), $(chromium --version 2>/dev/null | head -1), minio at $GOBIN_DIR/minio, $("$GOBIN_DIR/tofu" version | head -1) at $GOBIN_DIR/tofu"
