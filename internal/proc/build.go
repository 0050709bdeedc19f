package proc

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// binaryMaxAge is how old another tree's cached binary must be before
// Binary removes it: old enough that no running test still uses it.
const binaryMaxAge = 24 * time.Hour

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// Binary returns the path of the shale binary built from this source tree,
// building ./cmd/shale at most once per test binary. The build is cached in
// os.TempDir()/shale-test-bin-<hash>/shale, where hash covers every non-test
// .go file, go.mod, go.sum, the Go version and the target platform: test
// binaries of other packages (go test ./... runs them in parallel) and later
// runs of an unchanged tree reuse it. The file is written under a temporary
// name and renamed under a lock file, so concurrent test binaries build it
// once and never see half a binary.
// Cached binaries of other trees older than a day are removed.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() { buildPath, buildErr = build() })
	if buildErr != nil {
		t.Fatalf("proc: build shale: %v", buildErr)
	}
	return buildPath
}

func build() (string, error) {
	root := ModuleRoot()
	hash, err := treeHash(root)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(os.TempDir(), "shale-test-bin-"+hash)
	path := filepath.Join(dir, "shale")
	pruneBinaries(dir)
	if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() {
		now := time.Now()
		os.Chtimes(dir, now, now) // in use: keep it from being pruned
		return path, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	// One builder at a time: test binaries of other packages wait for
	// this build instead of repeating it.
	unlock, err := lockDir(dir)
	if err != nil {
		return "", err
	}
	defer unlock()
	if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() {
		return path, nil
	}
	tmp, err := os.CreateTemp(dir, "shale-*.tmp")
	if err != nil {
		return "", err
	}
	tmp.Close()
	defer os.Remove(tmp.Name()) // a no-op after the rename
	cmd := exec.Command("go", "build", "-o", tmp.Name(), "./cmd/shale")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/shale: %v\n%s", err, out)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", err
	}
	return path, nil
}

// ModuleRoot is the directory holding Shale's go.mod.
func ModuleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// treeHash hashes what the binary is built from: the paths and contents of
// every .go file that is not a test, go.mod and go.sum, skipping hidden
// folders and testdata.
func treeHash(root string) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		source := strings.HasSuffix(name, ".go") && !strings.HasSuffix(name, "_test.go")
		if !source && name != "go.mod" && name != "go.sum" {
			return nil
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		fmt.Fprintf(h, "%s\x00", filepath.ToSlash(rel))
		n, err := io.Copy(h, f)
		fmt.Fprintf(h, "\x00%d\n", n)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("hash source tree: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// pruneBinaries removes cached binaries of other trees not touched for
// binaryMaxAge. Errors are ignored: pruning is housekeeping.
func pruneBinaries(keep string) {
	old, _ := filepath.Glob(filepath.Join(os.TempDir(), "shale-test-bin-*"))
	for _, dir := range old {
		if dir == keep {
			continue
		}
		if fi, err := os.Stat(dir); err == nil && time.Since(fi.ModTime()) > binaryMaxAge {
			os.RemoveAll(dir)
		}
	}
}
