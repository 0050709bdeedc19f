package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shalelog/shale/broker"
	"github.com/shalelog/shale/internal/shaletest"
	"github.com/shalelog/shale/node"
)

// cliStdin is what runCLI gives `shale users` on stdin.
const cliStdin = "first-secret\n"

// TestUsersRoundTrip: `shale users create` (password from stdin),
// `list`, `passwd` (password from a file), `delete`, against a node whose
// ADMIN listener is plaintext and whose CLIENT listener requires SASL; the
// CLI logs in over SASL with the password it set, and the password shows
// in no output.
func TestUsersRoundTrip(t *testing.T) {
	n := shaletest.StartNode(t, func(c *node.Config) {
		c.Broker.Listeners = []broker.ListenerConfig{
			{Name: "ADMIN", Listen: "127.0.0.1:0", SecurityProtocol: "PLAINTEXT"},
			{Name: "CLIENT", Listen: "127.0.0.1:0", SecurityProtocol: "SASL_PLAINTEXT"},
		}
		c.Broker.SASLMechanisms = []string{"SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"}
	})
	admin, client := n.ListenerAddr("ADMIN"), n.ListenerAddr("CLIENT")
	r := mustCLI(t, admin, "users", "create", "alice")
	if !strings.Contains(r.stdout, "created user alice (SCRAM-SHA-256, SCRAM-SHA-512, 8192 iterations)") {
		t.Fatalf("create:\n%s", r)
	}
	wantCLI(t, admin, exitFailed, []string{"already exists"}, "users", "create", "alice")
	mustCLI(t, admin, "users", "create", "bob", "--mechanism", "SCRAM-SHA-256", "--iterations", "4096")
	wantCLI(t, admin, exitUsage, []string{"--iterations"}, "users", "create", "carol", "--iterations", "100")

	r = mustCLI(t, admin, "users", "list", "--output", "json")
	var listed []userListing
	if err := json.Unmarshal([]byte(r.stdout), &listed); err != nil {
		t.Fatal(err)
	}
	if len(listed) != 3 || listed[0] != (userListing{"alice", "SCRAM-SHA-256", 8192}) || listed[2] != (userListing{"bob", "SCRAM-SHA-256", 4096}) {
		t.Fatalf("list: %+v", listed)
	}

	// The CLI itself over SASL, as alice.
	t.Setenv("SHALE_SASL_PASSWORD", "first-secret")
	sasl := []string{"--security-protocol", "SASL_PLAINTEXT", "--sasl-user", "alice"}
	mustCLI(t, client, append([]string{"users", "list"}, sasl...)...)

	// passwd from a file: the old password stops working.
	pwFile := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pwFile, []byte("second-secret\n"), 0o600)
	mustCLI(t, admin, "users", "passwd", "alice", "--password-file", pwFile)
	wantCLI(t, admin, exitFailed, []string{"does not exist"}, "users", "passwd", "nobody", "--password-file", pwFile)
	if r := cliAt(t, client, append([]string{"users", "list"}, sasl...)...); r.code != exitFailed || !strings.Contains(r.stderr, "SASL_AUTHENTICATION_FAILED") {
		t.Fatalf("old password after passwd:\n%s", r)
	}
	t.Setenv("SHALE_SASL_PASSWORD", "")
	mustCLI(t, client, append([]string{"users", "list", "--sasl-password-file", pwFile, "--sasl-mechanism", "PLAIN"}, sasl...)...)

	r = wantCLI(t, admin, exitFailed, []string{"ghost: no such user"}, "users", "delete", "bob", "ghost")
	if !strings.Contains(r.stdout, "deleted user bob") {
		t.Fatalf("delete:\n%s", r)
	}
	r = mustCLI(t, admin, "users", "list")
	if strings.Contains(r.stdout, "bob") || !strings.Contains(r.stdout, "alice") {
		t.Fatalf("list after delete:\n%s", r)
	}
	for _, args := range [][]string{{"users", "create", "--help"}, {"users", "list"}} {
		r := mustCLI(t, admin, args...)
		if strings.Contains(r.stdout+r.stderr, "secret") {
			t.Fatalf("a password shows in %v:\n%s", args, r)
		}
	}
}
