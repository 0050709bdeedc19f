package miniotest_test

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shalelog/shale/internal/miniotest"
)

func TestBinaryHonoursEnv(t *testing.T) {
	fake := filepath.Join(t.TempDir(), "minio")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SHALE_MINIO_BIN", fake)
	if p, ok := miniotest.Binary(); p != fake || !ok {
		t.Fatalf("Binary() = %q, %v; want %q, true", p, ok, fake)
	}
	t.Setenv("SHALE_MINIO_BIN", filepath.Join(t.TempDir(), "absent"))
	if _, ok := miniotest.Binary(); ok {
		t.Fatalf("Binary() found a binary that does not exist")
	}
}

func TestStartStopRestart(t *testing.T) {
	srv := miniotest.Start(t)
	if !strings.HasPrefix(srv.Endpoint, "http://127.0.0.1:") {
		t.Fatalf("Endpoint = %q, want a loopback address", srv.Endpoint)
	}
	u, err := url.Parse(srv.URL("/p/q/"))
	if err != nil {
		t.Fatalf("URL() does not parse: %v", err)
	}
	if u.Scheme != "s3" || u.Host != srv.Bucket || u.Path != "/p/q" ||
		u.Query().Get("endpoint") != srv.Endpoint || u.Query().Get("region") != miniotest.Region {
		t.Fatalf("URL = %q", u)
	}
	live := func() bool {
		resp, err := http.Get(srv.Endpoint + "/minio/health/live")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	if !live() {
		t.Fatalf("server not live after Start")
	}
	srv.Stop()
	if live() {
		t.Fatalf("server still answers after Stop")
	}
	srv.Stop() // a second Stop does nothing
	srv.Restart()
	if !live() {
		t.Fatalf("server not live after Restart")
	}
}
