package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shalelog/shale/internal/shaletest"
	"github.com/shalelog/shale/metrics"
	"github.com/shalelog/shale/node"
)

// produceCLI runs `shale produce args...` with stdin.
func produceCLI(t *testing.T, stdin string, args ...string) cliResult {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := runProduce(args, strings.NewReader(stdin), &stdout, &stderr)
	return cliResult{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

func consumeCLI(t *testing.T, args ...string) cliResult {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := runConsume(args, &stdout, &stderr)
	return cliResult{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

func decodeRecords(t *testing.T, out string) []recordJSON {
	t.Helper()
	var recs []recordJSON
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var r recordJSON
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("not a JSON record line %q: %v", sc.Text(), err)
		}
		recs = append(recs, r)
	}
	return recs
}

// TestProduceConsumeRoundTrip: records produced from stdin with keys,
// headers and binary values come back from `shale consume` as they went
// in, as JSON lines and through a --format template; a group consumer
// commits where it stopped and resumes there.
func TestProduceConsumeRoundTrip(t *testing.T) {
	n := shaletest.StartNode(t, nil)
	addr := n.Addr()
	shaletest.CreateTopic(t, addr, "cli", 2, nil)

	// JSON input: keys, headers, a binary value, an explicit partition.
	in := `{"key":"k1","value":"hello","headers":{"trace":"abc","n":"1"}}
{"key":"k2","value":"world","partition":1}

{"key":null,"value_base64":"AAEC/w=="}
{"key":"rep","value":"r","headers":[{"key":"x","value":"1"},{"key":"x","value":"2"},{"key":"bin","value_base64":"/w=="}]}
`
	r := produceCLI(t, in, "cli", "--brokers", addr, "--format", "json", "--output", "json")
	if r.code != exitOK {
		t.Fatalf("produce json:\n%s", r)
	}
	produced := decodeRecords(t, r.stdout)
	if len(produced) != 4 || produced[1].Partition != 1 {
		t.Fatalf("produce --output json: %+v", produced)
	}
	// Text input with a key delimiter and a header on every record,
	// through --bootstrap-server.
	r = produceCLI(t, "a:1\nb:2\n", "cli", "--bootstrap-server", addr, "--key-delimiter", ":", "-H", "src=text", "--partition", "0")
	if r.code != exitOK || !strings.Contains(r.stderr, "produced 2 records to cli") {
		t.Fatalf("produce text:\n%s", r)
	}

	r = consumeCLI(t, "cli", "-b", addr, "--to-end", "--output", "json")
	if r.code != exitOK {
		t.Fatalf("consume:\n%s", r)
	}
	got := map[string]recordJSON{}
	for _, rec := range decodeRecords(t, r.stdout) {
		k := "<nil>"
		if rec.Key != nil {
			k = *rec.Key
		}
		got[k] = rec
	}
	if len(got) != 6 {
		t.Fatalf("consumed %d distinct keys, want 6:\n%s", len(got), r.stdout)
	}
	if h := got["k1"]; *h.Value != "hello" || headerText(h.Headers) != "n=1,trace=abc" {
		t.Errorf("k1: %+v", h)
	}
	if h := got["rep"]; headerText(h.Headers) != "x=1,x=2,bin=\xff" {
		t.Errorf("repeated and binary headers: %q", headerText(h.Headers))
	}
	if b := got["<nil>"]; b.Value != nil || b.ValueBase64 != "AAEC/w==" {
		t.Errorf("binary value: %+v", b)
	}
	if a := got["a"]; *a.Value != "1" || headerText(a.Headers) != "src=text" || a.Partition != 0 {
		t.Errorf("a: %+v", a)
	}
	if k2 := got["k2"]; k2.Partition != 1 || k2.Offset != produced[1].Offset {
		t.Errorf("k2 at %d@%d, produced at %d@%d", k2.Partition, k2.Offset, produced[1].Partition, produced[1].Offset)
	}

	// The JSON output is produce's JSON input: a round trip through a
	// second topic gives the same keys, values and headers.
	shaletest.CreateTopic(t, addr, "cli-copy", 1, nil)
	var again strings.Builder
	for _, rec := range decodeRecords(t, r.stdout) {
		b, _ := json.Marshal(produceLine{Key: rec.Key, Value: rec.Value, KeyBase64: nilIfEmpty(rec.KeyBase64), ValueBase64: nilIfEmpty(rec.ValueBase64), Headers: rec.Headers})
		again.Write(append(b, '\n'))
	}
	if r2 := produceCLI(t, again.String(), "cli-copy", "-b", addr, "--format", "json"); r2.code != exitOK {
		t.Fatalf("produce the consumed JSON again:\n%s", r2)
	}
	r2 := consumeCLI(t, "cli-copy", "-b", addr, "--to-end", "--output", "json")
	if n := len(decodeRecords(t, r2.stdout)); n != 6 {
		t.Fatalf("copy holds %d records:\n%s", n, r2)
	}
	for _, rec := range decodeRecords(t, r2.stdout) {
		k := "<nil>"
		if rec.Key != nil {
			k = *rec.Key
		}
		o := got[k]
		if headerText(rec.Headers) != headerText(o.Headers) || rec.ValueBase64 != o.ValueBase64 || (rec.Value == nil) != (o.Value == nil) || (rec.Value != nil && *rec.Value != *o.Value) {
			t.Errorf("round trip of %s: %+v became %+v", k, o, rec)
		}
	}

	// A template, one partition, from an offset, bounded.
	r = consumeCLI(t, "cli:0", "--brokers", addr, "--offset", "0", "--to-offset", "100", "--num", "2", "--format", `%p|%o|%k|%v|%h\n`)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != exitOK || len(lines) != 2 || !strings.HasPrefix(lines[0], "0|0|") {
		t.Fatalf("consume --format:\n%s", r)
	}

	// From and to a time: every record was produced before now, and none
	// after it, so --to-time now ends at the high watermarks, and
	// --offset @now finds nothing to print.
	now := time.Now().Add(time.Second).UTC().Format(time.RFC3339)
	r = consumeCLI(t, "cli", "--brokers", addr, "--to-time", now, "--format", `%v\n`)
	if r.code != exitOK || strings.Count(r.stdout, "\n") != 6 {
		t.Fatalf("consume --to-time %s: want the 6 records\n%s", now, r)
	}
	r = consumeCLI(t, "cli", "--brokers", addr, "--offset", "@"+now, "--to-end")
	if r.code != exitOK || r.stdout != "" {
		t.Fatalf("consume --offset @%s --to-end: want nothing\n%s", now, r)
	}
	r = consumeCLI(t, "cli", "--brokers", addr, "--to-time", "2000-01-01T00:00:00Z", "--output", "json")
	if r.code != exitOK || r.stdout != "" {
		t.Fatalf("consume --to-time 2000: want nothing\n%s", r)
	}

	// Group mode: the first run commits, the second starts after it.
	r = consumeCLI(t, "cli", "--brokers", addr, "--group", "g1", "--num", "6", "--format", `%v\n`)
	if r.code != exitOK || strings.Count(r.stdout, "\n") != 6 {
		t.Fatalf("group consume:\n%s", r)
	}
	produceCLI(t, "later\n", "cli", "--brokers", addr, "--key", "z")
	r = consumeCLI(t, "cli", "--brokers", addr, "--group", "g1", "--to-end", "--format", `%k=%v\n`)
	if r.code != exitOK || strings.TrimSpace(r.stdout) != "z=later" {
		t.Fatalf("group resume: want only z=later\n%s", r)
	}
}

// TestProduceConsumeBadInput: bad input and arguments are reported with
// a message and exit code, never a panic or a hang.
func TestProduceConsumeBadInput(t *testing.T) {
	n := shaletest.StartNode(t, nil)
	addr := n.Addr()
	shaletest.CreateTopic(t, addr, "bad", 1, nil)
	for _, tc := range []struct {
		stdin string
		args  []string
		code  int
		want  string
	}{
		{"{not json\n", []string{"bad", "--format", "json"}, exitFailed, "stdin line 1: not a record object"},
		{`{"value":"x","value_base64":"eA=="}` + "\n", []string{"bad", "--format", "json"}, exitFailed, "both value and value_base64"},
		{"novalue\n", []string{"bad", "--key-delimiter", ":"}, exitFailed, `no key delimiter ":"`},
		{"", []string{"bad", "--acks", "2"}, exitUsage, "--acks"},
		{"", []string{}, exitUsage, "want exactly one topic"},
		{"x\n", []string{"bad", "--partition", "7"}, exitFailed, "0 of 1 records delivered"},
	} {
		r := produceCLI(t, tc.stdin, append(tc.args, "--brokers", addr, "--timeout", "10s")...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("produce %q < %q: want exit %d and %q\n%s", tc.args, tc.stdin, tc.code, tc.want, r)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"bad", "--offset", "yesterday"}, "--offset"},
		{[]string{"bad", "--to-end", "--to-offset", "3"}, "exclude each other"},
		{[]string{"bad", "--format", "%q"}, "unknown %q"},
		{[]string{"bad:0", "--group", "g"}, "cannot be chosen with --group"},
		{[]string{"bad", "--to-time", "soon"}, "--to-time"},
	} {
		r := consumeCLI(t, append(tc.args, "--brokers", addr)...)
		if r.code != exitUsage || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("consume %q: want exit 2 and %q\n%s", tc.args, tc.want, r)
		}
	}
	r := consumeCLI(t, "missing-topic", "--brokers", addr, "--to-end", "--timeout", "10s")
	if r.code != exitFailed || !strings.Contains(r.stderr, "missing-topic") {
		t.Errorf("consume of a missing topic:\n%s", r)
	}
}

// TestBootstrapServerSynonym: every admin command takes --bootstrap-server
// as --brokers, as Kafka's own tools name it.
func TestBootstrapServerSynonym(t *testing.T) {
	n := shaletest.StartNode(t, nil)
	r := runCLI(t, "topics", "create", "viaboot", "--bootstrap-server", n.Addr())
	if r.code != exitOK {
		t.Fatalf("topics create --bootstrap-server:\n%s", r)
	}
	r = runCLI(t, "topics", "list", "--bootstrap-server", n.Addr())
	if r.code != exitOK || !strings.Contains(r.stdout, "viaboot") {
		t.Fatalf("topics list --bootstrap-server:\n%s", r)
	}
	r = runCLI(t, "groups", "list", "--bootstrap-server", "not-an-address")
	if r.code != exitUsage || !strings.Contains(r.stderr, "not-an-address") {
		t.Fatalf("a bad --bootstrap-server is not reported:\n%s", r)
	}
}

// TestCostCommand: `shale cost` reads a running broker's cost meter.
func TestCostCommand(t *testing.T) {
	n := shaletest.StartNode(t, func(c *node.Config) { c.Observe.MetricsListen = "127.0.0.1:0" })
	shaletest.CreateTopic(t, n.Addr(), "priced", 1, nil)
	if r := produceCLI(t, strings.Repeat("some value\n", 100), "priced", "--brokers", n.Addr()); r.code != exitOK {
		t.Fatalf("produce:\n%s", r)
	}
	var stdout, stderr bytes.Buffer
	if code := runCost([]string{"--metrics-addr", n.MetricsAddr()}, &stdout, &stderr); code != exitOK {
		t.Fatalf("cost: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	for _, want := range []string{"TOPIC", "priced", "(cluster)", "(total)", "$/HOUR", "$0.005 per 1,000 class A"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("cost table lacks %q:\n%s", want, stdout.String())
		}
	}
	stdout.Reset()
	if code := runCost([]string{"--metrics-addr", n.MetricsAddr(), "-o", "json"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("cost json: exit %d\n%s", code, stderr.String())
	}
	var rep metrics.CostReport
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil || len(rep.Topics) != 1 || rep.Topics[0].BytesIngest == 0 {
		t.Fatalf("cost json: %v\n%s", err, stdout.String())
	}
	stderr.Reset()
	if code := runCost([]string{"--metrics-addr", "127.0.0.1:1", "--timeout", "5s"}, &stdout, &stderr); code != exitFailed || !strings.Contains(stderr.String(), "--metrics-listen") {
		t.Fatalf("cost against nothing: exit %d\n%s", code, stderr.String())
	}
}

// TestCompletionBash: the bash completion script parses and completes
// subcommands and flags.
func TestCompletionBash(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	var out bytes.Buffer
	if code := runCompletion([]string{"bash"}, &out, &out); code != exitOK {
		t.Fatalf("exit %d: %s", code, out.String())
	}
	script := filepath.Join(t.TempDir(), "shale.bash")
	os.WriteFile(script, out.Bytes(), 0o644)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for words, want := range map[string]string{
		"shale top":                    "topics",
		"shale topics desc":            "describe",
		"shale consume --to-e":         "--to-end",
		"shale dev --wal-max":          "--wal-max-bytes",
		"shale topics list --bootstra": "--bootstrap-server",
	} {
		w := strings.Fields(words)
		cmd := exec.CommandContext(ctx, bash, "-c", fmt.Sprintf(`source %s; COMP_WORDS=(%s); COMP_CWORD=%d; _shale; echo "${COMPREPLY[@]}"`, script, words, len(w)-1))
		got, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(got), want) {
			t.Errorf("complete %q: got %q (%v), want %q", words, got, err, want)
		}
	}
}

// TestTopicsDescribeStorage: `shale topics describe --storage` shows each
// partition's cold range and objects and its hot WAL range.
func TestTopicsDescribeStorage(t *testing.T) {
	n := shaletest.StartNode(t, func(c *node.Config) { c.Observe.MetricsListen = "127.0.0.1:0" })
	shaletest.CreateTopic(t, n.Addr(), "stored", 2, nil)
	if r := produceCLI(t, strings.Repeat("v\n", 50), "stored", "--brokers", n.Addr(), "--partition", "0"); r.code != exitOK {
		t.Fatalf("produce:\n%s", r)
	}
	r := runCLI(t, "topics", "describe", "stored", "--brokers", n.Addr(), "--metrics-addr", n.MetricsAddr())
	if r.code != exitOK || !strings.Contains(r.stdout, "STORAGE (hot: WAL of broker 1)") || !strings.Contains(r.stdout, "0-50") {
		t.Fatalf("describe --storage:\n%s", r)
	}
	r = runCLI(t, "topics", "describe", "stored", "--brokers", n.Addr(), "--storage", "--metrics-addr", n.MetricsAddr(), "-o", "json")
	var out []topicDescription
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || len(out) != 1 || out[0].Storage == nil {
		t.Fatalf("describe --storage json: %v\n%s", err, r)
	}
	p0 := out[0].Storage.Partitions[0]
	if p0.LogStart != 0 || p0.HighWatermark != 50 || p0.Extents < 1 || p0.Objects < 1 || p0.StoredBytes == 0 || !p0.Hot || p0.HotTo != 50 {
		t.Fatalf("partition 0 storage: %+v", p0)
	}
	if p1 := out[0].Storage.Partitions[1]; p1.HighWatermark != 0 || p1.Hot {
		t.Fatalf("partition 1 storage: %+v", p1)
	}
}

func headerText(hs jsonHeaders) string {
	var parts []string
	for _, h := range hs {
		parts = append(parts, h.Key+"="+string(h.Value))
	}
	return strings.Join(parts, ",")
}
