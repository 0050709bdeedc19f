package objectstore_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/shalelog/shale/objectstore"
	"github.com/shalelog/shale/objectstore/objectstoretest"
)

func TestCountingAcceptance(t *testing.T) {
	objectstoretest.AcceptanceTest(t, func(t *testing.T) objectstore.Bucket {
		return objectstore.NewCounting(newFSBucket(t))
	})
}

func TestFaultyAcceptanceWithoutFaults(t *testing.T) {
	objectstoretest.AcceptanceTest(t, func(t *testing.T) objectstore.Bucket {
		return objectstore.NewFaulty(newFSBucket(t))
	})
}

// multipartFS pretends to be a driver whose Put of more than 100 bytes costs
// one request per 100 bytes plus two.
type multipartFS struct{ objectstore.Bucket }

func (multipartFS) PutRequests(size int64) int64 {
	if size <= 100 {
		return 1
	}
	return (size+99)/100 + 2
}

func TestCountingCounts(t *testing.T) {
	c := objectstore.NewCounting(multipartFS{newFSBucket(t)})
	ctx := context.Background()
	for i, size := range []int{10, 100, 250} { // 1 + 1 + (3+2) requests
		if err := c.Put(ctx, "k/"+string(rune('a'+i)), bytes.NewReader(make([]byte, size)), -1); err != nil {
			t.Fatal(err)
		}
	}
	body, err := c.ReadRange(ctx, "k/c", 50, 100)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, body); err != nil {
		t.Fatal(err)
	}
	body.Close()
	if _, err := c.Stat(ctx, "k/a"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Stat(ctx, "k/missing"); !objectstore.IsNotExist(err) {
		t.Fatalf("Stat(missing) = %v", err)
	}
	if err := c.List(ctx, "k/", func(objectstore.ObjectInfo) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, "k/a"); err != nil {
		t.Fatal(err)
	}
	got := c.Stats()
	want := objectstore.CountingStats{
		ClassA: 1 + 1 + 5 + 1, ClassB: 1 + 2, Deletes: 1,
		Puts: 3, Reads: 1, Stats: 2, Lists: 1,
		BytesIn: 360, BytesOut: 100, Errors: 1,
	}
	if got != want {
		t.Fatalf("Stats() = %+v\nwant      %+v", got, want)
	}
	if per := got.ClassAPerGiB(); per != float64(8)/(360.0/(1<<30)) {
		t.Fatalf("ClassAPerGiB = %v", per)
	}
	if d := got.Sub(want); d != (objectstore.CountingStats{}) {
		t.Fatalf("Sub of equal snapshots = %+v", d)
	}
}

func TestCountingListPages(t *testing.T) {
	c := objectstore.NewCounting(newFSBucket(t))
	ctx := context.Background()
	for i := range 1001 {
		key := "p/" + string(rune('a'+i%26)) + "/" + string(rune('a'+i/26%26)) + string(rune('a'+i/676))
		if err := c.Put(ctx, key, bytes.NewReader(nil), 0); err != nil {
			t.Fatal(err)
		}
	}
	before := c.Stats()
	if err := c.List(ctx, "p/", func(objectstore.ObjectInfo) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if err := c.List(ctx, "nothing/", func(objectstore.ObjectInfo) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if d := c.Stats().Sub(before); d.ClassA != 2+1 || d.Lists != 2 {
		t.Fatalf("two lists (1001 keys, 0 keys) cost %d class A in %d lists, want 3 in 2", d.ClassA, d.Lists)
	}
}

func TestFaultyDown(t *testing.T) {
	f := objectstore.NewFaulty(newFSBucket(t))
	ctx := context.Background()
	f.SetDown(true)
	errs := map[string]error{
		"put":    f.Put(ctx, "k", bytes.NewReader([]byte("x")), 1),
		"delete": f.Delete(ctx, "k"),
		"list":   f.List(ctx, "", func(objectstore.ObjectInfo) error { return nil }),
	}
	_, errs["read"] = f.ReadRange(ctx, "k", 0, -1)
	_, errs["stat"] = f.Stat(ctx, "k")
	for op, err := range errs {
		var netErr *net.OpError
		var fault *objectstore.FaultError
		if !errors.As(err, &netErr) || !errors.As(err, &fault) || fault.Kind != objectstore.FaultDown {
			t.Fatalf("%s while down = %v, want a FaultDown wrapping *net.OpError", op, err)
		}
		if !objectstore.IsRetriable(err) || objectstore.IsNotExist(err) {
			t.Fatalf("%s while down: IsRetriable=%v IsNotExist=%v", op, objectstore.IsRetriable(err), objectstore.IsNotExist(err))
		}
	}
	f.SetDown(false)
	if _, err := f.Stat(ctx, "k"); !objectstore.IsNotExist(err) {
		t.Fatalf("the Put made while down stored something: Stat = %v", err)
	}
	if err := f.Put(ctx, "k", bytes.NewReader([]byte("x")), 1); err != nil {
		t.Fatalf("Put after coming back: %v", err)
	}
}

func TestFaultySlowDown(t *testing.T) {
	f := objectstore.NewFaulty(newFSBucket(t))
	ctx := context.Background()
	f.SetSlowDown(2)
	for i := range 2 {
		_, err := f.Stat(ctx, "k")
		var api smithy.APIError
		var status interface{ HTTPStatusCode() int }
		if !errors.As(err, &api) || api.ErrorCode() != "SlowDown" || !errors.As(err, &status) || status.HTTPStatusCode() != 503 {
			t.Fatalf("call %d: %v, want a 503 SlowDown", i, err)
		}
		if !objectstore.IsRetriable(err) {
			t.Fatalf("SlowDown not retriable: %v", err)
		}
	}
	if _, err := f.Stat(ctx, "k"); !objectstore.IsNotExist(err) {
		t.Fatalf("third call = %v, want the real answer (not exist)", err)
	}
}

func TestFaultyErrorRate(t *testing.T) {
	f := objectstore.NewFaulty(newFSBucket(t))
	ctx := context.Background()
	if err := f.Put(ctx, "k", bytes.NewReader([]byte("x")), 1); err != nil {
		t.Fatal(err)
	}
	f.SetErrorRate(objectstore.OpPut, 1)
	if err := f.Put(ctx, "k2", bytes.NewReader([]byte("x")), 1); !objectstore.IsRetriable(err) {
		t.Fatalf("Put at error rate 1 = %v", err)
	}
	if _, err := f.Stat(ctx, "k"); err != nil {
		t.Fatalf("Stat is not meant to fail: %v", err)
	}
	f.SetErrorRate(objectstore.OpPut, 0)

	pattern := func(seed uint64) []bool {
		f.Seed(seed)
		f.SetErrorRate(objectstore.OpAll, 0.5)
		defer f.SetErrorRate(objectstore.OpAll, 0)
		var fails []bool
		for range 400 {
			_, err := f.Stat(ctx, "k")
			if err != nil && !objectstore.IsRetriable(err) {
				t.Fatalf("injected error not retriable: %v", err)
			}
			fails = append(fails, err != nil)
		}
		return fails
	}
	a, b, c := pattern(42), pattern(42), pattern(43)
	n := 0
	for _, failed := range a {
		if failed {
			n++
		}
	}
	if n == 0 || n == len(a) {
		t.Fatalf("error rate 0.5 failed %d of %d calls", n, len(a))
	}
	if !equalBools(a, b) {
		t.Fatalf("the same seed gave different faults")
	}
	if equalBools(a, c) {
		t.Fatalf("different seeds gave the same 400 faults")
	}
}

func equalBools(a, b []bool) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestFaultyTruncateReads(t *testing.T) {
	f := objectstore.NewFaulty(newFSBucket(t))
	ctx := context.Background()
	data := bytes.Repeat([]byte("0123456789"), 1000)
	if err := f.Put(ctx, "k", bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	f.SetTruncateReads(true)
	for range 20 {
		body, err := f.ReadRange(ctx, "k", 100, 5000)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(body)
		body.Close()
		if !errors.Is(err, io.ErrUnexpectedEOF) || !objectstore.IsRetriable(err) {
			t.Fatalf("truncated read error = %v, want retriable io.ErrUnexpectedEOF", err)
		}
		if len(got) >= 5000 || !bytes.Equal(got, data[100:100+len(got)]) {
			t.Fatalf("truncated body of %d bytes is not a proper prefix", len(got))
		}
	}
	f.SetTruncateReads(false)
	body, err := f.ReadRange(ctx, "k", 100, 5000)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(body)
	body.Close()
	if err != nil || !bytes.Equal(got, data[100:5100]) {
		t.Fatalf("read after turning truncation off: %d bytes, %v", len(got), err)
	}
}

func TestFaultyLatencyEndsWithContext(t *testing.T) {
	f := objectstore.NewFaulty(newFSBucket(t))
	f.SetLatency(time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := f.Stat(ctx, "k")
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) || objectstore.IsRetriable(err) {
		t.Fatalf("Stat under latency with canceled context = %v", err)
	}
}

// TestFaultyConcurrentControl flips every setting while calls run; run it
// with -race.
func TestFaultyConcurrentControl(t *testing.T) {
	f := objectstore.NewFaulty(newFSBucket(t))
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				key := "c/" + string(rune('a'+w)) + string(rune('a'+i%26))
				if err := f.Put(ctx, key, bytes.NewReader([]byte("x")), 1); err != nil && !objectstore.IsRetriable(err) {
					t.Errorf("Put: %v", err)
				}
				if body, err := f.ReadRange(ctx, key, 0, -1); err == nil {
					io.Copy(io.Discard, body)
					body.Close()
				}
			}
		}()
	}
	for i := range 50 {
		f.SetDown(i%7 == 0)
		f.SetErrorRate(objectstore.OpAll, float64(i%3)/4)
		f.SetSlowDown(i % 2)
		f.SetTruncateReads(i%5 == 0)
		f.Seed(uint64(i))
	}
	wg.Wait()
}

func TestIsRetriable(t *testing.T) {
	status := func(code int) error {
		return &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: code}},
			Err:      errors.New("answer"),
		}}
	}
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"not exist", errors.Join(objectstore.ErrNotExist, status(404)), false},
		{"canceled", context.Canceled, false},
		{"deadline", context.DeadlineExceeded, false},
		{"closed", objectstore.ErrClosed, false},
		{"plain", errors.New("bad key"), false},
		{"access denied", &smithy.GenericAPIError{Code: "AccessDenied"}, false},
		{"403", status(403), false},
		{"slow down", &smithy.GenericAPIError{Code: "SlowDown"}, true},
		{"internal", &smithy.GenericAPIError{Code: "InternalError"}, true},
		{"500", status(500), true},
		{"503", status(503), true},
		{"429", status(429), true},
		{"refused", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, true},
		{"unexpected eof", io.ErrUnexpectedEOF, true},
		{"wrapped 503", errors.Join(errors.New("put x"), status(503)), true},
		{"canceled over 503", errors.Join(context.Canceled, status(503)), false},
	}
	for _, c := range cases {
		if got := objectstore.IsRetriable(c.err); got != c.want {
			t.Errorf("IsRetriable(%s: %v) = %v, want %v", c.name, c.err, got, c.want)
		}
	}
}
