package main

import (
	"bytes"
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shalelog/shale/internal/miniotest"
	"github.com/shalelog/shale/internal/shaletest"
	"github.com/shalelog/shale/node"
)

func TestQuotasCommands(t *testing.T) {
	n := shaletest.StartNode(t, nil)
	addr := n.Addr()
	mustCLI(t, addr, "quotas", "set", "--user", "alice", "--producer-byte-rate", "1048576", "--request-percentage", "25")
	mustCLI(t, addr, "quotas", "set", "--client-id-default", "--consumer-byte-rate", "2048")
	r := mustCLI(t, addr, "quotas", "set", "--user", "bob", "--producer-byte-rate", "5", "--dry-run")
	if !strings.Contains(r.stdout, "dry run") {
		t.Fatalf("dry run output:\n%s", r)
	}
	out := mustCLI(t, addr, "quotas", "list").stdout
	wantFields(t, findRow(t, out, "alice", "-", "producer_byte_rate"), 3, "1048576")
	wantFields(t, findRow(t, out, "alice", "-", "request_percentage"), 3, "25")
	wantFields(t, findRow(t, out, "-", "<default>", "consumer_byte_rate"), 3, "2048")
	if lookupRow(out, "bob") != nil {
		t.Fatalf("the dry run stored bob's quota:\n%s", out)
	}
	out = mustCLI(t, addr, "quotas", "list", "--user", "alice", "--strict").stdout
	if lookupRow(out, "-", "<default>") != nil || lookupRow(out, "alice") == nil {
		t.Fatalf("list --user alice --strict:\n%s", out)
	}
	// Refused as Kafka refuses it: an unknown key, a fractional byte rate.
	wantCLI(t, addr, exitFailed, []string{"INVALID_REQUEST", "invalid configuration key"}, "quotas", "set", "--user", "alice", "--set", "producer_rate=1")
	wantCLI(t, addr, exitFailed, []string{"INVALID_REQUEST"}, "quotas", "set", "--user", "alice", "--producer-byte-rate", "1.5")
	wantCLI(t, addr, exitUsage, []string{"name the entity"}, "quotas", "set", "--producer-byte-rate", "1")
	wantCLI(t, addr, exitUsage, []string{"exclude each other"}, "quotas", "set", "--user", "a", "--user-default", "--producer-byte-rate", "1")

	mustCLI(t, addr, "quotas", "remove", "--user", "alice", "--key", "request_percentage")
	out = mustCLI(t, addr, "quotas", "list", "--output", "json").stdout
	if strings.Contains(out, "request_percentage") || !strings.Contains(out, `"producer_byte_rate"`) {
		t.Fatalf("after removing one key:\n%s", out)
	}
	mustCLI(t, addr, "quotas", "remove", "--user", "alice")
	mustCLI(t, addr, "quotas", "remove", "--client-id-default")
	if out := mustCLI(t, addr, "quotas", "list").stdout; lookupRow(out, "alice") != nil || lookupRow(out, "-", "<default>") != nil {
		t.Fatalf("after removing everything:\n%s", out)
	}
}

// Nothing secret reaches --help output or the node's logs: the AWS
// secret in the environment and in a credentials file are canaries that
// must not appear, and a secret pasted into the bucket URL is refused
// without being repeated.
func TestNoSecretsInHelpOrLogs(t *testing.T) {
	const (
		envSecret  = "canary-env-secret-1f4b9"
		fileSecret = "canary-file-secret-77c2e"
		urlSecret  = "canary-url-secret-0d3a8"
	)
	dir := t.TempDir()
	credFile := filepath.Join(dir, "credentials")
	if err := os.WriteFile(credFile, []byte("[default]\naws_access_key_id = AKIACANARY\naws_secret_access_key = "+fileSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIACANARY")
	t.Setenv("AWS_SECRET_ACCESS_KEY", envSecret)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", credFile)
	secrets := []string{envSecret, fileSecret, urlSecret}
	check := func(what, out string) {
		t.Helper()
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Fatalf("%s contains a secret (%s):\n%s", what, s, out)
			}
		}
	}

	// Every command's --help.
	cfg := node.DefaultConfig()
	fs := flag.NewFlagSet("shale broker", flag.ContinueOnError)
	nodeFlags(fs, &cfg)
	var help bytes.Buffer
	fs.SetOutput(&help)
	fs.PrintDefaults()
	check("shale broker --help", help.String())
	for _, group := range []string{"topics", "groups", "transactions", "quotas"} {
		r := runCLI(t, group, "--help")
		check("shale "+group+" --help", r.stdout+r.stderr)
		for _, line := range strings.Split(r.stdout, "\n") {
			f := strings.Fields(line)
			if len(f) > 2 && f[0] == "shale" && f[1] == group {
				r := runCLI(t, group, f[2], "--help")
				check("shale "+group+" "+f[2]+" --help", r.stdout+r.stderr)
			}
		}
	}

	// A bucket URL with a secret in it is refused without repeating it.
	bad := node.DefaultConfig()
	bad.DataDir = t.TempDir()
	bad.Broker.Listen = "127.0.0.1:0"
	bad.ObjectStore = "s3://AKIACANARY:" + urlSecret + "@bucket/prefix"
	var badLog bytes.Buffer
	if n, err := node.Start(bad, slog.New(slog.NewTextHandler(&badLog, nil))); err == nil {
		n.Close()
		t.Fatal("a node started with credentials in its bucket URL")
	} else {
		check("the start error", err.Error()+badLog.String())
	}

	// A node's log at debug level while clients use it.
	var logs bytes.Buffer
	n := shaletest.StartNodeLogging(t, &logs, func(c *node.Config) { c.LogLevel = "debug" })
	mustCLI(t, n.Addr(), "topics", "create", "secrets-check")
	mustCLI(t, n.Addr(), "quotas", "set", "--user-default", "--producer-byte-rate", "1048576")
	check("the node's log", logs.String())
}

// A node on a real S3 store (MinIO) with credentials from a file, at
// debug level, while records are produced and uploaded: its log never
// holds the secret.
func TestNoSecretsInLogsWithS3(t *testing.T) {
	srv := miniotest.Start(t)
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, nil, 0o600)
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_CONFIG_FILE", empty)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", empty)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	credFile := filepath.Join(dir, "credentials")
	os.WriteFile(credFile, []byte("[default]\naws_access_key_id = "+srv.AccessKey+"\naws_secret_access_key = "+srv.SecretKey+"\n"), 0o600)

	var logs bytes.Buffer
	n := shaletest.StartNodeLogging(t, &logs, func(c *node.Config) {
		c.LogLevel = "debug"
		c.ObjectStore = srv.URL("secrets") + "&credentials_file=" + credFile
	})
	mustCLI(t, n.Addr(), "topics", "create", "s3-secrets")
	cl := producer(t, n.Addr())
	produceTo(t, cl, "s3-secrets", 0, 5, time.Now())
	if strings.Contains(logs.String(), srv.SecretKey) {
		t.Fatalf("the node's log holds the S3 secret:\n%s", logs.String())
	}
	r := runCLI(t, "topics", "--help")
	if strings.Contains(r.stdout+r.stderr, srv.SecretKey) {
		t.Fatal("help output holds the S3 secret")
	}
}
