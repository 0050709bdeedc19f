// Command objtier holds the measurements bench/run.sh makes of Shale's object
// tier and of one broker at scale, the parts `shale loadtest` does not
// cover. Each subcommand prints one JSON object on stdout (MB = 10^6 bytes).
//
//	objtier mkbucket --endpoint http://127.0.0.1:9000 --bucket shale-bench
//	    creates the bucket (credentials from AWS_ACCESS_KEY_ID and
//	    AWS_SECRET_ACCESS_KEY).
//
//	objtier rawget --url s3://shale-bench?endpoint=...&region=us-east-1 \
//	        --prefix part/ --block 4MiB --concurrency 5
//	    reads every object under the prefix with ranged GETs of --block
//	    bytes, --concurrency at a time, through objectstore.Open (the
//	    URL's driver: minio-go for a local endpoint unless &driver=aws):
//	    the raw throughput the cold reader is compared with.
//
//	objtier fetch --brokers 127.0.0.1:9092 --topic t --at start|tail
//	    sends one Fetch per partition (one at a time, on a warm connection)
//	    at the log start offset or at the last record, and reports each
//	    request's latency: the cost of one cold read at offset 0 against one
//	    at the tail.
//
//	objtier replay --brokers 127.0.0.1:9092 --topic t --workers 4
//	    reads the topic from its start offsets to the end offsets listed at
//	    start with raw Fetch requests (one client per worker, partitions
//	    dealt round-robin), counting record batch bytes without decoding
//	    records: the broker's read path without a consumer's decode cost.
//
//	objtier startup --topic t --partitions N -- shale dev --data-dir ...
//	    starts the command, times its "Kafka listener on" line and the first
//	    Metadata response that lists the topic with all N partitions,
//	    samples its resident memory, then stops it with SIGTERM.
//
//	objtier rusage --out cpu.json -- shale loadtest consume ...
//	    runs the command with this process's stdin, stdout and stderr and
//	    exits with its exit code; once it has exited, writes its user and
//	    system CPU seconds (wait4's rusage of the reaped child) to --out.
package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/shalelog/shale/loadtest"
	"github.com/shalelog/shale/objectstore"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const usage = `usage: objtier mkbucket|rawget|fetch|replay|startup|rusage [flags]`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	if os.Args[1] == "rusage" {
		// Its stdout is the child's, not a JSON result.
		os.Exit(runRusage(os.Args[2:], os.Stdin, os.Stdout, os.Stderr))
	}
	cmds := map[string]func([]string) (any, error){
		"mkbucket": mkbucket,
		"rawget":   rawget,
		"fetch":    fetchLatency,
		"startup":  startup,
		"replay":   replay,
	}
	cmd, ok := cmds[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "objtier: unknown subcommand %q\n%s\n", os.Args[1], usage)
		os.Exit(2)
	}
	out, err := cmd(os.Args[2:])
	if err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(os.Stderr, "objtier %s: %v\n", os.Args[1], err)
			os.Exit(2)
		}
		fmt.Fprintf(os.Stderr, "objtier %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fmt.Fprintf(os.Stderr, "objtier %s: write result: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

// usageError marks bad arguments (exit code 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }

func parse(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	return nil
}

// mkbucket creates a bucket on an S3-compatible endpoint.
func mkbucket(args []string) (any, error) {
	fs := flag.NewFlagSet("mkbucket", flag.ContinueOnError)
	endpoint := fs.String("endpoint", "", "S3 endpoint URL (required)")
	bucket := fs.String("bucket", "", "bucket name (required)")
	region := fs.String("region", "us-east-1", "signing region")
	if err := parse(fs, args); err != nil {
		return nil, err
	}
	if *endpoint == "" || *bucket == "" {
		return nil, usageError{errors.New("--endpoint and --bucket are required")}
	}
	key, secret := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	if key == "" || secret == "" {
		return nil, usageError{errors.New("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set")}
	}
	client := s3.New(s3.Options{
		Region:       *region,
		BaseEndpoint: aws.String(*endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(key, secret, ""),
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(*bucket)}); err != nil {
		return nil, fmt.Errorf("create bucket %s: %w", *bucket, err)
	}
	return map[string]string{"bucket": *bucket}, nil
}

// rawGetResult is what rawget prints.
type rawGetResult struct {
	Prefix      string  `json:"prefix"`
	Objects     int     `json:"objects"`
	Bytes       int64   `json:"bytes"`
	Gets        int64   `json:"gets"`
	BlockBytes  int64   `json:"block_bytes"`
	Concurrency int     `json:"concurrency"`
	Seconds     float64 `json:"seconds"`
	MBPerSec    float64 `json:"mb_per_sec"`
}

// rawget reads every object under a prefix in block-sized ranged GETs.
func rawget(args []string) (any, error) {
	fs := flag.NewFlagSet("rawget", flag.ContinueOnError)
	rawURL := fs.String("url", "", "bucket URL, as shale --object-store takes it (required)")
	prefix := fs.String("prefix", "", "read the objects under this key prefix")
	blockFlag := fs.String("block", "4MiB", "bytes per ranged GET")
	concurrency := fs.Int("concurrency", 5, "GETs in flight at once")
	if err := parse(fs, args); err != nil {
		return nil, err
	}
	block, err := loadtest.ParseByteSize(*blockFlag)
	switch {
	case *rawURL == "":
		return nil, usageError{errors.New("--url is required")}
	case err != nil || block < 1:
		return nil, usageError{fmt.Errorf("--block %q: want a positive byte size", *blockFlag)}
	case *concurrency < 1 || *concurrency > 256:
		return nil, usageError{fmt.Errorf("--concurrency %d: want 1 to 256", *concurrency)}
	}
	ctx := context.Background()
	b, err := objectstore.Open(ctx, *rawURL)
	if err != nil {
		return nil, fmt.Errorf("open bucket: %w", err)
	}
	defer b.Close()
	var objs []objectstore.ObjectInfo
	if err := b.List(ctx, *prefix, func(o objectstore.ObjectInfo) error {
		objs = append(objs, o)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("list %q: %w", *prefix, err)
	}
	if len(objs) == 0 {
		return nil, fmt.Errorf("no objects under prefix %q", *prefix)
	}
	type rangeReq struct {
		key      string
		off, len int64
	}
	ranges := make(chan rangeReq)
	go func() {
		defer close(ranges)
		for _, o := range objs {
			for off := int64(0); off < o.Size; off += block {
				ranges <- rangeReq{o.Key, off, min(block, o.Size-off)}
			}
		}
	}()
	var total, gets atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, *concurrency)
	start := time.Now()
	for range *concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 256<<10)
			for r := range ranges {
				n, err := readRange(ctx, b, r.key, r.off, r.len, buf)
				gets.Add(1)
				total.Add(n)
				if err != nil {
					errs <- err
					for range ranges { // drain so the feeder ends
					}
					return
				}
			}
		}()
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	return rawGetResult{
		Prefix: *prefix, Objects: len(objs), Bytes: total.Load(), Gets: gets.Load(),
		BlockBytes: block, Concurrency: *concurrency, Seconds: secs,
		MBPerSec: float64(total.Load()) / 1e6 / secs,
	}, nil
}

// readRange reads [off, off+n) of key into the void and checks its length.
func readRange(ctx context.Context, b objectstore.Bucket, key string, off, n int64, buf []byte) (int64, error) {
	body, err := b.ReadRange(ctx, key, off, n)
	if err != nil {
		return 0, fmt.Errorf("get %s [%d, %d): %w", key, off, off+n, err)
	}
	defer body.Close()
	got, err := io.CopyBuffer(io.Discard, body, buf)
	if err != nil {
		return got, fmt.Errorf("read %s [%d, %d): %w", key, off, off+n, err)
	}
	if got != n {
		return got, fmt.Errorf("read %s [%d, %d): got %d bytes", key, off, off+n, got)
	}
	return got, nil
}

// fetchSample is one Fetch request's figures.
type fetchSample struct {
	Partition int32   `json:"partition"`
	Offset    int64   `json:"offset"`
	Ms        float64 `json:"ms"`
	Bytes     int     `json:"bytes"`
}

// fetchResult is what fetch prints.
type fetchResult struct {
	Topic    string        `json:"topic"`
	At       string        `json:"at"`
	MaxBytes int32         `json:"max_bytes"`
	Samples  []fetchSample `json:"samples"`
	MedianMs float64       `json:"median_ms"`
	MinMs    float64       `json:"min_ms"`
	MaxMs    float64       `json:"max_ms"`
}

// fetchLatency sends one Fetch per partition at the start or the tail.
func fetchLatency(args []string) (any, error) {
	fs := flag.NewFlagSet("fetch", flag.ContinueOnError)
	brokers := fs.String("brokers", "127.0.0.1:9092", "bootstrap broker")
	topic := fs.String("topic", "", "topic (required)")
	at := fs.String("at", "start", "start (log start offset) or tail (last record)")
	maxBytesFlag := fs.String("max-bytes", "1MiB", "partition max bytes of each Fetch")
	if err := parse(fs, args); err != nil {
		return nil, err
	}
	maxBytes, err := loadtest.ParseByteSize(*maxBytesFlag)
	switch {
	case *topic == "":
		return nil, usageError{errors.New("--topic is required")}
	case *at != "start" && *at != "tail":
		return nil, usageError{fmt.Errorf("--at %q: want start or tail", *at)}
	case err != nil || maxBytes < 1 || maxBytes > 1<<30:
		return nil, usageError{fmt.Errorf("--max-bytes %q: want 1 to 1GiB", *maxBytesFlag)}
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(*brokers))
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	adm := kadm.NewClient(cl)
	starts, err := adm.ListStartOffsets(ctx, *topic)
	if err != nil {
		return nil, fmt.Errorf("list start offsets: %w", err)
	}
	ends, err := adm.ListEndOffsets(ctx, *topic)
	if err != nil {
		return nil, fmt.Errorf("list end offsets: %w", err)
	}
	res := fetchResult{Topic: *topic, At: *at, MaxBytes: int32(maxBytes)}
	var parts []int32
	ends.Each(func(o kadm.ListedOffset) {
		if o.Topic == *topic && o.Err == nil {
			parts = append(parts, o.Partition)
		}
	})
	slices.Sort(parts)
	if len(parts) == 0 {
		return nil, fmt.Errorf("topic %s has no partitions with offsets", *topic)
	}
	for _, p := range parts {
		end, _ := ends.Lookup(*topic, p)
		start, ok := starts.Lookup(*topic, p)
		if !ok || start.Err != nil {
			return nil, fmt.Errorf("no start offset for %s/%d", *topic, p)
		}
		if end.Offset <= start.Offset {
			continue
		}
		off := start.Offset
		if *at == "tail" {
			off = end.Offset - 1
		}
		s, err := fetchOnce(ctx, cl, *topic, p, off, int32(maxBytes))
		if err != nil {
			return nil, err
		}
		res.Samples = append(res.Samples, s)
	}
	if len(res.Samples) == 0 {
		return nil, fmt.Errorf("topic %s is empty", *topic)
	}
	ms := make([]float64, len(res.Samples))
	for i, s := range res.Samples {
		ms[i] = s.Ms
	}
	slices.Sort(ms)
	res.MedianMs, res.MinMs, res.MaxMs = median(ms), ms[0], ms[len(ms)-1]
	return res, nil
}

// fetchOnce sends one Fetch for one partition and times it.
func fetchOnce(ctx context.Context, cl *kgo.Client, topic string, p int32, off int64, maxBytes int32) (fetchSample, error) {
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID = -1
	req.MaxWaitMillis = 500
	req.MinBytes = 1
	req.MaxBytes = maxBytes
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition = p
	rp.FetchOffset = off
	rp.PartitionMaxBytes = maxBytes
	rp.CurrentLeaderEpoch = -1
	rp.LogStartOffset = -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	start := time.Now()
	resp, err := req.RequestWith(ctx, cl)
	elapsed := time.Since(start)
	if err != nil {
		return fetchSample{}, fmt.Errorf("fetch %s/%d at %d: %w", topic, p, off, err)
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return fetchSample{}, fmt.Errorf("fetch %s/%d at %d: response has %d topics", topic, p, off, len(resp.Topics))
	}
	rp0 := resp.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(rp0.ErrorCode); err != nil {
		return fetchSample{}, fmt.Errorf("fetch %s/%d at %d: %w", topic, p, off, err)
	}
	if len(rp0.RecordBatches) == 0 {
		return fetchSample{}, fmt.Errorf("fetch %s/%d at %d: no records returned", topic, p, off)
	}
	return fetchSample{Partition: p, Offset: off, Ms: float64(elapsed) / 1e6, Bytes: len(rp0.RecordBatches)}, nil
}

func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// startupResult is what startup prints.
type startupResult struct {
	ListenerSeconds float64 `json:"listener_seconds"`
	MetadataSeconds float64 `json:"metadata_seconds"`
	Partitions      int     `json:"partitions"`
	RSSBytes        int64   `json:"rss_bytes"`
	Addr            string  `json:"addr"`
}

var listenerLine = regexp.MustCompile(`Kafka listener on ([0-9.]+:[0-9]+)`)

// startup times a broker's start on an existing data dir.
func startup(args []string) (any, error) {
	fs := flag.NewFlagSet("startup", flag.ContinueOnError)
	topic := fs.String("topic", "", "topic whose partitions the first good Metadata response must list (required)")
	partitions := fs.Int("partitions", 1, "partitions the topic must show")
	settle := fs.Duration("settle", 2*time.Second, "idle time after the metadata answer before RSS is read")
	logPath := fs.String("log", "", "append the broker's output to this file")
	if err := parse(fs, args); err != nil {
		return nil, err
	}
	cmdArgs := fs.Args()
	if len(cmdArgs) == 0 || *topic == "" || *partitions < 1 {
		return nil, usageError{errors.New("want --topic, --partitions >= 1 and a command after --")}
	}
	var logw io.Writer = io.Discard
	if *logPath != "" {
		f, err := os.OpenFile(*logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, fmt.Errorf("open log: %w", err)
		}
		defer f.Close()
		logw = f
	}
	cmd := exec.Command(cmdArgs[0], cmdArgs[1:]...)
	cmd.Stderr = logw
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("pipe: %w", err)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", cmdArgs[0], err)
	}
	exited := make(chan error, 1)
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sent := false
		for sc.Scan() {
			fmt.Fprintln(logw, sc.Text())
			if m := listenerLine.FindStringSubmatch(sc.Text()); m != nil && !sent {
				addrc <- m[1]
				sent = true
			}
		}
		exited <- cmd.Wait()
	}()
	stop := func() error {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				return fmt.Errorf("broker exit: %w", err)
			}
			return nil
		case <-time.After(60 * time.Second):
			cmd.Process.Kill()
			<-exited
			return errors.New("broker did not stop within 60s of SIGTERM")
		}
	}
	var res startupResult
	select {
	case res.Addr = <-addrc:
		res.ListenerSeconds = time.Since(start).Seconds()
	case err := <-exited:
		return nil, fmt.Errorf("broker exited before listening: %v", err)
	case <-time.After(5 * time.Minute):
		stop()
		return nil, errors.New("broker did not listen within 5m")
	}
	n, err := waitMetadata(res.Addr, *topic, *partitions, 5*time.Minute)
	if err != nil {
		stop()
		return nil, err
	}
	res.MetadataSeconds = time.Since(start).Seconds()
	res.Partitions = n
	time.Sleep(*settle)
	res.RSSBytes, err = rssOf(cmd.Process.Pid)
	if err != nil {
		stop()
		return nil, err
	}
	if err := stop(); err != nil {
		return nil, err
	}
	return res, nil
}

// waitMetadata polls Metadata until the topic shows want partitions, each
// with a leader and no error.
func waitMetadata(addr, topic string, want int, limit time.Duration) (int, error) {
	deadline := time.Now().Add(limit)
	var last error
	for time.Now().Before(deadline) {
		n, err := metadataOnce(addr, topic)
		if err == nil && n == want {
			return n, nil
		}
		if err == nil {
			err = fmt.Errorf("topic %s shows %d of %d partitions", topic, n, want)
		}
		last = err
		time.Sleep(10 * time.Millisecond)
	}
	return 0, fmt.Errorf("no good metadata within %v: %v", limit, last)
}

func metadataOnce(addr, topic string) (int, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RetryTimeout(time.Second))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return 0, err
	}
	if len(resp.Topics) != 1 {
		return 0, fmt.Errorf("metadata has %d topics", len(resp.Topics))
	}
	t := resp.Topics[0]
	if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
		return 0, err
	}
	for _, p := range t.Partitions {
		if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
			return 0, fmt.Errorf("partition %d: %w", p.Partition, err)
		}
		if p.Leader < 0 {
			return 0, fmt.Errorf("partition %d has no leader", p.Partition)
		}
	}
	return len(t.Partitions), nil
}

// rssOf reads VmRSS of a process from /proc.
func rssOf(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, fmt.Errorf("read rss: %w", err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) >= 1 {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				if err == nil {
					return kb << 10, nil
				}
			}
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// replayResult is what replay prints.
type replayResult struct {
	Topic    string  `json:"topic"`
	Workers  int     `json:"workers"`
	Bytes    int64   `json:"bytes"`
	Records  int64   `json:"records"`
	Fetches  int64   `json:"fetches"`
	Seconds  float64 `json:"seconds"`
	MBPerSec float64 `json:"mb_per_sec"`
}

// replay reads a topic from start to end with raw Fetch requests.
func replay(args []string) (any, error) {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	brokers := fs.String("brokers", "127.0.0.1:9092", "bootstrap broker")
	topic := fs.String("topic", "", "topic (required)")
	workers := fs.Int("workers", 4, "clients fetching at once")
	partBytesFlag := fs.String("partition-max-bytes", "4MiB", "partition max bytes of each Fetch")
	if err := parse(fs, args); err != nil {
		return nil, err
	}
	partBytes, err := loadtest.ParseByteSize(*partBytesFlag)
	switch {
	case *topic == "":
		return nil, usageError{errors.New("--topic is required")}
	case *workers < 1 || *workers > 256:
		return nil, usageError{fmt.Errorf("--workers %d: want 1 to 256", *workers)}
	case err != nil || partBytes < 1 || partBytes > 1<<30:
		return nil, usageError{fmt.Errorf("--partition-max-bytes %q: want 1 to 1GiB", *partBytesFlag)}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	adm0, err := kgo.NewClient(kgo.SeedBrokers(*brokers))
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	adm := kadm.NewClient(adm0)
	starts, err := adm.ListStartOffsets(ctx, *topic)
	if err == nil {
		var ends kadm.ListedOffsets
		ends, err = adm.ListEndOffsets(ctx, *topic)
		if err == nil {
			err = errors.Join(starts.Error(), ends.Error())
		}
		adm0.Close()
		if err != nil {
			return nil, fmt.Errorf("list offsets: %w", err)
		}
		// Deal partitions round-robin to the workers.
		var parts []int32
		ends.Each(func(o kadm.ListedOffset) { parts = append(parts, o.Partition) })
		slices.Sort(parts)
		plans := make([][]fetchPos, *workers)
		for i, p := range parts {
			s, _ := starts.Lookup(*topic, p)
			e, _ := ends.Lookup(*topic, p)
			if e.Offset > s.Offset {
				plans[i%*workers] = append(plans[i%*workers], fetchPos{p, s.Offset, e.Offset})
			}
		}
		return runReplay(ctx, *brokers, *topic, plans, int32(partBytes))
	}
	adm0.Close()
	return nil, fmt.Errorf("list offsets: %w", err)
}

// fetchPos is one partition's position in a replay: next offset and end.
type fetchPos struct {
	partition int32
	next, end int64
}

func runReplay(ctx context.Context, brokers, topic string, plans [][]fetchPos, partBytes int32) (replayResult, error) {
	res := replayResult{Topic: topic, Workers: len(plans)}
	var bytesN, records, fetches atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, len(plans))
	clients := make([]*kgo.Client, len(plans))
	for i := range plans {
		cl, err := kgo.NewClient(kgo.SeedBrokers(brokers))
		if err != nil {
			return res, fmt.Errorf("client: %w", err)
		}
		defer cl.Close()
		// Connect before the clock starts.
		if _, err := kmsg.NewPtrApiVersionsRequest().RequestWith(ctx, cl); err != nil {
			return res, fmt.Errorf("connect: %w", err)
		}
		clients[i] = cl
	}
	start := time.Now()
	for i, plan := range plans {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := replayWorker(ctx, clients[i], topic, plan, partBytes, &bytesN, &records, &fetches); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	res.Seconds = time.Since(start).Seconds()
	close(errs)
	if err := <-errs; err != nil {
		return res, err
	}
	res.Bytes, res.Records, res.Fetches = bytesN.Load(), records.Load(), fetches.Load()
	res.MBPerSec = float64(res.Bytes) / 1e6 / res.Seconds
	return res, nil
}

// replayWorker fetches its partitions until each reaches its end.
func replayWorker(ctx context.Context, cl *kgo.Client, topic string, plan []fetchPos, partBytes int32, bytesN, records, fetches *atomic.Int64) error {
	// Data below the end offsets listed at start is committed, so every
	// Fetch should move; a run of empty answers means the broker is stuck.
	const maxIdleFetches = 100
	idle := 0
	for {
		if idle >= maxIdleFetches {
			return fmt.Errorf("%d fetches in a row returned nothing below the end offsets", idle)
		}
		moved := false
		req := kmsg.NewPtrFetchRequest()
		req.ReplicaID = -1
		req.MaxWaitMillis = 500
		req.MinBytes = 1
		req.MaxBytes = 64 << 20
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = topic
		byPart := map[int32]*fetchPos{}
		for i := range plan {
			pos := &plan[i]
			if pos.next >= pos.end {
				continue
			}
			rp := kmsg.NewFetchRequestTopicPartition()
			rp.Partition = pos.partition
			rp.FetchOffset = pos.next
			rp.PartitionMaxBytes = partBytes
			rp.CurrentLeaderEpoch = -1
			rp.LogStartOffset = -1
			rt.Partitions = append(rt.Partitions, rp)
			byPart[pos.partition] = pos
		}
		if len(rt.Partitions) == 0 {
			return nil
		}
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return fmt.Errorf("fetch: %w", err)
		}
		fetches.Add(1)
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				pos, ok := byPart[p.Partition]
				if !ok {
					return fmt.Errorf("fetch answered partition %d, not asked for", p.Partition)
				}
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
					return fmt.Errorf("fetch %s/%d at %d: %w", topic, p.Partition, pos.next, err)
				}
				next, n, err := walkBatches(p.RecordBatches, pos.next, pos.end)
				if err != nil {
					return fmt.Errorf("fetch %s/%d at %d: %w", topic, p.Partition, pos.next, err)
				}
				records.Add(next - pos.next)
				bytesN.Add(int64(n))
				moved = moved || next > pos.next
				pos.next = next
			}
		}
		if moved {
			idle = 0
		} else {
			idle++
		}
	}
}

// walkBatches checks the record batch headers of a Fetch answer and returns
// the offset after the last whole batch (at most end) and the bytes of the
// whole batches. A trailing partial batch, which brokers may send, is left
// for the next Fetch. Batch header: base offset (8 bytes), batch length (4,
// the bytes after this field), ..., last offset delta (4, at byte 23).
func walkBatches(b []byte, next, end int64) (int64, int, error) {
	used := 0
	for len(b) >= 27 {
		base := int64(binary.BigEndian.Uint64(b[0:8]))
		length := int64(int32(binary.BigEndian.Uint32(b[8:12])))
		if length < 15 {
			return next, used, fmt.Errorf("record batch at offset %d has length %d", base, length)
		}
		if int64(len(b)) < 12+length {
			break
		}
		last := base + int64(int32(binary.BigEndian.Uint32(b[23:27])))
		if last >= next {
			next = min(last+1, end)
		}
		used += int(12 + length)
		b = b[12+length:]
	}
	return next, used, nil
}
