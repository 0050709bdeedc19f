package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// runGroups is `shale groups ...`.
func runGroups(args []string, stdout, stderr io.Writer) int {
	return runAdmin("groups", "inspect consumer groups, their lag, and reset their offsets", groupsCommands(), args, stdout, stderr)
}

func groupsCommands() []adminSpec {
	return []adminSpec{
		{
			name:     "list",
			synopsis: "[--output table|json]",
			summary:  "list consumer groups (GROUP STATE MEMBERS PROTOCOL)",
			details: `Lists the consumer groups of the cluster with their state, number of
members and protocol (type/assignor, such as consumer/range).`,
			run: groupsList,
		},
		{
			name:     "describe",
			synopsis: "GROUP... [--output table|json]",
			summary:  "show a group's members and per-partition lag",
			details: `Shows, for each group: a summary with the total lag, its members, and per
partition the committed offset, the log end (high watermark), the lag and
the member consuming it. A partition with no committed offset shows "-"
and a lag measured from the log start.`,
			run: groupsDescribe,
		},
		{
			name: "reset-offsets",
			synopsis: "GROUP (--topic T[:p,p] ... | --all-topics) " +
				"(--to-earliest | --to-latest | --to-offset N | --to-datetime T | --shift-by N) [--dry-run] [--progress]",
			summary: "move a group's committed offsets",
			details: `Commits new offsets for a group, printing the old and the new offset of
every partition. As in Kafka, the group must be Empty (no running
consumers): stop them first. --dry-run prints the plan and changes
nothing; it also works while consumers are running.

Partitions: --topic T (every partition of T) or --topic T:0,2,4-7 (some),
may be repeated; --all-topics takes every partition the group has
committed offsets for.

Where to (exactly one):
  --to-earliest        the log start offset
  --to-latest          the log end (high watermark)
  --to-offset N        offset N, kept within log start..log end
  --to-datetime T      the first offset whose timestamp is at or after T,
                       RFC 3339 (2026-01-02T15:04:05Z, 2026-01-02T15:04:05+02:00);
                       without a zone (2026-01-02T15:04:05, 2026-01-02) T is UTC;
                       the log end when no record is that new
  --shift-by N         the committed offset plus N (N may be negative),
                       kept within log start..log end

Example:
  shale groups reset-offsets billing --topic orders --to-datetime 2026-01-02T00:00:00Z --dry-run`,
			run: groupsResetOffsets,
		},
		{
			name:     "delete",
			synopsis: "GROUP... [--progress]",
			summary:  "delete consumer groups and their committed offsets",
			details: `Deletes groups and their committed offsets. As in Kafka, a group with
running consumers cannot be deleted.`,
			run: groupsDelete,
		},
	}
}

// groupListing is one group in `groups list --output json`.
type groupListing struct {
	Group        string `json:"group"`
	State        string `json:"state"`
	Members      int    `json:"members"`
	ProtocolType string `json:"protocol_type"`
	Protocol     string `json:"protocol"`
	Coordinator  int32  `json:"coordinator"`
}

// groupsList is `shale groups list`.
func groupsList(c *adminCmd, args []string) error {
	fs := c.flags()
	c.outputFlag(fs)
	rest, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("unexpected argument %q (list takes no group names; see 'describe')", rest[0])
	}
	adm, ctx, done, err := c.connect()
	if err != nil {
		return err
	}
	defer done()
	listed, err := adm.ListGroups(ctx)
	if err != nil {
		if !isShardErr(err) {
			return c.requestErr("list groups", err)
		}
		fmt.Fprintf(c.stderr, "%s: warning: some brokers did not answer; the list may be incomplete: %v\n", c.path, err)
	}
	names := listed.Groups()
	described := kadm.DescribedGroups{}
	if len(names) > 0 {
		described, err = adm.DescribeGroups(ctx, names...)
		if err != nil && !isShardErr(err) {
			return c.requestErr("describe groups", err)
		}
	}
	out := []groupListing{}
	for _, l := range listed.Sorted() {
		g := groupListing{Group: l.Group, State: l.State, ProtocolType: l.ProtocolType, Coordinator: l.Coordinator}
		if d, ok := described[l.Group]; ok && d.Err == nil {
			g.State, g.Members, g.Protocol = d.State, len(d.Members), d.Protocol
			if d.ProtocolType != "" {
				g.ProtocolType = d.ProtocolType
			}
		}
		out = append(out, g)
	}
	if c.output == "json" {
		return writeJSON(c.stdout, out)
	}
	t := newTable("GROUP", "STATE", "MEMBERS", "PROTOCOL")
	for _, g := range out {
		t.addRow(g.Group, dashIfEmpty(g.State), g.Members, protocolText(g.ProtocolType, g.Protocol))
	}
	return t.render(c.stdout)
}

// protocolText joins a protocol type and assignor: consumer/range.
func protocolText(protocolType, protocol string) string {
	switch {
	case protocolType == "" && protocol == "":
		return "-"
	case protocol == "":
		return protocolType
	case protocolType == "":
		return protocol
	}
	return protocolType + "/" + protocol
}

// groupDescription is one group in `groups describe --output json`.
type groupDescription struct {
	Group        string              `json:"group"`
	Coordinator  int32               `json:"coordinator"`
	State        string              `json:"state"`
	ProtocolType string              `json:"protocol_type"`
	Protocol     string              `json:"protocol"`
	Members      []groupMemberDetail `json:"members"`
	Partitions   []groupPartitionLag `json:"partitions"`
	TotalLag     int64               `json:"total_lag"`
	Error        string              `json:"error,omitempty"`
}

type groupMemberDetail struct {
	MemberID   string                 `json:"member_id"`
	InstanceID string                 `json:"instance_id,omitempty"`
	ClientID   string                 `json:"client_id"`
	Host       string                 `json:"host"`
	Assigned   []kadm.TopicPartitions `json:"assigned"`
}

type groupPartitionLag struct {
	Topic         string `json:"topic"`
	Partition     int32  `json:"partition"`
	CurrentOffset int64  `json:"current_offset"` // -1: nothing committed
	LogEnd        int64  `json:"log_end"`
	Lag           int64  `json:"lag"` // -1: unknown (see error)
	MemberID      string `json:"member_id,omitempty"`
	ClientID      string `json:"client_id,omitempty"`
	Host          string `json:"host,omitempty"`
	Error         string `json:"error,omitempty"`
}

// groupsDescribe is `shale groups describe`.
func groupsDescribe(c *adminCmd, args []string) error {
	fs := c.flags()
	c.outputFlag(fs)
	groups, adm, ctx, done, err := c.namesAndConnect(fs, args, "group", checkGroupNames)
	if err != nil {
		return err
	}
	defer done()
	lags, err := adm.Lag(ctx, groups...)
	if err != nil {
		return c.requestErr("describe groups", err)
	}
	var out []groupDescription
	failed := 0
	for _, name := range groups {
		l, ok := lags[name]
		d := groupDescription{Group: name, Members: []groupMemberDetail{}, Partitions: []groupPartitionLag{}}
		switch {
		case !ok:
			d.Error = "no answer for this group"
		case l.DescribeErr != nil && errors.Is(l.DescribeErr, kerr.GroupIDNotFound):
			d.Error = "the group does not exist"
		case l.DescribeErr != nil:
			d.Error = kafkaErrorText(l.DescribeErr, errMessage(l.DescribeErr))
		case l.FetchErr != nil:
			d.Error = "fetch committed offsets: " + kafkaErrorText(l.FetchErr, errMessage(l.FetchErr))
		case l.State == "Dead" && len(l.Members) == 0 && len(l.Lag) == 0:
			d.Error = "the group does not exist"
		}
		if d.Error != "" {
			failed++
			out = append(out, d)
			continue
		}
		d.Coordinator = l.Coordinator.NodeID
		d.State, d.ProtocolType, d.Protocol = l.State, l.ProtocolType, l.Protocol
		for _, m := range l.Members {
			md := groupMemberDetail{MemberID: m.MemberID, ClientID: m.ClientID, Host: m.ClientHost, Assigned: []kadm.TopicPartitions{}}
			if m.InstanceID != nil {
				md.InstanceID = *m.InstanceID
			}
			if a, ok := m.Assigned.AsConsumer(); ok {
				set := kadm.TopicsSet{}
				for _, t := range a.Topics {
					set.Add(t.Topic, t.Partitions...)
				}
				md.Assigned = set.Sorted()
			}
			d.Members = append(d.Members, md)
		}
		for _, pl := range l.Lag.Sorted() {
			p := groupPartitionLag{
				Topic: pl.Topic, Partition: pl.Partition,
				CurrentOffset: pl.Commit.At, LogEnd: pl.End.Offset, Lag: pl.Lag,
			}
			if pl.Member != nil {
				p.MemberID, p.ClientID, p.Host = pl.Member.MemberID, pl.Member.ClientID, pl.Member.ClientHost
			}
			if pl.Err != nil {
				p.Error = kafkaErrorText(pl.Err, "")
			}
			d.Partitions = append(d.Partitions, p)
		}
		d.TotalLag = l.Lag.Total()
		out = append(out, d)
	}

	if c.output == "json" {
		if err := writeJSON(c.stdout, out); err != nil {
			return err
		}
	} else {
		printed := 0
		for _, d := range out {
			if d.Error != "" {
				continue
			}
			if printed > 0 {
				fmt.Fprintln(c.stdout)
			}
			printed++
			printGroupDescription(c.stdout, d)
		}
	}
	for _, d := range out {
		if d.Error != "" {
			fmt.Fprintf(c.stderr, "%s: group %q: %s\n", c.path, d.Group, d.Error)
		}
	}
	if failed > 0 {
		return &errReported{fmt.Sprintf("%d of %d groups could not be described", failed, len(groups))}
	}
	return nil
}

// errMessage is the broker's message carried by a kadm error, if any.
func errMessage(err error) string {
	var em *kadm.ErrAndMessage
	if errors.As(err, &em) {
		return em.ErrMessage
	}
	return ""
}

func printGroupDescription(w io.Writer, d groupDescription) {
	writeSection(w, "SUMMARY")
	s := newTable()
	s.addRow("GROUP", d.Group)
	s.addRow("COORDINATOR", d.Coordinator)
	s.addRow("STATE", d.State)
	s.addRow("PROTOCOL", protocolText(d.ProtocolType, d.Protocol))
	s.addRow("MEMBERS", len(d.Members))
	s.addRow("TOTAL-LAG", d.TotalLag)
	s.render(w)

	fmt.Fprintln(w)
	writeSection(w, "MEMBERS")
	if len(d.Members) == 0 {
		fmt.Fprintln(w, "(none)")
	} else {
		t := newTable("MEMBER-ID", "INSTANCE-ID", "CLIENT-ID", "HOST", "ASSIGNED")
		for _, m := range d.Members {
			t.addRow(m.MemberID, dashIfEmpty(m.InstanceID), m.ClientID, m.Host, assignedText(m.Assigned))
		}
		t.render(w)
	}

	fmt.Fprintln(w)
	writeSection(w, "PARTITIONS")
	if len(d.Partitions) == 0 {
		fmt.Fprintln(w, "(none: no committed offsets and no assignments)")
		return
	}
	withErr := false
	for _, p := range d.Partitions {
		withErr = withErr || p.Error != ""
	}
	header := []string{"TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END", "LAG", "MEMBER-ID", "CLIENT-ID", "HOST"}
	if withErr {
		header = append(header, "ERROR")
	}
	t := newTable(header...)
	for _, p := range d.Partitions {
		row := []any{p.Topic, p.Partition, offsetText(p.CurrentOffset), offsetText(p.LogEnd), offsetText(p.Lag),
			dashIfEmpty(p.MemberID), dashIfEmpty(p.ClientID), dashIfEmpty(p.Host)}
		if withErr {
			row = append(row, dashIfEmpty(p.Error))
		}
		t.addRow(row...)
	}
	t.render(w)
}

// assignedText shows assigned partitions compactly: orders:0,1 payments:2.
func assignedText(ts []kadm.TopicPartitions) string {
	if len(ts) == 0 {
		return "-"
	}
	var parts []string
	for _, t := range ts {
		ps := make([]string, len(t.Partitions))
		for i, p := range t.Partitions {
			ps[i] = strconv.Itoa(int(p))
		}
		parts = append(parts, t.Topic+":"+strings.Join(ps, ","))
	}
	return strings.Join(parts, " ")
}

// checkGroupNames refuses empty and repeated group names.
func checkGroupNames(groups []string) error {
	seen := map[string]bool{}
	for _, g := range groups {
		if g == "" {
			return usagef("group name is empty")
		}
		if seen[g] {
			return usagef("group %q is named twice", g)
		}
		seen[g] = true
	}
	return nil
}

// resetTarget says where reset-offsets moves each partition.
type resetTarget struct {
	kind   string // "earliest", "latest", "offset", "datetime", "shift"
	offset int64  // for "offset"; the shift for "shift"
	at     time.Time
}

// parseDatetime reads --to-datetime: RFC 3339, or without a zone (UTC).
func parseDatetime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, errors.New("want a time such as 2026-01-02T15:04:05Z (RFC 3339; no zone means UTC)")
}

// parseTopicPartitions reads one --topic value: T or T:0,2,4-7. A nil
// partition list means every partition.
func parseTopicPartitions(s string) (string, []int32, error) {
	topic, list, hasList := strings.Cut(s, ":")
	if err := checkTopicName(topic); err != nil {
		return "", nil, fmt.Errorf("invalid value %q for --topic: %v", s, err)
	}
	if !hasList {
		return topic, nil, nil
	}
	if list == "" {
		return "", nil, fmt.Errorf("invalid value %q for --topic: no partitions after ':'", s)
	}
	var ps []int32
	for _, item := range strings.Split(list, ",") {
		lo, hi, isRange := strings.Cut(item, "-")
		a, err := strconv.ParseInt(lo, 10, 32)
		if err != nil || a < 0 {
			return "", nil, fmt.Errorf("invalid value %q for --topic: partition %q is not a number >= 0", s, item)
		}
		b := a
		if isRange {
			b, err = strconv.ParseInt(hi, 10, 32)
			if err != nil || b < a {
				return "", nil, fmt.Errorf("invalid value %q for --topic: %q is not a range such as 2-5", s, item)
			}
			if b-a >= 1<<20 {
				return "", nil, fmt.Errorf("invalid value %q for --topic: range %q is too large", s, item)
			}
		}
		for p := a; p <= b; p++ {
			ps = append(ps, int32(p))
		}
	}
	return topic, ps, nil
}

// offsetReset is one partition's planned (and, unless a dry run, applied)
// reset, as printed by reset-offsets.
type offsetReset struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Old       int64  `json:"old"` // -1: nothing was committed
	New       int64  `json:"new"` // -1: no new offset (see error)
	Note      string `json:"note,omitempty"`
	Error     string `json:"error,omitempty"`
}

// groupsResetOffsets is `shale groups reset-offsets`.
func groupsResetOffsets(c *adminCmd, args []string) error {
	fs := c.flags()
	selected := map[string][]int32{} // topic -> partitions; nil: all
	var topicOrder []string
	fs.Func("topic", "partitions to reset: `T` or T:0,2,4-7; may be repeated", func(s string) error {
		topic, ps, err := parseTopicPartitions(s)
		if err != nil {
			return errors.New(strings.TrimPrefix(err.Error(), fmt.Sprintf("invalid value %q for --topic: ", s)))
		}
		prev, seen := selected[topic]
		switch {
		case !seen:
			topicOrder = append(topicOrder, topic)
			selected[topic] = ps
		case prev == nil || ps == nil:
			selected[topic] = nil
		default:
			selected[topic] = append(prev, ps...)
		}
		return nil
	})
	allTopics := fs.Bool("all-topics", false, "reset every partition the group has committed offsets for")
	var targets []string
	var target resetTarget
	choose := func(flagName string, t resetTarget) {
		targets = append(targets, flagName)
		target = t
	}
	fs.BoolFunc("to-earliest", "to the log start offset", func(string) error {
		choose("--to-earliest", resetTarget{kind: "earliest"})
		return nil
	})
	fs.BoolFunc("to-latest", "to the log end (high watermark)", func(string) error {
		choose("--to-latest", resetTarget{kind: "latest"})
		return nil
	})
	fs.Func("to-offset", "to offset `N` (kept within the log)", func(s string) error {
		var n int64
		if err := intFlag(&n, 64, 0)(s); err != nil {
			return err
		}
		choose("--to-offset", resetTarget{kind: "offset", offset: n})
		return nil
	})
	fs.Func("to-datetime", "to the first offset at or after `T` (RFC 3339; no zone: UTC)", func(s string) error {
		at, err := parseDatetime(s)
		if err != nil {
			return err
		}
		choose("--to-datetime", resetTarget{kind: "datetime", at: at})
		return nil
	})
	fs.Func("shift-by", "move the committed offset by `N` (negative: back)", func(s string) error {
		var n int64
		if err := intFlag(&n, 64, -1<<63)(s); err != nil {
			return err
		}
		choose("--shift-by", resetTarget{kind: "shift", offset: n})
		return nil
	})
	dryRun := fs.Bool("dry-run", false, "print the plan; commit nothing")
	c.outputFlag(fs)
	c.progressFlag(fs)
	rest, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(rest) == 0:
		return usagef("missing group name")
	case len(rest) > 1:
		return usagef("unexpected argument %q (reset-offsets takes one group)", rest[1])
	case rest[0] == "":
		return usagef("group name is empty")
	}
	group := rest[0]
	switch {
	case len(targets) == 0:
		return usagef("missing target: give one of --to-earliest, --to-latest, --to-offset N, --to-datetime T, --shift-by N")
	case len(targets) > 1 && targets[0] != targets[1]:
		return usagef("%s and %s cannot be combined: give one target", targets[0], targets[1])
	case len(targets) > 1:
		return usagef("%s is given twice", targets[0])
	}
	switch {
	case len(selected) == 0 && !*allTopics:
		return usagef("missing partitions: give --topic T[:p,p] or --all-topics")
	case len(selected) > 0 && *allTopics:
		return usagef("--topic and --all-topics cannot be combined")
	}

	adm, ctx, done, err := c.connect()
	if err != nil {
		return err
	}
	defer done()

	// The group must be inactive, as Kafka requires: a running consumer
	// would overwrite the new offsets with its own next commit.
	described, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		return c.requestErr("describe group", err)
	}
	d, ok := described[group]
	if !ok {
		return fmt.Errorf("describe group %q: no answer for this group", group)
	}
	state := d.State
	if d.Err != nil {
		if !errors.Is(d.Err, kerr.GroupIDNotFound) {
			return fmt.Errorf("describe group %q: %s", group, kafkaErrorText(d.Err, d.ErrMessage))
		}
		state = "Dead"
	}
	if state != "Empty" && state != "Dead" {
		msg := fmt.Sprintf("group %q is %s with %s; offsets can only be reset while the group is Empty: stop its consumers first", group, state, plural(len(d.Members), "member"))
		if !*dryRun {
			return errors.New(msg + " (--dry-run previews the reset)")
		}
		fmt.Fprintf(c.stderr, "%s: warning: %s\n", c.path, msg)
	}

	committed, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return c.requestErr("fetch committed offsets", err)
	}

	// Which partitions.
	var plan []offsetReset
	if *allTopics {
		committed.Each(func(o kadm.OffsetResponse) {
			if o.Err == nil && o.At >= 0 {
				plan = append(plan, offsetReset{Topic: o.Topic, Partition: o.Partition, Old: o.At})
			}
		})
		if len(plan) == 0 {
			return fmt.Errorf("group %q has no committed offsets; name the partitions with --topic", group)
		}
		sort.Slice(plan, func(i, j int) bool {
			if plan[i].Topic != plan[j].Topic {
				return plan[i].Topic < plan[j].Topic
			}
			return plan[i].Partition < plan[j].Partition
		})
	} else {
		details, err := adm.ListTopics(ctx, topicOrder...)
		if err != nil {
			return c.requestErr("describe topics", err)
		}
		for _, topic := range topicOrder {
			td, ok := details[topic]
			if !ok || td.Err != nil {
				why := "no answer for this topic"
				if ok {
					why = kafkaErrorText(td.Err, "")
				}
				return fmt.Errorf("topic %q: %s", topic, why)
			}
			ps := selected[topic]
			if ps == nil {
				ps = td.Partitions.Numbers()
			}
			seen := map[int32]bool{}
			for _, p := range ps {
				if seen[p] {
					continue
				}
				seen[p] = true
				if _, ok := td.Partitions[p]; !ok {
					return fmt.Errorf("topic %q has no partition %d (it has %d partitions)", topic, p, len(td.Partitions))
				}
				old := int64(-1)
				if o, ok := committed.Lookup(topic, p); ok && o.Err == nil {
					old = o.At
				}
				plan = append(plan, offsetReset{Topic: topic, Partition: p, Old: old})
			}
		}
	}

	// Where to.
	if err := c.planResets(ctx, adm, plan, target); err != nil {
		return err
	}

	// Commit, all or nothing as far as planning goes: a partition that
	// cannot be planned stops the whole reset.
	failed := 0
	for i := range plan {
		if plan[i].Error != "" {
			failed++
		}
	}
	planFailed := failed > 0
	if !*dryRun && !planFailed {
		var toCommit []int
		for i := range plan {
			if plan[i].Error == "" {
				toCommit = append(toCommit, i)
			}
		}
		err := c.runChunked("resetting offsets", len(toCommit), 200, func(lo, hi int) error {
			offsets := kadm.Offsets{}
			for _, i := range toCommit[lo:hi] {
				offsets.AddOffset(plan[i].Topic, plan[i].Partition, plan[i].New, -1)
			}
			resp, err := adm.CommitOffsets(ctx, group, offsets)
			if err != nil {
				return c.requestErr("commit offsets", err)
			}
			for _, i := range toCommit[lo:hi] {
				r, ok := resp.Lookup(plan[i].Topic, plan[i].Partition)
				switch {
				case !ok:
					plan[i].Error = "no answer for this partition"
				case r.Err != nil:
					plan[i].Error = kafkaErrorText(r.Err, "")
				}
				if plan[i].Error != "" {
					failed++
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}

	if c.output == "json" {
		if err := writeJSON(c.stdout, plan); err != nil {
			return err
		}
	} else {
		withNote := false
		for _, r := range plan {
			withNote = withNote || r.Error != "" || r.Note != ""
		}
		header := []string{"TOPIC", "PARTITION", "OLD", "NEW"}
		if withNote {
			header = append(header, "NOTE")
		}
		t := newTable(header...)
		for _, r := range plan {
			row := []any{r.Topic, r.Partition, offsetText(r.Old), offsetText(r.New)}
			if withNote {
				note := r.Note
				if r.Error != "" {
					note = "not reset: " + r.Error
				}
				row = append(row, dashIfEmpty(note))
			}
			t.addRow(row...)
		}
		t.render(c.stdout)
	}
	if planFailed {
		return &errReported{fmt.Sprintf("%s cannot be reset; nothing was committed", plural(failed, "partition"))}
	}
	if failed > 0 {
		return &errReported{fmt.Sprintf("%d of %d partitions not reset", failed, len(plan))}
	}
	if *dryRun {
		fmt.Fprintf(c.stderr, "%s: dry run: nothing was committed\n", c.path)
	}
	return nil
}

// planResets fills in the new offset of every planned partition, or its
// error. Offsets outside log start..log end are moved inside, with a note.
func (c *adminCmd) planResets(ctx context.Context, adm *kadm.Client, plan []offsetReset, target resetTarget) error {
	if len(plan) == 0 {
		return nil
	}
	topicSet := map[string]bool{}
	var topics []string
	for _, r := range plan {
		if !topicSet[r.Topic] {
			topicSet[r.Topic] = true
			topics = append(topics, r.Topic)
		}
	}
	starts, err := adm.ListStartOffsets(ctx, topics...)
	if err != nil && !isShardErr(err) {
		return c.requestErr("list log start offsets", err)
	}
	ends, err := adm.ListEndOffsets(ctx, topics...)
	if err != nil && !isShardErr(err) {
		return c.requestErr("list log end offsets", err)
	}
	var byTime kadm.ListedOffsets
	if target.kind == "datetime" {
		byTime, err = adm.ListOffsetsAfterMilli(ctx, target.at.UnixMilli(), topics...)
		if err != nil && !isShardErr(err) {
			return c.requestErr("list offsets by time", err)
		}
	}
	lookup := func(l kadm.ListedOffsets, r offsetReset) (int64, error) {
		o, ok := l.Lookup(r.Topic, r.Partition)
		if !ok {
			if missing, ok := l.Lookup(r.Topic, -1); ok && missing.Err != nil {
				return -1, missing.Err
			}
			return -1, errors.New("the broker did not list this partition")
		}
		if o.Err != nil {
			return -1, o.Err
		}
		return o.Offset, nil
	}
	for i := range plan {
		r := &plan[i]
		r.New = -1
		start, err := lookup(starts, *r)
		if err != nil {
			r.Error = "list log start: " + kafkaErrorText(err, "")
			continue
		}
		end, err := lookup(ends, *r)
		if err != nil {
			r.Error = "list log end: " + kafkaErrorText(err, "")
			continue
		}
		want := int64(0)
		switch target.kind {
		case "earliest":
			want = start
		case "latest":
			want = end
		case "offset":
			want = target.offset
		case "datetime":
			at, err := lookup(byTime, *r)
			if err != nil {
				r.Error = "list offset by time: " + kafkaErrorText(err, "")
				continue
			}
			want = at
			if at < 0 {
				want = end
			}
		case "shift":
			if r.Old < 0 {
				r.Error = "no committed offset to shift from"
				continue
			}
			want = r.Old + target.offset
			// Overflow of a huge shift lands outside the log either way.
			if target.offset > 0 && want < r.Old {
				want = end
			} else if target.offset < 0 && want > r.Old {
				want = start
			}
		}
		switch {
		case want < start:
			r.Note = fmt.Sprintf("%d is before the log start; using %d", want, start)
			want = start
		case want > end:
			r.Note = fmt.Sprintf("%d is past the log end; using %d", want, end)
			want = end
		}
		r.New = want
	}
	return nil
}

// groupsDelete is `shale groups delete`.
func groupsDelete(c *adminCmd, args []string) error {
	fs := c.flags()
	c.progressFlag(fs)
	groups, adm, ctx, done, err := c.namesAndConnect(fs, args, "group", checkGroupNames)
	if err != nil {
		return err
	}
	defer done()
	results := make(kadm.DeleteGroupResponses, len(groups))
	err = c.runChunked("deleting groups", len(groups), 20, func(lo, hi int) error {
		resp, err := adm.DeleteGroups(ctx, groups[lo:hi]...)
		if err != nil && !isShardErr(err) {
			return c.requestErr("delete groups", err)
		}
		for k, v := range resp {
			results[k] = v
		}
		return nil
	})
	if err != nil {
		return err
	}
	t := newTable("GROUP", "STATUS")
	failed := 0
	for _, g := range groups {
		r, ok := results[g]
		switch {
		case !ok:
			failed++
			t.addRow(g, "no answer for this group")
		case r.Err != nil:
			failed++
			t.addRow(g, kafkaErrorText(r.Err, r.ErrMessage))
		default:
			t.addRow(g, "OK")
		}
	}
	t.render(c.stdout)
	if failed > 0 {
		return &errReported{fmt.Sprintf("%d of %d groups not deleted", failed, len(groups))}
	}
	return nil
}

// plural formats a count with its noun: 1 member, 2 members.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
