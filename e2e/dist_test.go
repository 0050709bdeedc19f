package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/shalelog/shale/node"
)

// TestDist: `make dist` builds a release tarball laid out as it installs —
// a static binary that reports the version and commit it was stamped
// with, the systemd unit starting it from the example configuration's
// place, that configuration (which loads and validates), and the docs.
func TestDist(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command("make", "dist", "DIST_DIR="+dir, "VERSION=v9.9.9-test")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make dist: %v\n%s", err, out)
	}
	tarball := filepath.Join(dir, "shale-v9.9.9-test-"+goEnv(t, "GOOS")+"-"+goEnv(t, "GOARCH")+".tar.gz")
	// Regular files only, owned by root: extracted over /, the tarball
	// must not touch the owner or mode of /, /usr or /etc.
	listing, err := exec.Command("tar", "-tvzf", tarball).Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(listing)), "\n") {
		if f := strings.Fields(line); len(f) < 6 || !strings.HasPrefix(f[0], "-") || f[1] != "0/0" || strings.HasPrefix(f[len(f)-1], ".") {
			t.Errorf("tarball entry %q is not a root-owned regular file under a relative path", line)
		}
	}
	root := t.TempDir()
	if out, err := exec.Command("tar", "-C", root, "-xzf", tarball).CombinedOutput(); err != nil {
		t.Fatalf("untar %s: %v\n%s", tarball, err, out)
	}
	for _, f := range []string{"usr/local/bin/shale", "etc/shale/shale.example.yaml", "lib/systemd/system/shale.service",
		"usr/local/share/doc/shale/OPERATIONS.md", "usr/local/share/doc/shale/CONFIG.md", "usr/local/share/doc/shale/README.md"} {
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			t.Errorf("the tarball lacks %s: %v", f, err)
		}
	}
	out, err := exec.Command(filepath.Join(root, "usr/local/bin/shale"), "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^shale v9\.9\.9-test \(commit [0-9a-f]{40}, go[0-9.]+\)\n$`).Match(out) {
		t.Fatalf("shale version: %q", out)
	}
	if out, _ := exec.Command("file", filepath.Join(root, "usr/local/bin/shale")).Output(); len(out) > 0 && !strings.Contains(string(out), "statically linked") {
		t.Fatalf("the binary is not static: %s", out)
	}
	unit, err := os.ReadFile(filepath.Join(root, "lib/systemd/system/shale.service"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(unit), "ExecStart=/usr/local/bin/shale broker --config /etc/shale/shale.yaml") {
		t.Fatalf("the unit does not start the installed binary with /etc/shale/shale.yaml:\n%s", unit)
	}
	cfg := node.DefaultConfig()
	if err := cfg.LoadFile(filepath.Join(root, "etc/shale/shale.example.yaml")); err != nil {
		t.Fatalf("the example configuration does not load: %v", err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("the example configuration does not validate: %v", err)
	}
}

func goEnv(t *testing.T, key string) string {
	t.Helper()
	out, err := exec.Command("go", "env", key).Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}
