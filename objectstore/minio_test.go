package objectstore_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/shalelog/shale/internal/miniotest"
	"github.com/shalelog/shale/internal/mototest"
	"github.com/shalelog/shale/objectstore"
	"github.com/shalelog/shale/objectstore/objectstoretest"
)

// The minio driver runs the same acceptance suite as the AWS driver,
// against real MinIO (skipped without the binary unless
// SHALE_REQUIRE_MINIO=1) and against moto's S3 server (skipped without moto
// unless SHALE_REQUIRE_TOOLS=1). The AWS driver runs against moto here too,
// so both drivers meet both stores.

func mustMinio(t testing.TB, cfg objectstore.S3Config) objectstore.Bucket {
	t.Helper()
	b, err := objectstore.NewMinio(context.Background(), cfg)
	if err != nil {
		t.Fatalf("NewMinio: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// motoConfig is s3Config for a moto server.
func motoConfig(srv *mototest.Server, prefix string) objectstore.S3Config {
	cfg := objectstore.DefaultS3Config()
	cfg.Bucket = srv.Bucket
	cfg.Prefix = prefix
	cfg.Endpoint = srv.Endpoint
	cfg.Region = mototest.Region
	cfg.PathStyle = true
	cfg.AccessKey = srv.AccessKey
	cfg.SecretKey = srv.SecretKey
	cfg.PartSize = 5 << 20
	cfg.MultipartThreshold = 5 << 20
	return cfg
}

// noOpenUploads fails t if a multipart upload was left open in the bucket.
func noOpenUploads(t *testing.T, client *s3.Client, bucket string) {
	t.Helper()
	out, err := client.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatalf("ListMultipartUploads: %v", err)
	}
	for _, u := range out.Uploads {
		t.Errorf("multipart upload of %s was left open", aws.ToString(u.Key))
	}
}

func TestMinioAcceptance(t *testing.T) {
	srv := miniotest.Start(t)
	n := 0
	objectstoretest.AcceptanceTest(t, func(t *testing.T) objectstore.Bucket {
		n++
		return objectstore.NewCounting(mustMinio(t, s3Config(srv, fmt.Sprintf("acceptance/%d", n))))
	})
	noOpenUploads(t, rawClient(srv), srv.Bucket)
}

func TestMotoAcceptance(t *testing.T) {
	srv := mototest.Start(t)
	drivers := []struct {
		name string
		open func(testing.TB, objectstore.S3Config) objectstore.Bucket
	}{
		{"aws", mustS3},
		{"minio", mustMinio},
	}
	for _, d := range drivers {
		t.Run(d.name, func(t *testing.T) {
			n := 0
			objectstoretest.AcceptanceTest(t, func(t *testing.T) objectstore.Bucket {
				n++
				return objectstore.NewCounting(d.open(t, motoConfig(srv, fmt.Sprintf("%s/%d", d.name, n))))
			})
		})
	}
	noOpenUploads(t, srv.Client(), srv.Bucket)
}

func TestMinioOpenURL(t *testing.T) {
	srv := miniotest.Start(t)
	srv.Setenv(t)
	ctx := context.Background()
	for _, driver := range []string{"", "minio", "aws"} {
		u := srv.URL("via-url-" + driver)
		if driver != "" {
			u += "&driver=" + driver
		}
		b, err := objectstore.Open(ctx, u)
		if err != nil {
			t.Fatalf("Open(%s): %v", u, err)
		}
		_, isMinio := b.(*objectstore.Minio)
		if want := driver != "aws"; isMinio != want {
			t.Fatalf("Open(%s) gave a %T", u, b)
		}
		if err := b.Put(ctx, "a/b", bytes.NewReader([]byte("hello")), 5); err != nil {
			t.Fatal(err)
		}
		if _, err := rawClient(srv).HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(srv.Bucket), Key: aws.String("via-url-" + driver + "/a/b")}); err != nil {
			t.Fatalf("%s: object not stored under the URL's prefix: %v", u, err)
		}
		var keys []string
		if err := b.List(ctx, "", func(info objectstore.ObjectInfo) error {
			keys = append(keys, info.Key)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(keys, []string{"a/b"}) {
			t.Fatalf("%s: List = %q, want [a/b]", u, keys)
		}
		b.Close()
	}
}

// TestMinioReadsWhatAWSWrote checks that the two drivers agree on the
// bytes of one bucket: what one writes (in one piece and in parts), the
// other reads back exactly.
func TestMinioReadsWhatAWSWrote(t *testing.T) {
	srv := miniotest.Start(t)
	ctx := context.Background()
	aws, mio := mustS3(t, s3Config(srv, "both")), mustMinio(t, s3Config(srv, "both"))
	for _, size := range []int{0, 1, 100 << 10, 11<<20 + 3} {
		data := bytes.Repeat([]byte{byte(size), 7, 9}, size/3+1)[:size]
		for _, pair := range [][2]objectstore.Bucket{{aws, mio}, {mio, aws}} {
			key := fmt.Sprintf("x/%T-%d", pair[0], size)
			if err := pair[0].Put(ctx, key, bytes.NewReader(data), int64(size)); err != nil {
				t.Fatalf("%T Put %d: %v", pair[0], size, err)
			}
			body, err := pair[1].ReadRange(ctx, key, 0, -1)
			if err != nil {
				t.Fatalf("%T ReadRange: %v", pair[1], err)
			}
			got, err := io.ReadAll(body)
			body.Close()
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("%T read %d bytes of %T's %d, %v", pair[1], len(got), pair[0], size, err)
			}
		}
	}
}

func TestMinioCountsMultipartRequests(t *testing.T) {
	srv := miniotest.Start(t)
	c := objectstore.NewCounting(mustMinio(t, s3Config(srv, "count")))
	ctx := context.Background()
	size := 11<<20 + 1 // three 5 MiB parts
	if err := c.Put(ctx, "big", bytes.NewReader(make([]byte, size)), int64(size)); err != nil {
		t.Fatal(err)
	}
	head, err := rawClient(srv).HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(srv.Bucket), Key: aws.String("count/big")})
	if err != nil {
		t.Fatal(err)
	}
	if etag := aws.ToString(head.ETag); !strings.HasSuffix(strings.Trim(etag, `"`), "-3") {
		t.Fatalf("ETag %s does not show a three-part upload", etag)
	}
	if got := c.Stats(); got.ClassA != 5 {
		t.Fatalf("Stats = %+v, want ClassA 5 (create + 3 parts + complete)", got)
	}
}

func TestMinioOutage(t *testing.T) {
	srv := miniotest.Start(t)
	cfg := s3Config(srv, "outage")
	cfg.MaxAttempts = 1
	b := mustMinio(t, cfg)
	ctx := context.Background()
	if err := b.Put(ctx, "before", bytes.NewReader([]byte("kept")), 4); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	err := b.Put(ctx, "during", bytes.NewReader([]byte("x")), 1)
	if err == nil || !objectstore.IsRetriable(err) || objectstore.IsNotExist(err) {
		t.Fatalf("Put during outage = %v, want a retriable error", err)
	}
	if _, err := b.Stat(ctx, "before"); err == nil || !objectstore.IsRetriable(err) || objectstore.IsNotExist(err) {
		t.Fatalf("Stat during outage = %v, want a retriable error that is not ErrNotExist", err)
	}
	srv.Restart()
	body, err := b.ReadRange(ctx, "before", 0, -1)
	if err != nil {
		t.Fatalf("read after restart: %v", err)
	}
	got, err := io.ReadAll(body)
	body.Close()
	if err != nil || string(got) != "kept" {
		t.Fatalf("after restart read %q, %v; want \"kept\"", got, err)
	}
}

func TestMinioWrongCredentialsAndBucket(t *testing.T) {
	srv := miniotest.Start(t)
	ctx := context.Background()

	cfg := s3Config(srv, "creds")
	cfg.SecretKey = "not-the-secret"
	cfg.MaxAttempts = 1
	_, err := mustMinio(t, cfg).Stat(ctx, "x")
	if err == nil || objectstore.IsRetriable(err) || objectstore.IsNotExist(err) {
		t.Fatalf("Stat with a wrong secret = %v, want a permanent error", err)
	}
	if err := mustMinio(t, cfg).Put(ctx, "x", bytes.NewReader(nil), 0); err == nil || objectstore.IsRetriable(err) {
		t.Fatalf("Put with a wrong secret = %v, want a permanent error", err)
	}

	cfg = s3Config(srv, "")
	cfg.Bucket = "no-such-bucket"
	nb := mustMinio(t, cfg)
	_, err = nb.ReadRange(ctx, "x", 0, -1)
	if err == nil || objectstore.IsNotExist(err) || objectstore.IsRetriable(err) {
		t.Fatalf("ReadRange in a missing bucket = %v, want a permanent error other than ErrNotExist", err)
	}
	if err := nb.Put(ctx, "x", bytes.NewReader(nil), 0); err == nil || objectstore.IsNotExist(err) {
		t.Fatalf("Put in a missing bucket = %v", err)
	}
	if err := nb.List(ctx, "", func(objectstore.ObjectInfo) error { return nil }); err == nil || objectstore.IsNotExist(err) {
		t.Fatalf("List in a missing bucket = %v", err)
	}
}
