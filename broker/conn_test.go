package broker

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestDecodeRequest(t *testing.T) {
	apiVersions := kmsg.NewPtrApiVersionsRequest()
	apiVersions.Version = 3
	apiVersions.ClientSoftwareName, apiVersions.ClientSoftwareVersion = "x", "1"
	good := requestFrame(apiVersions, 7)[4:]

	hdr, req, err := decodeRequest(good)
	if err != nil || hdr.correlationID != 7 || hdr.clientID != "wire-test" {
		t.Fatalf("valid ApiVersions: %+v, %v", hdr, err)
	}
	if got := req.(*kmsg.ApiVersionsRequest); got.ClientSoftwareName != "x" {
		t.Fatalf("decoded %+v", got)
	}

	withKeyVersion := func(key, version int16) []byte {
		b := bytes.Clone(good)
		binary.BigEndian.PutUint16(b[0:], uint16(key))
		binary.BigEndian.PutUint16(b[2:], uint16(version))
		return b
	}
	for _, v := range []int16{99, 5, -1} {
		if _, _, err := decodeRequest(withKeyVersion(18, v)); !errors.Is(err, errApiVersionsUnsupported) {
			t.Fatalf("ApiVersions v%d: got %v, want errApiVersionsUnsupported", v, err)
		}
	}
	for _, tc := range []struct {
		name  string
		frame []byte
	}{
		{"short header", good[:9]},
		{"client id past the end", func() []byte { b := bytes.Clone(good[:12]); binary.BigEndian.PutUint16(b[8:], 100); return b }()},
		{"client id length -2", func() []byte { b := bytes.Clone(good); binary.BigEndian.PutUint16(b[8:], 0xfffe); return b }()},
		{"garbage produce body", append(withKeyVersion(0, 9)[:10+len("wire-test")], 0xff, 0xff, 0xff, 0x7f, 1, 2, 3)},
		{"flexible header without tags", withKeyVersion(18, 3)[:10+len("wire-test")]},
		{"unknown API key", withKeyVersion(9999, 0)},
		{"negative API key", withKeyVersion(-1, 0)},
		{"Produce v99", withKeyVersion(0, 99)},
		{"Fetch v3", withKeyVersion(1, 3)},
	} {
		if _, _, err := decodeRequest(tc.frame); err == nil || errors.Is(err, errApiVersionsUnsupported) {
			t.Errorf("%s: got %v, want an error that closes the connection", tc.name, err)
		}
	}
}

func TestReadFrameGrowsWithTheData(t *testing.T) {
	for _, size := range []int{8, frameChunk, frameChunk + 1, 3*frameChunk + 12345} {
		src := make([]byte, size)
		for i := range src {
			src[i] = byte(i * 7)
		}
		got, err := readFrame(bytes.NewReader(src), size)
		if err != nil || !bytes.Equal(got, src) {
			t.Fatalf("size %d: %d bytes, %v", size, len(got), err)
		}
		if _, err := readFrame(bytes.NewReader(src[:size-1]), size); err == nil {
			t.Fatalf("size %d: a short stream read without error", size)
		}
	}
}

// A connection that stops reading stalls only itself: other connections,
// also on the same partition, keep working, and Close does not hang on it.
func TestSlowClientDoesNotBlockOthers(t *testing.T) {
	ws := startWireServer(t, func(c *Config) { c.MaxInFlight = 4 })
	ws.createTopic(t, "slow", 1, nil)

	fast := dialWire(t, ws.addr)
	res := produceResult(t, fast.roundTrip(produceRequest("slow", 0, 1, testRecords(10, 100, -1, -1, -1))))
	if res.ErrorCode != 0 {
		t.Fatalf("produce: %v", kerr.ErrorForCode(res.ErrorCode))
	}

	// net.Pipe is unbuffered: the server's first response write blocks
	// until the client reads, which it never does.
	client, server := net.Pipe()
	defer client.Close()
	if !ws.serveConn(server, ws.listeners[0]) {
		t.Fatal("server refused the connection")
	}
	stuck := newWireConn(t, client)
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		for range 20 {
			// Writes block once the server stops reading; that is the
			// point. They fail when the pipe is closed at the end.
			frame := requestFrame(fetchRequest("slow", 0, 0, 1, 1<<20, 0), 1)
			if _, err := stuck.nc.Write(frame); err != nil {
				return
			}
		}
	}()

	for i := range 5 {
		res := produceResult(t, fast.roundTrip(produceRequest("slow", 0, 1, testRecords(1, 10, -1, -1, -1))))
		if res.ErrorCode != 0 || res.BaseOffset != int64(10+i) {
			t.Fatalf("produce %d beside a stuck connection: offset %d, %v", i, res.BaseOffset, kerr.ErrorForCode(res.ErrorCode))
		}
		fr := fast.roundTrip(fetchRequest("slow", 0, 0, 1, 1<<20, 0)).(*kmsg.FetchResponse)
		if fr.Topics[0].Partitions[0].ErrorCode != 0 || len(fr.Topics[0].Partitions[0].RecordBatches) == 0 {
			t.Fatalf("fetch beside a stuck connection: %+v", fr.Topics[0].Partitions[0])
		}
	}
	other := dialWire(t, ws.addr)
	other.checkAlive()

	closed := make(chan error, 1)
	go func() { closed <- ws.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Close hangs on a connection that does not read")
	}
	client.Close()
	<-sent
}

// Responses leave in request order whatever order the requests finish in:
// a long-polling fetch answered by a later produce on the same connection
// comes back before that produce's response.
func TestResponsesInOrderUnderConcurrentProduceAndFetch(t *testing.T) {
	ws := startWireServer(t, nil)
	ws.createTopic(t, "order", 2, nil)
	c := dialWire(t, ws.addr)

	waitFetch := c.send(fetchRequest("order", 0, 10_000, 1, 1<<20, 0))
	prod := c.send(produceRequest("order", 0, 1, testRecords(3, 10, -1, -1, -1)))
	api := kmsg.NewPtrApiVersionsRequest()
	apiCorr := c.send(api)

	fr := c.recv(waitFetch).(*kmsg.FetchResponse)
	if p := fr.Topics[0].Partitions[0]; p.ErrorCode != 0 || len(p.RecordBatches) == 0 {
		t.Fatalf("long poll woke without the produced data: %+v", p)
	}
	if res := produceResult(t, c.recv(prod)); res.ErrorCode != 0 || res.BaseOffset != 0 {
		t.Fatalf("produce: %+v", res)
	}
	c.recv(apiCorr)

	// Many interleaved produces and fetches on both partitions, all
	// written before any response is read.
	var corrs []int32
	for i := range 60 {
		part := int32(i % 2)
		switch i % 3 {
		case 0:
			corrs = append(corrs, c.send(produceRequest("order", part, 1, testRecords(1, 10, -1, -1, -1))))
		case 1:
			corrs = append(corrs, c.send(fetchRequest("order", 0, 50, 1, 1<<20, 0, 1)))
		default:
			corrs = append(corrs, c.send(produceRequest("order", part, -1, testRecords(2, 10, -1, -1, -1))))
		}
	}
	for _, corr := range corrs {
		c.recv(corr) // fails on any correlation id out of order
	}
}

// acks=0 produce gets no response, errors included, and the connection
// carries on: the next request's response is the next frame.
func TestAcksZeroErrorsKeepTheConnection(t *testing.T) {
	ws := startWireServer(t, nil)
	ws.createTopic(t, "acks0", 1, nil)
	c := dialWire(t, ws.addr)

	corrupt := testRecords(1, 10, -1, -1, -1)
	corrupt[len(corrupt)-1] ^= 1
	c.send(produceRequest("acks0", 0, 0, testRecords(2, 10, -1, -1, -1))) // fine
	c.send(produceRequest("no-such-topic", 0, 0, testRecords(1, 10, -1, -1, -1)))
	c.send(produceRequest("acks0", 0, 0, corrupt))
	c.send(produceRequest("acks0", 5, 0, testRecords(1, 10, -1, -1, -1)))
	for corr := range c.corr + 1 {
		delete(c.sent, corr) // no responses expected for these
	}
	res := produceResult(t, c.roundTrip(produceRequest("acks0", 0, 1, testRecords(1, 10, -1, -1, -1))))
	if res.ErrorCode != 0 || res.BaseOffset != 2 {
		t.Fatalf("produce after acks=0 errors: offset %d, %v (want offset 2: only the good acks=0 batch landed)", res.BaseOffset, kerr.ErrorForCode(res.ErrorCode))
	}
	c.checkAlive()
}

func TestProduceTimeoutZero(t *testing.T) {
	ws := startWireServer(t, nil)
	ws.createTopic(t, "t0", 1, nil)
	c := dialWire(t, ws.addr)
	for i, acks := range []int16{1, -1} {
		req := produceRequest("t0", 0, acks, testRecords(4, 10, -1, -1, -1))
		req.TimeoutMillis = 0
		res := produceResult(t, c.roundTrip(req))
		if res.ErrorCode != 0 || res.BaseOffset != int64(4*i) {
			t.Fatalf("acks=%d timeout 0: offset %d, %v", acks, res.BaseOffset, kerr.ErrorForCode(res.ErrorCode))
		}
	}
}

// A fetch with a partition in error answers at once instead of waiting
// out MaxWait for the others.
func TestFetchErrorAnswersWithoutLongPoll(t *testing.T) {
	ws := startWireServer(t, nil)
	ws.createTopic(t, "oor", 2, nil)
	c := dialWire(t, ws.addr)
	req := fetchRequest("oor", 0, 25_000, 1, 1<<20, 0, 1)
	req.Topics[0].Partitions[0].FetchOffset = 100
	// The read deadline of recv (20s) is below MaxWait: a long poll fails.
	fr := c.roundTrip(req).(*kmsg.FetchResponse)
	if got := fr.Topics[0].Partitions[0].ErrorCode; got != kerr.OffsetOutOfRange.Code {
		t.Fatalf("partition 0: %v, want OFFSET_OUT_OF_RANGE", kerr.ErrorForCode(got))
	}
	if got := fr.Topics[0].Partitions[1].ErrorCode; got != 0 {
		t.Fatalf("partition 1: %v", kerr.ErrorForCode(got))
	}
}

// Closing a connection ends its long polls at once rather than after
// MaxWait; Close of the server then has nothing to wait for.
func TestClosedConnectionEndsLongPoll(t *testing.T) {
	ws := startWireServer(t, nil)
	ws.createTopic(t, "lp", 1, nil)
	c := dialWire(t, ws.addr)
	c.send(fetchRequest("lp", 0, 25_000, 1, 1<<20, 0))
	c.nc.Close()
	done := make(chan struct{})
	go func() { ws.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("server Close waited for a long poll of a closed connection")
	}
}

func TestWaitAny(t *testing.T) {
	ctx := t.Context()
	for _, n := range []int{1, 3, maxWatchCases + 10} {
		chans := make([]chan struct{}, n)
		watches := make([]<-chan struct{}, n)
		for i := range chans {
			chans[i] = make(chan struct{})
			watches[i] = chans[i]
		}
		close(chans[n/2])
		if !waitAny(ctx, watches, nil) {
			t.Fatalf("%d watches, one fired: waitAny reported no wake-up", n)
		}
	}
	never := []<-chan struct{}{make(chan struct{}), make(chan struct{})}
	expired := make(chan time.Time, 1)
	expired <- time.Now()
	if waitAny(ctx, never, expired) {
		t.Fatal("deadline passed: waitAny reported a wake-up")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if waitAny(cctx, never, nil) || waitAny(cctx, never[:1], nil) {
		t.Fatal("context ended: waitAny reported a wake-up")
	}
}

// waitAny over many partitions wakes when any one advances.
func BenchmarkWaitAny(b *testing.B) {
	for _, n := range []int{1, 16, 1000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			watches := make([]<-chan struct{}, n)
			for i := range watches {
				watches[i] = make(chan struct{})
			}
			fired := make(chan struct{})
			close(fired)
			watches[n-1] = fired
			ctx := b.Context()
			for b.Loop() {
				waitAny(ctx, watches, nil)
			}
		})
	}
}

// A flexible request whose tagged-field count is huge and whose bytes end
// right after it must be refused at once (kmsg v1.15.0 looped on such a
// count after the first failed read: one small frame held a core for
// minutes). The connection closes without an answer, and the broker keeps
// serving other clients meanwhile. The waits are the wire helpers' bounded
// read deadline, not a measure of speed.
func TestTaggedFieldCountFloodIsRefused(t *testing.T) {
	ws := startWireServer(t, nil)
	other := dialWire(t, ws.addr)
	other.checkAlive()

	// The largest count a uvarint32 holds, and nothing after it.
	hugeCount := []byte{0xff, 0xff, 0xff, 0xff, 0x0f}
	compact := func(s string) []byte { return append([]byte{byte(len(s) + 1)}, s...) }
	frames := map[string][]byte{
		// ApiVersions v3: ClientSoftwareName, ClientSoftwareVersion, tags.
		"ApiVersions v3": rawRequestFrame(18, 3, true, append(append(compact("x"), compact("1")...), hugeCount...)),
		// Metadata v12: null Topics, AllowAutoTopicCreation,
		// IncludeTopicAuthorizedOperations, tags.
		"Metadata v12": rawRequestFrame(3, 12, true, append([]byte{0, 0, 0}, hugeCount...)),
		// CreateTopics v5: one topic whose own tag section floods.
		"CreateTopics v5": rawRequestFrame(19, 5, true, append(append([]byte{2}, compact("t")...),
			append([]byte{0, 0, 0, 1, 0, 1, 1, 1}, hugeCount...)...)),
	}
	conns := map[string]*wireConn{}
	for name, frame := range frames {
		c := dialWire(t, ws.addr)
		if _, err := c.nc.Write(frame); err != nil {
			t.Fatalf("%s: write: %v", name, err)
		}
		conns[name] = c
	}
	for name, c := range conns {
		t.Run(name, func(t *testing.T) {
			c.tb = t
			c.expectClosed()
			other.tb = t
			other.checkAlive()
		})
	}
}

// rawRequestFrame is one request frame with a hand-built body: size,
// header v1 (v2 with an empty tag section when flexible), body.
func rawRequestFrame(key, version int16, flexible bool, body []byte) []byte {
	b := make([]byte, 4, 32+len(body))
	b = binary.BigEndian.AppendUint16(b, uint16(key))
	b = binary.BigEndian.AppendUint16(b, uint16(version))
	b = binary.BigEndian.AppendUint32(b, 1)
	b = binary.BigEndian.AppendUint16(b, uint16(len("wire-test")))
	b = append(b, "wire-test"...)
	if flexible {
		b = append(b, 0)
	}
	b = append(b, body...)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}
