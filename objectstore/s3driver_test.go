package objectstore_test

import (
	"context"
	"strings"
	"testing"

	"github.com/shalelog/shale/objectstore"
)

func TestParseURLDriver(t *testing.T) {
	for _, c := range []struct {
		url      string
		driver   objectstore.S3Driver
		resolved objectstore.S3Driver
	}{
		{"s3://b12?region=eu-west-1", objectstore.DriverAuto, objectstore.DriverAWS},
		{"s3://b12?endpoint=https://s3.eu-west-1.amazonaws.com&region=eu-west-1", objectstore.DriverAuto, objectstore.DriverAWS},
		{"s3://b12?endpoint=https://s3.cn-north-1.amazonaws.com.cn", objectstore.DriverAuto, objectstore.DriverAWS},
		{"s3://b12?endpoint=http://127.0.0.1:9000", objectstore.DriverAuto, objectstore.DriverMinio},
		{"s3://b12?endpoint=https://minio.example.com&driver=auto", objectstore.DriverAuto, objectstore.DriverMinio},
		{"s3://b12?endpoint=http://127.0.0.1:9000&driver=aws", objectstore.DriverAWS, objectstore.DriverAWS},
		{"s3://b12?region=eu-west-1&driver=minio", objectstore.DriverMinio, objectstore.DriverMinio},
		{"s3://b12?endpoint=http://notamazonaws.com:9000", objectstore.DriverAuto, objectstore.DriverMinio},
		{"s3://b12?endpoint=http://gw.local/s3&driver=aws", objectstore.DriverAWS, objectstore.DriverAWS},
		{"s3://b12?endpoint=http://gw.local/s3", objectstore.DriverAuto, objectstore.DriverAWS},
	} {
		loc, err := objectstore.ParseURL(c.url)
		if err != nil {
			t.Errorf("ParseURL(%q): %v", c.url, err)
			continue
		}
		if loc.Driver != c.driver || loc.Driver.Resolve(loc.S3) != c.resolved {
			t.Errorf("ParseURL(%q) driver %q resolves to %q; want %q, %q", c.url, loc.Driver, loc.Driver.Resolve(loc.S3), c.driver, c.resolved)
		}
	}
	for _, c := range []struct{ url, mentions string }{
		{"s3://b12?driver=gcs", `driver is "gcs", want aws, minio or auto`},
		{"s3://b12?driver=", `driver is ""`},
		{"s3://b12?driver=MINIO", "driver"},
		{"s3://b12?driver=aws&driver=minio", "2 times"},
		{"s3://b12?endpoint=http://gw.local:9000/s3&driver=minio", "no path"},
		{"s3://b12?drvier=minio", `unknown parameter "drvier"`},
	} {
		_, err := objectstore.ParseURL(c.url)
		if err == nil {
			t.Errorf("ParseURL(%q) succeeded", c.url)
			continue
		}
		if msg := err.Error(); strings.Contains(msg, "\n") || !strings.Contains(msg, c.mentions) {
			t.Errorf("ParseURL(%q) error %q should be one line mentioning %q", c.url, msg, c.mentions)
		}
	}
}

func TestOpenS3PicksDriver(t *testing.T) {
	cfg := objectstore.DefaultS3Config()
	cfg.Bucket = "shale"
	cfg.Endpoint = "http://127.0.0.1:1"
	cfg.Region = "us-east-1"
	cfg.AccessKey, cfg.SecretKey = "k", "s"
	for d, want := range map[objectstore.S3Driver]bool{
		objectstore.DriverAuto:  true,
		objectstore.DriverMinio: true,
		objectstore.DriverAWS:   false,
	} {
		b, err := objectstore.OpenS3(context.Background(), d, cfg)
		if err != nil {
			t.Fatalf("OpenS3(%q): %v", d, err)
		}
		if _, isMinio := b.(*objectstore.Minio); isMinio != want {
			t.Errorf("OpenS3(%q) gave a %T", d, b)
		}
		b.Close()
	}
	if _, err := objectstore.OpenS3(context.Background(), "gcs", cfg); err == nil {
		t.Errorf("OpenS3 with an unknown driver succeeded")
	}
	cfg.Endpoint = "http://127.0.0.1:1/path"
	if _, err := objectstore.NewMinio(context.Background(), cfg); err == nil {
		t.Errorf("NewMinio with an endpoint path succeeded")
	}
}
