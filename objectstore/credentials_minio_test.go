package objectstore_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/shalelog/shale/internal/miniotest"
	"github.com/shalelog/shale/objectstore"
)

// A bucket URL naming a credentials file (and a profile in it) reaches a
// real MinIO with those credentials and nothing else: the environment
// and the default files hold none, and a file with a wrong secret is
// refused by the server.
func TestS3CredentialsFileAgainstMinIO(t *testing.T) {
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

	good := filepath.Join(dir, "shale-credentials")
	body := "[default]\naws_access_key_id = wrong\naws_secret_access_key = wrong-secret\n\n[shale]\naws_access_key_id = " +
		srv.AccessKey + "\naws_secret_access_key = " + srv.SecretKey + "\n"
	if err := os.WriteFile(good, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := objectstore.Open(ctx, srv.URL("creds")+"&credentials_file="+good+"&profile=shale")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	data := []byte("credentials from a file")
	if err := b.Put(ctx, "k", bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatalf("put with the file's credentials: %v", err)
	}
	rc, err := b.ReadRange(ctx, "k", 0, int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, data) {
		t.Fatalf("read back %q", got)
	}

	// The file's default profile holds a wrong secret: refused.
	bad, err := objectstore.Open(ctx, srv.URL("creds")+"&credentials_file="+good)
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	if err := bad.Put(ctx, "k2", bytes.NewReader(data), int64(len(data))); err == nil {
		t.Fatal("a put with the wrong secret succeeded")
	} else {
		t.Logf("wrong secret refused: %v", err)
	}
}
