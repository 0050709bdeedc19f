#!/usr/bin/env bash
# Installs what the test suite talks to, once: kcat, the Debian Python
# Kafka client and Chromium (apt; headless, renders the web console), a
# real MinIO and OpenTofu (which runs the Terraform modules' tests), both
# built from the Go module proxy. It also checks that moto's S3 server (the
# second S3 implementation the objectstore drivers are tested against) can
# be imported; moto cannot be installed from here (no PyPI), so a missing
# moto is reported, and fails the tests under SHALE_REQUIRE_TOOLS=1.
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
MOTO_PYTHON=${SHALE_MOTO_PYTHON:-python3}
if moto_version=$("$MOTO_PYTHON" -c 'import moto, moto.server, moto.s3; print(moto.__version__)' 2>/dev/null); then
  moto_line="moto $moto_version ($MOTO_PYTHON)"
else
  moto_line="moto MISSING"
  echo "test-deps: MISSING moto: '$MOTO_PYTHON -m moto.server' cannot run, so the objectstore" >&2
  echo "test-deps: tests against moto's S3 server skip (and fail under SHALE_REQUIRE_TOOLS=1)." >&2
  echo "test-deps: moto comes with the machine's Python; PyPI is not reachable to install it." >&2
  echo "test-deps: point SHALE_MOTO_PYTHON at an interpreter that has moto 5 or later." >&2
fi
echo "test-deps: kcat $(kcat -V 2>&1 | awk '/^Version/ {print $2}'), confluent-kafka $(/usr/bin/python3 -c 'import confluent_kafka; print(confluent_kafka.version()[0])'), $(chromium --version 2>/dev/null | head -1), minio at $GOBIN_DIR/minio, $("$GOBIN_DIR/tofu" version | head -1) at $GOBIN_DIR/tofu, $moto_line"
