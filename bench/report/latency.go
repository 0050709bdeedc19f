package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/shalelog/shale/loadtest"
)

// latencyResults are issue 14's runs (bench/run.sh, "Latency end to
// end"): 20,000 records/s end to end with acks=all at a 250ms and a 50ms
// segment age and with acks=1, and sequential acks=all writes one at a
// time with the WAL objects (PUTs) they caused. Any may be nil when the
// step did not run.
type latencyResults struct {
	All250, All50, One250 *loadtest.Summary
	// All250Pipe and All50Pipe are acks=all from a pipelining producer
	// (idempotence off, 100 requests in flight).
	All250Pipe, All50Pipe *loadtest.Summary
	Seq                   *loadtest.Summary
	SeqPuts               int64 // -1 when not counted
}

// cpuResults are the broker's CPU seconds (from /proc/PID/stat) during a
// profile and the bytes that profile moved.
type cpuResults struct {
	// Produce1K and Consume100 are the windows of those profiles on the
	// broker that ran all four, one after another.
	Produce1K, Consume100, ColdReplay cpuFigure
	// ColdReplayWarm is the second replay of each fresh broker.
	ColdReplayWarm cpuFigure
	// Step is bench/run.sh's broker CPU step (nil when it did not run).
	Step *cpuStep
}

// cpuStep is WORK/cpu: a fresh broker, a warm-up load uploaded in full,
// then Records of 1 KiB produced; the broker's CPU seconds over the produce
// alone and until all of it was uploaded.
//
//	cpu/cpu.json      {"records", "warmup_records", "produce_cpu_seconds",
//	                   "uploaded_cpu_seconds", "produce_seconds",
//	                   "uploaded_seconds"}
//	cpu/produce.json  the load's `shale loadtest --json` summary
type cpuStep struct {
	Records            int64   `json:"records"`
	WarmupRecords      int64   `json:"warmup_records"`
	ProduceCPUSeconds  float64 `json:"produce_cpu_seconds"`
	UploadedCPUSeconds float64 `json:"uploaded_cpu_seconds"`
	ProduceSeconds     float64 `json:"produce_seconds"`
	UploadedSeconds    float64 `json:"uploaded_seconds"`
	Produce            *loadtest.Summary
}

// produced and uploaded are the step's two windows with the bytes produced.
func (s *cpuStep) produced() cpuFigure {
	return cpuFigure{s.ProduceCPUSeconds, produceOf(s.Produce).Bytes}
}

func (s *cpuStep) uploaded() cpuFigure {
	return cpuFigure{s.UploadedCPUSeconds, produceOf(s.Produce).Bytes}
}

// loadCPUStep reads WORK/cpu; nil when the step did not run.
func loadCPUStep(dir string) (*cpuStep, error) {
	d := filepath.Join(dir, "cpu")
	s, err := optionalJSON[cpuStep](filepath.Join(d, "cpu.json"))
	if err != nil || s == nil {
		return nil, err
	}
	if s.Produce, err = optionalJSON[loadtest.Summary](filepath.Join(d, "produce.json")); err != nil {
		return nil, err
	}
	if s.Produce == nil || produceOf(s.Produce).Bytes <= 0 {
		return nil, fmt.Errorf("%s: cpu.json without the produce summary it measured", d)
	}
	if s.UploadedCPUSeconds < s.ProduceCPUSeconds {
		return nil, fmt.Errorf("%s: CPU until uploaded (%.3f s) below CPU of the produce alone (%.3f s)", d, s.UploadedCPUSeconds, s.ProduceCPUSeconds)
	}
	return s, nil
}

type cpuFigure struct {
	Seconds float64
	Bytes   int64
}

// perGB is CPU-seconds per 10^9 bytes; 0 when not measured.
func (c cpuFigure) perGB() float64 {
	if c.Bytes <= 0 || c.Seconds <= 0 {
		return 0
	}
	return c.Seconds / (float64(c.Bytes) / 1e9)
}

func loadLatency(dir string) (*latencyResults, error) {
	l := &latencyResults{SeqPuts: -1}
	var err error
	for name, dst := range map[string]**loadtest.Summary{
		"lat-age250-all": &l.All250, "lat-age50-all": &l.All50, "lat-age250-1": &l.One250, "lat-seq": &l.Seq,
		"lat-age250-all-pipe": &l.All250Pipe, "lat-age50-all-pipe": &l.All50Pipe,
	} {
		if *dst, err = optionalJSON[loadtest.Summary](filepath.Join(dir, name+".json")); err != nil {
			return nil, err
		}
	}
	if l.All250 == nil && l.All50 == nil && l.One250 == nil && l.Seq == nil && l.All250Pipe == nil && l.All50Pipe == nil {
		return nil, nil
	}
	if n, err := readInt(filepath.Join(dir, "lat-seq.puts")); err == nil {
		l.SeqPuts = n
	}
	return l, nil
}

// readCPU reads a .cpu file bench/run.sh wrote (0 when absent).
func readCPU(path string) float64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	v, _ := strconv.ParseFloat(strings.TrimSpace(string(b)), 64)
	return v
}

func loadCPU(dir string, r *results) (cpuResults, error) {
	var c cpuResults
	var err error
	if c.Step, err = loadCPUStep(dir); err != nil {
		return c, err
	}
	if s := r.Shale.Produce1K; s != nil {
		c.Produce1K = cpuFigure{readCPU(filepath.Join(dir, "shale-produce1k.cpu")), produceOf(s).Bytes}
	}
	if s := r.Shale.Consume100; s != nil {
		c.Consume100 = cpuFigure{readCPU(filepath.Join(dir, "shale-consume100.cpu")), consumeOf(s).Bytes}
	}
	if o := r.Objtier; o != nil && len(o.Consume) > 0 {
		// The median run's figure would need the runs' own bytes; the
		// replays read the same topic, so the sums give the mean.
		for i, s := range o.Consume {
			c.ColdReplay.Seconds += readCPU(filepath.Join(dir, fmt.Sprintf("ot-consume-%d.cpu", i+1)))
			c.ColdReplay.Bytes += consumeOf(s).Bytes
		}
		for i, s := range o.ConsumeWarm {
			c.ColdReplayWarm.Seconds += readCPU(filepath.Join(dir, fmt.Sprintf("ot-consume-warm-%d.cpu", i+1)))
			c.ColdReplayWarm.Bytes += consumeOf(s).Bytes
		}
	}
	return c, nil
}

// The producers of the acks=all runs: franz-go's default, idempotent with at
// most 5 requests in flight per broker, and one that pipelines.
const (
	idempotentClient = "idempotent producer (5 requests in flight)"
	pipeClient       = "pipelining producer (100 requests in flight, idempotence off)"
)

// defaultSegmentAge is `shale dev`'s wal.segment_max_age.
const defaultSegmentAge = 250 * time.Millisecond

// seqBudget is the PUT budget of n sequential writes taking elapsed at a
// segment age: the saved burst (wal.upload_burst, 10 minutes of uploads
// by default) plus one upload per age.
func seqBudget(elapsed time.Duration) int64 {
	const burst = 10 * time.Minute
	return int64((burst + elapsed) / defaultSegmentAge)
}

func latencyTargets(l *latencyResults, c cpuResults, r *results) []target {
	var ts []target
	ackP99 := func(s *loadtest.Summary) time.Duration { return p99Of(s) }
	consumeP99 := func(s *loadtest.Summary) time.Duration {
		if p := consumeOf(s); p.Latency != nil {
			return p.Latency.P99
		}
		return 0
	}
	if l != nil {
		for _, run := range []struct {
			s      *loadtest.Summary
			age    time.Duration
			client string
		}{
			{l.All250Pipe, defaultSegmentAge, pipeClient}, {l.All250, defaultSegmentAge, idempotentClient},
			{l.All50Pipe, 50 * time.Millisecond, pipeClient}, {l.All50, 50 * time.Millisecond, idempotentClient},
		} {
			if run.s == nil {
				continue
			}
			p99, limit := ackP99(run.s), run.age+50*time.Millisecond
			ts = append(ts, target{fmt.Sprintf("acks=all produce p99, 20,000 rec/s, segment age %s, upload burst spent, %s", run.age, run.client),
				fmt.Sprintf("%s (%s of the limit)", ms(p99), ratio(float64(p99), float64(limit))),
				fmt.Sprintf("<= %s", ms(limit)), p99 > 0 && p99 <= limit})
		}
		s, client := l.All250Pipe, pipeClient
		if s == nil {
			s, client = l.All250, idempotentClient
		}
		if s != nil {
			gap := consumeP99(s) - ackP99(s)
			ts = append(ts, target{fmt.Sprintf("produce → consume p99 minus acks=all ack p99 (age 250ms, burst spent, %s)", client),
				fmt.Sprintf("%s (consume p99 %s, ack p99 %s)", ms(gap), ms(consumeP99(s)), ms(ackP99(s))),
				"<= 10 ms", consumeP99(s) > 0 && gap <= 10*time.Millisecond})
		}
		if s := l.One250; s != nil {
			p99 := ackP99(s)
			ts = append(ts, target{"acks=1 produce p99 at 20,000 rec/s, no linger", fmt.Sprintf("%s (%s of the limit)", ms(p99), ratio(float64(p99), float64(5*time.Millisecond))),
				"<= 5 ms", p99 > 0 && p99 <= 5*time.Millisecond})
		}
		if s := l.Seq; s != nil {
			el := s.Elapsed
			n := produceOf(s).Records
			budget := seqBudget(el)
			ts = append(ts, target{fmt.Sprintf("%d sequential acks=all writes, one in flight, embedded store", n),
				fmt.Sprintf("%.2f s (%s of the limit), %d PUTs (budget %d)", el.Seconds(), ratio(el.Seconds(), 10), l.SeqPuts, budget),
				"<= 10 s, PUTs within budget", el > 0 && el <= 10*time.Second && produceOf(s).Errors == 0 && l.SeqPuts >= 0 && l.SeqPuts <= budget})
		}
	}
	s1, k1 := produceOf(r.Shale.Produce1K), produceOf(r.Kfake.Produce1K)
	ts = append(ts, target{"produce 1 KiB vs kfake, same client, incompressible", ratio(s1.MBPerSec, k1.MBPerSec), ">= 1.0x", k1.MBPerSec > 0 && s1.MBPerSec >= k1.MBPerSec})
	if st := c.Step; st != nil {
		// The complete cost: the produce and the upload of what it wrote.
		v, p := st.uploaded().perGB(), st.produced().perGB()
		ts = append(ts, target{cpuTargetName, fmt.Sprintf("%.2f CPU-s/GB until uploaded (%s of the limit; produce window alone %.2f)", v, ratio(v, cpuLimit), p),
			fmt.Sprintf("<= %.1f CPU-s/GB", cpuLimit), v > 0 && v <= cpuLimit})
	} else if v := c.Produce1K.perGB(); v > 0 {
		// Results from before the CPU step: the produce profile's window.
		ts = append(ts, target{cpuTargetName, fmt.Sprintf("%.2f CPU-s/GB, produce profile's window (%s of the limit)", v, ratio(v, cpuLimit)), fmt.Sprintf("<= %.1f CPU-s/GB", cpuLimit), v <= cpuLimit})
	}
	return ts
}

const (
	cpuTargetName = "broker CPU per GB produced (acks=1, 1 KiB, incompressible)"
	cpuLimit      = 1.5 // CPU-s per GB
)

func writeLatencyTable(w io.Writer, l *latencyResults, c cpuResults) {
	row := func(cells ...string) { fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | ")) }
	if l != nil {
		fmt.Fprintf(w, "\n### Latency end to end (8 partitions, 100 B, 20,000 rec/s, 1 producer, 1 consumer)\n\n")
		for _, s := range []*loadtest.Summary{l.All250, l.All250Pipe, l.All50, l.All50Pipe, l.One250} {
			if s != nil && s.Warmup > 0 {
				fmt.Fprintf(w, "Latencies leave out the records sent in each run's first %s (`--warmup`): the client's start-up\n"+
					"(connections, metadata, and franz-go keeping one request per partition in flight until\n"+
					"its first answer, which at a 250 ms age is the first half second) is not the steady state.\n"+
					"Throughput counts every record.\n\n", s.Warmup)
				break
			}
		}
		row("run", "produce → ack p50 / p99", "produce → consume p50 / p99")
		row("---", "---", "---")
		pc := func(p *loadtest.Phase) string {
			if p == nil || p.Latency == nil {
				return "n/a"
			}
			return fmt.Sprintf("%s / %s", ms(p.Latency.P50), ms(p.Latency.P99))
		}
		for _, run := range []struct {
			name string
			s    *loadtest.Summary
		}{
			{"acks=all, segment age 250ms, " + idempotentClient, l.All250}, {"acks=all, segment age 250ms, " + pipeClient, l.All250Pipe},
			{"acks=all, segment age 50ms, " + idempotentClient, l.All50}, {"acks=all, segment age 50ms, " + pipeClient, l.All50Pipe},
			{"acks=1, segment age 250ms, no linger", l.One250},
		} {
			if run.s != nil {
				row(run.name, pc(run.s.Produce), pc(run.s.Consume))
			}
		}
		if s := l.Seq; s != nil {
			row(fmt.Sprintf("%d sequential acks=all writes", produceOf(s).Records), fmt.Sprintf("%s in %.2f s, %d PUTs", pc(s.Produce), s.Elapsed.Seconds(), l.SeqPuts), "")
		}
	}
	if c.Step != nil || c.Produce1K.perGB() > 0 || c.Consume100.perGB() > 0 || c.ColdReplay.perGB() > 0 {
		fmt.Fprintf(w, "\n### Broker CPU per byte (/proc/PID/stat utime+stime of the broker process)\n\n")
		row("window", "CPU-s", "bytes", "CPU-s per GB")
		row("---", "---", "---", "---")
		if st := c.Step; st != nil {
			p := produceOf(st.Produce)
			what := fmt.Sprintf("%d x 1 KiB, acks=1, fresh broker after a %d-record warm-up", st.Records, st.WarmupRecords)
			row(fmt.Sprintf("produce %s: the produce alone (%.1f s, %.1f MB/s)", what, st.ProduceSeconds, p.MBPerSec),
				fmt.Sprintf("%.2f", st.ProduceCPUSeconds), strconv.FormatInt(p.Bytes, 10), fmt.Sprintf("%.2f", st.produced().perGB()))
			row(fmt.Sprintf("the same, until all of it was uploaded (%.1f s from the start)", st.UploadedSeconds),
				fmt.Sprintf("%.2f", st.UploadedCPUSeconds), strconv.FormatInt(p.Bytes, 10), fmt.Sprintf("%.2f", st.uploaded().perGB()))
		}
		for _, f := range []struct {
			name string
			c    cpuFigure
		}{
			{"produce 1 KiB, acks=1: the profile's own window, on the broker of the four profiles", c.Produce1K},
			{"hot consume 100 B: the profile's own window, same broker", c.Consume100},
			{"cold replay, fresh broker (object tier, all runs)", c.ColdReplay},
			{"cold replay, second on the same broker", c.ColdReplayWarm},
		} {
			if f.c.Bytes > 0 {
				row(f.name, fmt.Sprintf("%.2f", f.c.Seconds), strconv.FormatInt(f.c.Bytes, 10), fmt.Sprintf("%.2f", f.c.perGB()))
			}
		}
	}
}
