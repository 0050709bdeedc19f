package mototest_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/shalelog/shale/internal/mototest"
)

func TestStartStop(t *testing.T) {
	srv := mototest.Start(t)
	if !strings.HasPrefix(srv.Endpoint, "http://127.0.0.1:") {
		t.Fatalf("Endpoint = %q, want a loopback address", srv.Endpoint)
	}
	u, err := url.Parse(srv.URL("/p/q/"))
	if err != nil {
		t.Fatalf("URL() does not parse: %v", err)
	}
	if u.Scheme != "s3" || u.Host != srv.Bucket || u.Path != "/p/q" || u.Query().Get("endpoint") != srv.Endpoint {
		t.Fatalf("URL = %q", u)
	}
	up := func() bool {
		resp, err := http.Get(srv.Endpoint + "/moto-api/")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	if !up() {
		t.Fatalf("server not up after Start")
	}
	srv.Stop()
	if up() {
		t.Fatalf("server still answers after Stop")
	}
	srv.Stop() // a second Stop does nothing
}

func TestMissingMoto(t *testing.T) {
	t.Setenv("SHALE_MOTO_PYTHON", "/nonexistent/python3")
	if err := mototest.Available(); err == nil || !strings.Contains(err.Error(), "/nonexistent/python3") {
		t.Fatalf("Available() = %v, want an error naming the interpreter", err)
	}
}
