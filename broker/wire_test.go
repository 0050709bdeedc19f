package broker

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/shalelog/shale/metadata"
	"github.com/shalelog/shale/partition"
	"github.com/shalelog/shale/wal"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// wireServer is a real Server over a real metadata store and WAL in a temp
// dir, listening on loopback.
type wireServer struct {
	*Server
	addr string
}

// startWireServer starts a server for one test; mutate may change its config.
func startWireServer(tb testing.TB, mutate func(*Config)) *wireServer {
	tb.Helper()
	return startWireServerWith(tb, mutate, nil)
}

// startWireServerWith is startWireServer with prepare run on the server
// before it listens (to set its clock).
func startWireServerWith(tb testing.TB, mutate func(*Config), prepare func(*Server)) *wireServer {
	tb.Helper()
	dir := tb.TempDir()
	logger := slog.New(slog.NewTextHandler(tbWriter{tb}, &slog.HandlerOptions{Level: slog.LevelWarn}))

	mc := metadata.DefaultConfig()
	mc.Dir = filepath.Join(dir, "meta")
	mc.HeartbeatTimeout = 100 * time.Millisecond
	mc.ElectionTimeout = 100 * time.Millisecond
	mc.Logger = slog.New(slog.DiscardHandler)
	meta, err := metadata.Open(mc)
	if err != nil {
		tb.Fatalf("open metadata: %v", err)
	}
	tb.Cleanup(func() { meta.Close() })

	log, err := wal.Open(wal.Config{Dir: filepath.Join(dir, "wal"), SegmentMaxAge: 50 * time.Millisecond})
	if err != nil {
		tb.Fatalf("open wal: %v", err)
	}
	tb.Cleanup(func() { log.Close() })

	cfg := DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	if mutate != nil {
		mutate(&cfg)
	}
	s, err := New(cfg, meta, partition.NewManager(log, nil), logger)
	if err != nil {
		tb.Fatalf("new server: %v", err)
	}
	if prepare != nil {
		prepare(s)
	}
	ln, err := s.Listen()
	if err != nil {
		tb.Fatal(err)
	}
	if err := s.Start(ln); err != nil {
		ln.Close()
		tb.Fatalf("start server: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return &wireServer{Server: s, addr: ln.Addr().String()}
}

// createTopic creates a topic through the metadata store and waits for the
// server to see it.
func (ws *wireServer) createTopic(tb testing.TB, name string, partitions int32, configs map[string]string) {
	tb.Helper()
	if _, err := ws.meta.CreateTopic(context.Background(), name, partitions, configs); err != nil {
		tb.Fatalf("create topic %s: %v", name, err)
	}
	ws.topics.refresh()
}

type tbWriter struct{ tb testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.tb.Log(string(p))
	return len(p), nil
}

// wireConn speaks raw Kafka frames over one connection.
type wireConn struct {
	tb   testing.TB
	nc   net.Conn
	r    *bufio.Reader
	corr int32
	// sent maps a correlation id to the request it answers.
	sent map[int32]kmsg.Request
}

func dialWire(tb testing.TB, addr string) *wireConn {
	tb.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { nc.Close() })
	return newWireConn(tb, nc)
}

func newWireConn(tb testing.TB, nc net.Conn) *wireConn {
	return &wireConn{tb: tb, nc: nc, r: bufio.NewReader(nc), sent: map[int32]kmsg.Request{}}
}

// frame encodes req (at its set version) as one request frame.
func requestFrame(req kmsg.Request, corr int32) []byte {
	b := make([]byte, 4, 64)
	b = binary.BigEndian.AppendUint16(b, uint16(req.Key()))
	b = binary.BigEndian.AppendUint16(b, uint16(req.GetVersion()))
	b = binary.BigEndian.AppendUint32(b, uint32(corr))
	b = binary.BigEndian.AppendUint16(b, uint16(len("wire-test")))
	b = append(b, "wire-test"...)
	if req.IsFlexible() {
		b = append(b, 0)
	}
	b = req.AppendTo(b)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

// send writes req and returns its correlation id.
func (c *wireConn) send(req kmsg.Request) int32 {
	c.tb.Helper()
	c.corr++
	if _, err := c.nc.Write(requestFrame(req, c.corr)); err != nil {
		c.tb.Fatalf("write %s: %v", kmsg.NameForKey(req.Key()), err)
	}
	c.sent[c.corr] = req
	return c.corr
}

// readFrame reads one response frame and returns its correlation id and
// the bytes after it.
func (c *wireConn) readFrame() (int32, []byte, error) {
	c.nc.SetReadDeadline(time.Now().Add(20 * time.Second))
	var size [4]byte
	if _, err := io.ReadFull(c.r, size[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(size[:])
	if n < 4 || n > 256<<20 {
		return 0, nil, fmt.Errorf("response frame of %d bytes", n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(c.r, b); err != nil {
		return 0, nil, err
	}
	return int32(binary.BigEndian.Uint32(b)), b[4:], nil
}

// recv reads the next response, checks it answers corr and decodes it.
func (c *wireConn) recv(corr int32) kmsg.Response {
	c.tb.Helper()
	got, body, err := c.readFrame()
	if err != nil {
		c.tb.Fatalf("read response to %d: %v", corr, err)
	}
	if got != corr {
		c.tb.Fatalf("response correlation id %d, want %d", got, corr)
	}
	req := c.sent[corr]
	delete(c.sent, corr)
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	if req.IsFlexible() && req.Key() != apiVersionsKey {
		if len(body) == 0 || body[0] != 0 {
			c.tb.Fatalf("flexible response header without an empty tag section")
		}
		body = body[1:]
	}
	if err := resp.ReadFrom(body); err != nil {
		c.tb.Fatalf("decode %s response: %v", kmsg.NameForKey(req.Key()), err)
	}
	return resp
}

// roundTrip sends req and returns its response.
func (c *wireConn) roundTrip(req kmsg.Request) kmsg.Response {
	c.tb.Helper()
	return c.recv(c.send(req))
}

// checkAlive asks for ApiVersions and fails the test unless it is answered.
func (c *wireConn) checkAlive() {
	c.tb.Helper()
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 3
	req.ClientSoftwareName, req.ClientSoftwareVersion = "wire-test", "1"
	resp := c.roundTrip(req).(*kmsg.ApiVersionsResponse)
	if resp.ErrorCode != 0 || len(resp.ApiKeys) == 0 {
		c.tb.Fatalf("ApiVersions: error %d, %d keys", resp.ErrorCode, len(resp.ApiKeys))
	}
}

// expectClosed fails the test unless the server closes the connection
// without sending anything more.
func (c *wireConn) expectClosed() {
	c.tb.Helper()
	if corr, _, err := c.readFrame(); err == nil {
		c.tb.Fatalf("got a response (correlation id %d), want the connection closed", corr)
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		c.tb.Fatalf("connection still open: %v", err)
	}
}

// testRecords builds one valid RecordBatch v2 of n records with values
// value-0..; producerID < 0 makes a non-idempotent batch.
func testRecords(n int, valueSize int, producerID int64, epoch int16, seq int32) []byte {
	var recs []byte
	for i := range n {
		v := make([]byte, valueSize)
		copy(v, fmt.Sprintf("value-%d", i))
		r := kmsg.Record{OffsetDelta: int32(i), Value: v}
		r.Length = int32(len(r.AppendTo(nil)) - 1)
		recs = r.AppendTo(recs)
	}
	rb := kmsg.RecordBatch{
		Length:          int32(61 - 12 + len(recs)),
		Magic:           2,
		LastOffsetDelta: int32(n - 1),
		FirstTimestamp:  time.Now().UnixMilli(),
		MaxTimestamp:    time.Now().UnixMilli(),
		ProducerID:      producerID,
		ProducerEpoch:   epoch,
		FirstSequence:   seq,
		NumRecords:      int32(n),
		Records:         recs,
	}
	b := rb.AppendTo(nil)
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
	return b
}

// produceRequest builds a Produce v9 request of records to one partition.
func produceRequest(topic string, part int32, acks int16, records []byte) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.Version = 9
	req.Acks = acks
	req.TimeoutMillis = 10_000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition = part
	rp.Records = records
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// fetchRequest builds a Fetch v11 request for the given partitions, all
// from the same offset.
func fetchRequest(topic string, offset int64, maxWait, minBytes, maxBytes int32, parts ...int32) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.Version = 11
	req.ReplicaID = -1
	req.MaxWaitMillis = maxWait
	req.MinBytes = minBytes
	req.MaxBytes = maxBytes
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	for _, p := range parts {
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition = p
		rp.FetchOffset = offset
		rp.PartitionMaxBytes = 1 << 20
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	return req
}

func produceResult(tb testing.TB, resp kmsg.Response) kmsg.ProduceResponseTopicPartition {
	tb.Helper()
	r := resp.(*kmsg.ProduceResponse)
	if len(r.Topics) != 1 || len(r.Topics[0].Partitions) != 1 {
		tb.Fatalf("produce response with %d topics", len(r.Topics))
	}
	return r.Topics[0].Partitions[0]
}
