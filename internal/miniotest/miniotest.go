// Package miniotest runs a real MinIO server for tests that need S3.
//
// Start launches the binary Binary finds on a free loopback port with a
// fresh data directory, waits until it answers, creates a bucket and stops
// the server when the test ends. Without a binary the test is skipped,
// unless SHALE_REQUIRE_MINIO=1, which turns the skip into a failure (for
// CI, where a silent skip would hide a broken setup).
//
// Stop and Restart simulate an outage: the process is killed and started
// again on the same address and data directory.
package miniotest

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

// readyTimeout bounds how long Start and Restart wait for the server.
const readyTimeout = 90 * time.Second

// Server is a running MinIO server owned by one test.
type Server struct {
	Endpoint  string // "http://127.0.0.1:PORT"
	AccessKey string
	SecretKey string
	Bucket    string // created by Start
	Dir       string // the data directory, kept across Stop and Restart

	t           testing.TB
	bin         string
	addr        string
	consoleAddr string
	home        string
	logPath     string

	mu   sync.Mutex // guards cmd and done
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// Binary returns the MinIO binary to use and whether it exists: the file
// named by $SHALE_MINIO_BIN, else minio in $GOBIN or the first GOPATH's bin
// (from the environment, else `go env`), else minio on $PATH.
func Binary() (string, bool) {
	if p := os.Getenv("SHALE_MINIO_BIN"); p != "" {
		return p, isExecutable(p)
	}
	gobin, gopath := os.Getenv("GOBIN"), os.Getenv("GOPATH")
	if gobin == "" && gopath == "" {
		if out, err := exec.Command("go", "env", "GOBIN", "GOPATH").Output(); err == nil {
			lines := strings.Split(string(out), "\n")
			if len(lines) >= 2 {
				gobin, gopath = strings.TrimSpace(lines[0]), strings.TrimSpace(lines[1])
			}
		}
	}
	var candidates []string
	if gobin != "" {
		candidates = append(candidates, filepath.Join(gobin, "minio"))
	}
	if gopath != "" {
		first, _, _ := strings.Cut(gopath, string(os.PathListSeparator))
		candidates = append(candidates, filepath.Join(first, "bin", "minio"))
	}
	for _, c := range candidates {
		if isExecutable(c) {
			return c, true
		}
	}
	if p, err := exec.LookPath("minio"); err == nil {
		return p, true
	}
	return "minio", false
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// Start launches MinIO for t and registers its shutdown with t.Cleanup.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, ok := Binary()
	if !ok {
		if os.Getenv("SHALE_REQUIRE_MINIO") == "1" {
			t.Fatalf("miniotest: no minio binary (looked for %s); SHALE_REQUIRE_MINIO=1 requires one", bin)
		}
		t.Skipf("miniotest: no minio binary (set SHALE_MINIO_BIN or install it into GOPATH/bin)")
	}
	root := t.TempDir()
	s := &Server{
		AccessKey: "shale-test-access",
		SecretKey: "shale-test-secret-key",
		Bucket:    "shale-test",
		Dir:       filepath.Join(root, "data"),
		t:         t,
		bin:       bin,
		home:      filepath.Join(root, "home"),
		logPath:   filepath.Join(root, "minio.log"),
	}
	for _, d := range []string{s.Dir, s.home} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatalf("miniotest: %v", err)
		}
	}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("miniotest: last lines of %s:\n%s", s.logPath, s.logTail(40))
		}
	})
	// A port picked free may be taken before MinIO binds it; try again.
	var err error
	for range 3 {
		if s.addr, err = freeAddr(); err != nil {
			break
		}
		if s.consoleAddr, err = freeAddr(); err != nil {
			break
		}
		s.Endpoint = "http://" + s.addr
		if err = s.launch(); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("miniotest: start minio: %v\nlast lines of %s:\n%s", err, s.logPath, s.logTail(40))
	}
	if err := s.createBucket(); err != nil {
		t.Fatalf("miniotest: create bucket %s: %v\nlast lines of %s:\n%s", s.Bucket, err, s.logPath, s.logTail(40))
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

// launch starts the process and waits until it is ready.
func (s *Server) launch() error {
	logFile, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close() // the child holds its own descriptor
	fmt.Fprintf(logFile, "=== miniotest: starting %s on %s\n", s.bin, s.addr)

	cmd := exec.Command(s.bin, "server", s.Dir,
		"--address", s.addr,
		"--console-address", s.consoleAddr,
		"--certs-dir", filepath.Join(s.home, "certs"),
		"--quiet")
	cmd.Env = s.env()
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

// env is the child's environment: the parent's without any MINIO_ or AWS_
// settings, plus what keeps MinIO quiet, offline and self-contained.
func (s *Server) env() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "MINIO_") || strings.HasPrefix(kv, "AWS_") || strings.HasPrefix(kv, "HOME=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"HOME="+s.home,
		"MINIO_ROOT_USER="+s.AccessKey,
		"MINIO_ROOT_PASSWORD="+s.SecretKey,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
		"MINIO_CALLHOME_ENABLE=off",
		"MINIO_CI_CD=on",
		"MINIO_REGION="+Region,
	)
}

// waitReady polls the health endpoint until MinIO can serve requests, the
// process exits, or readyTimeout passes.
func (s *Server) waitReady(exited <-chan struct{}) error {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(readyTimeout)
	for {
		resp, err := client.Get(s.Endpoint + "/minio/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return errors.New("minio exited before it was ready")
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("minio not ready after %v (last error: %v)", readyTimeout, err)
		}
	}
}

func (s *Server) createBucket() error {
	client := s3.New(s3.Options{
		Region:       Region,
		BaseEndpoint: aws.String(s.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The health endpoint can answer before the object layer is up; a
	// busy machine then sees 503 XMinioServerNotInitialized for a while.
	for {
		_, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(s.Bucket)})
		if err == nil || !strings.Contains(err.Error(), "XMinioServerNotInitialized") {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// URL returns the objectstore URL of the test bucket under prefix.
// Credentials are not part of it; see Setenv.
func (s *Server) URL(prefix string) string {
	u := "s3://" + s.Bucket
	if p := strings.Trim(prefix, "/"); p != "" {
		u += "/" + p
	}
	return u + "?endpoint=" + url.QueryEscape(s.Endpoint) + "&region=" + Region
}

// Setenv points the standard AWS credential chain at this server for the
// rest of t (so objectstore.Open of URL works). Like t.Setenv, it cannot be
// used in parallel tests.
func (s *Server) Setenv(t testing.TB) {
	t.Setenv("AWS_ACCESS_KEY_ID", s.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s.SecretKey)
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_REGION", Region)
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(s.home, "aws-config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(s.home, "aws-credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// Stop kills the server, keeping its data directory, and waits for it to
// exit. Stopping a stopped server does nothing.
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

// Restart starts a stopped server again on the same address and data
// directory and waits until it is ready. It fails the test if it cannot.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	if err := s.launch(); err != nil {
		s.t.Fatalf("miniotest: restart minio: %v\nlast lines of %s:\n%s", err, s.logPath, s.logTail(40))
	}
	if err := s.waitObjectLayer(); err != nil {
		s.t.Fatalf("miniotest: restart minio: %v\nlast lines of %s:\n%s", err, s.logPath, s.logTail(40))
	}
}

// waitObjectLayer waits until the bucket answers: the health endpoint can
// say ready while S3 requests still get 503 XMinioServerNotInitialized.
func (s *Server) waitObjectLayer() error {
	client := s3.New(s3.Options{
		Region:       Region,
		BaseEndpoint: aws.String(s.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		_, err := client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(s.Bucket)})
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("bucket %s not served after restart: %w", s.Bucket, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// logTail returns the last n lines MinIO wrote.
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
