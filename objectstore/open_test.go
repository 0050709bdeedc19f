package objectstore_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shalelog/shale/objectstore"
)

func TestParseURL(t *testing.T) {
	good := []struct {
		url       string
		dir       string
		bucket    string
		prefix    string
		endpoint  string
		region    string
		pathStyle bool
	}{
		{url: "file:///var/lib/shale", dir: "/var/lib/shale"},
		{url: "file://localhost/var/lib/shale/", dir: "/var/lib/shale"},
		{url: "s3://my-bucket", bucket: "my-bucket"},
		{url: "s3://my-bucket/", bucket: "my-bucket"},
		{url: "s3://my-bucket/shale/prod/", bucket: "my-bucket", prefix: "shale/prod"},
		{url: "s3://my.bucket/p?region=eu-west-1", bucket: "my.bucket", prefix: "p", region: "eu-west-1"},
		{url: "s3://b12/p?endpoint=http://127.0.0.1:9000&region=us-east-1", bucket: "b12", prefix: "p",
			endpoint: "http://127.0.0.1:9000", region: "us-east-1", pathStyle: true},
		{url: "s3://b12?endpoint=https://minio.local&path_style=false", bucket: "b12",
			endpoint: "https://minio.local"},
		{url: "s3://b12?path_style=true", bucket: "b12", pathStyle: true},
	}
	for _, g := range good {
		loc, err := objectstore.ParseURL(g.url)
		if err != nil {
			t.Errorf("ParseURL(%q): %v", g.url, err)
			continue
		}
		if loc.Dir != filepath.FromSlash(g.dir) || loc.S3.Bucket != g.bucket || loc.S3.Prefix != g.prefix ||
			loc.S3.Endpoint != g.endpoint || loc.S3.Region != g.region || loc.S3.PathStyle != g.pathStyle {
			t.Errorf("ParseURL(%q) = %+v", g.url, loc)
		}
	}

	bad := []struct{ url, mentions string }{
		{"", "empty"},
		{"/var/lib/shale", "no scheme"},
		{"file:relative/path", "absolute"},
		{"file://host/path", "host"},
		{"file:///p?x=1", "query"},
		{"file://", "absolute"},
		{"gs://bucket", "unsupported scheme"},
		{"s3://", "bucket name"},
		{"s3://Upper", "bucket name"},
		{"s3://ab", "3 to 63"},
		{"s3://-abc", "begin and end"},
		{"s3://bucket:9000/p", "port"},
		{"s3://key:secret@bucket", "credentials"},
		{"s3://bucket/a//b", "prefix"},
		{"s3://bucket/../x", "prefix"},
		{"s3://bucket?endpoint=127.0.0.1:9000", "endpoint"},
		{"s3://bucket?endpoint=ftp://x", "endpoint"},
		{"s3://bucket?endpoint=http://", "endpoint"},
		{"s3://bucket?region=", "region"},
		{"s3://bucket?path_style=maybe", "path_style"},
		{"s3://bucket?regoin=x", "unknown parameter \"regoin\""},
		{"s3://bucket?region=a&region=b", "2 times"},
		{"s3://bucket#frag", "fragment"},
		{"s3://bucket?%zz", "query"},
		{"s3://bu\x00cket", ""},
	}
	for _, b := range bad {
		_, err := objectstore.ParseURL(b.url)
		if err == nil {
			t.Errorf("ParseURL(%q) succeeded", b.url)
			continue
		}
		msg := err.Error()
		if strings.Contains(msg, "\n") || !strings.Contains(msg, b.mentions) {
			t.Errorf("ParseURL(%q) error %q should be one line mentioning %q", b.url, msg, b.mentions)
		}
	}
}

func TestOpenFile(t *testing.T) {
	dir := t.TempDir()
	b, err := objectstore.Open(context.Background(), "file://"+filepath.ToSlash(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Put(context.Background(), "x", strings.NewReader("hi"), 2); err != nil {
		t.Fatal(err)
	}
	if _, err := objectstore.Open(context.Background(), "s3://b?bad=1"); err == nil {
		t.Fatal("Open with an unknown parameter succeeded")
	}
}

func TestS3ConfigValidate(t *testing.T) {
	ok := objectstore.DefaultS3Config()
	ok.Bucket = "shale"
	if err := ok.Validate(); err != nil {
		t.Fatalf("default config with a bucket: %v", err)
	}
	for name, mutate := range map[string]func(*objectstore.S3Config){
		"no bucket":        func(c *objectstore.S3Config) { c.Bucket = "" },
		"small part":       func(c *objectstore.S3Config) { c.PartSize = 1 << 20 },
		"negative thresh":  func(c *objectstore.S3Config) { c.MultipartThreshold = -1 },
		"half credentials": func(c *objectstore.S3Config) { c.AccessKey = "k" },
		"bad prefix":       func(c *objectstore.S3Config) { c.Prefix = "a//b" },
		"zero concurrency": func(c *objectstore.S3Config) { c.UploadConcurrency = -1 },
		"bad endpoint":     func(c *objectstore.S3Config) { c.Endpoint = "localhost:9000" },
	} {
		c := ok
		mutate(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: Validate accepted %+v", name, c)
		}
	}
}

// FuzzParseURL checks that no URL makes ParseURL panic, that errors are one
// line, and that whatever it accepts is a valid configuration.
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{
		"file:///tmp/x", "s3://bucket/prefix?endpoint=http://127.0.0.1:9000&region=us-east-1",
		"s3://b12?path_style=true", "s3://%41", "file://localhost/", "s3://bucket/a/../b", ":",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		loc, err := objectstore.ParseURL(raw)
		if err != nil {
			return
		}
		if loc.Dir != "" {
			if !filepath.IsAbs(loc.Dir) {
				t.Fatalf("ParseURL(%q) accepted relative dir %q", raw, loc.Dir)
			}
			return
		}
		if err := loc.S3.Validate(); err != nil {
			t.Fatalf("ParseURL(%q) accepted an invalid config: %v", raw, err)
		}
	})
}
