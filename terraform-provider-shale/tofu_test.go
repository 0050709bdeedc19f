package main

// The provider tested the way it is used: `go test` builds the binary,
// writes a CLI configuration whose dev_overrides point OpenTofu at it, and
// runs real `tofu apply`, `plan -detailed-exitcode`, `import` and
// `destroy` against a running cluster, checking every outcome through
// kadm over a separate connection.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shalelog/shale/internal/shaletest"
)

// tofuCommandTimeout bounds one tofu command; the provider's own timeout
// (set lower in the test configurations) bounds each operation in it.
const tofuCommandTimeout = 3 * time.Minute

// tofuBinary finds OpenTofu on PATH or in the first GOPATH's bin, where
// scripts/test-deps.sh installs it. Missing, it skips the test, or fails
// it under SHALE_REQUIRE_TOOLS=1.
func tofuBinary(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("tofu"); err == nil {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		gopath := strings.TrimSpace(string(out))
		if i := strings.IndexByte(gopath, os.PathListSeparator); i >= 0 {
			gopath = gopath[:i]
		}
		p := filepath.Join(gopath, "bin", "tofu")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv("SHALE_REQUIRE_TOOLS") == "1" {
		t.Fatal("tofu (OpenTofu) is required (SHALE_REQUIRE_TOOLS=1) but not found on PATH or in GOPATH/bin: run scripts/test-deps.sh")
	}
	t.Skip("tofu (OpenTofu) not found on PATH or in GOPATH/bin; run scripts/test-deps.sh")
	return ""
}

// workspace is one Terraform working directory driven by tofu with the
// provider built from this tree.
type workspace struct {
	t    *testing.T
	tofu string
	dir  string
	env  []string
}

// newWorkspace points tofu at the provider built from this tree through
// dev_overrides: no `tofu init`, as a provider is developed.
func newWorkspace(t *testing.T) *workspace {
	t.Helper()
	provider := shaletest.Build(t, "./terraform-provider-shale")
	return startWorkspace(t, fmt.Sprintf(`provider_installation {
  dev_overrides {
    "shalelog/shale" = %q
  }
  direct {}
}
`, filepath.Dir(provider)))
}

// mirrorVersion is the version the mirror workspace installs.
const mirrorVersion = "0.1.0"

// newMirrorWorkspace installs the provider as an operator would, from a
// filesystem_mirror laid out as docs/OPERATIONS.md says, with `tofu
// init` (which then writes a lock file with the binary's hash). The
// mirror serves both registry hosts (OpenTofu's and Terraform's default),
// so Terraform can run these tests too.
func newMirrorWorkspace(t *testing.T) *workspace {
	t.Helper()
	provider := shaletest.Build(t, "./terraform-provider-shale")
	bin, err := os.ReadFile(provider)
	if err != nil {
		t.Fatal(err)
	}
	mirror := filepath.Join(t.TempDir(), "mirror")
	var hosts []string
	for _, host := range []string{"registry.opentofu.org", "registry.terraform.io"} {
		dir := filepath.Join(mirror, host, "shalelog", "shale", mirrorVersion, runtime.GOOS+"_"+runtime.GOARCH)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "terraform-provider-shale_v"+mirrorVersion), bin, 0o755); err != nil {
			t.Fatal(err)
		}
		hosts = append(hosts, fmt.Sprintf("%q", host+"/shalelog/shale"))
	}
	list := strings.Join(hosts, ", ")
	return startWorkspace(t, fmt.Sprintf(`provider_installation {
  filesystem_mirror {
    path    = %q
    include = [%s]
  }
  direct {
    exclude = [%s]
  }
}
`, mirror, list, list))
}

func startWorkspace(t *testing.T, cliConfigText string) *workspace {
	t.Helper()
	tofu := tofuBinary(t)
	dir := t.TempDir()
	cliConfig := filepath.Join(dir, "tofu.tfrc")
	if err := os.WriteFile(cliConfig, []byte(cliConfigText), 0o644); err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(dir, "work")
	if err := os.Mkdir(work, 0o755); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(),
		"TF_CLI_CONFIG_FILE="+cliConfig,
		"CHECKPOINT_DISABLE=1",
		"TF_IN_AUTOMATION=1",
		"TF_INPUT=0",
		"TF_LOG=",
		"TF_PLUGIN_CACHE_DIR=",
	)
	return &workspace{t: t, tofu: tofu, dir: work, env: env}
}

// config writes main.tf: the provider block, then body.
func (w *workspace) config(provider, body string) {
	w.t.Helper()
	src := `terraform {
  required_providers {
    shale = { source = "shalelog/shale" }
  }
}

provider "shale" {
` + provider + `
}

` + body
	if err := os.WriteFile(filepath.Join(w.dir, "main.tf"), []byte(src), 0o644); err != nil {
		w.t.Fatal(err)
	}
}

// run runs tofu with args and returns its combined output and exit code.
func (w *workspace) run(args ...string) (string, int) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), tofuCommandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, w.tofu, args...)
	cmd.Dir, cmd.Env = w.dir, w.env
	// tofu starts the provider as its child: a timeout ends both.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		w.t.Fatalf("tofu %s did not finish within %s:\n%s", strings.Join(args, " "), tofuCommandTimeout, out)
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return string(out), exit.ExitCode()
	}
	if err != nil {
		w.t.Fatalf("tofu %s: %v", strings.Join(args, " "), err)
	}
	return string(out), 0
}

// must runs tofu and fails the test unless it exits 0.
func (w *workspace) must(args ...string) string {
	w.t.Helper()
	out, code := w.run(args...)
	if code != 0 {
		w.t.Fatalf("tofu %s exited %d:\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

func (w *workspace) apply() string {
	w.t.Helper()
	return w.must("apply", "-auto-approve", "-no-color")
}

func (w *workspace) destroy() string {
	w.t.Helper()
	return w.must("destroy", "-auto-approve", "-no-color")
}

// plan runs `plan -detailed-exitcode`: 0 is no change, 2 is a change.
// Anything else fails the test.
func (w *workspace) plan() (string, int) {
	w.t.Helper()
	out, code := w.run("plan", "-detailed-exitcode", "-no-color")
	if code != 0 && code != 2 {
		w.t.Fatalf("tofu plan exited %d:\n%s", code, out)
	}
	return out, code
}

// noDrift fails the test unless a plan finds nothing to change.
func (w *workspace) noDrift(when string) {
	w.t.Helper()
	if out, code := w.plan(); code != 0 {
		w.t.Fatalf("%s: plan wants changes (exit %d):\n%s", when, code, out)
	}
}

// drift fails the test unless a plan finds changes, and returns the plan.
func (w *workspace) drift(when string) string {
	w.t.Helper()
	out, code := w.plan()
	if code != 2 {
		w.t.Fatalf("%s: plan found no change (exit %d):\n%s", when, code, out)
	}
	return out
}

func (w *workspace) importResource(addr, id string) string {
	w.t.Helper()
	return w.must("import", "-no-color", addr, id)
}

// outputs returns `tofu output -json`, each output's value as raw JSON.
func (w *workspace) outputs() map[string]json.RawMessage {
	w.t.Helper()
	out := w.must("output", "-json")
	var raw map[string]struct {
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal([]byte(out[strings.IndexByte(out, '{'):]), &raw); err != nil {
		w.t.Fatalf("tofu output -json: %v\n%s", err, out)
	}
	vals := make(map[string]json.RawMessage, len(raw))
	for k, v := range raw {
		vals[k] = v.Value
	}
	return vals
}

// state returns the state file as written.
func (w *workspace) state() string {
	w.t.Helper()
	b, err := os.ReadFile(filepath.Join(w.dir, "terraform.tfstate"))
	if err != nil {
		w.t.Fatal(err)
	}
	return string(b)
}

// mustContain fails unless out holds every one of wants. tofu wraps
// long diagnostics, so runs of white space compare as one space.
func mustContain(t *testing.T, what, out string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !says(out, want) {
			t.Fatalf("%s does not say %q:\n%s", what, want, out)
		}
	}
}

// says reports whether out holds want, white space aside.
func says(out, want string) bool {
	flat := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	return strings.Contains(flat(out), flat(want))
}

// shaleProvider is the provider block for a plaintext listener.
func shaleProvider(addr string) string {
	return fmt.Sprintf("  bootstrap_servers = [%q]\n  timeout = \"60s\"", addr)
}
