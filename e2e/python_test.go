package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/shalelog/shale/internal/shaletest"
)

// debianPython is the interpreter the Debian python3-confluent-kafka
// package installs into; a python3 earlier on PATH may lack the module.
const debianPython = "/usr/bin/python3"

// requireConfluentKafka returns the Python interpreter that can import
// confluent_kafka. A missing one skips the test, unless
// SHALE_REQUIRE_TOOLS=1, when it fails it.
func requireConfluentKafka(t *testing.T) string {
	t.Helper()
	python := shaletest.RequireTool(t, debianPython)
	out, err := exec.Command(python, "-c", "import confluent_kafka; print(confluent_kafka.version()[0], confluent_kafka.libversion()[0])").CombinedOutput()
	if err != nil {
		msg := "python3-confluent-kafka is not importable by " + python + ": " + err.Error() + "\n" + string(out)
		if os.Getenv("SHALE_REQUIRE_TOOLS") == "1" {
			t.Fatalf("%s (SHALE_REQUIRE_TOOLS=1): run scripts/test-deps.sh", msg)
		}
		t.Skipf("%s; run scripts/test-deps.sh", msg)
	}
	t.Logf("confluent-kafka, librdkafka: %s", bytes.TrimSpace(out))
	return python
}

// TestConfluentKafkaPython runs testdata/confluent_roundtrip.py: AdminClient
// create (and re-create: TOPIC_ALREADY_EXISTS), list_topics and
// describe_configs; an idempotent acks=all zstd Producer with delivery
// reports; a Consumer with assign() that checks every message; and
// delete_topics.
func TestConfluentKafkaPython(t *testing.T) {
	python := requireConfluentKafka(t)
	t.Parallel()
	n := shaletest.StartNode(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, "testdata/confluent_roundtrip.py", n.Addr(), "py-roundtrip", "3000")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("confluent_roundtrip.py: %v\n%s", err, out)
	}
	if !bytes.HasSuffix(bytes.TrimSpace(out), []byte("OK")) {
		t.Fatalf("confluent_roundtrip.py did not finish with OK:\n%s", out)
	}
}
