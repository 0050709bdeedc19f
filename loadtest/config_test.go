package loadtest

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

func TestParseByteSize(t *testing.T) {
	for in, want := range map[string]int64{
		"0": 0, "100": 100, "100B": 100, "1KiB": 1024, "64KiB": 64 << 10, "1MiB": 1 << 20,
		"2GiB": 2 << 30, "1KB": 1000, "5MB": 5e6, " 3 MiB ": 3 << 20,
	} {
		got, err := ParseByteSize(in)
		if err != nil || got != want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MiB", "-1", "1.5MiB", "1TiB", "ten", "99999999999999999999", "9223372036854775807GiB"} {
		if got, err := ParseByteSize(in); err == nil {
			t.Errorf("ParseByteSize(%q) = %d, want an error", in, got)
		}
	}
}

func FuzzParseByteSize(f *testing.F) {
	for _, s := range []string{"1MiB", "100", "-5KB", "1e3", "4611686018427387904"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseByteSize(s)
		if err == nil && n < 0 {
			t.Fatalf("ParseByteSize(%q) = %d without error", s, n)
		}
	})
}

func parse(t *testing.T, mode Mode, args ...string) (Config, error) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Mode = mode
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfg.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	return cfg, cfg.Validate()
}

func TestFlagsMapOntoConfig(t *testing.T) {
	cfg, err := parse(t, ModeProduce, "--brokers", "127.0.0.1:1, 127.0.0.1:2", "--topic", "lt", "--create-topic",
		"--partitions", "8", "--record-size", "1KiB", "--producers", "4", "--acks", "all", "--compression", "zstd",
		"--linger", "5ms", "--batch-bytes", "1MiB", "--rate", "1000", "--duration", "30s", "--count", "7",
		"--fetch-partition-bytes", "4MiB", "--warmup", "2s")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Brokers) != 2 || cfg.Brokers[1] != "127.0.0.1:2" || cfg.Topic != "lt" || !cfg.CreateTopic ||
		cfg.Partitions != 8 || cfg.RecordSize != 1024 || cfg.Producers != 4 || cfg.Acks != "all" ||
		cfg.Compression != "zstd" || cfg.Linger != 5*time.Millisecond || cfg.BatchBytes != 1<<20 ||
		cfg.Rate != 1000 || cfg.Duration != 30*time.Second || cfg.Count != 7 || cfg.FetchPartitionBytes != 4<<20 ||
		cfg.Warmup != 2*time.Second {
		t.Fatalf("config = %+v", cfg)
	}
}

func TestBadArgumentsAreErrors(t *testing.T) {
	cases := []struct {
		mode Mode
		args []string
		want string
	}{
		{ModeProduce, []string{"--count", "10", "--acks", "2"}, "--acks"},
		{ModeProduce, []string{"--count", "10", "--compression", "brotli"}, "--compression"},
		{ModeProduce, []string{}, "--duration or --count"},
		{ModeProduce, []string{"--count", "-1"}, "--count"},
		{ModeProduce, []string{"--count", "1", "--producers", "0"}, "--producers"},
		{ModeProduce, []string{"--count", "1", "--rate", "-3"}, "--rate"},
		{ModeProduce, []string{"--count", "1", "--record-size", "1GiB"}, "--record-size"},
		{ModeProduce, []string{"--count", "1", "--batch-bytes", "0"}, "--batch-bytes"},
		{ModeProduce, []string{"--count", "1", "--max-in-flight", "-1"}, "--max-in-flight"},
		{ModeProduce, []string{"--count", "1", "--topic", ""}, "--topic"},
		{ModeProduce, []string{"--count", "1", "--create-topic", "--partitions", "0"}, "--partitions"},
		{ModeProduce, []string{"--count", "1", "--warmup", "-1s"}, "--warmup"},
		{ModeProduce, []string{"--duration", "2s", "--warmup", "2s"}, "--warmup"},
		{ModeConsume, []string{"--fetch-bytes", "1MiB", "--fetch-partition-bytes", "2MiB"}, "--fetch-partition-bytes"},
		{ModeProduce, []string{"--count", "x"}, "count"},
		{ModeProduce, []string{"--brokers", ","}, "brokers"},
		{ModeE2E, []string{"--count", "1", "--record-size", "15"}, "e2e needs at least 16"},
		{ModeConsume, []string{"--consumers", "0"}, "--consumers"},
		{Mode("bogus"), []string{"--count", "1"}, "mode"},
	}
	for _, c := range cases {
		_, err := parse(t, c.mode, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %v: error %v, want one mentioning %q", c.mode, c.args, err, c.want)
		}
	}
	if _, err := parse(t, ModeConsume); err != nil {
		t.Errorf("consume without count or duration: %v, want it valid (reads to the end offsets)", err)
	}
}

func TestSplitCount(t *testing.T) {
	for _, c := range []struct {
		count int64
		n     int
	}{{0, 3}, {1, 3}, {2001, 3}, {10, 10}, {7, 1}} {
		parts := splitCount(c.count, c.n)
		var sum int64
		for _, p := range parts {
			sum += p
			if p < c.count/int64(c.n) || p > c.count/int64(c.n)+1 {
				t.Errorf("splitCount(%d, %d) = %v: uneven", c.count, c.n, parts)
			}
		}
		if sum != c.count {
			t.Errorf("splitCount(%d, %d) = %v: sum %d", c.count, c.n, parts, sum)
		}
	}
}
