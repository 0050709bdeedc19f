package terraform

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// tofu returns the OpenTofu binary: $SHALE_TOFU_BIN, else tofu in $GOBIN or
// the first GOPATH's bin (where scripts/test-deps.sh builds it), else tofu
// on $PATH. A missing one skips the test, unless SHALE_REQUIRE_TOOLS=1,
// when it fails it.
func tofu(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("SHALE_TOFU_BIN"); p != "" {
		return p
	}
	var candidates []string
	if out, err := exec.Command("go", "env", "GOBIN", "GOPATH").Output(); err == nil {
		lines := strings.Split(string(out), "\n")
		if len(lines) >= 2 {
			if gobin := strings.TrimSpace(lines[0]); gobin != "" {
				candidates = append(candidates, filepath.Join(gobin, "tofu"))
			}
			if gopath := strings.TrimSpace(lines[1]); gopath != "" {
				first, _, _ := strings.Cut(gopath, string(os.PathListSeparator))
				candidates = append(candidates, filepath.Join(first, "bin", "tofu"))
			}
		}
	}
	for _, c := range candidates {
		if fi, err := os.Stat(c); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			return c
		}
	}
	if p, err := exec.LookPath("tofu"); err == nil {
		return p
	}
	if os.Getenv("SHALE_REQUIRE_TOOLS") == "1" {
		t.Fatal("tofu is required (SHALE_REQUIRE_TOOLS=1) but not found: run scripts/test-deps.sh")
	}
	t.Skip("tofu not found; run scripts/test-deps.sh")
	return ""
}

// tofuCmd runs tofu with args in dir, isolated from the user's own CLI
// configuration (an empty one: no provider is ever installed) and from
// the checkpoint service, and returns its combined output.
func tofuCmd(t *testing.T, bin, dir string, args ...string) (string, error) {
	t.Helper()
	cliConfig := filepath.Join(t.TempDir(), "tofu.rc")
	if err := os.WriteFile(cliConfig, []byte("# The modules tested need no provider.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"TF_CLI_CONFIG_FILE="+cliConfig,
		"CHECKPOINT_DISABLE=1",
		"TF_IN_AUTOMATION=1",
		"TF_INPUT=0",
		"NO_COLOR=1",
	)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// copyDir copies the regular files of the tree at src into dst.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		if d.IsDir() {
			if strings.HasPrefix(d.Name(), ".terraform") {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatalf("copy %s: %v", src, err)
	}
}
