package broker

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// closedByServer reports whether the server closed nc (a read ends with
// EOF or a reset) within wait; false when the connection stays open.
func closedByServer(nc net.Conn, wait time.Duration) bool {
	nc.SetReadDeadline(time.Now().Add(wait))
	var b [1]byte
	_, err := nc.Read(b[:])
	return err != nil && !errors.Is(err, os.ErrDeadlineExceeded)
}

// A flood of connections from one address beyond its cap is closed at
// accept, while the clients already connected keep producing and
// consuming; once the flood ends, new connections are accepted again.
func TestConnectionFloodBeyondPerIPLimitRefused(t *testing.T) {
	const perIP = 12
	ws := startWireServer(t, func(c *Config) {
		c.MaxConnectionsPerIP = 1 // any other address: one connection
		c.MaxConnectionsPerIPOverrides = map[string]int{"127.0.0.1": perIP}
	})
	ws.createTopic(t, "flood", 1, nil)

	cl, err := kgo.NewClient(kgo.SeedBrokers(ws.addr), kgo.ConsumeTopics("flood"),
		kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite(), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "flood", Value: []byte("before")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	fetched := 0
	for fetched < 1 {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		fetched += fs.NumRecords()
	}
	ws.mu.Lock()
	existing := ws.counter.perIP["127.0.0.1"]
	ws.mu.Unlock()

	// The existing client keeps working while the flood goes on.
	var produced atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "flood", Value: []byte("during")}).FirstErr(); err != nil {
				t.Errorf("produce during the flood: %v", err)
				return
			}
			produced.Add(1)
		}
	}()

	const flood = 200
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range flood {
		nc, err := net.Dial("tcp", ws.addr)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		conns = append(conns, nc)
	}
	open := 0
	for _, nc := range conns {
		if !closedByServer(nc, 200*time.Millisecond) {
			open++
		}
	}
	close(stop)
	wg.Wait()
	refused := ws.refused.Load()
	t.Logf("flood of %d connections: %d kept open, %d refused at accept; %d existing connections produced %d records meanwhile",
		flood, open, refused, existing, produced.Load())
	if open != perIP-existing || refused != int64(flood-open) {
		t.Fatalf("%d flood connections open and %d refused, want %d open (cap %d, %d existing)", open, refused, perIP-existing, perIP, existing)
	}
	if produced.Load() == 0 {
		t.Fatal("the existing client produced nothing during the flood")
	}
	for fetched < 2 {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		fetched += fs.NumRecords()
	}
	// The flood ends: its slots free up.
	for _, c := range conns {
		c.Close()
	}
	conns = nil
	waitFor(t, "the flood's connections to close", func() bool {
		ws.mu.Lock()
		defer ws.mu.Unlock()
		return ws.counter.perIP["127.0.0.1"] == existing
	})
	dialWire(t, ws.addr).checkAlive()
}

// max_connections caps the broker as a whole.
func TestMaxConnectionsBrokerWide(t *testing.T) {
	ws := startWireServer(t, func(c *Config) { c.MaxConnections = 3 })
	var kept []*wireConn
	for range 3 {
		c := dialWire(t, ws.addr)
		c.checkAlive()
		kept = append(kept, c)
	}
	extra, err := net.Dial("tcp", ws.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	if !closedByServer(extra, 10*time.Second) {
		t.Fatal("a fourth connection was kept with max_connections 3")
	}
	for _, c := range kept {
		c.checkAlive()
	}
}

// A client trickling a request one byte at a time is disconnected once
// request_read_timeout passes, before its frame is complete; a client
// beside it is served throughout.
func TestSlowlorisDisconnected(t *testing.T) {
	ws := startWireServer(t, func(c *Config) { c.RequestReadTimeout = 500 * time.Millisecond })
	other := dialWire(t, ws.addr)

	slow, err := net.Dial("tcp", ws.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	api := kmsg.NewPtrApiVersionsRequest()
	api.Version = 3
	api.ClientSoftwareName, api.ClientSoftwareVersion = "slowloris", "1"
	frame := requestFrame(api, 1)
	// One byte each 100 ms: the frame would take several seconds.
	start := time.Now()
	sent := 0
	for sent < len(frame) {
		if _, err := slow.Write(frame[sent : sent+1]); err != nil {
			break
		}
		sent++
		other.checkAlive()
		if closedByServer(slow, 100*time.Millisecond) {
			break
		}
	}
	t.Logf("trickling client disconnected after %v, %d of %d bytes sent", time.Since(start).Round(time.Millisecond), sent, len(frame))
	if sent >= len(frame) {
		t.Fatal("the whole trickled frame was read: no request read timeout")
	}
	other.checkAlive()
}

// A connection idle past connections_max_idle is closed (a client that
// vanished without closing, half-open, included), but not while a
// request of its own is in progress (a long poll).
func TestIdleConnectionsClosed(t *testing.T) {
	ws := startWireServer(t, func(c *Config) { c.ConnectionsMaxIdle = 300 * time.Millisecond })
	ws.createTopic(t, "idle", 1, nil)

	idle := dialWire(t, ws.addr)
	idle.checkAlive()
	if !closedByServer(idle.nc, 10*time.Second) {
		t.Fatal("idle connection still open 10s after connections_max_idle (300ms)")
	}

	// Never sends a byte (half-open from the broker's side): closed too.
	silent, err := net.Dial("tcp", ws.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	if !closedByServer(silent, 10*time.Second) {
		t.Fatal("silent connection still open 10s after connections_max_idle")
	}

	// A long poll of 1.5 s outlives the idle time and is answered.
	poll := dialWire(t, ws.addr)
	corr := poll.send(fetchRequest("idle", 0, 1500, 1, 1<<20, 0))
	fr := poll.recv(corr).(*kmsg.FetchResponse)
	if fr.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatal(kerr.ErrorForCode(fr.Topics[0].Partitions[0].ErrorCode))
	}
}

// The request memory budget is taken before a frame's bytes are read: a
// client that announces a frame and stalls holds back other connections'
// large requests (they are not read, so not buffered) until it goes away,
// and the bytes held never pass the budget.
func TestQueuedRequestBytesBounded(t *testing.T) {
	const budget = 64 << 10
	ws := startWireServer(t, func(c *Config) { c.QueuedMaxRequestBytes = budget })
	ws.createTopic(t, "mem", 1, nil)

	staller, err := net.Dial("tcp", ws.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer staller.Close()
	// Announces 50 KiB, sends 10 bytes, stalls: with its count for a
	// request in progress (requestOverheadBytes), most of the budget.
	hdr := binary.BigEndian.AppendUint32(nil, 50<<10)
	if _, err := staller.Write(append(hdr, make([]byte, 10)...)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the staller's frame to take its bytes", func() bool { return ws.reqBytes.inUse() > 0 })

	big := dialWire(t, ws.addr)
	corr := big.send(produceRequest("mem", 0, 1, testRecords(1, 30<<10, -1, -1, -1)))
	// Not answered while the staller holds the budget.
	big.nc.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := big.r.Peek(1); err == nil {
		t.Fatal("a request past the memory budget was read and answered")
	}
	if used := ws.reqBytes.inUse(); used > budget {
		t.Fatalf("%d request bytes held, budget %d", used, budget)
	}
	staller.Close()
	res := produceResult(t, big.recv(corr))
	if res.ErrorCode != 0 {
		t.Fatal(kerr.ErrorForCode(res.ErrorCode))
	}
	waitFor(t, "the budget to be given back", func() bool { return ws.reqBytes.inUse() == 0 })
}
