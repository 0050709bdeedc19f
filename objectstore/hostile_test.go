package objectstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// These tests point each s3 driver (minio-go and the AWS SDK) at an HTTP server that misbehaves in
// one way at a time, and check that the driver says so instead of handing
// out wrong or short bytes.

// hostileObject is the object the misbehaving server serves.
var hostileObject = func() []byte {
	p := make([]byte, 1000)
	for i := range p {
		p[i] = byte(i * 7)
	}
	return p
}()

// parseRange parses "bytes=a-b" or "bytes=a-" as the driver sends them.
func parseRange(h string, size int) (first, last int, ok bool) {
	spec, found := strings.CutPrefix(h, "bytes=")
	if !found {
		return 0, 0, false
	}
	a, b, _ := strings.Cut(spec, "-")
	first, _ = strconv.Atoi(a)
	last = size - 1
	if b != "" {
		last, _ = strconv.Atoi(b)
		last = min(last, size-1)
	}
	return first, last, true
}

// honest answers a GET as S3 does.
func honest(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Last-Modified", time.Unix(1e9, 0).UTC().Format(http.TimeFormat))
	w.Header().Set("ETag", `"abc"`)
	first, last, ranged := parseRange(r.Header.Get("Range"), len(hostileObject))
	if !ranged {
		w.Header().Set("Content-Length", strconv.Itoa(len(hostileObject)))
		w.WriteHeader(http.StatusOK)
		w.Write(hostileObject)
		return
	}
	if first >= len(hostileObject) {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
		io.WriteString(w, `<Error><Code>InvalidRange</Code><Message>no</Message></Error>`)
		return
	}
	w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", first, last, len(hostileObject)))
	w.Header().Set("Content-Length", strconv.Itoa(last-first+1))
	w.WriteHeader(http.StatusPartialContent)
	w.Write(hostileObject[first : last+1])
}

func hostileBucket(t *testing.T, handler http.HandlerFunc) (*Minio, *atomic.Int64) {
	t.Helper()
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		handler(w, r)
	}))
	t.Cleanup(srv.Close)
	cfg := DefaultS3Config()
	cfg.Bucket = "hostile"
	cfg.Endpoint = srv.URL
	cfg.Region = "us-east-1"
	cfg.PathStyle = true
	cfg.AccessKey, cfg.SecretKey = "k", "s"
	cfg.MaxAttempts = 3
	b, err := newMinio(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b, &requests
}

// readAll reads [off, off+length) and returns the bytes and the first error
// from ReadRange or from the body.
func readAll(b Bucket, off, length int64) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	body, err := b.ReadRange(ctx, "obj", off, length)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	return io.ReadAll(body)
}

// hostileOpener opens a driver against a test server with handler.
type hostileOpener func(t *testing.T, handler http.HandlerFunc) Bucket

var hostileDrivers = map[string]hostileOpener{
	"minio": func(t *testing.T, h http.HandlerFunc) Bucket { b, _ := hostileBucket(t, h); return b },
	"aws":   hostileAWSBucket,
}

// hostileAWSBucket is hostileBucket for the AWS SDK driver.
func hostileAWSBucket(t *testing.T, handler http.HandlerFunc) Bucket {
	t.Helper()
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	cfg := DefaultS3Config()
	cfg.Bucket = "hostile"
	cfg.Endpoint = srv.URL
	cfg.Region = "us-east-1"
	cfg.PathStyle = true
	cfg.AccessKey, cfg.SecretKey = "k", "s"
	cfg.MaxAttempts = 3
	b, err := newS3(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func TestHostileHonestServer(t *testing.T) {
	for name, open := range hostileDrivers {
		t.Run(name, func(t *testing.T) { testHonestServer(t, open) })
	}
}

func testHonestServer(t *testing.T, open hostileOpener) {
	b := open(t, honest)
	for _, c := range []struct{ off, length int64 }{{0, -1}, {0, 10}, {990, 100}, {500, -1}, {1000, 5}, {0, 1 << 62}} {
		got, err := readAll(b, c.off, c.length)
		want := hostileObject[min(c.off, 1000):]
		if c.length >= 0 {
			want = want[:min(int64(len(want)), c.length)]
		}
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("ReadRange(%d, %d) = %d bytes, %v; want %d bytes", c.off, c.length, len(got), err, len(want))
		}
	}
}

func TestHostileRejectsBadRangeAnswers(t *testing.T) {
	for name, open := range hostileDrivers {
		t.Run(name, func(t *testing.T) { testRejectsBadRangeAnswers(t, open) })
	}
}

func testRejectsBadRangeAnswers(t *testing.T, open hostileOpener) {
	cases := []struct {
		name        string
		contentRng  string // "" sends none
		contentLen  string // "" lets net/http decide
		body        []byte
		wantBadResp bool // a *BadResponseError; otherwise a retriable short body
	}{
		{"wrong start", "bytes 10-109/1000", "100", hostileObject[10:110], true},
		{"stops short", "bytes 0-49/1000", "50", hostileObject[:50], true},
		{"runs past the end asked", "bytes 0-199/1000", "200", hostileObject[:200], true},
		{"length disagrees", "bytes 0-99/1000", "90", hostileObject[:90], true},
		{"unknown total", "bytes 0-99/*", "100", hostileObject[:100], true},
		{"garbage", "bytes zero-99/1000", "100", hostileObject[:100], true},
		{"other unit", "items 0-99/1000", "100", hostileObject[:100], true},
		{"last past total", "bytes 0-99/50", "100", hostileObject[:100], true},
		{"negative", "bytes -1-98/1000", "100", hostileObject[:100], true},
		{"signed length", "bytes 0-99/1000", "+100", hostileObject[:100], true},
		{"short body", "bytes 0-99/1000", "100", hostileObject[:60], false},
		{"empty body", "bytes 0-99/1000", "100", nil, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := open(t, func(w http.ResponseWriter, r *http.Request) {
				if c.contentRng != "" {
					w.Header().Set("Content-Range", c.contentRng)
				}
				if c.contentLen != "" {
					w.Header()["Content-Length"] = []string{c.contentLen}
				}
				w.Header().Set("Last-Modified", time.Unix(1e9, 0).UTC().Format(http.TimeFormat))
				w.WriteHeader(http.StatusPartialContent)
				w.Write(c.body)
			})
			got, err := readAll(b, 0, 100)
			if err == nil {
				t.Fatalf("ReadRange(0, 100) accepted %d bytes", len(got))
			}
			t.Logf("ReadRange(0, 100): %v", err)
			var bad *BadResponseError
			if c.wantBadResp {
				// net/http itself refuses some framings before the
				// driver sees them; either way it must not be data.
				if !errors.As(err, &bad) && !strings.Contains(err.Error(), "Content-Length") {
					t.Fatalf("ReadRange = %v, want a *BadResponseError", err)
				}
				if IsRetriable(err) && errors.As(err, &bad) {
					t.Fatalf("ReadRange = %v, reported retriable", err)
				}
				return
			}
			if !errors.Is(err, io.ErrUnexpectedEOF) || !IsRetriable(err) {
				t.Fatalf("ReadRange of a short body = %v, want a retriable io.ErrUnexpectedEOF", err)
			}
			if len(got) >= 100 {
				t.Fatalf("short body read as %d bytes", len(got))
			}
		})
	}
}

// TestHostileServerIgnoringRange checks answers of 200 with the whole object
// to a ranged GET, which HTTP allows: the driver cuts out the range.
func TestHostileServerIgnoringRange(t *testing.T) {
	for name, open := range hostileDrivers {
		t.Run(name, func(t *testing.T) { testServerIgnoringRange(t, open) })
	}
}

func testServerIgnoringRange(t *testing.T, open hostileOpener) {
	b := open(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Last-Modified", time.Unix(1e9, 0).UTC().Format(http.TimeFormat))
		w.Header().Set("Content-Length", "1000")
		w.Write(hostileObject)
	})
	for _, c := range []struct{ off, length int64 }{{0, 10}, {990, 100}, {500, -1}, {1000, 5}, {5000, -1}} {
		got, err := readAll(b, c.off, c.length)
		want := hostileObject[min(c.off, 1000):]
		if c.length >= 0 {
			want = want[:min(int64(len(want)), c.length)]
		}
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("ReadRange(%d, %d) = %d bytes, %v; want %d bytes", c.off, c.length, len(got), err, len(want))
		}
	}
}

func TestMinioRetriesServerErrors(t *testing.T) {
	var fails atomic.Int64
	fails.Store(2)
	b, requests := hostileBucket(t, func(w http.ResponseWriter, r *http.Request) {
		if fails.Add(-1) >= 0 {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, `<Error><Code>InternalError</Code><Message>try again</Message></Error>`)
			return
		}
		honest(w, r)
	})
	got, err := readAll(b, 0, 100)
	if err != nil || !bytes.Equal(got, hostileObject[:100]) {
		t.Fatalf("read after two 500s = %d bytes, %v", len(got), err)
	}
	if n := requests.Load(); n != 3 {
		t.Fatalf("%d requests, want 3 (two 500s, then the answer)", n)
	}

	// A server that never recovers: MaxAttempts requests, then a
	// retriable error for the caller.
	requests.Store(0)
	fails.Store(1 << 30)
	_, err = readAll(b, 0, 100)
	if err == nil || !IsRetriable(err) || IsNotExist(err) {
		t.Fatalf("read from a failing server = %v, want a retriable error", err)
	}
	if n := requests.Load(); n != 3 {
		t.Fatalf("%d requests to a failing server, want MaxAttempts (3)", n)
	}
}

func TestMinioErrorMapping(t *testing.T) {
	cases := []struct {
		status    int
		code      string
		retriable bool
		notExist  bool
	}{
		{http.StatusServiceUnavailable, "SlowDown", true, false},
		{http.StatusTooManyRequests, "TooManyRequests", true, false},
		{http.StatusBadRequest, "RequestTimeout", true, false},
		{http.StatusNotFound, "NoSuchKey", false, true},
		{http.StatusNotFound, "NoSuchBucket", false, false},
		{http.StatusForbidden, "AccessDenied", false, false},
		{http.StatusBadRequest, "InvalidArgument", false, false},
	}
	for _, c := range cases {
		t.Run(c.code, func(t *testing.T) {
			b, _ := hostileBucket(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/xml")
				w.WriteHeader(c.status)
				fmt.Fprintf(w, `<Error><Code>%s</Code><Message>m</Message></Error>`, c.code)
			})
			b.cfg.MaxAttempts = 1
			_, err := readAll(b, 0, 100)
			if err == nil || IsRetriable(err) != c.retriable || IsNotExist(err) != c.notExist {
				t.Fatalf("read answered %d %s = %v; retriable %v, not-exist %v; want %v, %v",
					c.status, c.code, err, IsRetriable(err), IsNotExist(err), c.retriable, c.notExist)
			}
		})
	}
}

func TestMinioRejectsBadListings(t *testing.T) {
	page := func(keys ...string) string {
		var sb strings.Builder
		sb.WriteString(`<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>hostile</Name><IsTruncated>false</IsTruncated>`)
		for _, k := range keys {
			fmt.Fprintf(&sb, `<Contents><Key>%s</Key><Size>1</Size><LastModified>2026-01-01T00:00:00.000Z</LastModified></Contents>`, k)
		}
		sb.WriteString(`</ListBucketResult>`)
		return sb.String()
	}
	cases := []struct {
		name string
		body string
		ok   bool
	}{
		{"in order", page("p/a", "p/b", "p/c"), true},
		{"out of order", page("p/b", "p/a"), false},
		{"repeated", page("p/a", "p/a"), false},
		{"outside the prefix", page("p/a", "q/b"), false},
		{"negative size", strings.Replace(page("p/a"), "<Size>1</Size>", "<Size>-5</Size>", 1), false},
		{"truncated without a token", strings.Replace(page("p/a"), "<IsTruncated>false", "<IsTruncated>true", 1), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, _ := hostileBucket(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/xml")
				io.WriteString(w, c.body)
			})
			var n int
			err := b.List(context.Background(), "p/", func(ObjectInfo) error { n++; return nil })
			if c.ok && err != nil {
				t.Fatalf("List = %v", err)
			}
			if !c.ok && err == nil {
				t.Fatalf("List accepted a bad listing (%d keys)", n)
			}
		})
	}
}

func TestMinioStatWithoutLength(t *testing.T) {
	b, _ := hostileBucket(t, func(w http.ResponseWriter, r *http.Request) {
		// net/http will not send a bad Content-Length; write it raw.
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		buf.WriteString("HTTP/1.1 200 OK\r\nLast-Modified: " + time.Unix(1e9, 0).UTC().Format(http.TimeFormat) +
			"\r\nContent-Length: lots\r\nConnection: close\r\n\r\n")
		buf.Flush()
	})
	if info, err := b.Stat(context.Background(), "obj"); err == nil {
		t.Fatalf("Stat accepted an answer without a size: %+v", info)
	}
}

func TestParseContentRange(t *testing.T) {
	good := map[string]contentRange{
		"bytes 0-0/1":       {0, 0, 1},
		"bytes 5-9/10":      {5, 9, 10},
		"bytes 5-9/*":       {5, 9, -1},
		"bytes 0-99/100000": {0, 99, 100000},
	}
	for in, want := range good {
		if got, err := parseContentRange(in); err != nil || got != want {
			t.Errorf("parseContentRange(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{
		"", "bytes", "bytes 5-9", "bytes 9-5/10", "bytes 5-10/10", "bytes */10", "bytes 1-2-3/4",
		"bytes  5-9/10", "bytes 5 -9/10", "bytes +5-9/10", "bytes 5-9/+10", "bytes 99999999999999999999-1/2",
		"Bytes 5-9/10", "bytes 0x5-9/10",
	} {
		if got, err := parseContentRange(in); err == nil {
			t.Errorf("parseContentRange(%q) = %+v, want an error", in, got)
		}
	}
}

// FuzzCheckRangeAnswer checks that whatever headers a server sends, the
// driver hands out no more than was asked for and no more than the body
// promises, and never panics.
func FuzzCheckRangeAnswer(f *testing.F) {
	f.Add(int64(0), int64(100), true, int64(100), "bytes 0-99/1000")
	f.Add(int64(990), int64(100), true, int64(10), "bytes 990-999/1000")
	f.Add(int64(5), int64(-1), true, int64(1000), "")
	f.Add(int64(0), int64(-1), false, int64(1000), "")
	f.Add(int64(1<<62), int64(1<<62), true, int64(3), "bytes 0-2/3")
	f.Fuzz(func(t *testing.T, off, length int64, ranged bool, contentLength int64, contentRange string) {
		if off < 0 {
			return
		}
		skip, want, err := checkRangeAnswer("k", off, length, rangeAnswer{ranged: ranged, contentLength: contentLength, contentRange: contentRange})
		if err != nil {
			var bad *BadResponseError
			if !errors.As(err, &bad) || IsRetriable(err) {
				t.Fatalf("error %v is not a permanent *BadResponseError", err)
			}
			return
		}
		if skip < 0 || want < 0 || skip > contentLength || want > contentLength-skip {
			t.Fatalf("skip %d want %d outside a body of %d", skip, want, contentLength)
		}
		if length >= 0 && want > length {
			t.Fatalf("want %d bytes, more than the %d asked for", want, length)
		}
	})
}
