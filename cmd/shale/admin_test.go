package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shalelog/shale/internal/shaletest"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// cliResult is what one admin command printed and returned.
type cliResult struct {
	code           int
	stdout, stderr string
}

func (r cliResult) String() string {
	return fmt.Sprintf("exit %d\n--- stdout:\n%s--- stderr:\n%s", r.code, r.stdout, r.stderr)
}

// runCLI runs `shale args...` for the admin commands without exec.
func runCLI(t *testing.T, args ...string) cliResult {
	t.Helper()
	var stdout, stderr bytes.Buffer
	var code int
	switch args[0] {
	case "topics":
		code = runTopics(args[1:], &stdout, &stderr)
	case "groups":
		code = runGroups(args[1:], &stdout, &stderr)
	case "transactions":
		code = runTransactions(args[1:], &stdout, &stderr)
	case "quotas":
		code = runQuotas(args[1:], &stdout, &stderr)
	case "users":
		code = runUsers(args[1:], strings.NewReader(cliStdin), &stdout, &stderr)
	default:
		t.Fatalf("runCLI: %q is not an admin command", args[0])
	}
	return cliResult{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// cliAt runs an admin command against the brokers at addr.
func cliAt(t *testing.T, addr string, args ...string) cliResult {
	t.Helper()
	return runCLI(t, append(args, "--brokers", addr)...)
}

// mustCLI runs a command that must exit 0.
func mustCLI(t *testing.T, addr string, args ...string) cliResult {
	t.Helper()
	r := cliAt(t, addr, args...)
	if r.code != exitOK {
		t.Fatalf("shale %s: want exit 0, got\n%s", strings.Join(args, " "), r)
	}
	return r
}

// wantCLI runs a command and checks its exit code and that stderr
// contains every one of wantErr.
func wantCLI(t *testing.T, addr string, code int, wantErr []string, args ...string) cliResult {
	t.Helper()
	r := cliAt(t, addr, args...)
	if r.code != code {
		t.Fatalf("shale %s: want exit %d, got\n%s", strings.Join(args, " "), code, r)
	}
	for _, w := range wantErr {
		if !strings.Contains(r.stderr, w) {
			t.Fatalf("shale %s: stderr lacks %q:\n%s", strings.Join(args, " "), w, r)
		}
	}
	return r
}

// findRow returns the whitespace-separated fields of the first line of out
// whose leading fields are prefix, or fails the test.
func findRow(t *testing.T, out string, prefix ...string) []string {
	t.Helper()
	if row := lookupRow(out, prefix...); row != nil {
		return row
	}
	t.Fatalf("no row starting with %q in:\n%s", prefix, out)
	return nil
}

func lookupRow(out string, prefix ...string) []string {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < len(prefix) {
			continue
		}
		match := true
		for i, p := range prefix {
			if f[i] != p {
				match = false
				break
			}
		}
		if match {
			return f
		}
	}
	return nil
}

// wantFields checks that row has the given fields from position from on.
func wantFields(t *testing.T, row []string, from int, want ...string) {
	t.Helper()
	if len(row) < from+len(want) {
		t.Fatalf("row %q is too short for %q at %d", row, want, from)
	}
	for i, w := range want {
		if row[from+i] != w {
			t.Fatalf("row %q: field %d is %q, want %q", row, from+i, row[from+i], w)
		}
	}
}

func adminContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// produceTo writes n records one batch each to a partition, with record
// timestamps base, base+1m, ... and waits for acks=all.
func produceTo(t *testing.T, cl *kgo.Client, topic string, partition int32, n int, base time.Time) {
	t.Helper()
	ctx := adminContext(t)
	for i := 0; i < n; i++ {
		r := &kgo.Record{Topic: topic, Partition: partition, Value: []byte(fmt.Sprintf("v%d", i)), Timestamp: base.Add(time.Duration(i) * time.Minute)}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("produce to %s/%d: %v", topic, partition, err)
		}
	}
}

func producer(t *testing.T, addr string) *kgo.Client {
	return shaletest.Client(t, addr, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RequiredAcks(kgo.AllISRAcks()))
}

func TestTopicsLifecycle(t *testing.T) {
	n := shaletest.StartNode(t, nil)
	addr := n.Addr()

	r := mustCLI(t, addr, "topics", "create", "orders", "--partitions", "3", "--config", "retention.ms=60000")
	wantFields(t, findRow(t, r.stdout, "orders"), 1, "3", "OK")
	findRow(t, r.stdout, "TOPIC", "PARTITIONS", "STATUS")
	mustCLI(t, addr, "topics", "create", "-p", "2", "payments")

	// Creating it again fails by name; --if-not-exists makes that fine.
	r = wantCLI(t, addr, exitFailed, []string{"1 of 1 topics not created"}, "topics", "create", "orders")
	if !strings.Contains(r.stdout, "TOPIC_ALREADY_EXISTS") {
		t.Fatalf("want TOPIC_ALREADY_EXISTS in the table:\n%s", r)
	}
	r = mustCLI(t, addr, "topics", "create", "orders", "--if-not-exists")
	if !strings.Contains(r.stdout, "already exists") {
		t.Fatalf("want a note that the topic exists:\n%s", r)
	}
	// A dry run creates nothing.
	mustCLI(t, addr, "topics", "create", "ghost", "--dry-run")

	r = mustCLI(t, addr, "topics", "list")
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("want a header and 2 topics (no dry-run topic), got:\n%s", r.stdout)
	}
	wantFields(t, strings.Fields(lines[0]), 0, "NAME", "PARTITIONS", "REPLICAS")
	wantFields(t, strings.Fields(lines[1]), 0, "orders", "3", "1")
	wantFields(t, strings.Fields(lines[2]), 0, "payments", "2", "1")

	r = mustCLI(t, addr, "topics", "list", "--output", "json")
	var listed []topicListing
	if err := json.Unmarshal([]byte(r.stdout), &listed); err != nil {
		t.Fatalf("list --output json: %v\n%s", err, r.stdout)
	}
	if len(listed) != 2 || listed[0].Name != "orders" || listed[0].Partitions != 3 || listed[1].Name != "payments" || listed[0].ID == "" {
		t.Fatalf("list --output json: got %+v", listed)
	}

	// Data in partition 1 shows in its high watermark.
	produceTo(t, producer(t, addr), "orders", 1, 5, time.Now())
	r = mustCLI(t, addr, "topics", "describe", "orders")
	for _, section := range []string{"SUMMARY", "CONFIGS", "PARTITIONS"} {
		findRow(t, r.stdout, section)
	}
	wantFields(t, findRow(t, r.stdout, "NAME"), 1, "orders")
	wantFields(t, findRow(t, r.stdout, "PARTITIONS", "3"), 0, "PARTITIONS", "3")
	wantFields(t, findRow(t, r.stdout, "retention.ms"), 1, "60000", "DYNAMIC_TOPIC_CONFIG")
	if lookupRow(r.stdout, "segment.bytes") != nil {
		t.Fatalf("describe without --all-configs lists a default:\n%s", r.stdout)
	}
	findRow(t, r.stdout, "PARTITION", "LEADER", "EPOCH", "LOG-START", "HIGH-WATERMARK")
	wantFields(t, findRow(t, r.stdout, "0", "1"), 2, "0", "0", "0")
	wantFields(t, findRow(t, r.stdout, "1", "1"), 2, "0", "0", "5")
	wantFields(t, findRow(t, r.stdout, "2", "1"), 2, "0", "0", "0")

	r = mustCLI(t, addr, "topics", "describe", "orders", "--all-configs")
	wantFields(t, findRow(t, r.stdout, "segment.bytes"), 2, "DEFAULT_CONFIG")

	// alter-config: set one, delete another; a dry run changes nothing.
	mustCLI(t, addr, "topics", "alter-config", "orders", "--set", "segment.ms=5000", "--delete", "retention.ms")
	r = mustCLI(t, addr, "topics", "alter-config", "orders", "--set", "segment.ms=7000", "--dry-run")
	if !strings.Contains(r.stdout, "validated") {
		t.Fatalf("dry run does not say so:\n%s", r)
	}
	r = mustCLI(t, addr, "topics", "describe", "orders", "-o", "json")
	var described []topicDescription
	if err := json.Unmarshal([]byte(r.stdout), &described); err != nil {
		t.Fatalf("describe --output json: %v\n%s", err, r.stdout)
	}
	if len(described) != 1 || len(described[0].Details) != 3 || described[0].Details[1].HighWatermark != 5 {
		t.Fatalf("describe --output json: got %+v", described)
	}
	if got := described[0].Configs; len(got) != 1 || got[0].Key != "segment.ms" || got[0].Value != "5000" {
		t.Fatalf("configs after alter-config: got %+v, want only segment.ms=5000", got)
	}
	// A config the broker refuses: exit 1 with the Kafka error by name.
	r = wantCLI(t, addr, exitFailed, nil, "topics", "alter-config", "orders", "--set", "no.such.config=1")
	if !strings.Contains(r.stdout, "INVALID_CONFIG") {
		t.Fatalf("want INVALID_CONFIG:\n%s", r)
	}

	// Unknown topics: exit 1 naming the error; known ones still shown.
	r = wantCLI(t, addr, exitFailed, []string{`topic "nope"`, "UNKNOWN_TOPIC_OR_PARTITION"}, "topics", "describe", "nope", "payments")
	wantFields(t, findRow(t, r.stdout, "NAME"), 1, "payments")
	wantCLI(t, addr, exitFailed, nil, "topics", "alter-config", "nope", "--set", "segment.ms=1000")

	r = mustCLI(t, addr, "topics", "delete", "orders", "payments")
	wantFields(t, findRow(t, r.stdout, "orders"), 1, "OK")
	r = mustCLI(t, addr, "topics", "list")
	if strings.TrimSpace(r.stdout) != "NAME  PARTITIONS  REPLICAS" {
		t.Fatalf("topics remain after delete:\n%s", r.stdout)
	}
	r = wantCLI(t, addr, exitFailed, []string{"1 of 1 topics not deleted"}, "topics", "delete", "orders")
	if !strings.Contains(r.stdout, "UNKNOWN_TOPIC_OR_PARTITION") {
		t.Fatalf("want UNKNOWN_TOPIC_OR_PARTITION:\n%s", r)
	}
	mustCLI(t, addr, "topics", "delete", "orders", "--if-exists")
}

func TestTopicsProgress(t *testing.T) {
	n := shaletest.StartNode(t, nil)
	addr := n.Addr()
	var names []string
	for i := range 25 {
		names = append(names, fmt.Sprintf("t%02d", i))
	}
	r := mustCLI(t, addr, append([]string{"topics", "create", "--progress", "-p", "1"}, names...)...)
	for _, want := range []string{"creating topics: 20/25 (80%)", "creating topics: 25/25 (100%)"} {
		if !strings.Contains(r.stderr, want) {
			t.Fatalf("progress lacks %q:\n%s", want, r)
		}
	}
	// Without --progress and without a terminal, no progress line.
	r = mustCLI(t, addr, append([]string{"topics", "delete"}, names[:12]...)...)
	if r.stderr != "" {
		t.Fatalf("progress shown without a terminal or --progress:\n%s", r)
	}
	r = mustCLI(t, addr, append([]string{"topics", "delete", "--progress"}, names[12:]...)...)
	for _, want := range []string{"deleting topics: 10/13", "deleting topics: 13/13"} {
		if !strings.Contains(r.stderr, want) {
			t.Fatalf("progress lacks %q:\n%s", want, r)
		}
	}
	r = mustCLI(t, addr, "topics", "list")
	if lookupRow(r.stdout, "t00") != nil || lookupRow(r.stdout, "t24") != nil {
		t.Fatalf("topics remain after delete:\n%s", r.stdout)
	}
}

// TestBadArguments needs no broker: every case must be refused before a
// connection is tried (the brokers address is unreachable).
func TestBadArguments(t *testing.T) {
	const nowhere = "127.0.0.1:1"
	cases := []struct {
		args []string
		want string // in the first line of stderr
	}{
		{[]string{"topics"}, "missing command"},
		{[]string{"topics", "frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"topics", "create"}, "missing topic name"},
		{[]string{"topics", "create", "t", "--bogus"}, "unknown flag --bogus"},
		{[]string{"topics", "create", "t", "--partitions", "abc"}, `invalid value "abc" for --partitions: not an integer`},
		{[]string{"topics", "create", "t", "--partitions", "0"}, `invalid value "0" for --partitions: must be at least 1`},
		{[]string{"topics", "create", "t", "-p", "99999999999"}, `invalid value "99999999999" for -p: out of range`},
		{[]string{"topics", "create", "t", "--partitions"}, "flag --partitions needs a value"},
		{[]string{"topics", "create", "t", "--config", "retention.ms"}, `invalid value "retention.ms" for --config: want key=value`},
		{[]string{"topics", "create", "t", "--config", "=1"}, `invalid value "=1" for --config: want key=value`},
		{[]string{"topics", "create", "t", "-c", "a=1", "-c", "a=2"}, "a is given twice"},
		{[]string{"topics", "create", "a/b"}, `topic name "a/b" has '/'`},
		{[]string{"topics", "create", "t", "t"}, `topic "t" is named twice`},
		{[]string{"topics", "create", "t", "--timeout", "soon"}, `invalid value "soon" for --timeout`},
		{[]string{"topics", "list", "extra"}, `unexpected argument "extra"`},
		{[]string{"topics", "list", "--output", "yaml"}, `invalid value "yaml" for --output: want table or json`},
		{[]string{"topics", "describe"}, "missing topic name"},
		{[]string{"topics", "delete"}, "missing topic name"},
		{[]string{"topics", "alter-config", "t"}, "nothing to change"},
		{[]string{"topics", "alter-config", "t", "--set", "x"}, `invalid value "x" for --set: want key=value`},
		{[]string{"topics", "alter-config", "t", "--delete", "a=1"}, `invalid value "a=1" for --delete`},
		{[]string{"topics", "alter-config", "t", "--set", "a=1", "--delete", "a"}, "a is both set and deleted"},
		{[]string{"topics", "list", "--brokers", "localhost"}, `invalid value "localhost" for --brokers: want host:port`},
		{[]string{"topics", "list", "--brokers", "h:99999"}, `invalid value "h:99999" for --brokers: port must be`},
		{[]string{"topics", "list", "--brokers", ","}, "--brokers is empty"},
		{[]string{"groups"}, "missing command"},
		{[]string{"groups", "describe"}, "missing group name"},
		{[]string{"groups", "delete"}, "missing group name"},
		{[]string{"groups", "list", "g"}, `unexpected argument "g"`},
		{[]string{"groups", "reset-offsets", "--topic", "t", "--to-earliest"}, "missing group name"},
		{[]string{"groups", "reset-offsets", "g", "h", "--topic", "t", "--to-earliest"}, `unexpected argument "h"`},
		{[]string{"groups", "reset-offsets", "g", "--topic", "t"}, "missing target"},
		{[]string{"groups", "reset-offsets", "g", "--to-latest"}, "missing partitions"},
		{[]string{"groups", "reset-offsets", "g", "--topic", "t", "--all-topics", "--to-latest"}, "--topic and --all-topics cannot be combined"},
		{[]string{"groups", "reset-offsets", "g", "--topic", "t", "--to-earliest", "--to-offset", "3"}, "--to-earliest and --to-offset cannot be combined"},
		{[]string{"groups", "reset-offsets", "g", "--topic", "t", "--to-offset", "-3"}, `invalid value "-3" for --to-offset: must be at least 0`},
		{[]string{"groups", "reset-offsets", "g", "--topic", "t", "--shift-by", "x"}, `invalid value "x" for --shift-by: not an integer`},
		{[]string{"groups", "reset-offsets", "g", "--topic", "t", "--to-datetime", "yesterday"}, `invalid value "yesterday" for --to-datetime`},
		{[]string{"groups", "reset-offsets", "g", "--topic", "t:1,x", "--to-latest"}, `invalid value "t:1,x" for --topic: partition "x" is not a number`},
		{[]string{"groups", "reset-offsets", "g", "--topic", "t:5-2", "--to-latest"}, `"5-2" is not a range`},
		{[]string{"groups", "reset-offsets", "g", "--topic", "t:", "--to-latest"}, "no partitions after ':'"},
		{[]string{"groups", "reset-offsets", "g", "--topic", "a/b", "--to-latest"}, `topic name "a/b"`},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			args := tc.args
			if len(args) > 1 {
				// After the subcommand, so that it is neither taken as
				// the command nor as the value of a trailing flag.
				args = append([]string{args[0], args[1], "--brokers", nowhere}, args[2:]...)
			}
			r := runCLI(t, args...)
			if r.code != exitUsage {
				t.Fatalf("want exit 2, got\n%s", r)
			}
			if r.stdout != "" {
				t.Fatalf("bad arguments printed to stdout:\n%s", r)
			}
			first, rest, _ := strings.Cut(r.stderr, "\n")
			if !strings.Contains(first, tc.want) {
				t.Fatalf("first line of stderr %q lacks %q", first, tc.want)
			}
			if !strings.Contains(rest, "usage:") && !strings.Contains(rest, "Usage:") {
				t.Fatalf("no usage after the message:\n%s", r.stderr)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{
		{"topics", "--help"}, {"topics", "help"}, {"groups", "-h"},
		{"topics", "create", "--help"}, {"topics", "describe", "-h"}, {"groups", "reset-offsets", "--help"},
	} {
		r := runCLI(t, args...)
		if r.code != exitOK || r.stderr != "" || !strings.Contains(r.stdout, "shale "+args[0]) {
			t.Fatalf("shale %s: want help on stdout and exit 0, got\n%s", strings.Join(args, " "), r)
		}
	}
	r := runCLI(t, "groups", "reset-offsets", "--help")
	for _, want := range []string{"--to-earliest", "--to-datetime T", "--shift-by N", "--dry-run", "Empty", "-o, --output format"} {
		if !strings.Contains(r.stdout, want) {
			t.Fatalf("reset-offsets --help lacks %q:\n%s", want, r.stdout)
		}
	}
}

func TestUnreachableBrokers(t *testing.T) {
	// Port 1 on loopback refuses connections at once.
	r := runCLI(t, "topics", "list", "--brokers", "127.0.0.1:1", "--timeout", "5s")
	if r.code != exitFailed || !strings.Contains(r.stderr, "cannot reach brokers 127.0.0.1:1") {
		t.Fatalf("want exit 1 saying the brokers cannot be reached, got\n%s", r)
	}
}

func TestBrokersFromEnvironment(t *testing.T) {
	n := shaletest.StartNode(t, nil)
	t.Setenv("SHALE_BROKERS", n.Addr())
	r := runCLI(t, "topics", "list")
	if r.code != exitOK {
		t.Fatalf("SHALE_BROKERS not used: %s", r)
	}
}

func TestTableRender(t *testing.T) {
	tb := newTable("NAME", "N", "NOTE")
	tb.addRow("a", 1, "x")
	tb.addRow("longer-name", 12345, "")
	tb.addRow("ctl\x1b[2Jname", -1, "tab\there")
	var b bytes.Buffer
	if err := tb.render(&b); err != nil {
		t.Fatal(err)
	}
	want := "NAME            N      NOTE\n" +
		"a               1      x\n" +
		"longer-name     12345\n" +
		`ctl\x1b[2Jname` + "  -1     " + `tab\there` + "\n"
	if b.String() != want {
		t.Fatalf("got:\n%s\nwant:\n%s", b.String(), want)
	}
	for _, line := range strings.Split(b.String(), "\n") {
		if strings.HasSuffix(line, " ") {
			t.Fatalf("line %q ends in a space", line)
		}
	}
}

func TestProgressLine(t *testing.T) {
	var b bytes.Buffer
	p := newProgressLine(&b, false, "x", 3)
	p.update(1)
	p.finish()
	if b.Len() != 0 {
		t.Fatalf("disabled progress line printed %q", b.String())
	}
	p = newProgressLine(&b, true, "resetting offsets", 3)
	p.update(1)
	p.update(3)
	p.finish()
	if got, want := b.String(), "resetting offsets: 1/3 (33%)\nresetting offsets: 3/3 (100%)\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestParseTopicPartitions(t *testing.T) {
	cases := []struct {
		in    string
		topic string
		parts []int32
		bad   bool
	}{
		{in: "orders", topic: "orders"},
		{in: "orders:0", topic: "orders", parts: []int32{0}},
		{in: "orders:3,1,4-6", topic: "orders", parts: []int32{3, 1, 4, 5, 6}},
		{in: "orders:", bad: true},
		{in: "orders:-1", bad: true},
		{in: "orders:1-", bad: true},
		{in: "orders:2-1", bad: true},
		{in: "orders:0-99999999", bad: true},
		{in: ":1", bad: true},
		{in: "a b:1", bad: true},
	}
	for _, tc := range cases {
		topic, parts, err := parseTopicPartitions(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("%q: want an error, got %q %v", tc.in, topic, parts)
			}
			continue
		}
		if err != nil || topic != tc.topic || fmt.Sprint(parts) != fmt.Sprint(tc.parts) {
			t.Errorf("%q: got %q %v %v, want %q %v", tc.in, topic, parts, err, tc.topic, tc.parts)
		}
	}
}

func TestParseDatetime(t *testing.T) {
	want := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	for _, s := range []string{"2026-01-02T15:04:05Z", "2026-01-02T17:04:05+02:00", "2026-01-02T15:04:05", "2026-01-02T15:04:05.000"} {
		got, err := parseDatetime(s)
		if err != nil || !got.Equal(want) {
			t.Errorf("%q: got %v %v, want %v", s, got, err, want)
		}
	}
	if got, err := parseDatetime("2026-01-02"); err != nil || !got.Equal(time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("date only: got %v %v", got, err)
	}
	for _, s := range []string{"", "yesterday", "2026-13-01", "1700000000000"} {
		if _, err := parseDatetime(s); err == nil {
			t.Errorf("%q: want an error", s)
		}
	}
}

func FuzzParseTopicPartitions(f *testing.F) {
	for _, s := range []string{"orders", "orders:0,1", "o:1-3,7", "o:", ":", "o:9-1", "o:0-2147483647"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		topic, parts, err := parseTopicPartitions(s)
		if err != nil {
			return
		}
		if topic == "" || strings.Contains(topic, ":") || len(parts) > 1<<21 {
			t.Fatalf("%q: accepted topic %q with %d partitions", s, topic, len(parts))
		}
		for _, p := range parts {
			if p < 0 {
				t.Fatalf("%q: negative partition %d", s, p)
			}
		}
	})
}

func FuzzAdminArgs(f *testing.F) {
	// Arguments from the command line must never panic, and an error must
	// be reported before any connection is tried.
	for _, s := range []string{
		"topics\x00create\x00t\x00--partitions\x00abc",
		"groups\x00reset-offsets\x00g\x00--topic\x00t:1-\x00--to-latest",
		"topics\x00alter-config\x00t\x00--set\x00=",
		"groups\x00reset-offsets\x00g\x00--shift-by\x00-9223372036854775808",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		args := strings.Split(s, "\x00")
		if len(args) < 2 || (args[0] != "topics" && args[0] != "groups") || strings.Contains(s, "brokers") || strings.Contains(s, "bootstrap") {
			return
		}
		// No connection is possible: the bad --brokers value stops every
		// command that gets that far, before it dials.
		args = append([]string{args[1], "--brokers", "not-an-address"}, args[2:]...)
		var stdout, stderr bytes.Buffer
		var code int
		if s[:len("topics")] == "topics" {
			code = runTopics(args, &stdout, &stderr)
		} else {
			code = runGroups(args, &stdout, &stderr)
		}
		if code != exitOK && code != exitUsage {
			t.Fatalf("%q: exit %d:\n%s", args, code, stderr.String())
		}
	})
}

// requireGroups skips a test when the broker does not serve consumer
// groups (it does not advertise JoinGroup in ApiVersions).
func requireGroups(t *testing.T, adm *kadm.Client) {
	t.Helper()
	versions, err := adm.ApiVersions(adminContext(t))
	if err != nil {
		t.Fatalf("api versions: %v", err)
	}
	const joinGroup = 11
	for _, v := range versions {
		if _, _, ok := v.KeyVersions(joinGroup); ok && v.Err == nil {
			return
		}
	}
	t.Skip("the broker does not advertise JoinGroup (consumer groups not served yet)")
}

func TestGroups(t *testing.T) {
	n := shaletest.StartNode(t, nil)
	addr := n.Addr()
	adm := shaletest.Admin(t, addr)
	requireGroups(t, adm)
	ctx := adminContext(t)

	shaletest.CreateTopic(t, addr, "events", 2, nil)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	prod := producer(t, addr)
	produceTo(t, prod, "events", 0, 6, base) // 00:00 .. 00:05
	produceTo(t, prod, "events", 1, 4, base) // 00:00 .. 00:03

	// A consumer reads everything, commits, and stays in the group.
	consumer := shaletest.Client(t, addr,
		kgo.ConsumerGroup("billing"), kgo.ConsumeTopics("events"),
		kgo.DisableAutoCommit(), kgo.ClientID("billing-worker"),
		kgo.FetchMaxWait(200*time.Millisecond))
	for got := 0; got < 10; {
		fs := consumer.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("poll: %v", err)
		}
		got += fs.NumRecords()
	}
	if err := consumer.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatalf("commit: %v", err)
	}
	produceTo(t, prod, "events", 0, 3, base.Add(10*time.Minute)) // lag 3 on partition 0

	r := mustCLI(t, addr, "groups", "list")
	findRow(t, r.stdout, "GROUP", "STATE", "MEMBERS", "PROTOCOL")
	row := findRow(t, r.stdout, "billing")
	wantFields(t, row, 1, "Stable", "1")
	if !strings.HasPrefix(row[3], "consumer") {
		t.Fatalf("protocol: got %q, want consumer/...", row[3])
	}

	r = mustCLI(t, addr, "groups", "describe", "billing")
	wantFields(t, findRow(t, r.stdout, "STATE"), 1, "Stable")
	wantFields(t, findRow(t, r.stdout, "TOTAL-LAG"), 1, "3")
	findRow(t, r.stdout, "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END", "LAG", "MEMBER-ID", "CLIENT-ID", "HOST")
	p0 := findRow(t, r.stdout, "events", "0")
	wantFields(t, p0, 2, "6", "9", "3")
	wantFields(t, p0, 6, "billing-worker")
	wantFields(t, findRow(t, r.stdout, "events", "1"), 2, "4", "4", "0")
	if !strings.Contains(r.stdout, "events:0,1") {
		t.Fatalf("member's assignment not shown:\n%s", r.stdout)
	}
	r = mustCLI(t, addr, "groups", "describe", "billing", "--output", "json")
	var described []groupDescription
	if err := json.Unmarshal([]byte(r.stdout), &described); err != nil {
		t.Fatalf("describe json: %v\n%s", err, r.stdout)
	}
	if len(described) != 1 || described[0].TotalLag != 3 || len(described[0].Members) != 1 || len(described[0].Partitions) != 2 {
		t.Fatalf("describe json: got %+v", described)
	}

	// Resetting a running group is refused, as in Kafka; a dry run previews.
	wantCLI(t, addr, exitFailed, []string{`group "billing" is Stable`, "Empty", "stop its consumers"},
		"groups", "reset-offsets", "billing", "--topic", "events", "--to-earliest")
	r = mustCLI(t, addr, "groups", "reset-offsets", "billing", "--topic", "events", "--to-earliest", "--dry-run")
	if !strings.Contains(r.stderr, "warning") {
		t.Fatalf("dry run on a running group does not warn:\n%s", r)
	}
	// Deleting a running group is refused by the broker.
	r = wantCLI(t, addr, exitFailed, nil, "groups", "delete", "billing")
	if !strings.Contains(r.stdout, "NON_EMPTY_GROUP") {
		t.Fatalf("want NON_EMPTY_GROUP:\n%s", r)
	}

	consumer.Close() // leaves the group
	for {
		d, err := adm.DescribeGroups(ctx, "billing")
		if err != nil {
			t.Fatalf("describe: %v", err)
		}
		if d["billing"].State == "Empty" {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("group did not become Empty: %+v", d["billing"])
		case <-time.After(50 * time.Millisecond):
		}
	}
	committed := func() string {
		t.Helper()
		os, err := adm.FetchOffsets(ctx, "billing")
		if err != nil {
			t.Fatalf("fetch offsets: %v", err)
		}
		a, _ := os.Lookup("events", 0)
		b, _ := os.Lookup("events", 1)
		return fmt.Sprintf("%d,%d", a.At, b.At)
	}
	if got := committed(); got != "6,4" {
		t.Fatalf("committed before reset: %s", got)
	}

	r = mustCLI(t, addr, "groups", "describe", "billing")
	wantFields(t, findRow(t, r.stdout, "STATE"), 1, "Empty")
	wantFields(t, findRow(t, r.stdout, "events", "0"), 2, "6", "9", "3", "-", "-", "-")

	// --dry-run changes nothing.
	r = mustCLI(t, addr, "groups", "reset-offsets", "billing", "--topic", "events", "--to-earliest", "--dry-run")
	findRow(t, r.stdout, "TOPIC", "PARTITION", "OLD", "NEW")
	wantFields(t, findRow(t, r.stdout, "events", "0"), 2, "6", "0")
	wantFields(t, findRow(t, r.stdout, "events", "1"), 2, "4", "0")
	if got := committed(); got != "6,4" {
		t.Fatalf("dry run changed offsets: %s", got)
	}

	steps := []struct {
		args []string
		want string // committed p0,p1 after
		rows [][]string
	}{
		{[]string{"--topic", "events", "--to-earliest"}, "0,0", [][]string{{"events", "0", "6", "0"}, {"events", "1", "4", "0"}}},
		{[]string{"--topic", "events:0", "--to-offset", "2"}, "2,0", [][]string{{"events", "0", "0", "2"}}},
		{[]string{"--all-topics", "--shift-by", "3"}, "5,3", [][]string{{"events", "0", "2", "5"}, {"events", "1", "0", "3"}}},
		{[]string{"--topic", "events", "--shift-by", "100"}, "9,4", [][]string{{"events", "0", "5", "9", "105"}}},
		{[]string{"--topic", "events", "--to-datetime", "2026-01-01T00:02:00Z"}, "2,2", nil},
		{[]string{"--topic", "events:1", "--to-datetime", "2026-01-01T01:00:00Z"}, "2,4", nil},
		{[]string{"--topic", "events", "--to-latest"}, "9,4", nil},
		{[]string{"--topic", "events", "--shift-by", "-4"}, "5,0", nil},
	}
	for _, s := range steps {
		r := mustCLI(t, addr, append([]string{"groups", "reset-offsets", "billing", "--progress"}, s.args...)...)
		for _, want := range s.rows {
			wantFields(t, findRow(t, r.stdout, want[:2]...), 2, want[2:]...)
		}
		if got := committed(); got != s.want {
			t.Fatalf("reset %q: committed %s, want %s\n%s", s.args, got, s.want, r)
		}
	}

	wantCLI(t, addr, exitFailed, []string{`topic "events" has no partition 7`},
		"groups", "reset-offsets", "billing", "--topic", "events:7", "--to-latest")
	wantCLI(t, addr, exitFailed, []string{`topic "nope"`, "UNKNOWN_TOPIC_OR_PARTITION"},
		"groups", "reset-offsets", "billing", "--topic", "nope", "--to-latest")

	// A partition that cannot be planned stops the whole reset: a new
	// group has nothing committed to shift from.
	r = wantCLI(t, addr, exitFailed, []string{"2 partitions cannot be reset; nothing was committed"},
		"groups", "reset-offsets", "fresh", "--topic", "events", "--shift-by", "1")
	if !strings.Contains(r.stdout, "no committed offset to shift from") {
		t.Fatalf("want the reason per partition:\n%s", r)
	}
	if os, err := adm.FetchOffsets(ctx, "fresh"); err != nil || len(os) != 0 {
		t.Fatalf("failed reset committed something: %v %v", os, err)
	}
	// As in Kafka, offsets can be set for a group that does not exist yet.
	mustCLI(t, addr, "groups", "reset-offsets", "fresh", "--topic", "events:1", "--to-offset", "1")
	if os, err := adm.FetchOffsets(ctx, "fresh"); err != nil {
		t.Fatalf("fetch offsets: %v", err)
	} else if o, ok := os.Lookup("events", 1); !ok || o.At != 1 {
		t.Fatalf("new group's offset: got %+v %v, want 1", o, ok)
	}

	r = mustCLI(t, addr, "groups", "delete", "billing")
	wantFields(t, findRow(t, r.stdout, "billing"), 1, "OK")
	wantCLI(t, addr, exitFailed, []string{`group "billing"`, "does not exist"}, "groups", "describe", "billing")
	r = mustCLI(t, addr, "groups", "list")
	if lookupRow(r.stdout, "billing") != nil {
		t.Fatalf("deleted group still listed:\n%s", r.stdout)
	}
	wantCLI(t, addr, exitFailed, nil, "groups", "delete", "billing")
}
