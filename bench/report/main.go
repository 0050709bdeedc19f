// Command report turns the raw results of bench/run.sh into the side by
// side table: Shale against franz-go's kfake (the same client against an
// in-memory broker: this client's protocol ceiling here), against NATS
// JetStream (nats bench, same record size and count), and against the
// machine's limits (sequential disk write, loopback copy). It prints the
// table and writes it, with the machine and the commands, as markdown.
//
//	report --dir WORK --out bench/RESULTS.md --command "bench/run.sh"
//
// WORK holds, as bench/run.sh leaves them:
//
//	{shale,kfake}-{produce100,consume100,produce1k,latency}.json
//	                  `shale loadtest --json` summaries
//	nats.json         bench/nats.sh's parsed figures
//	disk.json         {"direct_mb_per_sec", "fdatasync_mb_per_sec", "mib_written"}
//	loopback.json     {"mb_per_sec", "bytes", "seconds"}
//	machine.txt       key=value lines: nproc, cpu, memory, kernel, go, ...
//	commands-shale.txt the loadtest commands of the Shale profiles
//	shale-{produce1k,consume100}.cpu the broker's CPU seconds in those profiles
//	cpu/cpu.json, cpu/produce.json  the broker CPU step (see cpuStep)
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/shalelog/shale/loadtest"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "directory of raw results (required)")
	out := fs.String("out", "", "markdown file to write (empty: none)")
	command := fs.String("command", "bench/run.sh", "the command that produced the results, for the record")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *dir == "" {
		fmt.Fprintln(stderr, "report: --dir is required")
		return 2
	}
	res, err := load(*dir)
	if err != nil {
		fmt.Fprintf(stderr, "report: %v\n", err)
		return 1
	}
	var table bytes.Buffer
	writeTable(&table, res)
	stdout.Write(table.Bytes())
	if *out != "" {
		var md bytes.Buffer
		writeMarkdown(&md, res, *command, table.String())
		if err := os.WriteFile(*out, md.Bytes(), 0o644); err != nil {
			fmt.Fprintf(stderr, "report: write %s: %v\n", *out, err)
			return 1
		}
		fmt.Fprintf(stdout, "\nwritten to %s\n", *out)
	}
	return 0
}

// natsFigures is one `nats bench` result as bench/nats.sh writes it.
type natsFigures struct {
	MsgsPerSec float64 `json:"msgs_per_sec"`
	MBPerSec   float64 `json:"mb_per_sec"`
	P50us      float64 `json:"p50_us"`
	P99us      float64 `json:"p99_us"`
}

type natsResults struct {
	Size     int         `json:"size"`
	Count    int64       `json:"count"`
	PubAsync natsFigures `json:"pub_async"`
	PubFast  natsFigures `json:"pub_fast"`
	Ordered  natsFigures `json:"ordered"`
}

type diskResults struct {
	DirectMBPerSec    float64 `json:"direct_mb_per_sec"`
	FdatasyncMBPerSec float64 `json:"fdatasync_mb_per_sec"`
	MiBWritten        int     `json:"mib_written"`
}

type loopbackResults struct {
	MBPerSec float64 `json:"mb_per_sec"`
}

// profiles are the four loads run against each Kafka-protocol broker.
type profiles struct {
	Produce100, Consume100, Produce1K, Latency *loadtest.Summary
}

type results struct {
	Shale, Kfake profiles
	NATS         natsResults
	Disk         diskResults
	Loopback     loopbackResults
	Machine      [][2]string // key, value in file order
	Commands     []string
	Objtier      *objtierResults // nil when the step was skipped
	Scale        []scaleRun      // empty when the step was skipped
	Latency      *latencyResults // nil when the step was skipped
	CPU          cpuResults
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode %s: %w", path, err)
	}
	return nil
}

func loadProfiles(dir, prefix string) (profiles, error) {
	var p profiles
	for name, dst := range map[string]**loadtest.Summary{
		"produce100": &p.Produce100, "consume100": &p.Consume100,
		"produce1k": &p.Produce1K, "latency": &p.Latency,
	} {
		s := new(loadtest.Summary)
		if err := readJSON(filepath.Join(dir, prefix+"-"+name+".json"), s); err != nil {
			return p, err
		}
		if s.Produce == nil && s.Consume == nil {
			return p, fmt.Errorf("%s-%s.json: no produce or consume figures", prefix, name)
		}
		*dst = s
	}
	return p, nil
}

func load(dir string) (*results, error) {
	r := &results{}
	var err error
	if r.Shale, err = loadProfiles(dir, "shale"); err != nil {
		return nil, err
	}
	if r.Kfake, err = loadProfiles(dir, "kfake"); err != nil {
		return nil, err
	}
	if err := readJSON(filepath.Join(dir, "nats.json"), &r.NATS); err != nil {
		return nil, err
	}
	if err := readJSON(filepath.Join(dir, "disk.json"), &r.Disk); err != nil {
		return nil, err
	}
	if err := readJSON(filepath.Join(dir, "loopback.json"), &r.Loopback); err != nil {
		return nil, err
	}
	if f, err := os.Open(filepath.Join(dir, "machine.txt")); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), "="); ok {
				r.Machine = append(r.Machine, [2]string{k, v})
			}
		}
		f.Close()
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if b, err := os.ReadFile(filepath.Join(dir, "commands-shale.txt")); err == nil {
		r.Commands = strings.Split(strings.TrimSpace(string(b)), "\n")
	}
	if r.Objtier, err = loadObjtier(dir); err != nil {
		return nil, err
	}
	if r.Objtier != nil {
		r.Objtier.Cores = 2
		for _, kv := range r.Machine {
			if n, err := strconv.Atoi(kv[1]); kv[0] == "nproc" && err == nil && n > 0 {
				r.Objtier.Cores = n
			}
		}
	}
	if r.Scale, err = loadScale(dir); err != nil {
		return nil, err
	}
	if r.Latency, err = loadLatency(dir); err != nil {
		return nil, err
	}
	if r.CPU, err = loadCPU(dir, r); err != nil {
		return nil, err
	}
	return r, nil
}

func produceOf(s *loadtest.Summary) *loadtest.Phase {
	if s.Produce != nil {
		return s.Produce
	}
	return &loadtest.Phase{}
}

func consumeOf(s *loadtest.Summary) *loadtest.Phase {
	if s.Consume != nil {
		return s.Consume
	}
	return &loadtest.Phase{}
}

func p99Of(s *loadtest.Summary) time.Duration {
	if l := produceOf(s).Latency; l != nil {
		return l.P99
	}
	return 0
}

func ratio(a, b float64) string {
	if b <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2fx", a/b)
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

func rate(p *loadtest.Phase) string {
	return fmt.Sprintf("%.0f rec/s, %.1f MB/s", p.RecordsPerSec, p.MBPerSec)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/1e6) }

// target is one row of the verdict table.
type target struct {
	what, measured, want string
	ok                   bool
}

func targets(r *results) []target {
	sp, kp := produceOf(r.Shale.Produce100), produceOf(r.Kfake.Produce100)
	sc, kc := consumeOf(r.Shale.Consume100), consumeOf(r.Kfake.Consume100)
	jsPub := max(r.NATS.PubAsync.MsgsPerSec, r.NATS.PubFast.MsgsPerSec)
	s1k := produceOf(r.Shale.Produce1K)
	p99 := p99Of(r.Shale.Latency)
	return []target{
		{"produce 100 B vs JetStream (best of async, fast batch)", ratio(sp.RecordsPerSec, jsPub), ">= 5x", sp.RecordsPerSec >= 5*jsPub},
		{"hot consume 100 B vs JetStream ordered consumer", ratio(sc.RecordsPerSec, r.NATS.Ordered.MsgsPerSec), ">= 5x", sc.RecordsPerSec >= 5*r.NATS.Ordered.MsgsPerSec},
		{"produce 100 B vs kfake, same client, incompressible", ratio(sp.RecordsPerSec, kp.RecordsPerSec), ">= 0.9x", sp.RecordsPerSec >= 0.9*kp.RecordsPerSec},
		{"hot consume 100 B vs kfake, same client", ratio(sc.RecordsPerSec, kc.RecordsPerSec), ">= 0.8x", sc.RecordsPerSec >= 0.8*kc.RecordsPerSec},
		{"produce 1 KiB MB/s vs direct-I/O disk write", ratio(s1k.MBPerSec, r.Disk.DirectMBPerSec), ">= 0.7x", s1k.MBPerSec >= 0.7*r.Disk.DirectMBPerSec},
		{"acks=1 produce p99 at half of max rate", ms(p99), "<= 5 ms", p99 > 0 && p99 <= 5*time.Millisecond},
	}
}

func writeTable(w io.Writer, r *results) {
	row := func(cells ...string) { fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | ")) }
	fmt.Fprintf(w, "### Throughput and latency (MB = 10^6 bytes)\n\n")
	row("profile", "Shale", "kfake", "Shale/kfake", "JetStream", "Shale/JetStream")
	row("---", "---", "---", "---", "---", "---")
	sp, kp := produceOf(r.Shale.Produce100), produceOf(r.Kfake.Produce100)
	row("produce 100 B, acks=1", rate(sp), rate(kp), ratio(sp.RecordsPerSec, kp.RecordsPerSec),
		fmt.Sprintf("async %.0f / fast batch %.0f msg/s", r.NATS.PubAsync.MsgsPerSec, r.NATS.PubFast.MsgsPerSec),
		ratio(sp.RecordsPerSec, max(r.NATS.PubAsync.MsgsPerSec, r.NATS.PubFast.MsgsPerSec)))
	sc, kc := consumeOf(r.Shale.Consume100), consumeOf(r.Kfake.Consume100)
	row("consume 100 B, hot", rate(sc), rate(kc), ratio(sc.RecordsPerSec, kc.RecordsPerSec),
		fmt.Sprintf("ordered %.0f msg/s", r.NATS.Ordered.MsgsPerSec), ratio(sc.RecordsPerSec, r.NATS.Ordered.MsgsPerSec))
	s1, k1 := produceOf(r.Shale.Produce1K), produceOf(r.Kfake.Produce1K)
	row("produce 1 KiB, acks=1", rate(s1), rate(k1), ratio(s1.MBPerSec, k1.MBPerSec), "", "")
	sl, kl := produceOf(r.Shale.Latency), produceOf(r.Kfake.Latency)
	lat := func(s *loadtest.Summary, p *loadtest.Phase) string {
		if p.Latency == nil {
			return "n/a"
		}
		return fmt.Sprintf("p50 %s, p99 %s, p99.9 %s at %.0f rec/s", ms(p.Latency.P50), ms(p.Latency.P99), ms(p.Latency.P999), s.Rate)
	}
	row("acks=1 latency at half max", lat(r.Shale.Latency, sl), lat(r.Kfake.Latency, kl), "",
		fmt.Sprintf("async p99 %.2f ms (at max)", r.NATS.PubAsync.P99us/1000), "")
	row("produce 100 B latency at max", fmt.Sprintf("p99 %s", ms(p99Of(r.Shale.Produce100))), fmt.Sprintf("p99 %s", ms(p99Of(r.Kfake.Produce100))), "", "", "")

	fmt.Fprintf(w, "\n### Machine limits\n\n")
	row("limit", "measured", "Shale produce 1 KiB / limit")
	row("---", "---", "---")
	row(fmt.Sprintf("sequential write, direct I/O (dd bs=1M count=%d oflag=direct)", r.Disk.MiBWritten), fmt.Sprintf("%.1f MB/s", r.Disk.DirectMBPerSec), ratio(s1.MBPerSec, r.Disk.DirectMBPerSec))
	row("sequential write, buffered + fdatasync (dd conv=fdatasync)", fmt.Sprintf("%.1f MB/s", r.Disk.FdatasyncMBPerSec), ratio(s1.MBPerSec, r.Disk.FdatasyncMBPerSec))
	row("loopback TCP copy (bench/loopback)", fmt.Sprintf("%.1f MB/s", r.Loopback.MBPerSec), ratio(s1.MBPerSec, r.Loopback.MBPerSec))

	if r.Objtier != nil {
		writeObjtierTable(w, r.Objtier)
	}
	if len(r.Scale) > 0 {
		writeScaleTable(w, r.Scale)
	}
	writeLatencyTable(w, r.Latency, r.CPU)

	fmt.Fprintf(w, "\n### Targets\n\n")
	row("target", "measured", "wanted", "verdict")
	row("---", "---", "---", "---")
	met := 0
	ts := targets(r)
	if r.Objtier != nil {
		ts = append(ts, objtierTargets(r.Objtier)...)
	}
	ts = append(ts, latencyTargets(r.Latency, r.CPU, r)...)
	for _, t := range ts {
		row(t.what, t.measured, t.want, verdict(t.ok))
		if t.ok {
			met++
		}
	}
	fmt.Fprintf(w, "\n%d of %d targets met.\n", met, len(ts))
}

func writeMarkdown(w io.Writer, r *results, command, table string) {
	fmt.Fprintf(w, "# Benchmark results\n\n")
	fmt.Fprintf(w, "Written by `%s` (what `make bench` runs). Shale runs as `shale dev` (one node,\n", command)
	fmt.Fprintf(w, "WAL and embedded file object store on the same disk), kfake as `bench/kfake`\n")
	fmt.Fprintf(w, "(franz-go's in-memory fake broker), both driven by the same `shale loadtest`\n")
	fmt.Fprintf(w, "profiles; JetStream by `nats bench` (file storage, one replica) with the same\n")
	fmt.Fprintf(w, "record size and count. Client and server share the machine, so every figure\n")
	fmt.Fprintf(w, "includes the client's own CPU. Other builds and tests may have been running on\n")
	fmt.Fprintf(w, "the machine at the same time: treat single runs as noisy.\n\n")
	fmt.Fprintf(w, "Record values are incompressible (each record its own random bytes, the\n")
	fmt.Fprintf(w, "loadtest default `--values random`), sent uncompressed.\n")
	fmt.Fprintf(w, "Throughput profiles use 4 producers, acks=1, linger 5ms, 1 MiB batches, no\n")
	fmt.Fprintf(w, "compression, 8 partitions; hot consume reads the just-produced topic with 4\n")
	fmt.Fprintf(w, "consumers. The latency profile runs at half of each broker's own measured\n")
	fmt.Fprintf(w, "100 B maximum with linger 0 (a 5ms linger would add 5ms to every record).\n")
	fmt.Fprintf(w, "JetStream latencies come from `nats bench` at its maximum rate, not at half.\n\n")
	if o := r.Objtier; o != nil {
		fmt.Fprintf(w, "The object tier step runs a real MinIO on loopback and `%s`\n", o.BrokerCommand)
		fmt.Fprintf(w, "(bucket URL with the MinIO endpoint; credentials from AWS_ACCESS_KEY_ID and\n")
		fmt.Fprintf(w, "AWS_SECRET_ACCESS_KEY). It produces %d records of 1 KiB with acks=all (4\n", o.Count)
		fmt.Fprintf(w, "producers, 8 partitions; loadtest values are incompressible random bytes, sent\n")
		fmt.Fprintf(w, "uncompressed and stored as sent), waits until nothing is pending upload and\n")
		fmt.Fprintf(w, "the class A count has stood still for 12 stats lines, then stays idle. Class A\n")
		fmt.Fprintf(w, "and B counts come from the broker's own counters (its \"tiering stats\" log line,\n")
		fmt.Fprintf(w, "every 1s): PUT, multipart create/part/complete, and LIST (the garbage\n")
		fmt.Fprintf(w, "collector's bucket LIST runs on its first pass, one minute after start, and\n")
		fmt.Fprintf(w, "then every 60th pass) are class A. Per GiB ingested divides by the bytes of\n")
		fmt.Fprintf(w, "uploaded WAL objects, not by the bytes compaction rewrites.\n\n")
		fmt.Fprintf(w, "Every cold read restarts the broker with its WAL directory deleted (metadata\n")
		fmt.Fprintf(w, "kept), so the block cache is empty and every byte comes from MinIO. The raw\n")
		fmt.Fprintf(w, "GET runs (`bench/objtier rawget`) read every object under part/ (compacted\n")
		fmt.Fprintf(w, "objects, including ones compaction has since superseded) through the same\n")
		fmt.Fprintf(w, "objectstore S3 driver in 4 MiB ranges, 5 in flight: the cold reader's block\n")
		fmt.Fprintf(w, "size and read-ahead of 4 plus the block being read. MinIO's files are in the\n")
		fmt.Fprintf(w, "page cache for both, so both measure MinIO and the path above it, not the disk.\n")
		fmt.Fprintf(w, "`objtier fetch` sends one Fetch (1 MiB) per partition, one at a time on a\n")
		fmt.Fprintf(w, "warm connection, after each of several cold restarts: at offset 0 each one pays a\n")
		fmt.Fprintf(w, "catalog lookup, a footer GET and a 4 MiB block GET. A long history outgrows\n")
		fmt.Fprintf(w, "the page cache, so its first GETs at offset 0 read MinIO's disk; the broker is\n")
		fmt.Fprintf(w, "then restarted once more and the Fetch at offset 0 repeated, broker cold and\n")
		fmt.Fprintf(w, "MinIO warm, which is what the history-growth target compares.\n\n")
	}
	if o := r.Objtier; o != nil && len(o.CPU) > 0 {
		fmt.Fprintf(w, "Each cold replay and raw GET run also records the user+system CPU seconds of\n")
		fmt.Fprintf(w, "MinIO, the broker and the client over the run. MinIO's and the broker's come\n")
		fmt.Fprintf(w, "from their /proc/PID/stat (utime+stime) read just before the client starts and\n")
		fmt.Fprintf(w, "just after it exits; the client's (`shale loadtest consume`, `objtier replay`,\n")
		fmt.Fprintf(w, "`objtier rawget`) from the kernel's rusage of the exited process, which\n")
		fmt.Fprintf(w, "`objtier rusage` starts and reaps: the same utime and stime, counted to the\n")
		fmt.Fprintf(w, "client's end without sampling. \"Cores allow\" is the machine's cores divided by\n")
		fmt.Fprintf(w, "the total CPU-seconds per GB: the read rate if CPU were the only limit and the\n")
		fmt.Fprintf(w, "three processes had every core to themselves.\n\n")
	}
	if st := r.CPU.Step; st != nil {
		fmt.Fprintf(w, "The broker CPU step runs a fresh `shale dev` of its own (own data dir,\n")
		fmt.Fprintf(w, "`--metrics-listen`, `--compaction-interval 0` so that no compaction pass lands\n")
		fmt.Fprintf(w, "in the window or not by chance). It produces a warm-up of %d records of 1 KiB to another\n", st.WarmupRecords)
		fmt.Fprintf(w, "topic and waits until the broker has uploaded all of it, then produces %d\n", st.Records)
		fmt.Fprintf(w, "records of 1 KiB (4 producers, acks=1, linger 5ms, 1 MiB batches, no\n")
		fmt.Fprintf(w, "compression, 8 partitions). The broker's utime+stime (/proc/PID/stat) is read\n")
		fmt.Fprintf(w, "when that produce starts, when it ends, and when the broker has uploaded\n")
		fmt.Fprintf(w, "everything it took in: `shale_upload_pending_segments` at 0 on its /metrics\n")
		fmt.Fprintf(w, "and `shale_wal_segments_sealed_total` unchanged 0.5 s later (a non-empty\n")
		fmt.Fprintf(w, "segment is sealed within its 250 ms age), the CPU read at the first of those\n")
		fmt.Fprintf(w, "two polls. /metrics is polled only after the produce has ended. The target\n")
		fmt.Fprintf(w, "uses CPU until uploaded: taking the bytes in and uploading them to the\n")
		fmt.Fprintf(w, "embedded store.\n\n")
	}
	if len(r.Scale) > 0 {
		fmt.Fprintf(w, "The scale step runs `shale dev` (embedded file object store) with one topic of\n")
		fmt.Fprintf(w, "that many partitions and 4 producers of 100 B records (acks=1, linger 5ms)\n")
		fmt.Fprintf(w, "spread over all of them; peak RSS is VmRSS sampled every 0.5 s. Start-up is\n")
		fmt.Fprintf(w, "then timed on the same data dir (WAL and metadata recovered): from exec to the\n")
		fmt.Fprintf(w, "\"Kafka listener on\" line, and to the first Metadata response listing every\n")
		fmt.Fprintf(w, "partition with a leader (`bench/objtier startup`).\n\n")
	}
	if len(r.Machine) > 0 {
		fmt.Fprintf(w, "## Machine\n\n")
		for _, kv := range r.Machine {
			fmt.Fprintf(w, "- %s: %s\n", kv[0], kv[1])
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "## Results\n\n%s\n", table)
	if len(r.Commands) > 0 {
		fmt.Fprintf(w, "## Profiles\n\nThe same commands ran against kfake with its address:\n\n```\n%s\n```\n\n", strings.Join(r.Commands, "\n"))
	}
	fmt.Fprintf(w, "## Details\n\n")
	detail := func(name string, s *loadtest.Summary) {
		var b bytes.Buffer
		s.WriteText(&b)
		fmt.Fprintf(w, "%s:\n\n```\n%s```\n\n", name, b.String())
	}
	detail("Shale produce 100 B", r.Shale.Produce100)
	detail("Shale consume 100 B (hot)", r.Shale.Consume100)
	detail("Shale produce 1 KiB", r.Shale.Produce1K)
	detail("Shale latency at half max", r.Shale.Latency)
	if st := r.CPU.Step; st != nil {
		detail("Broker CPU step produce (fresh broker, after the warm-up)", st.Produce)
	}
	detail("kfake produce 100 B", r.Kfake.Produce100)
	detail("kfake consume 100 B", r.Kfake.Consume100)
	detail("kfake produce 1 KiB", r.Kfake.Produce1K)
	detail("kfake latency at half max", r.Kfake.Latency)
	if o := r.Objtier; o != nil {
		detail("Object tier produce (acks=all)", o.Produce)
		for i, c := range o.Consume {
			detail(fmt.Sprintf("Object tier cold replay %d", i+1), c)
		}
		if o.Grow != nil {
			detail("Long history: growing the topic", o.Grow)
		}
		if o.FindExtent != "" {
			fmt.Fprintf(w, "Catalog lookup, `go test -run '^$' -bench CatalogFindExtent ./e2e` (one partition, 10 offsets per extent):\n\n```\n%s\n```\n\n", o.FindExtent)
		}
	}
	n := r.NATS
	fmt.Fprintf(w, "JetStream (%d messages of %d B):\n\n```\n", n.Count, n.Size)
	fmt.Fprintf(w, "js pub async: %.0f msgs/s, %.2f MB/s, p50 %.2f ms, p99 %.2f ms\n", n.PubAsync.MsgsPerSec, n.PubAsync.MBPerSec, n.PubAsync.P50us/1000, n.PubAsync.P99us/1000)
	fmt.Fprintf(w, "js pub fast:  %.0f msgs/s, %.2f MB/s, p50 %.2f ms, p99 %.2f ms\n", n.PubFast.MsgsPerSec, n.PubFast.MBPerSec, n.PubFast.P50us/1000, n.PubFast.P99us/1000)
	fmt.Fprintf(w, "js ordered:   %.0f msgs/s, %.2f MB/s\n```\n", n.Ordered.MsgsPerSec, n.Ordered.MBPerSec)
}
