package objectstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/shalelog/shale/internal/miniotest"
	"github.com/shalelog/shale/objectstore"
	"github.com/shalelog/shale/objectstore/objectstoretest"
)

// These tests run against a real MinIO server (see internal/miniotest);
// without the binary they are skipped, unless SHALE_REQUIRE_MINIO=1.

func s3Config(srv *miniotest.Server, prefix string) objectstore.S3Config {
	cfg := objectstore.DefaultS3Config()
	cfg.Bucket = srv.Bucket
	cfg.Prefix = prefix
	cfg.Endpoint = srv.Endpoint
	cfg.Region = miniotest.Region
	cfg.PathStyle = true
	cfg.AccessKey = srv.AccessKey
	cfg.SecretKey = srv.SecretKey
	// Small parts so the suite's large object goes up in three parts.
	cfg.PartSize = 5 << 20
	cfg.MultipartThreshold = 5 << 20
	return cfg
}

func mustS3(t testing.TB, cfg objectstore.S3Config) objectstore.Bucket {
	t.Helper()
	b, err := objectstore.NewS3(context.Background(), cfg)
	if err != nil {
		t.Fatalf("NewS3: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func rawClient(srv *miniotest.Server) *s3.Client {
	return s3.New(s3.Options{
		Region:       miniotest.Region,
		BaseEndpoint: aws.String(srv.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(srv.AccessKey, srv.SecretKey, ""),
	})
}

func TestS3Acceptance(t *testing.T) {
	srv := miniotest.Start(t)
	n := 0
	objectstoretest.AcceptanceTest(t, func(t *testing.T) objectstore.Bucket {
		n++
		return objectstore.NewCounting(mustS3(t, s3Config(srv, fmt.Sprintf("acceptance/%d", n))))
	})
	// No failed or canceled upload may leave parts behind.
	out, err := rawClient(srv).ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: aws.String(srv.Bucket)})
	if err != nil {
		t.Fatalf("ListMultipartUploads: %v", err)
	}
	for _, u := range out.Uploads {
		t.Errorf("multipart upload of %s was left open", aws.ToString(u.Key))
	}
}

func TestS3OpenURL(t *testing.T) {
	srv := miniotest.Start(t)
	srv.Setenv(t)
	ctx := context.Background()
	b, err := objectstore.Open(ctx, srv.URL("via-url"))
	if err != nil {
		t.Fatalf("Open(%s): %v", srv.URL("via-url"), err)
	}
	defer b.Close()
	if err := b.Put(ctx, "a/b", bytes.NewReader([]byte("hello")), 5); err != nil {
		t.Fatal(err)
	}
	// The prefix is a folder of the bucket.
	if _, err := rawClient(srv).HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(srv.Bucket), Key: aws.String("via-url/a/b")}); err != nil {
		t.Fatalf("object not stored under the URL's prefix: %v", err)
	}
	var keys []string
	if err := b.List(ctx, "", func(info objectstore.ObjectInfo) error {
		keys = append(keys, info.Key)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(keys, []string{"a/b"}) {
		t.Fatalf("List = %q, want [a/b]", keys)
	}
}

func TestS3CountsMultipartRequests(t *testing.T) {
	srv := miniotest.Start(t)
	c := objectstore.NewCounting(mustS3(t, s3Config(srv, "count")))
	ctx := context.Background()
	size := 11<<20 + 1 // three 5 MiB parts
	if err := c.Put(ctx, "big", bytes.NewReader(make([]byte, size)), int64(size)); err != nil {
		t.Fatal(err)
	}
	if err := c.Put(ctx, "small", bytes.NewReader(make([]byte, 100)), 100); err != nil {
		t.Fatal(err)
	}
	head, err := rawClient(srv).HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(srv.Bucket), Key: aws.String("count/big")})
	if err != nil {
		t.Fatal(err)
	}
	if etag := aws.ToString(head.ETag); !strings.HasSuffix(strings.Trim(etag, `"`), "-3") {
		t.Fatalf("ETag %s does not show a three-part upload", etag)
	}
	if got := c.Stats(); got.ClassA != 5+1 || got.BytesIn != int64(size)+100 {
		t.Fatalf("Stats = %+v, want ClassA 6 (create + 3 parts + complete, then 1) and BytesIn %d", got, size+100)
	}
}

func TestS3Outage(t *testing.T) {
	srv := miniotest.Start(t)
	cfg := s3Config(srv, "outage")
	cfg.MaxAttempts = 1
	b := mustS3(t, cfg)
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
	if err := b.Put(ctx, "after", bytes.NewReader([]byte("x")), 1); err != nil {
		t.Fatalf("Put after restart: %v", err)
	}
}

func TestS3WrongCredentialsAndBucket(t *testing.T) {
	srv := miniotest.Start(t)
	ctx := context.Background()

	cfg := s3Config(srv, "creds")
	cfg.SecretKey = "not-the-secret"
	cfg.MaxAttempts = 1
	_, err := mustS3(t, cfg).Stat(ctx, "x")
	if err == nil || objectstore.IsRetriable(err) || objectstore.IsNotExist(err) {
		t.Fatalf("Stat with a wrong secret = %v, want a permanent error", err)
	}
	err = mustS3(t, cfg).Put(ctx, "x", bytes.NewReader(nil), 0)
	if err == nil || objectstore.IsRetriable(err) {
		t.Fatalf("Put with a wrong secret = %v, want a permanent error", err)
	}

	cfg = s3Config(srv, "")
	cfg.Bucket = "no-such-bucket"
	nb := mustS3(t, cfg)
	_, err = nb.ReadRange(ctx, "x", 0, -1)
	if err == nil || objectstore.IsNotExist(err) || objectstore.IsRetriable(err) {
		t.Fatalf("ReadRange in a missing bucket = %v, want a permanent error other than ErrNotExist", err)
	}
	if err := nb.Put(ctx, "x", bytes.NewReader(nil), 0); err == nil || errors.Is(err, objectstore.ErrNotExist) {
		t.Fatalf("Put in a missing bucket = %v", err)
	}
}

func BenchmarkS3Put(b *testing.B) {
	srv := miniotest.Start(b)
	for _, size := range []int{64 << 10, 8 << 20, 40 << 20} {
		b.Run(byteSize(size), func(b *testing.B) {
			cfg := s3Config(srv, "bench-put")
			cfg.PartSize = 16 << 20
			cfg.MultipartThreshold = 32 << 20
			bkt := mustS3(b, cfg)
			data := bytes.Repeat([]byte{1}, size)
			ctx := context.Background()
			b.SetBytes(int64(size))
			i := 0
			for b.Loop() {
				i++
				if err := bkt.Put(ctx, fmt.Sprintf("obj-%d", i), bytes.NewReader(data), int64(size)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkS3ReadRange(b *testing.B) {
	srv := miniotest.Start(b)
	bkt := mustS3(b, s3Config(srv, "bench-read"))
	ctx := context.Background()
	data := bytes.Repeat([]byte{2}, 16<<20)
	if err := bkt.Put(ctx, "obj", bytes.NewReader(data), int64(len(data))); err != nil {
		b.Fatal(err)
	}
	const block = 1 << 20
	b.SetBytes(block)
	off := int64(0)
	for b.Loop() {
		body, err := bkt.ReadRange(ctx, "obj", off, block)
		if err != nil {
			b.Fatal(err)
		}
		if n, err := io.Copy(io.Discard, body); err != nil || n != block {
			b.Fatalf("read %d bytes, %v", n, err)
		}
		body.Close()
		off = (off + block) % int64(len(data))
	}
}
