package loadtest

import (
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// Summary is the outcome of one run. Its JSON form is what
// `shale loadtest --json` prints and what the bench report reads;
// durations are integer nanoseconds and MB is 10^6 bytes.
type Summary struct {
	Mode        Mode    `json:"mode"`
	Topic       string  `json:"topic"`
	Partitions  int32   `json:"partitions"`
	RecordSize  int     `json:"record_size"`
	Producers   int     `json:"producers"`
	Consumers   int     `json:"consumers"`
	Acks        string  `json:"acks"`
	Compression string  `json:"compression"`
	Rate        float64 `json:"target_rate"`
	// Elapsed is the wall time of the whole run, setup excluded.
	Elapsed time.Duration `json:"elapsed_ns"`
	// Warmup is how long at the start the latencies were left out of
	// (records sent in it are still counted in throughput).
	Warmup  time.Duration `json:"warmup_ns,omitempty"`
	Produce *Phase        `json:"produce,omitempty"`
	Consume *Phase        `json:"consume,omitempty"`
	// Errors is the number of failed records (produce) and fetch errors
	// (consume); FirstError is the first of them.
	Errors     int64  `json:"errors"`
	FirstError string `json:"first_error,omitempty"`
}

// Phase is the throughput and latency of the produce or consume side.
type Phase struct {
	Records int64 `json:"records"`
	Bytes   int64 `json:"bytes"`
	Errors  int64 `json:"errors"`
	// Elapsed runs from the phase's first request to its last record.
	Elapsed       time.Duration `json:"elapsed_ns"`
	RecordsPerSec float64       `json:"records_per_sec"`
	MBPerSec      float64       `json:"mb_per_sec"`
	// Latency is produce → acknowledgement for the produce phase (with
	// acks=0: produce → written to the socket) and produce → consume for
	// the consume phase of e2e; nil when not measured (plain consume).
	Latency *Latency `json:"latency,omitempty"`
}

// Latency holds percentiles read from a Histogram.
type Latency struct {
	Count uint64        `json:"count"`
	Min   time.Duration `json:"min_ns"`
	Mean  time.Duration `json:"mean_ns"`
	P50   time.Duration `json:"p50_ns"`
	P90   time.Duration `json:"p90_ns"`
	P99   time.Duration `json:"p99_ns"`
	P999  time.Duration `json:"p99_9_ns"`
	Max   time.Duration `json:"max_ns"`
}

// LatencyOf reads the percentiles of h, or returns nil when h is empty.
func LatencyOf(h *Histogram) *Latency {
	if h.Count() == 0 {
		return nil
	}
	return &Latency{
		Count: h.Count(),
		Min:   time.Duration(h.Min()),
		Mean:  time.Duration(h.Mean()),
		P50:   time.Duration(h.Percentile(50)),
		P90:   time.Duration(h.Percentile(90)),
		P99:   time.Duration(h.Percentile(99)),
		P999:  time.Duration(h.Percentile(99.9)),
		Max:   time.Duration(h.Max()),
	}
}

func newPhase(records, bytes, errs int64, elapsed time.Duration, lat *Histogram) *Phase {
	p := &Phase{Records: records, Bytes: bytes, Errors: errs, Elapsed: elapsed, Latency: LatencyOf(lat)}
	if s := elapsed.Seconds(); s > 0 {
		p.RecordsPerSec = float64(records) / s
		p.MBPerSec = float64(bytes) / 1e6 / s
	}
	return p
}

// WriteJSON writes s as one indented JSON object.
func (s *Summary) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}

// WriteText writes s for people: one line per phase and one per latency.
func (s *Summary) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "%s %s: %d partitions, %d-byte records, %d producers, %d consumers, acks=%s, compression=%s",
		s.Mode, s.Topic, s.Partitions, s.RecordSize, s.Producers, s.Consumers, s.Acks, s.Compression)
	if s.Rate > 0 {
		fmt.Fprintf(w, ", target %.0f records/s", s.Rate)
	}
	fmt.Fprintf(w, "\n")
	writePhase := func(name, latName string, p *Phase) {
		if p == nil {
			return
		}
		fmt.Fprintf(w, "%-8s %d records, %.1f MB in %s: %.0f records/s, %.2f MB/s, %d errors\n",
			name+":", p.Records, float64(p.Bytes)/1e6, p.Elapsed.Round(time.Millisecond), p.RecordsPerSec, p.MBPerSec, p.Errors)
		if l := p.Latency; l != nil {
			warm := ""
			if s.Warmup > 0 {
				warm = fmt.Sprintf(" sent after the first %s", s.Warmup)
			}
			fmt.Fprintf(w, "         latency %s: p50 %s  p90 %s  p99 %s  p99.9 %s  max %s  (mean %s, %d samples%s)\n",
				latName, fmtLatency(l.P50), fmtLatency(l.P90), fmtLatency(l.P99), fmtLatency(l.P999), fmtLatency(l.Max), fmtLatency(l.Mean), l.Count, warm)
		}
	}
	writePhase("produce", "produce→ack", s.Produce)
	writePhase("consume", "produce→consume", s.Consume)
	if s.FirstError != "" {
		fmt.Fprintf(w, "first error: %s\n", s.FirstError)
	}
	_, err := fmt.Fprintf(w, "elapsed: %s\n", s.Elapsed.Round(time.Millisecond))
	return err
}

// fmtLatency prints a duration in milliseconds with three significant
// figures, the unit the targets are stated in.
func fmtLatency(d time.Duration) string {
	ms := float64(d) / 1e6
	switch {
	case ms >= 100:
		return fmt.Sprintf("%.0fms", ms)
	case ms >= 10:
		return fmt.Sprintf("%.1fms", ms)
	case ms >= 1:
		return fmt.Sprintf("%.2fms", ms)
	}
	return fmt.Sprintf("%.3fms", ms)
}
