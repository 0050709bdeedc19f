package objectstore_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/shalelog/shale/objectstore"
)

func TestValidateKey(t *testing.T) {
	for _, k := range []string{"a", "a/b/c", "seg-0001.obj", "a.b/.hidden", "..a/b..", "ü/ñ", "a b", strings.Repeat("k", objectstore.MaxKeyLen)} {
		if err := objectstore.ValidateKey(k); err != nil {
			t.Errorf("ValidateKey(%q) = %v, want nil", k, err)
		}
	}
	for _, k := range []string{"", "/", "/a", "a/", "a//b", ".", "..", "a/./b", "a/..", "../a", "a\\b", "a\x00", "a\nb", "\x7f",
		"\xc3", ".shale-tmp-1", "a/.shale-tmp-", strings.Repeat("k", objectstore.MaxKeyLen+1)} {
		if err := objectstore.ValidateKey(k); err == nil {
			t.Errorf("ValidateKey(%q) = nil, want an error", k)
		}
	}
}

// FuzzValidateKey checks that every accepted key stays inside a directory
// when used as a relative path, as the fs driver uses it.
func FuzzValidateKey(f *testing.F) {
	for _, s := range []string{"a/b", "../x", "a/../../b", "a//b", "/abs", ".", "a/.shale-tmp-x", "a\\..\\b"} {
		f.Add(s)
	}
	root := filepath.FromSlash("/bucket/root")
	f.Fuzz(func(t *testing.T, key string) {
		if objectstore.ValidateKey(key) != nil {
			return
		}
		p := filepath.Join(root, filepath.FromSlash(key))
		rel, err := filepath.Rel(root, p)
		if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.ToSlash(rel) != key {
			t.Fatalf("key %q maps to %q, outside or not one-to-one (rel %q, %v)", key, p, rel, err)
		}
	})
}
