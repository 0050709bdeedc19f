package objectstore

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// credentialsOf opens the bucket of rawURL and returns the access key id
// its credential chain resolves (no request is sent).
func credentialsOf(t *testing.T, rawURL string) string {
	t.Helper()
	loc, err := ParseURL(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	b, err := newS3(context.Background(), loc.S3)
	if err != nil {
		t.Fatal(err)
	}
	creds, err := b.client.Options().Credentials.Retrieve(context.Background())
	if err != nil {
		t.Fatalf("retrieve credentials: %v", err)
	}
	return creds.AccessKeyID
}

// isolateAWS points the AWS chain at empty files and clears its
// environment, so the machine's own configuration cannot answer.
func isolateAWS(t *testing.T) string {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_CONFIG_FILE", empty)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", empty)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	return dir
}

func TestS3CredentialsFromTheEnvironment(t *testing.T) {
	isolateAWS(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAENVIRONMENT")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
	if got := credentialsOf(t, "s3://bucket?endpoint=http://127.0.0.1:9&region=us-east-1"); got != "AKIAENVIRONMENT" {
		t.Fatalf("access key %q from the environment", got)
	}
}

func TestS3CredentialsFromAFile(t *testing.T) {
	dir := isolateAWS(t)
	file := filepath.Join(dir, "shale-credentials")
	body := "[default]\naws_access_key_id = AKIADEFAULT\naws_secret_access_key = s1\n\n[shale]\naws_access_key_id = AKIAFROMFILE\naws_secret_access_key = s2\n"
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	base := "s3://bucket?endpoint=http://127.0.0.1:9&region=us-east-1&credentials_file=" + file
	if got := credentialsOf(t, base); got != "AKIADEFAULT" {
		t.Fatalf("access key %q from the file's default profile", got)
	}
	if got := credentialsOf(t, base+"&profile=shale"); got != "AKIAFROMFILE" {
		t.Fatalf("access key %q from the file's shale profile", got)
	}
	// The shared credentials file the environment names is the chain's
	// own way to the same.
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", file)
	t.Setenv("AWS_PROFILE", "shale")
	if got := credentialsOf(t, "s3://bucket?endpoint=http://127.0.0.1:9&region=us-east-1"); got != "AKIAFROMFILE" {
		t.Fatalf("access key %q through AWS_SHARED_CREDENTIALS_FILE", got)
	}
	if _, err := ParseURL("s3://bucket?credentials_file=relative/path"); err == nil {
		t.Fatal("a relative credentials_file was accepted")
	}
}

// Credentials put in a URL are refused, and the error never repeats them.
func TestBucketURLErrorsHideSecrets(t *testing.T) {
	const secret = "wJalrXUtnFEMI-K7MDENG-bPxRfiCY"
	for _, raw := range []string{
		"s3://AKIAUSER:" + secret + "@bucket/prefix",
		"s3://bucket/prefix?secret_key=" + secret,
		"s3://bucket/prefix?endpoint=http://h:9000&aws_secret_access_key=" + secret,
		"s3://AKIAUSER:" + secret + "@bucket/prefix?%zz",
		"s3://u:" + secret + "@bucket:port",
	} {
		_, err := ParseURL(raw)
		if err == nil {
			t.Fatalf("%q accepted", raw)
		}
		if strings.Contains(err.Error(), secret) {
			t.Fatalf("error repeats the secret: %v", err)
		}
		t.Logf("%v", err)
	}
}
