// Package mototest runs moto's S3 server, a second S3 implementation
// beside MinIO, for tests that check Shale against more than one store.
//
// Start launches `python3 -m moto.server` on a free loopback port, waits
// until it answers, creates a bucket and stops the server (by its pid) when
// the test ends. moto ships with the machine's Python; where it cannot be
// imported the test is skipped, unless SHALE_REQUIRE_TOOLS=1, which turns
// the skip into a failure. SHALE_MOTO_PYTHON names another interpreter.
//
// moto keeps its objects in memory: a server that is stopped loses them.
package mototest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Region is the region the server and its URLs use.
const Region = "us-east-1"

// readyTimeout bounds how long Start waits for the server.
const readyTimeout = 60 * time.Second

// Server is a running moto S3 server owned by one test.
type Server struct {
	Endpoint  string // "http://127.0.0.1:PORT"
	AccessKey string // moto accepts any credentials; these are sent
	SecretKey string
	Bucket    string // created by Start

	logPath string

	mu   sync.Mutex // guards cmd and done
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// Python returns the interpreter to run moto with: $SHALE_MOTO_PYTHON, else
// python3 on $PATH.
func Python() string {
	if p := os.Getenv("SHALE_MOTO_PYTHON"); p != "" {
		return p
	}
	return "python3"
}

// Available reports whether moto's server can be imported, and if not,
// why.
func Available() error {
	out, err := exec.Command(Python(), "-c", "import moto.server, moto.s3").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s cannot import moto.server: %v: %s", Python(), err, lastLine(out))
	}
	return nil
}

func lastLine(out []byte) string {
	lines := bytes.Split(bytes.TrimSpace(out), []byte("\n"))
	return string(lines[len(lines)-1])
}

// Start launches moto for t and registers its shutdown with t.Cleanup.
func Start(t testing.TB) *Server {
	t.Helper()
	if err := Available(); err != nil {
		if os.Getenv("SHALE_REQUIRE_TOOLS") == "1" {
			t.Fatalf("mototest: %v; SHALE_REQUIRE_TOOLS=1 requires moto (run scripts/test-deps.sh)", err)
		}
		t.Skipf("mototest: %v (run scripts/test-deps.sh)", err)
	}
	s := &Server{
		AccessKey: "shale-test-access",
		SecretKey: "shale-test-secret-key",
		Bucket:    "shale-test",
		logPath:   filepath.Join(t.TempDir(), "moto.log"),
	}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("mototest: last lines of %s:\n%s", s.logPath, s.logTail(40))
		}
	})
	// A port picked free may be taken before moto binds it; try again.
	var err error
	for range 3 {
		var addr string
		if addr, err = freeAddr(); err != nil {
			break
		}
		s.Endpoint = "http://" + addr
		if err = s.launch(addr); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("mototest: start moto: %v\nlast lines of %s:\n%s", err, s.logPath, s.logTail(40))
	}
	if err := s.createBucket(); err != nil {
		t.Fatalf("mototest: create bucket %s: %v\nlast lines of %s:\n%s", s.Bucket, err, s.logPath, s.logTail(40))
	}
	return s
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr, nil
}

func (s *Server) launch(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	logFile, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close() // the child holds its own descriptor
	fmt.Fprintf(logFile, "=== mototest: starting moto.server on %s\n", addr)
	cmd := exec.Command(Python(), "-m", "moto.server", "-H", host, "-p", port)
	cmd.Env = env()
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
	if err := s.waitReady(done); err != nil {
		s.Stop()
		return err
	}
	return nil
}

// env is the child's environment: the parent's without AWS_ or MOTO_
// settings, which could point moto elsewhere.
func env() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "AWS_") || strings.HasPrefix(kv, "MOTO_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "PYTHONUNBUFFERED=1")
}

// waitReady polls the server until it answers, the process exits, or
// readyTimeout passes.
func (s *Server) waitReady(exited <-chan struct{}) error {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(readyTimeout)
	for {
		resp, err := client.Get(s.Endpoint + "/moto-api/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		select {
		case <-exited:
			return errors.New("moto exited before it was ready")
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("moto not ready after %v (last error: %v)", readyTimeout, err)
		}
	}
}

// Client returns an AWS SDK client for the server, for tests that look
// behind a driver's back.
func (s *Server) Client() *s3.Client {
	return s3.New(s3.Options{
		Region:       Region,
		BaseEndpoint: aws.String(s.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
	})
}

func (s *Server) createBucket() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := s.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(s.Bucket)})
	return err
}

// URL returns the objectstore URL of the test bucket under prefix.
// Credentials are not part of it.
func (s *Server) URL(prefix string) string {
	u := "s3://" + s.Bucket
	if p := strings.Trim(prefix, "/"); p != "" {
		u += "/" + p
	}
	return u + "?endpoint=" + url.QueryEscape(s.Endpoint) + "&region=" + Region
}

// Stop kills the server (by its pid) and waits for it to exit. Stopping a
// stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd, s.done = nil, nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Kill()
	<-done
}

// logTail returns the last n lines moto wrote.
func (s *Server) logTail(n int) string {
	data, err := os.ReadFile(s.logPath)
	if err != nil {
		return fmt.Sprintf("(cannot read log: %v)", err)
	}
	lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}
