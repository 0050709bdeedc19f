package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shalelog/shale/internal/shaletest"
	"github.com/twmb/franz-go/pkg/kgo"
)

// kcat's input delimiters for these tests: ASCII unit separator between key
// and value, record separator between messages. Message bytes avoid both.
const (
	kcatKeyDelim = "\x1f"
	kcatMsgDelim = "\x1e"
	// kcatFormat prints lengths before key and value so that binary
	// contents parse unambiguously (-1 is NULL).
	kcatFormat = `%K:%k|%S:%s|%o|%h\n`
)

// runKcat runs kcat with args, stdin from stdin (may be nil), and returns
// its stdout; it fails the test with kcat's stderr on a non-zero exit.
func runKcat(t testing.TB, kcat string, stdin []byte, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(kcat, args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start kcat: %v", err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("kcat %s: %v\nstderr:\n%s", strings.Join(args, " "), err, stderr.String())
		}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("kcat %s: still running after 60s\nstderr:\n%s", strings.Join(args, " "), stderr.String())
	}
	if strings.Contains(stderr.String(), "% ERROR") || strings.Contains(stderr.String(), "% Delivery failed") {
		t.Fatalf("kcat %s reported errors:\n%s", strings.Join(args, " "), stderr.String())
	}
	return stdout.Bytes()
}

// kcatMessage is one message as kcat's producer reads it and its consumer
// prints it.
type kcatMessage struct {
	key   []byte // nil: no key delimiter in the input, a NULL key
	value []byte
}

// kcatMessages returns n messages covering keys and values with non-ASCII
// UTF-8 and binary bytes (everything but the two delimiters), an empty key,
// an empty value and a NULL key. Values repeat text so every codec shrinks
// them (librdkafka sends a batch uncompressed when compression does not
// help).
func kcatMessages(n int) []kcatMessage {
	var msgs []kcatMessage
	for i := range n {
		var v []byte
		v = fmt.Appendf(v, "message %d: значение ✓ 値 ", i)
		v = append(v, 0x00, 0x01, byte(i), 0x7f, 0x80, 0xfe, 0xff, '\n', '\t', '|', ':', '%')
		v = append(v, bytes.Repeat([]byte("compressible "), 10+i%7)...)
		v = bytes.ReplaceAll(v, []byte{0x1e}, []byte{0x1d})
		v = bytes.ReplaceAll(v, []byte{0x1f}, []byte{0x1d})
		k := fmt.Appendf(nil, "ключ-%d\x00\xff", i)
		msgs = append(msgs, kcatMessage{key: k, value: v})
	}
	msgs = append(msgs,
		kcatMessage{key: []byte{}, value: []byte("empty key")},
		kcatMessage{key: []byte("empty value"), value: []byte{}},
		kcatMessage{key: nil, value: []byte("null key: no delimiter in the input")},
	)
	return msgs
}

func kcatInput(msgs []kcatMessage) []byte {
	var b bytes.Buffer
	for _, m := range msgs {
		if m.key != nil {
			b.Write(m.key)
			b.WriteString(kcatKeyDelim)
		}
		b.Write(m.value)
		b.WriteString(kcatMsgDelim)
	}
	return b.Bytes()
}

// kcatRecord is one message parsed from kcatFormat output.
type kcatRecord struct {
	key, value []byte // nil when kcat printed length -1
	offset     int64
	headers    string
}

// parseKcatOutput parses the output of kcat -f kcatFormat.
func parseKcatOutput(out []byte) ([]kcatRecord, error) {
	var recs []kcatRecord
	pos := 0
	readUntil := func(sep byte) (string, error) {
		i := bytes.IndexByte(out[pos:], sep)
		if i < 0 {
			return "", fmt.Errorf("byte %d: no %q after %q", pos, sep, out[pos:])
		}
		s := string(out[pos : pos+i])
		pos += i + 1
		return s, nil
	}
	readSized := func() ([]byte, error) {
		ls, err := readUntil(':')
		if err != nil {
			return nil, err
		}
		n, err := strconv.Atoi(ls)
		if err != nil {
			return nil, fmt.Errorf("byte %d: length %q: %v", pos, ls, err)
		}
		var b []byte
		if n >= 0 {
			if pos+n > len(out) {
				return nil, fmt.Errorf("byte %d: length %d runs past the end", pos, n)
			}
			b = append([]byte{}, out[pos:pos+n]...)
			pos += n
		}
		if pos >= len(out) || out[pos] != '|' {
			return nil, fmt.Errorf("byte %d: want '|' after %d bytes", pos, n)
		}
		pos++
		return b, nil
	}
	for pos < len(out) {
		var r kcatRecord
		var err error
		if r.key, err = readSized(); err != nil {
			return recs, err
		}
		if r.value, err = readSized(); err != nil {
			return recs, err
		}
		off, err := readUntil('|')
		if err != nil {
			return recs, err
		}
		if r.offset, err = strconv.ParseInt(off, 10, 64); err != nil {
			return recs, fmt.Errorf("offset %q: %v", off, err)
		}
		if r.headers, err = readUntil('\n'); err != nil {
			return recs, err
		}
		recs = append(recs, r)
	}
	return recs, nil
}

// TestKcatCodecs round-trips keyed messages with headers through kcat
// with every codec, both ways: kcat produces and kcat reads back byte for
// byte; franz-go produces compressed batches and kcat (librdkafka) reads
// them. franz-go checks that the stored batches kept the producer's codec,
// since the broker stores batches exactly as sent.
func TestKcatCodecs(t *testing.T) {
	kcat := shaletest.RequireTool(t, "kcat")
	t.Parallel()
	n := shaletest.StartNode(t, nil)
	codecs := []struct {
		name  string
		id    uint8 // the codec number in a batch's attributes
		franz kgo.CompressionCodec
	}{
		{"none", 0, kgo.NoCompression()},
		{"gzip", 1, kgo.GzipCompression()},
		{"snappy", 2, kgo.SnappyCompression()},
		{"lz4", 3, kgo.Lz4Compression()},
		{"zstd", 4, kgo.ZstdCompression()},
	}
	headerArgs := []string{"-H", "trace=abc-123", "-H", "ключ=значение ✓", "-H", "dup=1", "-H", "dup=2", "-H", "empty=", "-H", "novalue", "-H", "eq=a=b"}
	headers := []kgo.RecordHeader{
		{Key: "trace", Value: []byte("abc-123")},
		{Key: "ключ", Value: []byte("значение ✓")},
		{Key: "dup", Value: []byte("1")},
		{Key: "dup", Value: []byte("2")},
		{Key: "empty", Value: []byte{}},
		{Key: "novalue", Value: nil},
		{Key: "eq", Value: []byte("a=b")},
	}
	for _, codec := range codecs {
		t.Run(codec.name, func(t *testing.T) {
			t.Parallel()
			msgs := kcatMessages(300)

			t.Run("kcat-to-kcat", func(t *testing.T) {
				topic := "kcat-" + codec.name
				shaletest.CreateTopic(t, n.Addr(), topic, 1, nil)
				file := filepath.Join(t.TempDir(), "messages")
				if err := os.WriteFile(file, kcatInput(msgs), 0o644); err != nil {
					t.Fatal(err)
				}
				args := []string{"-b", n.Addr(), "-P", "-t", topic, "-p", "0", "-z", codec.name,
					"-K", `\x1f`, "-D", `\x1e`, "-X", "linger.ms=50"}
				args = append(args, headerArgs...)
				runKcat(t, kcat, nil, append(args, "-l", file)...)
				checkKcatRead(t, kcat, n.Addr(), topic, msgs, headers)
				codecs := readWithFranz(t, n.Addr(), topic, msgs, headers)
				if len(codecs) != 1 || codecs[codec.id] == 0 {
					t.Errorf("kcat -z %s: stored batches by codec %v, want all of codec %d. "+
						"If librdkafka logged \"Broker does not support compression type\", it found no Produce v0-v2 "+
						"in ApiVersions: Kafka 4.0 advertises Produce from v0 for this reason (KAFKA-18659, librdkafka#4956)",
						codec.name, codecs, codec.id)
				}
			})

			t.Run("franz-to-kcat", func(t *testing.T) {
				topic := "franz-" + codec.name
				shaletest.CreateTopic(t, n.Addr(), topic, 1, nil)
				cl := shaletest.Client(t, n.Addr(), kgo.DefaultProduceTopic(topic), kgo.ProducerBatchCompression(codec.franz))
				recs := make([]*kgo.Record, len(msgs))
				for i, m := range msgs {
					recs[i] = &kgo.Record{Key: m.key, Value: m.value, Headers: headers}
				}
				if err := cl.ProduceSync(testContext(t, 30*time.Second), recs...).FirstErr(); err != nil {
					t.Fatalf("produce: %v", err)
				}
				codecs := readWithFranz(t, n.Addr(), topic, msgs, headers)
				if len(codecs) != 1 || codecs[codec.id] == 0 {
					t.Errorf("franz-go %s: stored batches by codec %v, want all of codec %d", codec.name, codecs, codec.id)
				}
				checkKcatRead(t, kcat, n.Addr(), topic, msgs, headers)
			})
		})
	}
}

// kcatHeaders is how kcat's %h prints headers.
func kcatHeaders(hs []kgo.RecordHeader) string {
	parts := make([]string, len(hs))
	for i, h := range hs {
		v := string(h.Value)
		if h.Value == nil {
			v = "NULL"
		}
		parts[i] = h.Key + "=" + v
	}
	return strings.Join(parts, ",")
}

// checkKcatRead reads topic's partition 0 with kcat and compares every
// message with msgs, each carrying headers.
func checkKcatRead(t *testing.T, kcat, addr, topic string, msgs []kcatMessage, headers []kgo.RecordHeader) {
	t.Helper()
	out := runKcat(t, kcat, nil, "-b", addr, "-C", "-t", topic, "-p", "0", "-o", "beginning", "-e", "-q", "-f", kcatFormat)
	recs, err := parseKcatOutput(out)
	if err != nil {
		t.Fatalf("parse kcat output (%d records so far): %v", len(recs), err)
	}
	if len(recs) != len(msgs) {
		t.Fatalf("kcat read %d messages, produced %d", len(recs), len(msgs))
	}
	wantHeaders := kcatHeaders(headers)
	for i, r := range recs {
		m := msgs[i]
		if r.offset != int64(i) {
			t.Errorf("kcat message %d: offset %d", i, r.offset)
		}
		if !bytes.Equal(r.key, m.key) || (r.key == nil) != (m.key == nil) {
			t.Errorf("kcat message %d: key %q (null %v), want %q (null %v)", i, r.key, r.key == nil, m.key, m.key == nil)
		}
		if !bytes.Equal(r.value, m.value) || r.value == nil {
			t.Errorf("kcat message %d: value %q, want %q", i, r.value, m.value)
		}
		if r.headers != wantHeaders {
			t.Errorf("kcat message %d: headers %q, want %q", i, r.headers, wantHeaders)
		}
	}
}

// readWithFranz reads topic's partition 0 with franz-go, compares every
// record with msgs and headers, and returns how many batches of each codec
// it fetched.
func readWithFranz(t *testing.T, addr, topic string, msgs []kcatMessage, headers []kgo.RecordHeader) map[uint8]int {
	t.Helper()
	var mu sync.Mutex
	codecs := map[uint8]int{}
	hook := batchCodecHook(func(c uint8) { mu.Lock(); codecs[c]++; mu.Unlock() })
	got := consumeN(t, addr, topic, 1, len(msgs), kgo.WithHooks(hook))
	for i, r := range got {
		if !bytes.Equal(r.Value, msgs[i].value) || !bytes.Equal(r.Key, msgs[i].key) || (r.Key == nil) != (msgs[i].key == nil) {
			t.Errorf("franz-go record %d: key %q value %q, want %q %q", i, r.Key, r.Value, msgs[i].key, msgs[i].value)
		}
		if len(r.Headers) != len(headers) {
			t.Errorf("franz-go record %d: %d headers, want %d", i, len(r.Headers), len(headers))
			continue
		}
		for j, h := range r.Headers {
			w := headers[j]
			if h.Key != w.Key || !bytes.Equal(h.Value, w.Value) || (h.Value == nil) != (w.Value == nil) {
				t.Errorf("franz-go record %d header %d: %q=%q (null %v), want %q=%q (null %v)", i, j, h.Key, h.Value, h.Value == nil, w.Key, w.Value, w.Value == nil)
			}
		}
	}
	mu.Lock()
	defer mu.Unlock()
	return maps.Clone(codecs)
}

// batchCodecHook reports the codec of every fetched batch.
type batchCodecHook func(codec uint8)

func (h batchCodecHook) OnFetchBatchRead(_ kgo.BrokerMetadata, _ string, _ int32, m kgo.FetchBatchMetrics) {
	h(m.CompressionType)
}

// TestKcatNullValues sends empty input messages as NULL values (-Z) and
// reads them back as NULL.
func TestKcatNullValues(t *testing.T) {
	kcat := shaletest.RequireTool(t, "kcat")
	t.Parallel()
	const topic = "kcat-null"
	n := shaletest.StartNode(t, nil)
	shaletest.CreateTopic(t, n.Addr(), topic, 1, nil)
	runKcat(t, kcat, []byte("tombstone\x1f\x1e\x1fnull value, empty key\x1e"), "-b", n.Addr(), "-P", "-t", topic, "-p", "0", "-Z", "-K", `\x1f`, "-D", `\x1e`)
	out := runKcat(t, kcat, nil, "-b", n.Addr(), "-C", "-t", topic, "-p", "0", "-o", "beginning", "-e", "-q", "-f", kcatFormat)
	recs, err := parseKcatOutput(out)
	if err != nil {
		t.Fatalf("parse kcat output: %v", err)
	}
	if len(recs) != 2 {
		t.Fatalf("read %d messages, want 2:\n%q", len(recs), out)
	}
	if string(recs[0].key) != "tombstone" || recs[0].value != nil {
		t.Errorf("message 0: key %q value %q (null %v), want key \"tombstone\" and a NULL value", recs[0].key, recs[0].value, recs[0].value == nil)
	}
	// kcat -Z turns empty keys into NULL too.
	if recs[1].key != nil || string(recs[1].value) != "null value, empty key" {
		t.Errorf("message 1: key %q (null %v) value %q", recs[1].key, recs[1].key == nil, recs[1].value)
	}
}

// kcatMetadata is the part of kcat -L -J output the tests read.
type kcatMetadata struct {
	ControllerID int32 `json:"controllerid"`
	Brokers      []struct {
		ID   int32  `json:"id"`
		Name string `json:"name"`
	} `json:"brokers"`
	Topics []struct {
		Topic      string `json:"topic"`
		Error      string `json:"error"`
		Partitions []struct {
			Partition int32 `json:"partition"`
			Leader    int32 `json:"leader"`
			Replicas  []struct {
				ID int32 `json:"id"`
			} `json:"replicas"`
		} `json:"partitions"`
	} `json:"topics"`
}

// TestKcatMetadata lists the cluster with kcat -L, as JSON and as text.
func TestKcatMetadata(t *testing.T) {
	kcat := shaletest.RequireTool(t, "kcat")
	t.Parallel()
	n := shaletest.StartNode(t, nil)
	shaletest.CreateTopic(t, n.Addr(), "meta-one", 1, nil)
	shaletest.CreateTopic(t, n.Addr(), "meta-five", 5, nil)

	var md kcatMetadata
	out := runKcat(t, kcat, nil, "-b", n.Addr(), "-L", "-J")
	if err := json.Unmarshal(out, &md); err != nil {
		t.Fatalf("kcat -L -J output: %v\n%s", err, out)
	}
	if len(md.Brokers) != 1 || md.Brokers[0].Name != n.Addr() {
		t.Fatalf("brokers %+v, want one at %s", md.Brokers, n.Addr())
	}
	id := md.Brokers[0].ID
	if md.ControllerID != id {
		t.Errorf("controller %d, want the only broker %d", md.ControllerID, id)
	}
	want := map[string]int{"meta-one": 1, "meta-five": 5}
	for _, tp := range md.Topics {
		parts, ok := want[tp.Topic]
		if !ok {
			t.Errorf("unexpected topic %q", tp.Topic)
			continue
		}
		delete(want, tp.Topic)
		if tp.Error != "" {
			t.Errorf("topic %s: error %q", tp.Topic, tp.Error)
		}
		if len(tp.Partitions) != parts {
			t.Errorf("topic %s: %d partitions, want %d", tp.Topic, len(tp.Partitions), parts)
		}
		for i, p := range tp.Partitions {
			if p.Partition != int32(i) || p.Leader != id || len(p.Replicas) != 1 || p.Replicas[0].ID != id {
				t.Errorf("topic %s partition %d: %+v, want partition %d led by %d with replicas [%d]", tp.Topic, i, p, i, id, id)
			}
		}
	}
	if len(want) > 0 {
		t.Errorf("topics missing from kcat -L: %v", want)
	}

	text := string(runKcat(t, kcat, nil, "-b", n.Addr(), "-L", "-t", "meta-five"))
	for _, line := range []string{
		fmt.Sprintf("broker %d at %s (controller)", id, n.Addr()),
		`topic "meta-five" with 5 partitions:`,
		fmt.Sprintf("partition 4, leader %d, replicas: %d, isrs: %d", id, id, id),
	} {
		if !strings.Contains(text, line) {
			t.Errorf("kcat -L -t meta-five lacks %q:\n%s", line, text)
		}
	}

	// An unknown topic is reported as such.
	text = string(runKcatAllowErr(t, kcat, "-b", n.Addr(), "-L", "-t", "no-such-topic"))
	if !strings.Contains(text, "Unknown topic or partition") {
		t.Errorf("kcat -L -t no-such-topic does not report an unknown topic:\n%s", text)
	}
}

// runKcatAllowErr runs kcat and returns stdout and stderr together,
// whatever its exit status.
func runKcatAllowErr(t testing.TB, kcat string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(kcat, args...)
	out, _ := cmd.CombinedOutput()
	return out
}

// TestKcatQueryAndSeekByTime queries offsets by timestamp (kcat -Q) and
// starts a consumer at a timestamp (-o s@ts) over records with known
// timestamps, one per batch.
func TestKcatQueryAndSeekByTime(t *testing.T) {
	kcat := shaletest.RequireTool(t, "kcat")
	t.Parallel()
	const topic, count = "kcat-time", 10
	n := shaletest.StartNode(t, nil)
	shaletest.CreateTopic(t, n.Addr(), topic, 1, nil)
	cl := shaletest.Client(t, n.Addr(), kgo.DefaultProduceTopic(topic))
	ctx := testContext(t, 30*time.Second)
	base := time.Now().Add(-time.Hour).Truncate(time.Second).UnixMilli()
	for i := range count {
		r := &kgo.Record{Value: []byte(strconv.Itoa(i)), Timestamp: time.UnixMilli(base + int64(i)*1000)}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("produce %d: %v", i, err)
		}
	}
	for _, c := range []struct {
		ts   int64
		want int64
	}{
		{base - 1, 0},
		{base + 3000, 3},
		{base + 3001, 4},
		{base + 9000, 9},
		{base + 60000, -1}, // after every record
	} {
		out := strings.TrimSpace(string(runKcat(t, kcat, nil, "-b", n.Addr(), "-Q", "-t", fmt.Sprintf("%s:0:%d", topic, c.ts))))
		want := fmt.Sprintf("%s [0] offset %d", topic, c.want)
		if out != want {
			t.Errorf("kcat -Q at %d (base%+d): %q, want %q", c.ts, c.ts-base, out, want)
		}
	}

	out := runKcat(t, kcat, nil, "-b", n.Addr(), "-C", "-t", topic, "-p", "0", "-o", fmt.Sprintf("s@%d", base+6500), "-e", "-q", "-f", "%o=%s@%T\n")
	var want strings.Builder
	for i := 7; i < count; i++ {
		fmt.Fprintf(&want, "%d=%d@%d\n", i, i, base+int64(i)*1000)
	}
	if string(out) != want.String() {
		t.Errorf("kcat -o s@base+6500 read:\n%s\nwant:\n%s", out, want.String())
	}
}
