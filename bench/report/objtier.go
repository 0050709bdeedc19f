package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/shalelog/shale/loadtest"
)

// The object tier and scale results bench/objtier.sh leaves in WORK:
//
//	objtier/produce.json       the 2 GiB acks=all load (loadtest summary)
//	objtier/count.txt          records in it
//	objtier/stats-after-load.txt, stats-after-idle.txt
//	                           Shale's "tiering stats" log line once uploads
//	                           and compaction settled, and after the idle wait
//	objtier/compactions.txt    "compacted extents" log lines during the load
//	objtier/consume-N.json     cold replays with `shale loadtest consume`
//	objtier/replay-N.json      cold replays with raw Fetch requests
//	objtier/rawget5-N.json     raw ranged GETs, 5 in flight
//	objtier/rawget16.json      raw ranged GETs, 16 in flight
//	objtier/cpu-{consume,consume-warm,replay,rawget5}-N.json
//	                           user+system CPU seconds of MinIO, the broker
//	                           and the client over that run
//	objtier/fetch-{start,tail}-{base,long}-N.json
//	                           one Fetch per partition at offset 0 and at the
//	                           tail after cold restart N, with the base load's
//	                           history and with the long history
//	objtier/grow.json, history.json
//	                           the load that grew the history, its size
//	objtier/minio-bytes.txt    bytes in MinIO's data dir at the end
//	objtier/findextent.txt     `go test -bench CatalogFindExtent ./e2e` output
//	scale/produce-P.json, rss-P.txt, startup-P.json, wal-bytes-P.txt
//	                           per partition count P

// rawGetResult is `objtier rawget`'s output.
type rawGetResult struct {
	Objects     int     `json:"objects"`
	Bytes       int64   `json:"bytes"`
	Gets        int64   `json:"gets"`
	Concurrency int     `json:"concurrency"`
	Seconds     float64 `json:"seconds"`
	MBPerSec    float64 `json:"mb_per_sec"`
}

// replayResult is `objtier replay`'s output.
type replayResult struct {
	Bytes    int64   `json:"bytes"`
	Fetches  int64   `json:"fetches"`
	Seconds  float64 `json:"seconds"`
	MBPerSec float64 `json:"mb_per_sec"`
}

// fetchResult is `objtier fetch`'s output.
type fetchResult struct {
	Samples []struct {
		Ms float64 `json:"ms"`
	} `json:"samples"`
	MedianMs float64 `json:"median_ms"`
	MinMs    float64 `json:"min_ms"`
	MaxMs    float64 `json:"max_ms"`
}

// startupResult is `objtier startup`'s output.
type startupResult struct {
	ListenerSeconds float64 `json:"listener_seconds"`
	MetadataSeconds float64 `json:"metadata_seconds"`
	Partitions      int     `json:"partitions"`
	RSSBytes        int64   `json:"rss_bytes"`
}

type objtierResults struct {
	Count                int64
	Produce, Grow        *loadtest.Summary
	StatsLoad, StatsIdle map[string]string
	Compactions          int
	Consume              []*loadtest.Summary
	ConsumeWarm          []*loadtest.Summary // second replay on the same broker
	Replay               []replayResult
	RawGet5              []rawGetResult
	RawGet16             *rawGetResult
	FetchBase, FetchLong fetchRuns
	HistoryBytes         int64
	HistorySeconds       float64
	MinioBytes           int64
	BrokerCommand        string
	// FindExtent is the output of BenchmarkCatalogFindExtent (e2e).
	FindExtent string
	// CPU holds each cold read run's CPU by process, per run kind (the
	// coldRunKinds), in run order; empty in older results.
	CPU map[string][]procCPU
	// Cores is the machine's CPU count (machine.txt's nproc; 2 when unknown).
	Cores int
}

// procCPU is one cold read run's user+system CPU seconds by process
// (objtier/cpu-KIND-N.json) and the bytes the run read.
type procCPU struct {
	MinIO  float64 `json:"minio_cpu_seconds"`
	Broker float64 `json:"broker_cpu_seconds"`
	Client float64 `json:"client_cpu_seconds"`
	Bytes  int64   `json:"-"`
}

// coldRunKinds are the cold read runs measured by process, in table order,
// with their names.
var coldRunKinds = []struct{ kind, name, short string }{
	{"consume", "cold replay, `shale loadtest consume`, fresh broker", "loadtest consume"},
	{"consume-warm", "cold replay again on the same broker (data still cold)", "loadtest consume, second replay"},
	{"replay", "cold replay, raw Fetch (`objtier replay`)", "raw Fetch"},
	{"rawget5", "raw ranged GET, 5 in flight (`objtier rawget`, no broker)", "raw GET"},
}

type scaleRun struct {
	Partitions int
	Produce    *loadtest.Summary
	PeakRSSKiB int64
	Startup    startupResult
	WALBytes   int64
}

// parseStats reads the key=value pairs of a "tiering stats" log line.
func parseStats(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for f := range strings.FieldsSeq(string(b)) {
		if k, v, ok := strings.Cut(f, "="); ok {
			m[k] = v
		}
	}
	if _, ok := m["s3_class_a"]; !ok {
		return nil, fmt.Errorf("%s: not a tiering stats line", path)
	}
	return m, nil
}

func statInt(m map[string]string, key string) int64 {
	v, _ := strconv.ParseInt(m[key], 10, 64)
	return v
}

func readInt(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse %s: %w", path, err)
	}
	return v, nil
}

// optional reads path into v; a missing file leaves v nil and is no error.
func optionalJSON[T any](path string) (*T, error) {
	v := new(T)
	if err := readJSON(path, v); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	return v, nil
}

// loadObjtier reads WORK/objtier; nil when the step was skipped.
func loadObjtier(dir string) (*objtierResults, error) {
	d := filepath.Join(dir, "objtier")
	if _, err := os.Stat(filepath.Join(d, "produce.json")); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	o := &objtierResults{}
	var err error
	if o.Count, err = readInt(filepath.Join(d, "count.txt")); err != nil {
		return nil, err
	}
	if o.Produce, err = optionalJSON[loadtest.Summary](filepath.Join(d, "produce.json")); err != nil {
		return nil, err
	}
	if o.StatsLoad, err = parseStats(filepath.Join(d, "stats-after-load.txt")); err != nil {
		return nil, err
	}
	if o.StatsIdle, err = parseStats(filepath.Join(d, "stats-after-idle.txt")); err != nil {
		return nil, err
	}
	if n, err := readInt(filepath.Join(d, "compactions.txt")); err == nil {
		o.Compactions = int(n)
	}
	for i := 1; ; i++ {
		c, err := optionalJSON[loadtest.Summary](filepath.Join(d, fmt.Sprintf("consume-%d.json", i)))
		if err != nil {
			return nil, err
		}
		r, err := optionalJSON[replayResult](filepath.Join(d, fmt.Sprintf("replay-%d.json", i)))
		if err != nil {
			return nil, err
		}
		g, err := optionalJSON[rawGetResult](filepath.Join(d, fmt.Sprintf("rawget5-%d.json", i)))
		if err != nil {
			return nil, err
		}
		w, err := optionalJSON[loadtest.Summary](filepath.Join(d, fmt.Sprintf("consume-warm-%d.json", i)))
		if err != nil {
			return nil, err
		}
		if c == nil && r == nil && g == nil {
			break
		}
		if c != nil {
			o.Consume = append(o.Consume, c)
		}
		if w != nil {
			o.ConsumeWarm = append(o.ConsumeWarm, w)
		}
		if r != nil {
			o.Replay = append(o.Replay, *r)
		}
		if g != nil {
			o.RawGet5 = append(o.RawGet5, *g)
		}
		for kind, bytes := range map[string]int64{
			"consume":      bytesOr(c, func(s *loadtest.Summary) int64 { return consumeOf(s).Bytes }),
			"consume-warm": bytesOr(w, func(s *loadtest.Summary) int64 { return consumeOf(s).Bytes }),
			"replay":       bytesOr(r, func(r *replayResult) int64 { return r.Bytes }),
			"rawget5":      bytesOr(g, func(g *rawGetResult) int64 { return g.Bytes }),
		} {
			p, err := optionalJSON[procCPU](filepath.Join(d, fmt.Sprintf("cpu-%s-%d.json", kind, i)))
			if err != nil {
				return nil, err
			}
			if p == nil {
				continue
			}
			if bytes <= 0 {
				return nil, fmt.Errorf("%s: cpu-%s-%d.json without the run's bytes", d, kind, i)
			}
			p.Bytes = bytes
			if o.CPU == nil {
				o.CPU = map[string][]procCPU{}
			}
			o.CPU[kind] = append(o.CPU[kind], *p)
		}
	}
	if len(o.Consume) == 0 || len(o.RawGet5) == 0 {
		return nil, fmt.Errorf("%s: no cold replay or raw GET results", d)
	}
	if o.RawGet16, err = optionalJSON[rawGetResult](filepath.Join(d, "rawget16.json")); err != nil {
		return nil, err
	}
	if o.FetchBase, err = loadFetchRuns(d, "base"); err != nil {
		return nil, err
	}
	if o.FetchLong, err = loadFetchRuns(d, "long"); err != nil {
		return nil, err
	}
	if o.Grow, err = optionalJSON[loadtest.Summary](filepath.Join(d, "grow.json")); err != nil {
		return nil, err
	}
	var hist struct {
		HistoryBytes int64   `json:"history_bytes"`
		Seconds      float64 `json:"seconds"`
	}
	if err := readJSON(filepath.Join(d, "history.json"), &hist); err == nil {
		o.HistoryBytes, o.HistorySeconds = hist.HistoryBytes, hist.Seconds
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	o.MinioBytes, _ = readInt(filepath.Join(d, "minio-bytes.txt"))
	if b, err := os.ReadFile(filepath.Join(d, "broker-command.txt")); err == nil {
		o.BrokerCommand = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile(filepath.Join(d, "findextent.txt")); err == nil {
		var lines []string
		for l := range strings.SplitSeq(string(b), "\n") {
			if strings.HasPrefix(l, "Benchmark") {
				lines = append(lines, l)
			}
		}
		o.FindExtent = strings.Join(lines, "\n")
	}
	return o, nil
}

// bytesOr is f(v), or 0 when v is nil.
func bytesOr[T any](v *T, f func(*T) int64) int64 {
	if v == nil {
		return 0
	}
	return f(v)
}

// cpuPerGB sums runs: each process's CPU-seconds per 10^9 bytes read, and
// the bytes.
type cpuPerGB struct {
	runs                         int
	bytes                        int64
	minio, broker, client, total float64
}

func sumCPU(runs []procCPU) cpuPerGB {
	var c cpuPerGB
	var m, b, cl float64
	for _, r := range runs {
		c.runs++
		c.bytes += r.Bytes
		m, b, cl = m+r.MinIO, b+r.Broker, cl+r.Client
	}
	if c.bytes > 0 {
		gb := float64(c.bytes) / 1e9
		c.minio, c.broker, c.client = m/gb, b/gb, cl/gb
		c.total = c.minio + c.broker + c.client
	}
	return c
}

// allows is the read rate in GB/s the machine's cores would allow if the
// run's processes had them all and nothing else cost CPU: cores / total
// CPU-seconds per GB.
func (c cpuPerGB) allows(cores int) float64 {
	if c.total <= 0 {
		return 0
	}
	return float64(cores) / c.total
}

// fetchRuns are the Fetch latencies after each cold restart: at offset 0
// and at the tail, and at offset 0 after a second cold restart with the
// store's page cache warm (Warm, empty in older results).
type fetchRuns struct{ Start, Tail, Warm []fetchResult }

// startMedian is the median of the runs' medians at offset 0 (0: none).
func (f fetchRuns) startMedian() float64 { return medianOfRuns(f.Start) }

// warmMedian is the median of the warm-store runs' medians (0: none).
func (f fetchRuns) warmMedian() float64 { return medianOfRuns(f.Warm) }

func medianOfRuns(rs []fetchResult) float64 {
	var ms []float64
	for _, r := range rs {
		ms = append(ms, r.MedianMs)
	}
	return medianOf(ms)
}

func loadFetchRuns(d, tag string) (fetchRuns, error) {
	var f fetchRuns
	for i := 1; ; i++ {
		s, err := optionalJSON[fetchResult](filepath.Join(d, fmt.Sprintf("fetch-start-%s-%d.json", tag, i)))
		if err != nil || s == nil {
			return f, err
		}
		t, err := optionalJSON[fetchResult](filepath.Join(d, fmt.Sprintf("fetch-tail-%s-%d.json", tag, i)))
		if err != nil {
			return f, err
		}
		if t == nil {
			return f, fmt.Errorf("%s: fetch at start without fetch at tail for run %d", d, i)
		}
		f.Start, f.Tail = append(f.Start, *s), append(f.Tail, *t)
		w, err := optionalJSON[fetchResult](filepath.Join(d, fmt.Sprintf("fetch-warm-%s-%d.json", tag, i)))
		if err != nil {
			return f, err
		}
		if w != nil {
			f.Warm = append(f.Warm, *w)
		}
	}
}

// loadScale reads WORK/scale; nil when the step was skipped.
func loadScale(dir string) ([]scaleRun, error) {
	d := filepath.Join(dir, "scale")
	names, err := filepath.Glob(filepath.Join(d, "produce-*.json"))
	if err != nil || len(names) == 0 {
		return nil, err
	}
	var runs []scaleRun
	for _, name := range names {
		p, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(filepath.Base(name), "produce-"), ".json"))
		if err != nil {
			return nil, fmt.Errorf("%s: bad partition count in name", name)
		}
		r := scaleRun{Partitions: p, Produce: new(loadtest.Summary)}
		if err := readJSON(name, r.Produce); err != nil {
			return nil, err
		}
		if err := readJSON(filepath.Join(d, fmt.Sprintf("startup-%d.json", p)), &r.Startup); err != nil {
			return nil, err
		}
		if b, err := os.ReadFile(filepath.Join(d, fmt.Sprintf("rss-%d.txt", p))); err == nil {
			for f := range strings.FieldsSeq(string(b)) {
				if v, err := strconv.ParseInt(f, 10, 64); err == nil {
					r.PeakRSSKiB = max(r.PeakRSSKiB, v)
				}
			}
		}
		r.WALBytes, _ = readInt(filepath.Join(d, fmt.Sprintf("wal-bytes-%d.txt", p)))
		runs = append(runs, r)
	}
	slices.SortFunc(runs, func(a, b scaleRun) int { return a.Partitions - b.Partitions })
	return runs, nil
}

func medianOf(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func listMB(vs []float64) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = fmt.Sprintf("%.1f", v)
	}
	return strings.Join(parts, ", ")
}

// objtierFigures are the derived numbers the tables and targets share.
type objtierFigures struct {
	consume, replay, raw5  []float64
	consumeMed, replayMed  float64
	warm                   []float64 // second replays, same broker
	warmMed                float64
	raw5Med                float64
	ingestGiB              float64
	classALoad, classAIdle int64
	classAPerGiB           float64
}

func figuresOf(o *objtierResults) objtierFigures {
	var f objtierFigures
	for _, c := range o.Consume {
		f.consume = append(f.consume, consumeOf(c).MBPerSec)
	}
	for _, c := range o.ConsumeWarm {
		f.warm = append(f.warm, consumeOf(c).MBPerSec)
	}
	f.warmMed = medianOf(f.warm)
	for _, r := range o.Replay {
		f.replay = append(f.replay, r.MBPerSec)
	}
	for _, g := range o.RawGet5 {
		f.raw5 = append(f.raw5, g.MBPerSec)
	}
	f.consumeMed, f.replayMed, f.raw5Med = medianOf(f.consume), medianOf(f.replay), medianOf(f.raw5)
	f.ingestGiB = float64(statInt(o.StatsLoad, "bytes_uploaded")) / (1 << 30)
	f.classALoad = statInt(o.StatsLoad, "s3_class_a")
	f.classAIdle = statInt(o.StatsIdle, "s3_class_a") - f.classALoad
	if f.ingestGiB > 0 {
		f.classAPerGiB = float64(f.classALoad) / f.ingestGiB
	}
	return f
}

// fetchGrowthLimit is how much slower the Fetch at offset 0 may be with the
// long history than with 2 GiB before "does not grow" counts as missed:
// one cold Fetch is a footer GET and a block GET, and its median over 8
// partitions still moves by tens of percent between runs here.
const fetchGrowthLimit = 1.5

func objtierTargets(o *objtierResults) []target {
	f := figuresOf(o)
	ts := []target{
		{"cold replay (loadtest consume, median) vs raw ranged GET, 5 in flight (median)", ratio(f.consumeMed, f.raw5Med), ">= 0.8x", f.consumeMed >= 0.8*f.raw5Med},
	}
	if len(f.warm) > 0 {
		ts = append(ts, target{"cold replay on a broker that has run one replay before (data still cold; loadtest consume, median) vs raw ranged GET (median)", ratio(f.warmMed, f.raw5Med), ">= 0.8x", f.warmMed >= 0.8*f.raw5Med})
	}
	ts = append(ts, []target{
		{"class A requests per GiB ingested, compaction included", fmt.Sprintf("%.0f", f.classAPerGiB), "<= 160", f.classAPerGiB <= 160},
		{fmt.Sprintf("class A requests while idle (%s)", "after load settled"), strconv.FormatInt(f.classAIdle, 10), "0", f.classAIdle == 0},
	}...)
	// The lookup cost is judged with the store's page cache warm in both
	// histories: a long history outgrows the page cache, and a GET from
	// the disk says nothing about the broker's lookup. Older results
	// without warm runs fall back to the cold figures.
	base, long, what := o.FetchBase.warmMedian(), o.FetchLong.warmMedian(), "broker cold, MinIO page cache warm"
	if base <= 0 || long <= 0 {
		base, long, what = o.FetchBase.startMedian(), o.FetchLong.startMedian(), "cold"
	}
	if base > 0 && long > 0 {
		g := long / base
		ts = append(ts, target{
			fmt.Sprintf("Fetch at offset 0 (%s), %s history vs %s (median of %d restarts' medians over 8 partitions)", what, gib(o.HistoryBytes), gib(o.Count*1024), len(o.FetchLong.Start)),
			fmt.Sprintf("%.2fx (%.1f ms vs %.1f ms)", g, long, base),
			fmt.Sprintf("<= %.1fx", fetchGrowthLimit), g <= fetchGrowthLimit,
		})
	}
	return ts
}

func gib(b int64) string { return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30)) }

func writeObjtierTable(w io.Writer, o *objtierResults) {
	row := func(cells ...string) { fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | ")) }
	f := figuresOf(o)
	fmt.Fprintf(w, "\n### Object tier (Shale on MinIO, both on this machine)\n\n")
	row("figure", "measured")
	row("---", "---")
	p := produceOf(o.Produce)
	lat := ""
	if p.Latency != nil {
		lat = fmt.Sprintf(", ack p50 %s, p99 %s", ms(p.Latency.P50), ms(p.Latency.P99))
	}
	row(fmt.Sprintf("produce %d x 1 KiB, acks=all", o.Count), rate(p)+lat)
	row("cold replay, `shale loadtest consume` (4 consumers), MB/s per run", fmt.Sprintf("%s (median %.1f)", listMB(f.consume), f.consumeMed))
	if len(f.warm) > 0 {
		row("cold replay again on the same broker (data still cold), `shale loadtest consume`, MB/s per run", fmt.Sprintf("%s (median %.1f)", listMB(f.warm), f.warmMed))
	}
	row("cold replay, raw Fetch requests (`objtier replay`, 4 clients), MB/s per run", fmt.Sprintf("%s (median %.1f)", listMB(f.replay), f.replayMed))
	row("raw ranged GET of the compacted objects, 4 MiB, 5 in flight, MB/s per run", fmt.Sprintf("%s (median %.1f)", listMB(f.raw5), f.raw5Med))
	if o.RawGet16 != nil {
		row("raw ranged GET, 4 MiB, 16 in flight (the cold reader's cap)", fmt.Sprintf("%.1f MB/s", o.RawGet16.MBPerSec))
	}
	row("cold replay / raw GET (loadtest; raw Fetch)", ratio(f.consumeMed, f.raw5Med)+"; "+ratio(f.replayMed, f.raw5Med))
	row("ingested (uploaded WAL objects)", fmt.Sprintf("%.2f GiB in %d objects", f.ingestGiB, statInt(o.StatsLoad, "objects_uploaded")))
	row("class A (PUT, POST, LIST) during load + compaction", fmt.Sprintf("%d = %.0f per GiB ingested ($%.5f per GiB at $0.005 per 1,000)", f.classALoad, f.classAPerGiB, f.classAPerGiB*0.005/1000))
	row("of which WAL object PUTs", fmt.Sprintf("%d = %.0f per GiB", statInt(o.StatsLoad, "objects_uploaded"), float64(statInt(o.StatsLoad, "objects_uploaded"))/max(f.ingestGiB, 1e-9)))
	row("compaction objects written (log lines)", strconv.Itoa(o.Compactions))
	row("class B (GET, HEAD) during load + compaction", strconv.FormatInt(statInt(o.StatsLoad, "s3_class_b"), 10))
	row("bytes PUT / bytes ingested (write amplification of compaction)", ratio(float64(statInt(o.StatsLoad, "s3_bytes_in")), float64(statInt(o.StatsLoad, "bytes_uploaded"))))
	row("class A while idle after the load", strconv.FormatInt(f.classAIdle, 10))
	fr := func(rs []fetchResult) string {
		if len(rs) == 0 {
			return "n/a"
		}
		var runs []string
		lo, hi := rs[0].MinMs, rs[0].MaxMs
		for _, r := range rs {
			runs = append(runs, fmt.Sprintf("%.1f", r.MedianMs))
			lo, hi = min(lo, r.MinMs), max(hi, r.MaxMs)
		}
		return fmt.Sprintf("medians %s ms (median %.1f; single requests %.1f to %.1f)", strings.Join(runs, ", "), medianOfRuns(rs), lo, hi)
	}
	h1 := gib(o.Count * 1024)
	row("cold Fetch at offset 0 (1 MiB, one per partition), "+h1+" history", fr(o.FetchBase.Start))
	row("Fetch at the tail (last record), "+h1+" history, same cold restarts", fr(o.FetchBase.Tail))
	if len(o.FetchBase.Warm) > 0 {
		row("Fetch at offset 0 after another restart (broker cold, MinIO page cache warm), "+h1+" history", fr(o.FetchBase.Warm))
	}
	if len(o.FetchLong.Start) > 0 {
		hn := gib(o.HistoryBytes)
		row("cold Fetch at offset 0, "+hn+" history", fr(o.FetchLong.Start))
		row("Fetch at the tail, "+hn+" history", fr(o.FetchLong.Tail))
		if len(o.FetchLong.Warm) > 0 {
			row("Fetch at offset 0, broker cold, MinIO page cache warm, "+hn+" history", fr(o.FetchLong.Warm))
		}
		if o.Grow != nil {
			row("growing the history (acks=all)", fmt.Sprintf("%s; %.0f s with settling", rate(produceOf(o.Grow)), o.HistorySeconds))
		}
	}
	if o.MinioBytes > 0 {
		row("MinIO data dir at the end (compaction garbage not yet collected)", gib(o.MinioBytes))
	}
	writeColdCPUTable(w, o, f)
}

// writeColdCPUTable is the cold reads' CPU by process: on a machine where
// MinIO, the broker and the client share the cores, the sum bounds the
// rate, and its ratio between a replay and raw GET bounds theirs.
func writeColdCPUTable(w io.Writer, o *objtierResults, f objtierFigures) {
	if len(o.CPU) == 0 {
		return
	}
	row := func(cells ...string) { fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | ")) }
	cores := o.Cores
	if cores <= 0 {
		cores = 2
	}
	measured := map[string]float64{"consume": f.consumeMed, "consume-warm": f.warmMed, "replay": f.replayMed, "rawget5": f.raw5Med}
	fmt.Fprintf(w, "\n### Cold reads: CPU by process (user+system CPU-s per GB read, GB = 10^9 bytes)\n\n")
	row("run", "runs, GB read", "MinIO", "broker", "client", "total", fmt.Sprintf("%d cores allow (%d / total)", cores, cores), "measured (median)")
	row("---", "---", "---", "---", "---", "---", "---", "---")
	sums := map[string]cpuPerGB{}
	for _, k := range coldRunKinds {
		runs := o.CPU[k.kind]
		if len(runs) == 0 {
			continue
		}
		c := sumCPU(runs)
		sums[k.kind] = c
		broker := fmt.Sprintf("%.2f", c.broker)
		if k.kind == "rawget5" {
			broker = "none running"
		}
		row(k.name, fmt.Sprintf("%d, %.2f", c.runs, float64(c.bytes)/1e9), fmt.Sprintf("%.2f", c.minio), broker,
			fmt.Sprintf("%.2f", c.client), fmt.Sprintf("%.2f", c.total), fmt.Sprintf("%.2f GB/s", c.allows(cores)),
			fmt.Sprintf("%.1f MB/s", measured[k.kind]))
	}
	raw, ok := sums["rawget5"]
	if !ok || raw.total <= 0 {
		return
	}
	var lines []string
	for _, k := range coldRunKinds[:3] {
		c, ok := sums[k.kind]
		if !ok || c.total <= 0 {
			continue
		}
		lines = append(lines, fmt.Sprintf("%s %s (measured %s)", k.short, ratio(raw.total, c.total), ratio(measured[k.kind], f.raw5Med)))
	}
	fmt.Fprintf(w, "\nCPU bound of each replay against raw GET (raw GET's total CPU-s per GB / the replay's): %s.\n", strings.Join(lines, "; "))
}

func writeScaleTable(w io.Writer, runs []scaleRun) {
	row := func(cells ...string) { fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | ")) }
	fmt.Fprintf(w, "\n### Scale: one broker, many partitions (100 B records, acks=1, 4 producers)\n\n")
	row("partitions", "produce", "ack p99", "peak RSS under load", "start-up to listener", "start-up to full metadata", "RSS after start-up", "WAL on disk at restart")
	row("---", "---", "---", "---", "---", "---", "---", "---")
	for _, r := range runs {
		p := produceOf(r.Produce)
		p99 := "n/a"
		if p.Latency != nil {
			p99 = ms(p.Latency.P99)
		}
		row(strconv.Itoa(r.Partitions), rate(p), p99, fmt.Sprintf("%.0f MiB", float64(r.PeakRSSKiB)/1024),
			fmt.Sprintf("%.2f s", r.Startup.ListenerSeconds), fmt.Sprintf("%.2f s", r.Startup.MetadataSeconds),
			fmt.Sprintf("%.0f MiB", float64(r.Startup.RSSBytes)/(1<<20)), fmt.Sprintf("%.0f MiB", float64(r.WALBytes)/(1<<20)))
	}
}
