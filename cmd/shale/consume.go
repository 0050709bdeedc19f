package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

var consumeSpec = adminSpec{
	name:     "consume",
	synopsis: "TOPIC[:PARTITIONS]... [--offset start|end|N|-N|@TIME] [--to-end | --to-offset N | --to-time TIME] [--num N] [--group G] [--format FMT | --output json]",
	summary:  "print records of topics",
	details: `Reads records and prints them (as 'rpk topic consume' and 'kcat -C').
TOPIC:0,2-3 reads only those partitions (not with --group).

Where to start (--offset, -o):
  start (default)  the log start        end   only new records
  N                offset N             -N    N records before the end
  @TIME            the first record at or after TIME (RFC 3339, or ms since 1970)
With --group G the group's committed offsets win; --offset applies to
partitions the group has none for. Offsets are committed as records are
printed, and on exit.

Where to stop: --to-end (kcat -e) at the high watermarks seen at start;
--to-offset N before offset N in each partition; --to-time TIME at the first
record after TIME (or the high watermark seen at start, if sooner); --num N
(-n) after N records; else on Ctrl-C.

Output: --format (-f) prints each record through a template: %t topic,
%p partition, %o offset, %k key, %v value, %h headers (k=v,...), %T
timestamp (ms), %d timestamp (RFC 3339), \n \t; default '%v\n'.
--output json prints a JSON object per line (key and value as strings, or
key_base64/value_base64 when not UTF-8). --progress shows a count on stderr.`,
}

func runConsume(args []string, stdout, stderr io.Writer) int {
	c := &adminCmd{spec: consumeSpec, path: "shale consume", stdout: stdout, stderr: stderr, getenv: os.Getenv}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return c.exitCode(consumeRun(ctx, c, args))
}

// startSpec is a parsed --offset.
type startSpec struct {
	kind string // "start", "end", "exact", "relative", "time"
	n    int64
}

func parseStart(s string) (startSpec, error) {
	switch {
	case s == "start" || s == "beginning" || s == "oldest":
		return startSpec{kind: "start"}, nil
	case s == "end" || s == "newest":
		return startSpec{kind: "end"}, nil
	case strings.HasPrefix(s, "@"):
		ms, err := parseTimeArg(s[1:])
		return startSpec{kind: "time", n: ms}, err
	case strings.HasPrefix(s, "-"):
		n, err := strconv.ParseInt(s[1:], 10, 64)
		if err != nil || n < 0 {
			return startSpec{}, errors.New("want -N with N a count of records")
		}
		return startSpec{kind: "relative", n: n}, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return startSpec{}, errors.New("want start, end, an offset N, -N or @TIME")
	}
	return startSpec{kind: "exact", n: n}, nil
}

// parseTimeArg reads ms since 1970 or an RFC 3339 time.
func parseTimeArg(s string) (int64, error) {
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil && ms >= 0 {
		return ms, nil
	}
	t, err := parseDatetime(s)
	if err != nil {
		return 0, err
	}
	return t.UnixMilli(), nil
}

func (s startSpec) offset() kgo.Offset {
	switch s.kind {
	case "end":
		return kgo.NewOffset().AtEnd()
	case "exact":
		return kgo.NewOffset().At(s.n)
	case "relative":
		return kgo.NewOffset().AtEnd().Relative(-s.n)
	case "time":
		return kgo.NewOffset().AfterMilli(s.n)
	}
	return kgo.NewOffset().AtStart()
}

func consumeRun(ctx context.Context, c *adminCmd, args []string) error {
	fs := c.flags()
	fs.StringVar(&c.brokers, "b", c.brokers, "short for --brokers")
	var (
		startText = "start"
		group     string
		format    = `%v\n`
		toEnd     bool
		toOffset  = int64(-1)
		toTime    string
		num       int64
	)
	fs.StringVar(&startText, "offset", startText, "where to start: start, end, `N`, -N or @TIME")
	fs.StringVar(&startText, "o", startText, "short for --offset")
	fs.StringVar(&group, "group", "", "consume in consumer `group` G, committing offsets")
	fs.StringVar(&group, "g", "", "short for --group")
	fs.StringVar(&format, "format", format, "print each record through this `template` (see above)")
	fs.StringVar(&format, "f", format, "short for --format")
	fs.BoolVar(&toEnd, "to-end", false, "stop at the high watermarks seen at start (kcat -e)")
	fs.BoolVar(&toEnd, "e", false, "short for --to-end")
	fs.Func("to-offset", "stop each partition before `offset` N", intFlag(&toOffset, 64, 0))
	fs.StringVar(&toTime, "to-time", "", "stop each partition at the first record after `TIME`")
	fs.Func("num", "stop after `N` records", intFlag(&num, 64, 1))
	fs.Func("n", "short for --num", intFlag(&num, 64, 1))
	output := "text"
	fs.Func("output", "output `format`: text (--format) or json", func(s string) error {
		if s != "text" && s != "json" {
			return errors.New("want text or json")
		}
		output = s
		return nil
	})
	c.progressFlag(fs)
	targets, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if len(targets) == 0 {
		return usagef("missing topic name")
	}
	start, err := parseStart(startText)
	if err != nil {
		return usagef("invalid value %q for --offset: %v", startText, err)
	}
	toTimeMs := int64(-1)
	if toTime != "" {
		if toTimeMs, err = parseTimeArg(toTime); err != nil {
			return usagef("invalid value %q for --to-time: %v", toTime, err)
		}
	}
	if n := btoi(toEnd) + btoi(toOffset >= 0) + btoi(toTimeMs >= 0); n > 1 {
		return usagef("--to-end, --to-offset and --to-time exclude each other")
	}
	tmpl, err := parseRecordFormat(format)
	if err != nil {
		return usagef("invalid value %q for --format: %v", format, err)
	}
	topics := []string{}
	partitions := map[string][]int32{}
	for _, t := range targets {
		topic, ps, err := parseTopicPartitions(t)
		if err != nil {
			return usagef("%s", strings.Replace(err.Error(), "--topic", "topic", 1))
		}
		topics = append(topics, topic)
		if ps != nil {
			if group != "" {
				return usagef("%q: partitions cannot be chosen with --group", t)
			}
			partitions[topic] = ps
		}
	}

	opts := []kgo.Opt{kgo.ConsumeResetOffset(start.offset()), kgo.FetchMaxWait(time.Second)}
	if group != "" {
		opts = append(opts, kgo.ConsumerGroup(group), kgo.ConsumeTopics(topics...), kgo.AutoCommitMarks())
	} else if len(partitions) > 0 {
		all := map[string]map[int32]kgo.Offset{}
		for _, t := range topics {
			if partitions[t] == nil {
				return usagef("topic %q: name partitions for every topic or for none", t)
			}
			all[t] = map[int32]kgo.Offset{}
			for _, p := range partitions[t] {
				all[t][p] = start.offset()
			}
		}
		opts = append(opts, kgo.ConsumePartitions(all))
	} else {
		opts = append(opts, kgo.ConsumeTopics(topics...))
	}
	cl, err := c.client(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()

	// Check the topics exist, and learn the ends --to-end stops at.
	adm := kadm.NewClient(cl)
	mctx, mcancel := context.WithTimeout(ctx, c.timeout)
	ends, err := adm.ListEndOffsets(mctx, topics...)
	mcancel()
	if err != nil && !isShardErr(err) {
		return c.requestErr("list high watermarks", err)
	}
	stops := map[string]map[int32]int64{} // partition -> stop before this offset
	for _, t := range topics {
		if _, ok := ends[t]; !ok {
			return fmt.Errorf("topic %q: no such topic", t)
		}
		stops[t] = map[int32]int64{}
		for p, lo := range ends[t] {
			if lo.Err != nil {
				return fmt.Errorf("topic %q partition %d: %s", t, p, kafkaErrorText(lo.Err, ""))
			}
			if partitions[t] != nil && !containsPartition(partitions[t], p) {
				continue
			}
			switch {
			case toEnd, toTimeMs >= 0:
				stops[t][p] = lo.Offset // --to-time: at the latest
			case toOffset >= 0:
				stops[t][p] = toOffset
			}
		}
	}
	bounded := toEnd || toOffset >= 0 || toTimeMs >= 0
	if bounded {
		// Partitions already at their stop (empty, or starting past it)
		// are done before any fetch.
		if err := dropFinished(ctx, c, adm, group, start, stops); err != nil {
			return err
		}
	}

	out := json.NewEncoder(c.stdout)
	prog := newProgressLine(c.stderr, c.progress, "consumed", 0)
	defer prog.finish()
	var printed int64
	remaining := func() bool {
		if num > 0 && printed >= num {
			return false
		}
		if bounded {
			for _, ps := range stops {
				if len(ps) > 0 {
					return true
				}
			}
			return false
		}
		return true
	}
	var runErr error
	for remaining() {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			break
		}
		fetches.EachError(func(t string, p int32, err error) {
			if runErr == nil && !errors.Is(err, context.Canceled) {
				runErr = fmt.Errorf("fetch %s partition %d: %s", t, p, kafkaErrorText(err, ""))
			}
		})
		if runErr != nil {
			break
		}
		fetches.EachRecord(func(r *kgo.Record) {
			if !remaining() {
				return
			}
			if stop, ok := stops[r.Topic][r.Partition]; bounded && (!ok || r.Offset >= stop) {
				return // past its stop: a partition that is done
			}
			if toTimeMs >= 0 && r.Timestamp.UnixMilli() > toTimeMs {
				delete(stops[r.Topic], r.Partition) // past --to-time: done
				return
			}
			if output == "json" {
				out.Encode(consumedRecord(r))
			} else {
				c.stdout.Write(tmpl.render(r))
			}
			printed++
			if group != "" {
				cl.MarkCommitRecords(r)
			}
			if printed%1000 == 0 {
				prog.update(int(printed))
			}
			if stop, ok := stops[r.Topic][r.Partition]; bounded && ok && r.Offset+1 >= stop {
				delete(stops[r.Topic], r.Partition)
			}
		})
	}
	if group != "" {
		cctx, ccancel := context.WithTimeout(context.Background(), c.timeout)
		if err := cl.CommitMarkedOffsets(cctx); err != nil && runErr == nil {
			runErr = fmt.Errorf("commit offsets of group %s: %w", group, err)
		}
		ccancel()
	}
	return runErr
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func containsPartition(ps []int32, p int32) bool {
	for _, x := range ps {
		if x == p {
			return true
		}
	}
	return false
}

// dropFinished removes from stops the partitions whose first offset to
// read is already at or past their stop.
func dropFinished(ctx context.Context, c *adminCmd, adm *kadm.Client, group string, start startSpec, stops map[string]map[int32]int64) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var topics []string
	for t := range stops {
		topics = append(topics, t)
	}
	var committed kadm.OffsetResponses
	if group != "" {
		var err error
		if committed, err = adm.FetchOffsets(ctx, group); err != nil {
			return c.requestErr("fetch committed offsets", err)
		}
	}
	var firsts kadm.ListedOffsets
	var err error
	switch start.kind {
	case "end":
		firsts, err = adm.ListEndOffsets(ctx, topics...)
	case "time":
		firsts, err = adm.ListOffsetsAfterMilli(ctx, start.n, topics...)
	default:
		firsts, err = adm.ListStartOffsets(ctx, topics...)
	}
	if err != nil && !isShardErr(err) {
		return c.requestErr("list offsets", err)
	}
	for t, ps := range stops {
		for p, stop := range ps {
			first := int64(-1)
			if o, ok := committed.Lookup(t, p); ok && o.Err == nil && o.At >= 0 {
				first = o.At
			} else if lo, ok := firsts.Lookup(t, p); ok && lo.Err == nil {
				first = lo.Offset
				switch start.kind {
				case "exact":
					first = max(first, start.n)
				case "relative":
					first = max(first, stop-start.n)
				}
			}
			if first >= stop {
				delete(ps, p)
			}
		}
	}
	return nil
}

// recordFormat is a parsed --format template.
type recordFormat []formatPart

type formatPart struct {
	lit  string
	verb byte // 0 for a literal
}

func parseRecordFormat(s string) (recordFormat, error) {
	var f recordFormat
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			f = append(f, formatPart{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; {
		case ch == '%' && i+1 < len(s):
			i++
			switch v := s[i]; v {
			case 't', 'p', 'o', 'k', 'v', 'h', 'T', 'd':
				flush()
				f = append(f, formatPart{verb: v})
			case '%':
				lit.WriteByte('%')
			default:
				return nil, fmt.Errorf("unknown %%%c (use %%t %%p %%o %%k %%v %%h %%T %%d)", v)
			}
		case ch == '\\' && i+1 < len(s):
			i++
			switch s[i] {
			case 'n':
				lit.WriteByte('\n')
			case 't':
				lit.WriteByte('\t')
			case '\\':
				lit.WriteByte('\\')
			default:
				lit.WriteByte('\\')
				lit.WriteByte(s[i])
			}
		case ch == '%':
			return nil, errors.New("a lone % at the end")
		default:
			lit.WriteByte(ch)
		}
	}
	flush()
	return f, nil
}

func (f recordFormat) render(r *kgo.Record) []byte {
	var b []byte
	for _, p := range f {
		switch p.verb {
		case 0:
			b = append(b, p.lit...)
		case 't':
			b = append(b, r.Topic...)
		case 'p':
			b = strconv.AppendInt(b, int64(r.Partition), 10)
		case 'o':
			b = strconv.AppendInt(b, r.Offset, 10)
		case 'k':
			b = append(b, r.Key...)
		case 'v':
			b = append(b, r.Value...)
		case 'T':
			b = strconv.AppendInt(b, r.Timestamp.UnixMilli(), 10)
		case 'd':
			b = r.Timestamp.UTC().AppendFormat(b, time.RFC3339Nano)
		case 'h':
			for i, h := range r.Headers {
				if i > 0 {
					b = append(b, ',')
				}
				b = append(b, h.Key...)
				b = append(b, '=')
				b = append(b, h.Value...)
			}
		}
	}
	return b
}
