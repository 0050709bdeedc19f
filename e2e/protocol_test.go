package e2e

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shalelog/shale/internal/shaletest"
	"github.com/shalelog/shale/node"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// rawConn speaks hand-built Kafka frames over one TCP connection.
type rawConn struct {
	t    *testing.T
	nc   net.Conn
	r    *bufio.Reader
	corr int32
	sent map[int32]kmsg.Request
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawConn{t: t, nc: nc, r: bufio.NewReader(nc), sent: map[int32]kmsg.Request{}}
}

// rawFrame is one request frame: size, header (v1, or v2 with an empty tag
// section when flexible), body.
func rawFrame(key, version int16, corr int32, flexible bool, body []byte) []byte {
	b := make([]byte, 4, 32+len(body))
	b = binary.BigEndian.AppendUint16(b, uint16(key))
	b = binary.BigEndian.AppendUint16(b, uint16(version))
	b = binary.BigEndian.AppendUint32(b, uint32(corr))
	b = binary.BigEndian.AppendUint16(b, 3)
	b = append(b, "raw"...)
	if flexible {
		b = append(b, 0)
	}
	b = append(b, body...)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

func (c *rawConn) write(b []byte) {
	c.t.Helper()
	if _, err := c.nc.Write(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// send writes req at its set version and returns its correlation id.
func (c *rawConn) send(req kmsg.Request) int32 {
	c.t.Helper()
	c.corr++
	c.sent[c.corr] = req
	c.write(rawFrame(req.Key(), req.GetVersion(), c.corr, req.IsFlexible(), req.AppendTo(nil)))
	return c.corr
}

func (c *rawConn) readFrame() (int32, []byte, error) {
	c.nc.SetReadDeadline(time.Now().Add(20 * time.Second))
	var size [4]byte
	if _, err := io.ReadFull(c.r, size[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(size[:])
	if n < 4 || n > 64<<20 {
		return 0, nil, fmt.Errorf("response frame of %d bytes", n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(c.r, b); err != nil {
		return 0, nil, err
	}
	return int32(binary.BigEndian.Uint32(b)), b[4:], nil
}

// recv reads the next response frame, checks it answers corr and decodes
// it as the response to the request sent with corr.
func (c *rawConn) recv(corr int32) kmsg.Response {
	c.t.Helper()
	got, body, err := c.readFrame()
	if err != nil {
		c.t.Fatalf("read response %d: %v", corr, err)
	}
	if got != corr {
		c.t.Fatalf("response correlation id %d, want %d (responses out of order)", got, corr)
	}
	req := c.sent[corr]
	delete(c.sent, corr)
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	if req.IsFlexible() && req.Key() != 18 {
		if len(body) == 0 || body[0] != 0 {
			c.t.Fatal("flexible response header without an empty tag section")
		}
		body = body[1:]
	}
	if err := resp.ReadFrom(body); err != nil {
		c.t.Fatalf("decode %s response: %v", kmsg.NameForKey(req.Key()), err)
	}
	return resp
}

func (c *rawConn) roundTrip(req kmsg.Request) kmsg.Response {
	c.t.Helper()
	return c.recv(c.send(req))
}

// alive checks the connection still serves requests.
func (c *rawConn) alive() {
	c.t.Helper()
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 3
	req.ClientSoftwareName, req.ClientSoftwareVersion = "raw", "1"
	resp := c.roundTrip(req).(*kmsg.ApiVersionsResponse)
	if resp.ErrorCode != 0 || len(resp.ApiKeys) == 0 {
		c.t.Fatalf("ApiVersions: %v with %d keys", kerr.ErrorForCode(resp.ErrorCode), len(resp.ApiKeys))
	}
}

// closed checks the broker closed the connection without answering.
func (c *rawConn) closed() {
	c.t.Helper()
	corr, _, err := c.readFrame()
	if err == nil {
		c.t.Fatalf("got response %d, want the connection closed", corr)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.t.Fatal("connection still open after 20s, want it closed")
	}
}

// rawBatch is a valid RecordBatch v2 of n records of valueSize bytes.
func rawBatch(n, valueSize int, producerID int64, epoch int16, seq int32) []byte {
	var recs []byte
	for i := range n {
		v := make([]byte, valueSize)
		copy(v, fmt.Sprintf("v%d", i))
		r := kmsg.Record{OffsetDelta: int32(i), Value: v}
		r.Length = int32(len(r.AppendTo(nil)) - 1)
		recs = r.AppendTo(recs)
	}
	now := time.Now().UnixMilli()
	rb := kmsg.RecordBatch{
		Length: int32(49 + len(recs)), Magic: 2, LastOffsetDelta: int32(n - 1),
		FirstTimestamp: now, MaxTimestamp: now,
		ProducerID: producerID, ProducerEpoch: epoch, FirstSequence: seq,
		NumRecords: int32(n), Records: recs,
	}
	return resignBatch(rb.AppendTo(nil))
}

func resignBatch(b []byte) []byte {
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
	return b
}

func rawProduce(topic string, part int32, acks int16, records []byte) *kmsg.ProduceRequest {
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

func produced(t *testing.T, resp kmsg.Response) kmsg.ProduceResponseTopicPartition {
	t.Helper()
	r := resp.(*kmsg.ProduceResponse)
	if len(r.Topics) != 1 || len(r.Topics[0].Partitions) != 1 {
		t.Fatalf("produce response with %d topics", len(r.Topics))
	}
	return r.Topics[0].Partitions[0]
}

func rawFetch(topic string, offset int64, maxWait, minBytes, maxBytes int32, parts ...int32) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.Version = 11
	req.ReplicaID = -1
	req.MaxWaitMillis, req.MinBytes, req.MaxBytes = maxWait, minBytes, maxBytes
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

func wantCode(t *testing.T, what string, got int16, want *kerr.Error) {
	t.Helper()
	if got != want.Code {
		t.Fatalf("%s: got %v, want %s", what, kerr.ErrorForCode(got), want.Message)
	}
}

// An unknown API key, or a version outside the served range of an API
// other than ApiVersions, closes the connection without an answer, as Kafka
// does (a body that matches no response schema only makes clients report
// decode errors). Other connections are unaffected.
func TestProtocolUnknownAPIKeyAndVersion(t *testing.T) {
	n := shaletest.StartNode(t, nil)
	other := dialRaw(t, n.Addr())
	other.alive()
	for _, f := range []struct{ key, version int16 }{{9999, 0}, {-1, 0}, {0, 99}, {1, 3}, {3, -1}} {
		c := dialRaw(t, n.Addr())
		c.alive()
		c.write(rawFrame(f.key, f.version, 100, false, nil))
		c.closed()
		other.alive()
	}
}

// An ApiVersions request of a version this broker does not serve (newer,
// or negative) gets the v0 response with UNSUPPORTED_VERSION and the
// supported ranges, and the connection stays.
func TestProtocolUnsupportedVersions(t *testing.T) {
	n := shaletest.StartNode(t, nil)
	for _, version := range []int16{99, 5, -1} {
		c := dialRaw(t, n.Addr())
		c.write(rawFrame(18, version, 7, true, []byte{0, 1, 2, 3}))
		corr, body, err := c.readFrame()
		if err != nil || corr != 7 {
			t.Fatalf("ApiVersions v%d: correlation %d, %v", version, corr, err)
		}
		v0 := kmsg.NewPtrApiVersionsResponse()
		v0.Version = 0
		if err := v0.ReadFrom(body); err != nil {
			t.Fatalf("decode v0 ApiVersions response: %v", err)
		}
		wantCode(t, fmt.Sprintf("ApiVersions v%d", version), v0.ErrorCode, kerr.UnsupportedVersion)
		var apiVersionsMax int16 = -1
		for _, k := range v0.ApiKeys {
			if k.ApiKey == 18 {
				apiVersionsMax = k.MaxVersion
			}
		}
		if apiVersionsMax < 3 {
			t.Fatalf("v0 response lists ApiVersions up to v%d, want the real range", apiVersionsMax)
		}
		c.alive()
	}
}

func TestProtocolBadFrames(t *testing.T) {
	n := shaletest.StartNode(t, func(c *node.Config) { c.Broker.MaxRequestBytes = 64 << 10 })
	other := dialRaw(t, n.Addr())
	other.alive()

	t.Run("over the size limit", func(t *testing.T) {
		c := dialRaw(t, n.Addr())
		c.alive()
		frame := rawFrame(18, 0, 1, false, make([]byte, 64<<10))
		c.nc.Write(frame) // the broker may close before it is all written
		c.closed()
		other.alive()
	})
	t.Run("negative size", func(t *testing.T) {
		c := dialRaw(t, n.Addr())
		c.write([]byte{0xff, 0xff, 0xff, 0xf0, 0, 18, 0, 0})
		c.closed()
		other.alive()
	})
	t.Run("size below a header", func(t *testing.T) {
		c := dialRaw(t, n.Addr())
		c.write([]byte{0, 0, 0, 3, 0, 18, 0})
		c.closed()
		other.alive()
	})
	t.Run("truncated frame then close", func(t *testing.T) {
		c := dialRaw(t, n.Addr())
		frame := rawFrame(3, 12, 1, true, []byte{1, 0, 0})
		c.write(frame[:len(frame)-2])
		c.nc.Close()
		other.alive()
	})
	t.Run("garbage body for a known key", func(t *testing.T) {
		c := dialRaw(t, n.Addr())
		c.alive()
		// A Produce v9 body whose topic array claims more than is there.
		c.write(rawFrame(0, 9, 2, true, []byte{0, 0, 1, 0, 0, 0x27, 0x10, 0xff, 0xff, 0xff, 0x0f}))
		c.closed()
		other.alive()
	})
}

func TestProtocolProduceErrors(t *testing.T) {
	n := shaletest.StartNode(t, nil)
	shaletest.CreateTopic(t, n.Addr(), "errs", 2, map[string]*string{"max.message.bytes": strp("2000")})
	c := dialRaw(t, n.Addr())

	good := func() []byte { return rawBatch(3, 10, -1, -1, -1) }
	badCRC := good()
	badCRC[len(badCRC)-1] ^= 1
	magic1 := good()
	magic1[16] = 1
	countMismatch := good()
	binary.BigEndian.PutUint32(countMismatch[57:], 5) // recordCount 5, lastOffsetDelta 2
	resignBatch(countMismatch)
	twoBatches := append(good(), good()...)

	for _, tc := range []struct {
		name string
		req  *kmsg.ProduceRequest
		want *kerr.Error
	}{
		{"bad CRC", rawProduce("errs", 0, 1, badCRC), kerr.CorruptMessage},
		// Kafka 3.x/4.x: ProduceRequest.validateRecords throws
		// InvalidRecordException for a batch whose magic is not 2.
		{"magic 1", rawProduce("errs", 0, 1, magic1), kerr.InvalidRecord},
		{"larger than max.message.bytes", rawProduce("errs", 0, 1, rawBatch(3, 1000, -1, -1, -1)), kerr.MessageTooLarge},
		// A batch longer than the bytes present is no whole batch: Kafka's
		// batch iterator stops, and validateRecords finds none.
		{"truncated batch", rawProduce("errs", 0, 1, good()[:70]), kerr.InvalidRecord},
		{"truncated header", rawProduce("errs", 0, 1, good()[:10]), kerr.InvalidRecord},
		{"batch length below the minimum", rawProduce("errs", 0, 1, func() []byte {
			b := good()
			binary.BigEndian.PutUint32(b[8:], 5)
			return b
		}()), kerr.CorruptMessage},
		{"record count mismatch", rawProduce("errs", 0, 1, countMismatch), kerr.InvalidRecord},
		{"two batches", rawProduce("errs", 0, 1, twoBatches), kerr.InvalidRecord},
		{"acks=2", rawProduce("errs", 0, 2, good()), kerr.InvalidRequiredAcks},
		{"unknown topic", rawProduce("no-such-topic", 0, 1, good()), kerr.UnknownTopicOrPartition},
		{"partition out of range", rawProduce("errs", 2, 1, good()), kerr.UnknownTopicOrPartition},
		{"negative partition", rawProduce("errs", -1, 1, good()), kerr.UnknownTopicOrPartition},
	} {
		res := produced(t, c.roundTrip(tc.req))
		wantCode(t, tc.name, res.ErrorCode, tc.want)
		c.alive()
	}
	// None of it was appended.
	res := produced(t, c.roundTrip(rawProduce("errs", 0, 1, good())))
	if res.ErrorCode != 0 || res.BaseOffset != 0 {
		t.Fatalf("good batch after the bad ones: offset %d, %v; want offset 0", res.BaseOffset, kerr.ErrorForCode(res.ErrorCode))
	}
}

func TestProtocolIdempotentProduce(t *testing.T) {
	n := shaletest.StartNode(t, nil)
	shaletest.CreateTopic(t, n.Addr(), "idem", 1, nil)
	c := dialRaw(t, n.Addr())
	init := kmsg.NewPtrInitProducerIDRequest()
	init.Version = 4
	ir := c.roundTrip(init).(*kmsg.InitProducerIDResponse)
	wantCode(t, "InitProducerId", ir.ErrorCode, &kerr.Error{Message: "NONE", Code: 0})
	pid := ir.ProducerID

	send := func(epoch int16, seq int32, records int) kmsg.ProduceResponseTopicPartition {
		t.Helper()
		return produced(t, c.roundTrip(rawProduce("idem", 0, -1, rawBatch(records, 10, pid, epoch, seq))))
	}
	if r := send(0, 0, 3); r.ErrorCode != 0 || r.BaseOffset != 0 {
		t.Fatalf("first batch: offset %d, %v", r.BaseOffset, kerr.ErrorForCode(r.ErrorCode))
	}
	if r := send(0, 3, 2); r.ErrorCode != 0 || r.BaseOffset != 3 {
		t.Fatalf("second batch: offset %d, %v", r.BaseOffset, kerr.ErrorForCode(r.ErrorCode))
	}
	// A retry of the first batch gets its original offset and is not
	// appended again.
	if r := send(0, 0, 3); r.ErrorCode != 0 || r.BaseOffset != 0 {
		t.Fatalf("duplicate of the first batch: offset %d, %v; want offset 0", r.BaseOffset, kerr.ErrorForCode(r.ErrorCode))
	}
	wantCode(t, "sequence gap", send(0, 9, 1).ErrorCode, kerr.OutOfOrderSequenceNumber)
	if r := send(1, 0, 1); r.ErrorCode != 0 || r.BaseOffset != 5 {
		t.Fatalf("bumped epoch: offset %d, %v; want offset 5", r.BaseOffset, kerr.ErrorForCode(r.ErrorCode))
	}
	wantCode(t, "old epoch", send(0, 5, 1).ErrorCode, kerr.InvalidProducerEpoch)
	c.alive()
}

// TestProtocolIdempotentRetryAfterWipedWAL: a producer's batch followed by
// more than the 16 MiB of committed tail a leader used to read back, then
// the broker restarts with its WAL gone. The producer state comes from the
// catalog, so a retry of that first batch is answered with its original
// offset instead of being written a second time.
func TestProtocolIdempotentRetryAfterWipedWAL(t *testing.T) {
	dataDir := t.TempDir()
	withDir := func(c *node.Config) { c.DataDir = dataDir }
	n1 := shaletest.StartNode(t, withDir)
	shaletest.CreateTopic(t, n1.Addr(), "idem-wiped", 1, nil)
	c := dialRaw(t, n1.Addr())
	initPID := func(c *rawConn) int64 {
		init := kmsg.NewPtrInitProducerIDRequest()
		init.Version = 4
		ir := c.roundTrip(init).(*kmsg.InitProducerIDResponse)
		wantCode(t, "InitProducerId", ir.ErrorCode, &kerr.Error{Message: "NONE", Code: 0})
		return ir.ProducerID
	}
	a, b := initPID(c), initPID(c)
	first := rawBatch(3, 10, a, 0, 0)
	if r := produced(t, c.roundTrip(rawProduce("idem-wiped", 0, -1, first))); r.ErrorCode != 0 || r.BaseOffset != 0 {
		t.Fatalf("first batch: offset %d, %v", r.BaseOffset, kerr.ErrorForCode(r.ErrorCode))
	}
	const big, bigBatches = 900_000, 24 // 21.6 MB after it
	for i := range bigBatches {
		if r := produced(t, c.roundTrip(rawProduce("idem-wiped", 0, -1, rawBatch(1, big, b, 0, int32(i))))); r.ErrorCode != 0 {
			t.Fatalf("big batch %d: %v", i, kerr.ErrorForCode(r.ErrorCode))
		}
	}
	if err := n1.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(dataDir, "wal")); err != nil {
		t.Fatal(err)
	}
	n2 := shaletest.StartNode(t, withDir)
	c2 := dialRaw(t, n2.Addr())
	// The partition takes writes once its producer state is loaded.
	var r kmsg.ProduceResponseTopicPartition
	deadline := time.Now().Add(30 * time.Second)
	for {
		r = produced(t, c2.roundTrip(rawProduce("idem-wiped", 0, -1, first)))
		if r.ErrorCode != kerr.NotLeaderForPartition.Code || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if r.ErrorCode != 0 || r.BaseOffset != 0 {
		t.Fatalf("retry of the first batch after the restart: offset %d, %v; want its original offset 0", r.BaseOffset, kerr.ErrorForCode(r.ErrorCode))
	}
	end := int64(3 + bigBatches)
	if r := produced(t, c2.roundTrip(rawProduce("idem-wiped", 0, -1, rawBatch(1, 10, a, 0, 3)))); r.ErrorCode != 0 || r.BaseOffset != end {
		t.Fatalf("next batch after the restart: offset %d, %v; want %d", r.BaseOffset, kerr.ErrorForCode(r.ErrorCode), end)
	}
	if r := produced(t, c2.roundTrip(rawProduce("idem-wiped", 0, -1, rawBatch(1, 10, b, 0, bigBatches)))); r.ErrorCode != 0 || r.BaseOffset != end+1 {
		t.Fatalf("the other producer after the restart: offset %d, %v; want %d", r.BaseOffset, kerr.ErrorForCode(r.ErrorCode), end+1)
	}
}

func TestProtocolInvalidTopicNames(t *testing.T) {
	for _, autoCreate := range []bool{false, true} {
		t.Run(fmt.Sprintf("auto-create %v", autoCreate), func(t *testing.T) {
			n := shaletest.StartNode(t, func(c *node.Config) { c.Broker.AutoCreateTopics = autoCreate })
			c := dialRaw(t, n.Addr())
			meta := kmsg.NewPtrMetadataRequest()
			meta.Version = 12
			meta.AllowAutoTopicCreation = true
			for _, name := range []string{"a/b", "..", strings.Repeat("x", 250), "fine-name"} {
				mt := kmsg.NewMetadataRequestTopic()
				mt.Topic = strp(name)
				meta.Topics = append(meta.Topics, mt)
			}
			resp := c.roundTrip(meta).(*kmsg.MetadataResponse)
			if len(resp.Topics) != 4 {
				t.Fatalf("%d topics in the response, want 4", len(resp.Topics))
			}
			for _, mt := range resp.Topics[:3] {
				wantCode(t, "metadata for "+*mt.Topic, mt.ErrorCode, kerr.InvalidTopicException)
			}
			fine := resp.Topics[3]
			if autoCreate {
				if fine.ErrorCode != 0 || len(fine.Partitions) == 0 {
					t.Fatalf("valid unknown name with auto-create: %v, %d partitions", kerr.ErrorForCode(fine.ErrorCode), len(fine.Partitions))
				}
			} else {
				wantCode(t, "valid unknown name", fine.ErrorCode, kerr.UnknownTopicOrPartition)
			}
			c.alive()
		})
	}
}

func TestProtocolCreateTopicsBadNames(t *testing.T) {
	n := shaletest.StartNode(t, nil)
	c := dialRaw(t, n.Addr())
	req := kmsg.NewPtrCreateTopicsRequest()
	req.Version = 7
	req.TimeoutMillis = 10_000
	names := []string{"", ".", "..", strings.Repeat("y", 250), "a/b", "sp ace", "ok-topic"}
	for _, name := range names {
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic = name
		rt.NumPartitions, rt.ReplicationFactor = 1, 1
		req.Topics = append(req.Topics, rt)
	}
	resp := c.roundTrip(req).(*kmsg.CreateTopicsResponse)
	if len(resp.Topics) != len(names) {
		t.Fatalf("%d topics in the response, want %d", len(resp.Topics), len(names))
	}
	for i, st := range resp.Topics {
		if i == len(names)-1 {
			if st.ErrorCode != 0 {
				t.Fatalf("valid name beside bad ones: %v", kerr.ErrorForCode(st.ErrorCode))
			}
			continue
		}
		wantCode(t, fmt.Sprintf("create %q", names[i]), st.ErrorCode, kerr.InvalidTopicException)
	}
	c.alive()
}

// A topic named twice in one CreateTopics request is not created: Kafka
// answers it once, INVALID_REQUEST "Found multiple entries for this
// topic.", and creates the other topics of the request.
func TestProtocolCreateTopicsDuplicateNames(t *testing.T) {
	n := shaletest.StartNode(t, nil)
	c := dialRaw(t, n.Addr())
	for _, version := range []int16{0, 7} {
		dup, other := fmt.Sprintf("dup-v%d", version), fmt.Sprintf("other-v%d", version)
		req := kmsg.NewPtrCreateTopicsRequest()
		req.Version = version
		req.TimeoutMillis = 10_000
		for _, name := range []string{dup, other, dup} {
			rt := kmsg.NewCreateTopicsRequestTopic()
			rt.Topic = name
			rt.NumPartitions, rt.ReplicationFactor = 1, 1
			req.Topics = append(req.Topics, rt)
		}
		resp := c.roundTrip(req).(*kmsg.CreateTopicsResponse)
		got := map[string][]kmsg.CreateTopicsResponseTopic{}
		for _, st := range resp.Topics {
			got[st.Topic] = append(got[st.Topic], st)
		}
		if len(resp.Topics) != 2 || len(got[dup]) != 1 || len(got[other]) != 1 {
			t.Fatalf("v%d: response topics %+v, want %s and %s once each", version, resp.Topics, dup, other)
		}
		wantCode(t, fmt.Sprintf("v%d duplicated %s", version, dup), got[dup][0].ErrorCode, kerr.InvalidRequest)
		if version >= 1 {
			if m := got[dup][0].ErrorMessage; m == nil || *m != "Found multiple entries for this topic." {
				t.Fatalf("v%d: message %v, want Kafka's", version, m)
			}
		}
		if code := got[other][0].ErrorCode; code != 0 {
			t.Fatalf("v%d: %s beside the duplicate: %v", version, other, kerr.ErrorForCode(code))
		}
		meta := kmsg.NewPtrMetadataRequest()
		meta.Version = 12
		for _, name := range []string{dup, other} {
			mt := kmsg.NewMetadataRequestTopic()
			mt.Topic = kmsg.StringPtr(name)
			meta.Topics = append(meta.Topics, mt)
		}
		for _, mt := range c.roundTrip(meta).(*kmsg.MetadataResponse).Topics {
			want := kerr.UnknownTopicOrPartition
			if *mt.Topic == other {
				want = nil
			}
			if want == nil {
				if mt.ErrorCode != 0 {
					t.Fatalf("v%d: %s was not created: %v", version, other, kerr.ErrorForCode(mt.ErrorCode))
				}
				continue
			}
			wantCode(t, fmt.Sprintf("v%d metadata of %s", version, *mt.Topic), mt.ErrorCode, want)
		}
	}
}

func TestProtocolFetch(t *testing.T) {
	n := shaletest.StartNode(t, nil)
	shaletest.CreateTopic(t, n.Addr(), "fetch", 3, nil)
	c := dialRaw(t, n.Addr())
	producer := dialRaw(t, n.Addr())

	t.Run("offset beyond the high watermark", func(t *testing.T) {
		fr := c.roundTrip(rawFetch("fetch", 5, 10_000, 1, 1<<20, 0)).(*kmsg.FetchResponse)
		wantCode(t, "fetch at 5 of an empty partition", fr.Topics[0].Partitions[0].ErrorCode, kerr.OffsetOutOfRange)
	})
	t.Run("long poll on an empty partition", func(t *testing.T) {
		start := time.Now()
		fr := c.roundTrip(rawFetch("fetch", 0, 500, 1, 1<<20, 0)).(*kmsg.FetchResponse)
		p := fr.Topics[0].Partitions[0]
		if fr.ErrorCode != 0 || p.ErrorCode != 0 || len(p.RecordBatches) != 0 || p.HighWatermark != 0 {
			t.Fatalf("empty long poll: error %v/%v, %d bytes, high watermark %d", kerr.ErrorForCode(fr.ErrorCode), kerr.ErrorForCode(p.ErrorCode), len(p.RecordBatches), p.HighWatermark)
		}
		t.Logf("empty long poll with MaxWait 500ms returned after %v", time.Since(start))
	})
	t.Run("long poll returns when data arrives", func(t *testing.T) {
		// MaxWait is above the 20s read deadline of recv: only the
		// produce can make this fetch return in time.
		corr := c.send(rawFetch("fetch", 0, 25_000, 1, 1<<20, 0, 1))
		time.Sleep(50 * time.Millisecond) // let the fetch start waiting; not needed for correctness
		if r := produced(t, producer.roundTrip(rawProduce("fetch", 1, 1, rawBatch(2, 10, -1, -1, -1)))); r.ErrorCode != 0 {
			t.Fatalf("produce: %v", kerr.ErrorForCode(r.ErrorCode))
		}
		fr := c.recv(corr).(*kmsg.FetchResponse)
		if p := fr.Topics[0].Partitions[1]; p.ErrorCode != 0 || len(p.RecordBatches) == 0 || p.HighWatermark != 2 {
			t.Fatalf("woken long poll: %v, %d bytes, high watermark %d", kerr.ErrorForCode(p.ErrorCode), len(p.RecordBatches), p.HighWatermark)
		}
	})
	t.Run("MaxBytes below the first batch", func(t *testing.T) {
		big := rawBatch(5, 1000, -1, -1, -1) // about 5 KB
		// acks=all: answered once the data is below the high watermark,
		// where fetches can see it.
		if r := produced(t, producer.roundTrip(rawProduce("fetch", 0, -1, big))); r.ErrorCode != 0 {
			t.Fatalf("produce: %v", kerr.ErrorForCode(r.ErrorCode))
		}
		fr := c.roundTrip(rawFetch("fetch", 0, 0, 1, 100, 0)).(*kmsg.FetchResponse)
		p := fr.Topics[0].Partitions[0]
		if p.ErrorCode != 0 || len(p.RecordBatches) != len(big) {
			t.Fatalf("MaxBytes 100: %v, %d bytes, want the whole %d-byte batch", kerr.ErrorForCode(p.ErrorCode), len(p.RecordBatches), len(big))
		}
	})
	t.Run("several partitions within MaxBytes", func(t *testing.T) {
		// Partition 0 holds a ~5 KB batch (above); give 1 and 2 one each.
		for _, part := range []int32{1, 2} {
			if r := produced(t, producer.roundTrip(rawProduce("fetch", part, -1, rawBatch(5, 1000, -1, -1, -1)))); r.ErrorCode != 0 {
				t.Fatalf("produce to %d: %v", part, kerr.ErrorForCode(r.ErrorCode))
			}
		}
		for _, tc := range []struct {
			maxBytes int32
			want     int // partitions with data
		}{{100, 1}, {8000, 1}, {11000, 2}, {1 << 20, 3}} {
			req := rawFetch("fetch", 0, 0, 1, tc.maxBytes, 0, 1, 2)
			// Partition 1 starts past the two small records of the long
			// poll test.
			req.Topics[0].Partitions[1].FetchOffset = 2
			fr := c.roundTrip(req).(*kmsg.FetchResponse)
			total, withData := 0, 0
			for _, p := range fr.Topics[0].Partitions {
				if p.ErrorCode != 0 {
					t.Fatalf("MaxBytes %d: partition %d: %v", tc.maxBytes, p.Partition, kerr.ErrorForCode(p.ErrorCode))
				}
				if len(p.RecordBatches) > 0 {
					withData++
					total += len(p.RecordBatches)
				}
			}
			first := len(fr.Topics[0].Partitions[0].RecordBatches)
			if withData != tc.want || (total > int(tc.maxBytes) && total != first) {
				t.Fatalf("MaxBytes %d: %d bytes from %d partitions, want %d partitions within the limit (or the first batch alone)", tc.maxBytes, total, withData, tc.want)
			}
		}
	})
}

// acks=0 produce gets no response: the next response on the connection is
// the next request's, with its correlation id.
func TestProtocolAcksZero(t *testing.T) {
	n := shaletest.StartNode(t, nil)
	shaletest.CreateTopic(t, n.Addr(), "zero", 1, nil)
	c := dialRaw(t, n.Addr())
	c.send(rawProduce("zero", 0, 0, rawBatch(2, 10, -1, -1, -1)))
	c.send(rawProduce("no-such-topic", 0, 0, rawBatch(1, 10, -1, -1, -1)))
	bad := rawBatch(1, 10, -1, -1, -1)
	bad[len(bad)-1] ^= 1
	c.send(rawProduce("zero", 0, 0, bad))
	res := produced(t, c.roundTrip(rawProduce("zero", 0, 1, rawBatch(1, 10, -1, -1, -1))))
	if res.ErrorCode != 0 || res.BaseOffset != 2 {
		t.Fatalf("acks=1 after acks=0: offset %d, %v; want offset 2", res.BaseOffset, kerr.ErrorForCode(res.ErrorCode))
	}
	c.alive()
}

// Twenty requests written back to back in one write get twenty responses
// in order.
func TestProtocolPipelining(t *testing.T) {
	n := shaletest.StartNode(t, nil)
	shaletest.CreateTopic(t, n.Addr(), "pipe", 2, nil)
	c := dialRaw(t, n.Addr())
	var all []byte
	var corrs []int32
	for i := range 20 {
		var req kmsg.Request
		switch i % 4 {
		case 0:
			req = rawProduce("pipe", int32(i%2), 1, rawBatch(1, 10, -1, -1, -1))
		case 1:
			req = rawFetch("pipe", 0, 100, 1, 1<<20, 0, 1)
		case 2:
			m := kmsg.NewPtrMetadataRequest()
			m.Version = 12
			req = m
		default:
			a := kmsg.NewPtrApiVersionsRequest()
			a.Version = 3
			a.ClientSoftwareName, a.ClientSoftwareVersion = "raw", "1"
			req = a
		}
		c.corr++
		c.sent[c.corr] = req
		corrs = append(corrs, c.corr)
		all = append(all, rawFrame(req.Key(), req.GetVersion(), c.corr, req.IsFlexible(), req.AppendTo(nil))...)
	}
	c.write(all)
	for _, corr := range corrs {
		c.recv(corr)
	}
}

// Topic configs that Kafka 3.x still accepts but ignores are accepted by
// CreateTopics, AlterConfigs and IncrementalAlterConfigs, stored and
// described; a malformed value is still INVALID_CONFIG.
func TestProtocolConfigsKafkaAcceptsAndIgnores(t *testing.T) {
	n := shaletest.StartNode(t, nil)
	adm := shaletest.Admin(t, n.Addr())
	ctx := testContext(t, 60*time.Second)
	const topic = "accepted-configs"
	shaletest.CreateTopic(t, n.Addr(), topic, 1, map[string]*string{"message.format.version": strp("2.8")})

	legacy, err := adm.AlterTopicConfigsState(ctx, []kadm.AlterConfig{
		{Name: "message.format.version", Value: strp("3.0-IV1")},
		{Name: "message.downconversion.enable", Value: strp("false")},
		{Name: "leader.replication.throttled.replicas", Value: strp("*")},
		{Name: "follower.replication.throttled.replicas", Value: strp("0:1,1:1")},
	}, topic)
	if err != nil || len(legacy) != 1 || legacy[0].Err != nil {
		t.Fatalf("AlterConfigs with configs Kafka accepts: %v %+v", err, legacy)
	}
	c := topicConfigs(t, adm, topic)
	wantConfig(t, c, "message.format.version", "3.0-IV1", true)
	wantConfig(t, c, "message.downconversion.enable", "false", true)
	wantConfig(t, c, "leader.replication.throttled.replicas", "*", true)
	wantConfig(t, c, "follower.replication.throttled.replicas", "0:1,1:1", true)

	inc, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "message.format.version", Value: strp("0.10.2")}}, topic)
	if err != nil || len(inc) != 1 || inc[0].Err != nil {
		t.Fatalf("IncrementalAlterConfigs message.format.version: %v %+v", err, inc)
	}
	wantConfig(t, topicConfigs(t, adm, topic), "message.format.version", "0.10.2", true)
	for name, bad := range map[string]string{
		"message.format.version":                "not-a-version",
		"message.downconversion.enable":         "maybe",
		"leader.replication.throttled.replicas": "0-1",
	} {
		inc, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: name, Value: strp(bad)}}, topic)
		if err != nil || len(inc) != 1 || !errors.Is(inc[0].Err, kerr.InvalidConfig) {
			t.Errorf("%s=%q: %v %+v, want INVALID_CONFIG", name, bad, err, inc)
		}
	}
}

// DescribeConfigs describes what Kafka describes: the broker resource
// lists Kafka's broker configs (log.cleaner.backoff.ms among them), all
// read-only, with their source, synonyms when asked (IncludeSynonyms) and
// documentation when asked (IncludeDocumentation); a topic's configs carry
// their broker synonyms the same way.
func TestProtocolDescribeConfigsSynonymsAndDocumentation(t *testing.T) {
	n := shaletest.StartNode(t, nil)
	shaletest.CreateTopic(t, n.Addr(), "described", 1, map[string]*string{"retention.ms": strp("3600000")})
	c := dialRaw(t, n.Addr())
	describe := func(typ kmsg.ConfigResourceType, name string, synonyms, docs bool) map[string]kmsg.DescribeConfigsResponseResourceConfig {
		t.Helper()
		req := kmsg.NewPtrDescribeConfigsRequest()
		req.Version = 4
		req.IncludeSynonyms, req.IncludeDocumentation = synonyms, docs
		rr := kmsg.NewDescribeConfigsRequestResource()
		rr.ResourceType, rr.ResourceName = typ, name
		req.Resources = append(req.Resources, rr)
		resp := c.roundTrip(req).(*kmsg.DescribeConfigsResponse)
		if len(resp.Resources) != 1 || resp.Resources[0].ErrorCode != 0 {
			t.Fatalf("describe %v %q: %+v", typ, name, resp.Resources)
		}
		out := map[string]kmsg.DescribeConfigsResponseResourceConfig{}
		for _, cfg := range resp.Resources[0].Configs {
			out[cfg.Name] = cfg
		}
		return out
	}
	val := func(p *string) string {
		if p == nil {
			return "<null>"
		}
		return *p
	}

	broker := describe(kmsg.ConfigResourceTypeBroker, "1", true, true)
	for _, name := range []string{
		"log.cleaner.backoff.ms", "log.cleaner.enable", "log.retention.hours", "log.retention.ms",
		"log.retention.bytes", "log.segment.bytes", "log.cleanup.policy", "log.message.format.version",
		"log.message.timestamp.type", "message.max.bytes", "compression.type", "min.insync.replicas",
		"unclean.leader.election.enable", "default.replication.factor", "num.partitions",
		"auto.create.topics.enable", "offsets.retention.minutes", "group.initial.rebalance.delay.ms",
		"group.min.session.timeout.ms", "group.max.session.timeout.ms", "socket.request.max.bytes",
		"broker.id", "advertised.listeners",
	} {
		cfg, ok := broker[name]
		if !ok {
			t.Errorf("broker config %s not described", name)
			continue
		}
		if !cfg.ReadOnly {
			t.Errorf("broker config %s is not read-only; Shale cannot alter broker configs", name)
		}
		if cfg.Documentation == nil || *cfg.Documentation == "" {
			t.Errorf("broker config %s has no documentation", name)
		}
	}
	for name, cfg := range broker {
		if cfg.Value != nil && (len(cfg.ConfigSynonyms) == 0 || cfg.ConfigSynonyms[0].Source != cfg.Source) {
			t.Errorf("broker config %s (source %v): synonyms %+v, want itself first", name, cfg.Source, cfg.ConfigSynonyms)
		}
	}
	if cfg := broker["log.cleaner.backoff.ms"]; val(cfg.Value) != "15000" || cfg.Source != kmsg.ConfigSourceDefaultConfig {
		t.Errorf("log.cleaner.backoff.ms = %s (source %v), want Kafka's default 15000", val(cfg.Value), cfg.Source)
	}
	if cfg := broker["log.retention.ms"]; cfg.Value != nil || len(cfg.ConfigSynonyms) != 1 || cfg.ConfigSynonyms[0].Name != "log.retention.hours" || val(cfg.ConfigSynonyms[0].Value) != "168" {
		t.Errorf("log.retention.ms = %s, synonyms %+v; want null, falling back to log.retention.hours=168", val(cfg.Value), cfg.ConfigSynonyms)
	}

	plain := describe(kmsg.ConfigResourceTypeBroker, "", false, false)
	if len(plain) != len(broker) {
		t.Errorf("%d broker configs without synonyms, %d with", len(plain), len(broker))
	}
	for name, cfg := range plain {
		if len(cfg.ConfigSynonyms) != 0 || cfg.Documentation != nil {
			t.Errorf("broker config %s: synonyms or documentation given unasked", name)
		}
	}

	topic := describe(kmsg.ConfigResourceTypeTopic, "described", true, true)
	ret := topic["retention.ms"]
	if val(ret.Value) != "3600000" || ret.Source != kmsg.ConfigSourceDynamicTopicConfig || len(ret.ConfigSynonyms) != 2 ||
		ret.ConfigSynonyms[0].Source != kmsg.ConfigSourceDynamicTopicConfig ||
		ret.ConfigSynonyms[1].Name != "log.retention.hours" || ret.ConfigSynonyms[1].Source != kmsg.ConfigSourceDefaultConfig {
		t.Errorf("topic retention.ms = %s (source %v), synonyms %+v; want the override, then log.retention.hours", val(ret.Value), ret.Source, ret.ConfigSynonyms)
	}
	if seg := topic["segment.bytes"]; seg.Source != kmsg.ConfigSourceDefaultConfig || len(seg.ConfigSynonyms) != 1 || seg.ConfigSynonyms[0].Name != "log.segment.bytes" {
		t.Errorf("topic segment.bytes: source %v, synonyms %+v; want DEFAULT_CONFIG from log.segment.bytes", seg.Source, seg.ConfigSynonyms)
	}
	for name, cfg := range topic {
		if cfg.Documentation == nil || *cfg.Documentation == "" {
			t.Errorf("topic config %s has no documentation", name)
		}
	}
}
