package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/shalelog/shale/broker"

	"github.com/shalelog/shale/metrics"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// runTopics is `shale topics ...`.
func runTopics(args []string, stdout, stderr io.Writer) int {
	return runAdmin("topics", "create, list, describe, delete and configure topics", topicsCommands(), args, stdout, stderr)
}

func topicsCommands() []adminSpec {
	return []adminSpec{
		{
			name:     "create",
			synopsis: "NAME... [--partitions N] [--replication-factor N] [--config k=v ...] [--if-not-exists] [--dry-run]",
			summary:  "create topics",
			details: `Creates one or more topics. Without --partitions the broker's default
count is used. --config may be given many times. With --if-not-exists a
topic that already exists is not an error. With --dry-run the broker
validates the request and creates nothing.

Example:
  shale topics create orders --partitions 12 --config retention.ms=86400000`,
			run: topicsCreate,
		},
		{
			name:     "list",
			synopsis: "[--internal] [--output table|json]",
			summary:  "list topics (NAME PARTITIONS REPLICAS)",
			details:  `Lists the topics of the cluster, sorted by name.`,
			run:      topicsList,
		},
		{
			name:     "describe",
			synopsis: "NAME... [--all-configs] [--storage [--metrics-addr HOST:PORT]] [--output table|json]",
			summary:  "show a topic's summary, configs and partitions",
			details: `Shows, for each topic: a summary; the configs that differ from the
defaults (all of them with --all-configs); and per partition its leader,
leader epoch, log start offset and high watermark.

With --storage (or --metrics-addr, or $SHALE_METRICS_ADDR set) it also asks
a broker's metrics listener where each partition's records are: the cold
range in the object store with its extents, objects and bytes, and the hot
range in that broker's WAL (ask the partition's leader to see its tail).`,
			run: topicsDescribe,
		},
		{
			name:     "delete",
			synopsis: "NAME... [--if-exists] [--progress]",
			summary:  "delete topics and all their data",
			details: `Deletes topics. With --if-exists a topic that does not exist is not an
error. A progress line is shown while many topics are deleted.`,
			run: topicsDelete,
		},
		{
			name:     "alter-config",
			synopsis: "NAME... [--set k=v ...] [--delete k ...] [--dry-run]",
			summary:  "set or remove topic config overrides",
			details: `Changes topic configs incrementally: --set k=v sets an override, --delete k
removes one (the default applies again). Both may be given many times;
configs not named are left alone. With --dry-run the broker validates the
change and applies nothing.

Example:
  shale topics alter-config orders --set retention.ms=3600000 --delete cleanup.policy`,
			run: topicsAlterConfig,
		},
	}
}

// runAdmin dispatches `shale GROUP COMMAND args...`.

func topicsCreate(c *adminCmd, args []string) error {
	fs := c.flags()
	var partitions int32 = -1
	var replication int16 = -1
	configs := map[string]string{}
	fs.Func("partitions", "create `N` partitions (default: the broker's num.partitions)", intFlag(&partitions, 32, 1))
	fs.Func("p", "short for --partitions", intFlag(&partitions, 32, 1))
	fs.Func("replication-factor", "`N` replicas per partition (default: the broker's)", intFlag(&replication, 16, 1))
	fs.Func("r", "short for --replication-factor", intFlag(&replication, 16, 1))
	fs.Func("config", "a topic config `k=v`; may be repeated", keyValueFlag(configs))
	fs.Func("c", "short for --config", keyValueFlag(configs))
	ifNotExists := fs.Bool("if-not-exists", false, "an existing topic is not an error")
	dryRun := fs.Bool("dry-run", false, "validate only; create nothing")
	c.progressFlag(fs)
	names, adm, ctx, done, err := c.namesAndConnect(fs, args, "topic", checkNames)
	if err != nil {
		return err
	}
	defer done()

	cfgs := make(map[string]*string, len(configs))
	for k, v := range configs {
		cfgs[k] = kadm.StringPtr(v)
	}
	results := make(kadm.CreateTopicResponses, len(names))
	err = c.runChunked("creating topics", len(names), 20, func(lo, hi int) error {
		create := adm.CreateTopics
		if *dryRun {
			create = adm.ValidateCreateTopics
		}
		resp, err := create(ctx, partitions, replication, cfgs, names[lo:hi]...)
		if err != nil {
			return c.requestErr("create topics", err)
		}
		for k, v := range resp {
			results[k] = v
		}
		return nil
	})
	if err != nil {
		return err
	}
	t := newTable("TOPIC", "PARTITIONS", "STATUS")
	failed := 0
	for _, name := range names {
		r, ok := results[name]
		switch {
		case !ok:
			failed++
			t.addRow(name, "-", "no answer for this topic")
		case r.Err == nil && *dryRun:
			t.addRow(name, r.NumPartitions, "OK (validated; not created)")
		case r.Err == nil:
			t.addRow(name, r.NumPartitions, "OK")
		case errors.Is(r.Err, kerr.TopicAlreadyExists) && *ifNotExists:
			t.addRow(name, "-", "OK (already exists)")
		default:
			failed++
			t.addRow(name, "-", kafkaErrorText(r.Err, r.ErrMessage))
		}
	}
	t.render(c.stdout)
	if failed > 0 {
		return &errReported{fmt.Sprintf("%d of %d topics not created", failed, len(names))}
	}
	return nil
}

// checkNames checks topic names and refuses duplicates.
func checkNames(names []string) error {
	seen := make(map[string]bool, len(names))
	for _, n := range names {
		if err := checkTopicName(n); err != nil {
			return err
		}
		if seen[n] {
			return usagef("topic %q is named twice", n)
		}
		seen[n] = true
	}
	return nil
}

// topicListing is one topic in `topics list --output json`.
type topicListing struct {
	Name       string `json:"name"`
	ID         string `json:"id"`
	Partitions int    `json:"partitions"`
	Replicas   int    `json:"replicas"`
	Internal   bool   `json:"internal,omitempty"`
}

// topicsList is `shale topics list`.
func topicsList(c *adminCmd, args []string) error {
	fs := c.flags()
	internal := fs.Bool("internal", false, "include internal topics")
	c.outputFlag(fs)
	rest, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("unexpected argument %q (list takes no topic names; see 'describe')", rest[0])
	}
	adm, ctx, done, err := c.connect()
	if err != nil {
		return err
	}
	defer done()
	list := adm.ListTopics
	if *internal {
		list = adm.ListTopicsWithInternal
	}
	topics, err := list(ctx)
	if err != nil {
		return c.requestErr("list topics", err)
	}
	var out []topicListing
	for _, td := range topics.Sorted() {
		out = append(out, topicListing{
			Name:       td.Topic,
			ID:         topicIDText(td.ID),
			Partitions: len(td.Partitions),
			Replicas:   td.Partitions.NumReplicas(),
			Internal:   td.IsInternal,
		})
	}
	if c.output == "json" {
		if out == nil {
			out = []topicListing{}
		}
		return writeJSON(c.stdout, out)
	}
	t := newTable("NAME", "PARTITIONS", "REPLICAS")
	for _, l := range out {
		t.addRow(l.Name, l.Partitions, l.Replicas)
	}
	return t.render(c.stdout)
}

// topicDescription is one topic in `topics describe --output json`.
type topicDescription struct {
	Name       string                 `json:"name"`
	ID         string                 `json:"id"`
	Internal   bool                   `json:"internal,omitempty"`
	Partitions int                    `json:"partitions"`
	Replicas   int                    `json:"replicas"`
	Configs    []topicConfigEntry     `json:"configs"`
	Details    []partitionDescription `json:"partition_details"`
	Storage    *metrics.TopicStorage  `json:"storage,omitempty"`
	Error      string                 `json:"error,omitempty"`
}

type topicConfigEntry struct {
	Key       string `json:"key"`
	Value     string `json:"value"`
	Source    string `json:"source"`
	Sensitive bool   `json:"sensitive,omitempty"`
}

type partitionDescription struct {
	Partition      int32  `json:"partition"`
	Leader         int32  `json:"leader"`
	LeaderEpoch    int32  `json:"leader_epoch"`
	LogStartOffset int64  `json:"log_start_offset"`
	HighWatermark  int64  `json:"high_watermark"`
	Error          string `json:"error,omitempty"`
	// Compaction is set for topics compacted by key.
	Compaction *broker.CompactionStatus `json:"compaction,omitempty"`
}

// compactionStatus asks a broker for the compaction by key of topic's
// partitions (broker.CompactionStatusConfig); nil when it cannot tell.
func (c *adminCmd) compactionStatus(ctx context.Context, topic string) map[int32]broker.CompactionStatus {
	req := kmsg.NewPtrDescribeConfigsRequest()
	rr := kmsg.NewDescribeConfigsRequestResource()
	rr.ResourceType = kmsg.ConfigResourceTypeTopic
	rr.ResourceName = topic
	rr.ConfigNames = []string{broker.CompactionStatusConfig}
	req.Resources = append(req.Resources, rr)
	resp, err := req.RequestWith(ctx, c.kcl)
	if err != nil || len(resp.Resources) != 1 || resp.Resources[0].ErrorCode != 0 {
		return nil
	}
	for _, cfg := range resp.Resources[0].Configs {
		if cfg.Name != broker.CompactionStatusConfig || cfg.Value == nil {
			continue
		}
		var list []broker.CompactionStatus
		if json.Unmarshal([]byte(*cfg.Value), &list) != nil {
			return nil
		}
		out := make(map[int32]broker.CompactionStatus, len(list))
		for _, s := range list {
			out[s.Partition] = s
		}
		return out
	}
	return nil
}

// topicsDescribe is `shale topics describe`.
func topicsDescribe(c *adminCmd, args []string) error {
	fs := c.flags()
	allConfigs := fs.Bool("all-configs", false, "list every config, defaults included")
	fs.BoolVar(allConfigs, "a", false, "short for --all-configs")
	storage := fs.Bool("storage", false, "show hot (WAL) and cold (object store) ranges and object counts, from --metrics-addr")
	var metricsAddr string
	c.metricsAddrFlag(fs, &metricsAddr)
	c.outputFlag(fs)
	names, adm, ctx, done, err := c.namesAndConnect(fs, args, "topic", checkNames)
	if err != nil {
		return err
	}
	defer done()
	fs.Visit(func(f *flag.Flag) { *storage = *storage || f.Name == "metrics-addr" })
	*storage = *storage || c.getenv("SHALE_METRICS_ADDR") != ""
	if *storage {
		if err := checkHostPort("metrics-addr", metricsAddr); err != nil {
			return err
		}
	}

	details, err := adm.ListTopicsWithInternal(ctx, names...)
	if err != nil {
		return c.requestErr("describe topics", err)
	}
	var found []string
	for _, n := range names {
		if td, ok := details[n]; ok && td.Err == nil {
			found = append(found, n)
		}
	}
	var configs kadm.ResourceConfigs
	var starts, ends kadm.ListedOffsets
	if len(found) > 0 {
		if configs, err = adm.DescribeTopicConfigs(ctx, found...); err != nil {
			return c.requestErr("describe topic configs", err)
		}
		if starts, err = adm.ListStartOffsets(ctx, found...); err != nil && !isShardErr(err) {
			return c.requestErr("list log start offsets", err)
		}
		if ends, err = adm.ListEndOffsets(ctx, found...); err != nil && !isShardErr(err) {
			return c.requestErr("list high watermarks", err)
		}
	}

	var out []topicDescription
	failed := 0
	for _, n := range names {
		td, ok := details[n]
		d := topicDescription{Name: n, Configs: []topicConfigEntry{}, Details: []partitionDescription{}}
		switch {
		case !ok:
			d.Error = "no answer for this topic"
		case td.Err != nil:
			d.Error = kafkaErrorText(td.Err, "")
		}
		if d.Error != "" {
			failed++
			out = append(out, d)
			continue
		}
		d.ID = topicIDText(td.ID)
		d.Internal = td.IsInternal
		d.Partitions = len(td.Partitions)
		d.Replicas = td.Partitions.NumReplicas()
		var compaction map[int32]broker.CompactionStatus
		if rc, err := configs.On(n, nil); err == nil {
			for _, cfg := range rc.Configs {
				if cfg.Key == "cleanup.policy" && strings.Contains(cfg.MaybeValue(), "compact") {
					compaction = c.compactionStatus(ctx, n)
				}
			}
			if rc.Err != nil {
				d.Error = "configs: " + kafkaErrorText(rc.Err, rc.ErrMessage)
			}
			for _, cfg := range rc.Configs {
				if cfg.Source != kmsg.ConfigSourceDynamicTopicConfig && !*allConfigs {
					continue
				}
				d.Configs = append(d.Configs, topicConfigEntry{
					Key: cfg.Key, Value: cfg.MaybeValue(), Source: cfg.Source.String(), Sensitive: cfg.Sensitive,
				})
			}
			sort.Slice(d.Configs, func(i, j int) bool { return d.Configs[i].Key < d.Configs[j].Key })
		}
		for _, pd := range td.Partitions.Sorted() {
			p := partitionDescription{Partition: pd.Partition, Leader: pd.Leader, LeaderEpoch: pd.LeaderEpoch, LogStartOffset: -1, HighWatermark: -1}
			var perr error = pd.Err
			if s, ok := starts.Lookup(n, pd.Partition); ok {
				p.LogStartOffset = s.Offset
				perr = errors.Join(perr, s.Err)
			}
			if e, ok := ends.Lookup(n, pd.Partition); ok {
				p.HighWatermark = e.Offset
				perr = errors.Join(perr, e.Err)
			}
			if perr != nil {
				p.Error = kafkaErrorText(firstErr(perr), "")
			}
			if cs, ok := compaction[pd.Partition]; ok {
				p.Compaction = &cs
			}
			d.Details = append(d.Details, p)
		}
		if *storage {
			var ts metrics.TopicStorage
			if err := getJSON(ctx, metricsAddr, "/v1/topics/"+url.PathEscape(n), &ts); err != nil {
				return fmt.Errorf("topic %q storage: %w", n, err)
			}
			d.Storage = &ts
		}
		out = append(out, d)
	}

	if c.output == "json" {
		if err := writeJSON(c.stdout, out); err != nil {
			return err
		}
	} else {
		printed := 0
		for _, d := range out {
			if d.Error != "" && d.ID == "" {
				continue // reported below, on stderr
			}
			if printed > 0 {
				fmt.Fprintln(c.stdout)
			}
			printed++
			printTopicDescription(c.stdout, d, *allConfigs)
		}
	}
	for _, d := range out {
		if d.Error != "" && d.ID == "" {
			fmt.Fprintf(c.stderr, "%s: topic %q: %s\n", c.path, d.Name, d.Error)
		}
	}
	if failed > 0 {
		return &errReported{fmt.Sprintf("%d of %d topics could not be described", failed, len(names))}
	}
	return nil
}

func printTopicDescription(w io.Writer, d topicDescription, allConfigs bool) {
	writeSection(w, "SUMMARY")
	s := newTable()
	s.addRow("NAME", d.Name)
	s.addRow("ID", d.ID)
	s.addRow("PARTITIONS", d.Partitions)
	s.addRow("REPLICAS", d.Replicas)
	if d.Internal {
		s.addRow("INTERNAL", "true")
	}
	if d.Error != "" {
		s.addRow("ERROR", d.Error)
	}
	s.render(w)

	fmt.Fprintln(w)
	writeSection(w, "CONFIGS")
	if len(d.Configs) == 0 {
		if allConfigs {
			fmt.Fprintln(w, "(none)")
		} else {
			fmt.Fprintln(w, "(all defaults; --all-configs lists them)")
		}
	} else {
		t := newTable("KEY", "VALUE", "SOURCE")
		for _, cfg := range d.Configs {
			v := cfg.Value
			if cfg.Sensitive {
				v = "(sensitive)"
			}
			t.addRow(cfg.Key, v, cfg.Source)
		}
		t.render(w)
	}

	fmt.Fprintln(w)
	writeSection(w, "PARTITIONS")
	withErr := false
	for _, p := range d.Details {
		withErr = withErr || p.Error != ""
	}
	compacted := false
	for _, p := range d.Details {
		compacted = compacted || p.Compaction != nil
	}
	header := []string{"PARTITION", "LEADER", "EPOCH", "LOG-START", "HIGH-WATERMARK"}
	if compacted {
		header = append(header, "DIRTY-RATIO", "LAST-COMPACTION", "RECLAIMED")
	}
	if withErr {
		header = append(header, "ERROR")
	}
	t := newTable(header...)
	for _, p := range d.Details {
		row := []any{p.Partition, p.Leader, p.LeaderEpoch, offsetText(p.LogStartOffset), offsetText(p.HighWatermark)}
		if compacted {
			if cs := p.Compaction; cs != nil {
				last := "never"
				if cs.LastCompaction > 0 {
					last = time.UnixMilli(cs.LastCompaction).UTC().Format(time.RFC3339)
				}
				row = append(row, strconv.FormatFloat(cs.DirtyRatio, 'f', 2, 64), last, byteText(cs.Reclaimed))
			} else {
				row = append(row, "-", "-", "-")
			}
		}
		if withErr {
			row = append(row, dashIfEmpty(p.Error))
		}
		t.addRow(row...)
	}
	t.render(w)
	if d.Storage != nil {
		fmt.Fprintln(w)
		printTopicStorage(w, *d.Storage)
	}
}

// printTopicStorage shows where each partition's records are, with a bar
// from the log start to the high watermark: '#' in objects only, '=' both
// in objects and in the broker's WAL, '+' in the WAL only (not uploaded
// yet).
func printTopicStorage(w io.Writer, ts metrics.TopicStorage) {
	writeSection(w, fmt.Sprintf("STORAGE (hot: WAL of broker %d)", ts.Broker))
	t := newTable("PARTITION", "COLD (OBJECTS)", "EXTENTS", "OBJECTS", "STORED", "HOT (WAL)", "RANGE")
	for _, p := range ts.Partitions {
		hot := "-"
		if p.Hot {
			hot = fmt.Sprintf("%d-%d", p.HotFrom, p.HotTo)
		}
		cold := "-"
		if p.HighWatermark > p.LogStart {
			cold = fmt.Sprintf("%d-%d", p.LogStart, p.HighWatermark)
		}
		t.addRow(p.Partition, cold, p.Extents, p.Objects, humanBytes(float64(p.StoredBytes)), hot, rangeBar(p, 20))
	}
	t.render(w)
}

// rangeBar draws a partition's offsets from its log start to the end of
// its data in width cells.
func rangeBar(p metrics.PartitionStorage, width int) string {
	end := p.HighWatermark
	if p.Hot {
		end = max(end, p.HotTo)
	}
	if end <= p.LogStart {
		return "[" + strings.Repeat(" ", width) + "]"
	}
	span := float64(end - p.LogStart)
	b := make([]byte, width)
	for i := range b {
		off := p.LogStart + int64(float64(i)/float64(width)*span)
		cold := off < p.HighWatermark
		hot := p.Hot && off >= p.HotFrom && off < p.HotTo
		switch {
		case cold && hot:
			b[i] = '='
		case cold:
			b[i] = '#'
		case hot:
			b[i] = '+'
		default:
			b[i] = ' '
		}
	}
	return "[" + string(b) + "]"
}

// offsetText shows an offset, or "-" for none (-1).
func offsetText(o int64) string {
	if o < 0 {
		return "-"
	}
	return strconv.FormatInt(o, 10)
}

func dashIfEmpty(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// firstErr unwraps an errors.Join to its first error.
func firstErr(err error) error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		if errs := j.Unwrap(); len(errs) > 0 {
			return errs[0]
		}
	}
	return err
}

func isShardErr(err error) bool {
	var se *kadm.ShardErrors
	return errors.As(err, &se) && !se.AllFailed
}

// topicsDelete is `shale topics delete`.
func topicsDelete(c *adminCmd, args []string) error {
	fs := c.flags()
	ifExists := fs.Bool("if-exists", false, "a topic that does not exist is not an error")
	c.progressFlag(fs)
	names, adm, ctx, done, err := c.namesAndConnect(fs, args, "topic", checkNames)
	if err != nil {
		return err
	}
	defer done()
	results := make(kadm.DeleteTopicResponses, len(names))
	err = c.runChunked("deleting topics", len(names), 10, func(lo, hi int) error {
		resp, err := adm.DeleteTopics(ctx, names[lo:hi]...)
		if err != nil {
			return c.requestErr("delete topics", err)
		}
		for k, v := range resp {
			results[k] = v
		}
		return nil
	})
	if err != nil {
		return err
	}
	t := newTable("TOPIC", "STATUS")
	failed := 0
	for _, name := range names {
		r, ok := results[name]
		switch {
		case !ok:
			failed++
			t.addRow(name, "no answer for this topic")
		case r.Err == nil:
			t.addRow(name, "OK")
		case errors.Is(r.Err, kerr.UnknownTopicOrPartition) && *ifExists:
			t.addRow(name, "OK (did not exist)")
		default:
			failed++
			t.addRow(name, kafkaErrorText(r.Err, r.ErrMessage))
		}
	}
	t.render(c.stdout)
	if failed > 0 {
		return &errReported{fmt.Sprintf("%d of %d topics not deleted", failed, len(names))}
	}
	return nil
}

// topicsAlterConfig is `shale topics alter-config`.
func topicsAlterConfig(c *adminCmd, args []string) error {
	fs := c.flags()
	sets := map[string]string{}
	var deletes []string
	fs.Func("set", "set a config override, `k=v`; may be repeated", keyValueFlag(sets))
	fs.Func("delete", "remove the override of config `k`; may be repeated", func(s string) error {
		s = strings.TrimSpace(s)
		if s == "" || strings.Contains(s, "=") {
			return errors.New("want a config name (no =value)")
		}
		deletes = append(deletes, s)
		return nil
	})
	dryRun := fs.Bool("dry-run", false, "validate only; change nothing")
	names, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if len(names) == 0 {
		return usagef("missing topic name")
	}
	if err := checkNames(names); err != nil {
		return err
	}
	if len(sets) == 0 && len(deletes) == 0 {
		return usagef("nothing to change: give --set k=v or --delete k")
	}
	seen := map[string]bool{}
	for _, k := range deletes {
		if _, ok := sets[k]; ok {
			return usagef("%s is both set and deleted", k)
		}
		if seen[k] {
			return usagef("--delete %s is given twice", k)
		}
		seen[k] = true
	}
	var ops []kadm.AlterConfig
	for _, k := range sortedKeys(sets) {
		ops = append(ops, kadm.AlterConfig{Op: kadm.SetConfig, Name: k, Value: kadm.StringPtr(sets[k])})
	}
	for _, k := range deletes {
		ops = append(ops, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: k})
	}
	adm, ctx, done, err := c.connect()
	if err != nil {
		return err
	}
	defer done()
	alter := adm.AlterTopicConfigs
	if *dryRun {
		alter = adm.ValidateAlterTopicConfigs
	}
	resp, err := alter(ctx, ops, names...)
	if err != nil {
		return c.requestErr("alter topic configs", err)
	}
	t := newTable("TOPIC", "STATUS")
	failed := 0
	for _, name := range names {
		r, err := resp.On(name, nil)
		switch {
		case err != nil:
			failed++
			t.addRow(name, "no answer for this topic")
		case r.Err != nil:
			failed++
			t.addRow(name, kafkaErrorText(r.Err, r.ErrMessage))
		case *dryRun:
			t.addRow(name, "OK (validated; not changed)")
		default:
			t.addRow(name, "OK")
		}
	}
	t.render(c.stdout)
	if failed > 0 {
		return &errReported{fmt.Sprintf("%d of %d topics not changed", failed, len(names))}
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// byteText shows a byte count in B, KiB, MiB or GiB.
func byteText(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1fGiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1fMiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1fKiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%dB", n)
}
