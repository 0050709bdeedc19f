package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

var produceSpec = adminSpec{
	name:     "produce",
	synopsis: "TOPIC [--key K | --key-delimiter SEP] [--header K=V]... [--partition N] [--format text|json] [--output text|json]",
	summary:  "produce records read from stdin, one per line",
	details: `Reads records from stdin and produces them to TOPIC (as 'rpk topic produce'
and 'kcat -P'). Each line is one record:

  --format text (default)  the line is the value; with --key-delimiter SEP
                           (kcat -K) the text before the first SEP is the key
  --format json            a JSON object per line:
                           {"key": "k", "value": "v", "headers": {"h": "x"}, "partition": 0}
                           (key, headers and partition optional; key and value may
                           be null; "value_base64"/"key_base64" carry binary data;
                           headers may also be [{"key": "h", "value": "x"}, ...],
                           which keeps their order and repeated keys, as
                           --output json of produce and consume writes them)

--key sets one key for every record and --header K=V (repeatable) adds
headers to every record. Records go to --partition N, or are spread by
key (murmur2, as the Java client) or, without a key, sticky per batch.
With --output json each produced record is printed as a JSON line with
its partition and offset; otherwise a summary goes to stderr.
--progress shows a progress line on stderr.`,
}

func runProduce(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := &adminCmd{spec: produceSpec, path: "shale produce", stdout: stdout, stderr: stderr, getenv: os.Getenv}
	return c.exitCode(produceRun(c, args, stdin))
}

// produceLine is a record in --format json.
type produceLine struct {
	Key         *string     `json:"key"`
	Value       *string     `json:"value"`
	KeyBase64   *string     `json:"key_base64"`
	ValueBase64 *string     `json:"value_base64"`
	Headers     jsonHeaders `json:"headers"`
	Partition   *int32      `json:"partition"`
}

// jsonHeaders are record headers in JSON: written as an array of
// {"key": k, "value": v} (in order, repeated keys kept; "value_base64"
// for a value that is not UTF-8); read from that array or from an object
// {"k": "v", ...}.
type jsonHeaders []kgo.RecordHeader

type jsonHeader struct {
	Key         string  `json:"key"`
	Value       *string `json:"value,omitempty"`
	ValueBase64 string  `json:"value_base64,omitempty"`
}

func (h jsonHeaders) MarshalJSON() ([]byte, error) {
	out := make([]jsonHeader, len(h))
	for i, rh := range h {
		out[i].Key = rh.Key
		out[i].Value, out[i].ValueBase64 = textOrB64(rh.Value)
	}
	return json.Marshal(out)
}

func (h *jsonHeaders) UnmarshalJSON(b []byte) error {
	var obj map[string]string
	if err := json.Unmarshal(b, &obj); err == nil {
		*h = nil
		for _, k := range sortedKeys(obj) {
			*h = append(*h, kgo.RecordHeader{Key: k, Value: []byte(obj[k])})
		}
		return nil
	}
	var arr []jsonHeader
	if err := json.Unmarshal(b, &arr); err != nil {
		return errors.New(`headers: want {"k": "v", ...} or [{"key": "k", "value": "v"}, ...]`)
	}
	*h = nil
	for _, jh := range arr {
		v, err := textOrBase64(jh.Value, nilIfEmpty(jh.ValueBase64), "header value")
		if err != nil {
			return err
		}
		*h = append(*h, kgo.RecordHeader{Key: jh.Key, Value: v})
	}
	return nil
}

func nilIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func produceRun(c *adminCmd, args []string, stdin io.Reader) error {
	fs := c.flags()
	fs.StringVar(&c.brokers, "b", c.brokers, "short for --brokers")
	var (
		key, keyDelim, format, acks string
		partition                   = int32(-1)
		headers                     = map[string]string{}
		maxLine                     = 1 << 20
	)
	fs.StringVar(&key, "key", "", "key of every record")
	fs.StringVar(&keyDelim, "key-delimiter", "", "split each line at the first `SEP`: key before, value after (kcat -K)")
	fs.Func("header", "add header `K=V` to every record (repeatable)", keyValueFlag(headers))
	fs.Func("H", "short for --header", keyValueFlag(headers))
	fs.Func("partition", "produce to this `partition` (default: by key)", intFlag(&partition, 32, 0))
	fs.Func("p", "short for --partition", intFlag(&partition, 32, 0))
	fs.StringVar(&format, "format", "text", "input `format`: text or json")
	fs.StringVar(&acks, "acks", "all", "`acks`: all, 1 or 0")
	fs.IntVar(&maxLine, "max-line-bytes", maxLine, "longest input line accepted")
	output := "text"
	fs.Func("output", "output `format`: text (summary on stderr) or json (a line per record)", func(s string) error {
		if s != "text" && s != "json" {
			return errors.New("want text or json")
		}
		output = s
		return nil
	})
	c.progressFlag(fs)
	rest, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return usagef("want exactly one topic, got %d arguments", len(rest))
	}
	topic := rest[0]
	if err := checkTopicName(topic); err != nil {
		return err
	}
	if format != "text" && format != "json" {
		return usagef("invalid value %q for --format: want text or json", format)
	}
	if key != "" && keyDelim != "" {
		return usagef("--key and --key-delimiter exclude each other")
	}
	if maxLine < 1 {
		return usagef("invalid value %d for --max-line-bytes: must be at least 1", maxLine)
	}
	opts := []kgo.Opt{kgo.DefaultProduceTopic(topic)}
	switch acks {
	case "all", "-1":
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	case "1":
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	case "0":
		opts = append(opts, kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite())
	default:
		return usagef("invalid value %q for --acks: want all, 1 or 0", acks)
	}
	opts = append(opts, kgo.RecordPartitioner(explicitOrKeyPartitioner{kgo.StickyKeyPartitioner(nil)}))
	cl, err := c.client(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	// The timeout bounds each record's delivery, not reading stdin.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	var (
		mu       sync.Mutex
		firstErr error
		done     int
		out      = json.NewEncoder(c.stdout)
	)
	prog := newProgressLine(c.stderr, c.progress, "produced", 0)
	promise := func(r *kgo.Record, err error) {
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			return
		}
		done++
		if output == "json" {
			out.Encode(consumedRecord(r))
		}
		if done%1000 == 0 {
			prog.update(done)
		}
	}
	sc := bufio.NewScanner(stdin)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	line := 0
	for sc.Scan() {
		line++
		r, err := parseProduceLine(sc.Bytes(), format, keyDelim)
		if err != nil {
			return fmt.Errorf("stdin line %d: %w", line, err)
		}
		if r == nil {
			continue // blank json line
		}
		r.Topic = topic
		if key != "" {
			r.Key = []byte(key)
		}
		if partition >= 0 {
			r.Partition = partition
			r.Context = explicitPartition
		}
		for k, v := range headers {
			r.Headers = append(r.Headers, kgo.RecordHeader{Key: k, Value: []byte(v)})
		}
		rctx, rcancel := context.WithTimeout(ctx, c.timeout)
		cl.Produce(rctx, r, func(r *kgo.Record, err error) { rcancel(); promise(r, err) })
		mu.Lock()
		failed := firstErr
		mu.Unlock()
		if failed != nil {
			break
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return fmt.Errorf("stdin line %d: longer than --max-line-bytes %d", line+1, maxLine)
		}
		return fmt.Errorf("read stdin: %w", err)
	}
	fctx, fcancel := context.WithTimeout(ctx, c.timeout)
	defer fcancel()
	ferr := cl.Flush(fctx)
	prog.finish()
	mu.Lock()
	defer mu.Unlock()
	if firstErr == nil && ferr != nil {
		firstErr = ferr
	}
	if firstErr != nil {
		return fmt.Errorf("produce to %s: %d of %d records delivered: %v", topic, done, line, c.requestErr("produce", firstErr))
	}
	if output != "json" {
		fmt.Fprintf(c.stderr, "%s: produced %d records to %s\n", c.path, done, topic)
	}
	return nil
}

// parseProduceLine makes a record of one input line; nil for a blank line
// in json format.
func parseProduceLine(b []byte, format, keyDelim string) (*kgo.Record, error) {
	if format == "text" {
		r := &kgo.Record{Value: bytes.Clone(b)}
		if keyDelim != "" {
			k, v, ok := bytes.Cut(b, []byte(keyDelim))
			if !ok {
				return nil, fmt.Errorf("no key delimiter %q in the line", keyDelim)
			}
			r.Key, r.Value = bytes.Clone(k), bytes.Clone(v)
		}
		return r, nil
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, nil
	}
	var pl produceLine
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&pl); err != nil {
		return nil, fmt.Errorf("not a record object (want {\"key\":..., \"value\":..., \"headers\":{...}}): %v", err)
	}
	r := &kgo.Record{}
	var err error
	if r.Key, err = textOrBase64(pl.Key, pl.KeyBase64, "key"); err != nil {
		return nil, err
	}
	if r.Value, err = textOrBase64(pl.Value, pl.ValueBase64, "value"); err != nil {
		return nil, err
	}
	r.Headers = append(r.Headers, pl.Headers...)
	if pl.Partition != nil {
		if *pl.Partition < 0 {
			return nil, fmt.Errorf("partition %d: must be >= 0", *pl.Partition)
		}
		r.Partition = *pl.Partition
		r.Context = explicitPartition
	}
	return r, nil
}

func textOrBase64(text, b64 *string, what string) ([]byte, error) {
	switch {
	case text != nil && b64 != nil:
		return nil, fmt.Errorf("both %s and %s_base64 given", what, what)
	case b64 != nil:
		b, err := base64.StdEncoding.DecodeString(*b64)
		if err != nil {
			return nil, fmt.Errorf("%s_base64: %v", what, err)
		}
		return b, nil
	case text != nil:
		return []byte(*text), nil
	}
	return nil, nil
}

// client is a franz-go client on --brokers with the given options.
func (c *adminCmd) client(opts ...kgo.Opt) (*kgo.Client, error) {
	seeds, err := c.seedBrokers()
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(seeds...),
		kgo.ClientID("shale-cli"),
		kgo.DialTimeout(min(c.timeout, 10*time.Second)),
		kgo.WithHooks(&c.lastDialErr),
	}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("create client: %w", err)
	}
	return cl, nil
}

// recordJSON is a record as produce and consume print it with --output
// json. Key and value are strings when they are UTF-8, else base64 in
// key_base64/value_base64.
type recordJSON struct {
	Topic       string      `json:"topic"`
	Partition   int32       `json:"partition"`
	Offset      int64       `json:"offset"`
	Timestamp   int64       `json:"timestamp"` // ms
	Key         *string     `json:"key,omitempty"`
	KeyBase64   string      `json:"key_base64,omitempty"`
	Value       *string     `json:"value,omitempty"`
	ValueBase64 string      `json:"value_base64,omitempty"`
	Headers     jsonHeaders `json:"headers,omitempty"`
}

func consumedRecord(r *kgo.Record) recordJSON {
	j := recordJSON{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Timestamp: r.Timestamp.UnixMilli()}
	j.Key, j.KeyBase64 = textOrB64(r.Key)
	j.Value, j.ValueBase64 = textOrB64(r.Value)
	j.Headers = r.Headers
	return j
}

func textOrB64(b []byte) (*string, string) {
	if b == nil {
		return nil, ""
	}
	if s := string(b); isUTF8Text(s) {
		return &s, ""
	}
	return nil, base64.StdEncoding.EncodeToString(b)
}

func isUTF8Text(s string) bool {
	return strings.ToValidUTF8(s, "\uFFFD") == s && !strings.ContainsRune(s, '\uFFFD')
}

// explicitPartitionKey marks, in a record's Context, a record whose
// Partition was chosen by the user.
type explicitPartitionKey struct{}

var explicitPartition = context.WithValue(context.Background(), explicitPartitionKey{}, true)

// explicitOrKeyPartitioner sends a record to the partition the user chose
// (--partition, "partition" in json), else as keyed (murmur2) or sticky.
type explicitOrKeyPartitioner struct{ byKey kgo.Partitioner }

func (p explicitOrKeyPartitioner) ForTopic(topic string) kgo.TopicPartitioner {
	return explicitTopicPartitioner{p.byKey.ForTopic(topic)}
}

type explicitTopicPartitioner struct{ kgo.TopicPartitioner }

func (p explicitTopicPartitioner) RequiresConsistency(r *kgo.Record) bool {
	return isExplicit(r) || p.TopicPartitioner.RequiresConsistency(r)
}

func (p explicitTopicPartitioner) Partition(r *kgo.Record, n int) int {
	if isExplicit(r) {
		if int(r.Partition) >= n {
			return -1 // franz-go fails the record: no such partition
		}
		return int(r.Partition)
	}
	return p.TopicPartitioner.Partition(r, n)
}

func isExplicit(r *kgo.Record) bool {
	return r.Context != nil && r.Context.Value(explicitPartitionKey{}) != nil
}

// OnNewBatch lets a sticky partitioner move on to another partition.
func (p explicitTopicPartitioner) OnNewBatch() {
	if nb, ok := p.TopicPartitioner.(kgo.TopicPartitionerOnNewBatch); ok {
		nb.OnNewBatch()
	}
}
