// Package console is Shale's web console: plain server-rendered HTML
// pages (html/template, one small inline script, nothing loaded from
// elsewhere) showing the cluster and its brokers, topics with each
// partition's hot and cold ranges, consumer groups with their lag, the
// cost meter, and a message browser. It is served at "/" of the metrics
// listener when the node runs with --console, and only reads.
package console

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shalelog/shale/metadata"
	"github.com/shalelog/shale/metrics"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Source is what the console reads from its node.
type Source interface {
	Meta() *metadata.Store
	TopicStorage(name string) (metrics.TopicStorage, error)
	Ready() error
	// Addr is the Kafka listener the message browser reads through.
	Addr() string
}

//go:embed templates/*.html
var templateFS embed.FS

// Console is the console's http.Handler.
type Console struct {
	src   Source
	cost  func() metrics.CostReport
	log   *slog.Logger
	pages *template.Template
	mux   *http.ServeMux
}

// New returns the console over src; cost gives the cost meter's report.
func New(src Source, cost func() metrics.CostReport, log *slog.Logger) (*Console, error) {
	pages, err := template.New("").Funcs(template.FuncMap{
		"bytes": humanBytes,
		"pct":   func(f float64) string { return strconv.FormatFloat(f*100, 'f', 2, 64) },
		"money": func(f float64) string { return strconv.FormatFloat(f, 'f', 6, 64) },
		"float": func(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) },
	}).ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("console templates: %w", err)
	}
	c := &Console{src: src, cost: cost, log: log, pages: pages, mux: http.NewServeMux()}
	c.mux.HandleFunc("GET /{$}", c.overview)
	c.mux.HandleFunc("GET /topics", c.topics)
	c.mux.HandleFunc("GET /topics/{name}", c.topic)
	c.mux.HandleFunc("GET /groups", c.groups)
	c.mux.HandleFunc("GET /cost", c.costPage)
	c.mux.HandleFunc("GET /browse", c.browse)
	return c, nil
}

// ServeHTTP implements http.Handler.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; form-action 'self'")
	c.mux.ServeHTTP(w, r)
}

// page is what every template gets.
type page struct {
	Title   string
	Nav     string
	Cluster string
	Ready   string // "" when ready
	Now     string
	Data    any
}

func (c *Console) render(w http.ResponseWriter, name, title string, data any) {
	p := page{Title: title, Nav: name, Cluster: c.src.Meta().ClusterID(), Now: time.Now().UTC().Format(time.RFC3339), Data: data}
	if err := c.src.Ready(); err != nil {
		p.Ready = err.Error()
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := c.pages.ExecuteTemplate(w, name+".html", p); err != nil {
		c.log.Warn("console page failed", "page", name, "err", err)
	}
}

type brokerRow struct {
	metadata.Broker
	Leads int
	State string
}

type overviewData struct {
	Raft       metadata.RaftStatus
	Controller int32
	Brokers    []brokerRow
	Topics     int
	Partitions int
	Stored     int64
	Groups     int
}

func (c *Console) overview(w http.ResponseWriter, _ *http.Request) {
	m := c.src.Meta()
	d := overviewData{Raft: m.RaftStatus(), Controller: m.ControllerID(), Groups: len(m.GroupsWithOffsets())}
	leads := map[int32]int{}
	for _, t := range m.Topics() {
		d.Topics++
		for p, part := range t.Partitions {
			d.Partitions++
			leads[part.Leader]++
			if pl, ok := m.PartitionLog(t.ID, int32(p)); ok {
				d.Stored += pl.Bytes
			}
		}
	}
	for _, b := range m.Brokers() {
		st := "live"
		switch {
		case b.Fenced:
			st = "fenced"
		case b.Draining:
			st = "draining"
		}
		d.Brokers = append(d.Brokers, brokerRow{Broker: b, Leads: leads[b.ID], State: st})
	}
	sort.Slice(d.Brokers, func(i, j int) bool { return d.Brokers[i].ID < d.Brokers[j].ID })
	c.render(w, "overview", "Cluster", d)
}

// bar is a partition's range bar: segments as percentages of the width.
type bar struct {
	ColdOnly, Both, HotOnly float64 // percent
}

func rangeBar(p metrics.PartitionStorage) bar {
	end := p.HighWatermark
	if p.Hot {
		end = max(end, p.HotTo)
	}
	span := float64(end - p.LogStart)
	if span <= 0 {
		return bar{}
	}
	overlapFrom, overlapTo := max(p.LogStart, p.HotFrom), min(p.HighWatermark, p.HotTo)
	var both float64
	if p.Hot && overlapTo > overlapFrom {
		both = float64(overlapTo - overlapFrom)
	}
	cold := float64(p.HighWatermark-p.LogStart) - both
	hot := 0.0
	if p.Hot {
		hot = float64(p.HotTo-p.HotFrom) - both
	}
	return bar{ColdOnly: 100 * cold / span, Both: 100 * both / span, HotOnly: 100 * max(hot, 0) / span}
}

type partitionRow struct {
	metrics.PartitionStorage
	Bar bar
}

type topicRow struct {
	Name       string
	Partitions []partitionRow
	Stored     int64
	Extents    int
	Records    int64
}

func (c *Console) topicRow(name string) (topicRow, error) {
	ts, err := c.src.TopicStorage(name)
	if err != nil {
		return topicRow{}, err
	}
	r := topicRow{Name: ts.Topic}
	for _, p := range ts.Partitions {
		r.Partitions = append(r.Partitions, partitionRow{PartitionStorage: p, Bar: rangeBar(p)})
		r.Stored += p.StoredBytes
		r.Extents += p.Extents
		r.Records += p.HighWatermark - p.LogStart
	}
	return r, nil
}

func (c *Console) topics(w http.ResponseWriter, _ *http.Request) {
	var rows []topicRow
	for _, t := range c.src.Meta().Topics() {
		if r, err := c.topicRow(t.Name); err == nil {
			rows = append(rows, r)
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Name < rows[j].Name })
	c.render(w, "topics", "Topics", rows)
}

func (c *Console) topic(w http.ResponseWriter, r *http.Request) {
	row, err := c.topicRow(r.PathValue("name"))
	if errors.Is(err, metrics.ErrNoTopic) {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	c.render(w, "topic", "Topic "+row.Name, row)
}

type lagRow struct {
	Group     string
	Topic     string
	Partition int32
	Committed int64
	End       int64
	Lag       int64
}

type groupRow struct {
	Group string
	Lag   int64
	Rows  []lagRow
}

func (c *Console) groups(w http.ResponseWriter, _ *http.Request) {
	m := c.src.Meta()
	var out []groupRow
	for _, g := range m.GroupsWithOffsets() {
		gr := groupRow{Group: g}
		for tp, off := range m.GroupOffsets(g) {
			row := lagRow{Group: g, Topic: tp.Topic, Partition: tp.Partition, Committed: off.Offset, End: -1}
			if t, ok := m.Topic(tp.Topic); ok {
				if pl, ok := m.PartitionLog(t.ID, tp.Partition); ok {
					row.End = pl.End
					row.Lag = max(pl.End-off.Offset, 0)
				}
			}
			gr.Lag += row.Lag
			gr.Rows = append(gr.Rows, row)
		}
		sort.Slice(gr.Rows, func(i, j int) bool {
			a, b := gr.Rows[i], gr.Rows[j]
			return a.Topic < b.Topic || (a.Topic == b.Topic && a.Partition < b.Partition)
		})
		out = append(out, gr)
	}
	c.render(w, "groups", "Consumer groups", out)
}

func (c *Console) costPage(w http.ResponseWriter, _ *http.Request) {
	c.render(w, "cost", "Cost", c.cost())
}

// browseLimit bounds the records one browser page shows.
const browseLimit = 50

type browseRecord struct {
	Offset    int64
	Time      string
	Key       string
	Value     string
	Headers   string
	Truncated bool
}

type browseData struct {
	Topics    []string
	Topic     string
	Partition int32
	Offset    int64
	Next      int64
	Records   []browseRecord
	Error     string
}

// browse shows up to browseLimit records of one partition from an offset,
// read through the node's own Kafka listener.
func (c *Console) browse(w http.ResponseWriter, r *http.Request) {
	d := browseData{}
	for _, t := range c.src.Meta().Topics() {
		d.Topics = append(d.Topics, t.Name)
	}
	sort.Strings(d.Topics)
	q := r.URL.Query()
	d.Topic = q.Get("topic")
	if d.Topic == "" {
		c.render(w, "browse", "Messages", d)
		return
	}
	p, err := strconv.ParseInt(q.Get("partition"), 10, 32)
	if q.Get("partition") == "" {
		p, err = 0, nil
	}
	off, oerr := strconv.ParseInt(q.Get("offset"), 10, 64)
	if q.Get("offset") == "" {
		off, oerr = 0, nil
	}
	switch {
	case err != nil || p < 0:
		d.Error = fmt.Sprintf("partition %q: want a number >= 0", q.Get("partition"))
	case oerr != nil || off < 0:
		d.Error = fmt.Sprintf("offset %q: want a number >= 0", q.Get("offset"))
	}
	d.Partition, d.Offset = int32(p), off
	t, ok := c.src.Meta().Topic(d.Topic)
	if d.Error == "" && (!ok || int(p) >= len(t.Partitions)) {
		d.Error = fmt.Sprintf("no partition %s/%d", d.Topic, p)
	}
	if d.Error == "" {
		d.Records, d.Next, err = c.read(r.Context(), d.Topic, d.Partition, d.Offset)
		if err != nil {
			d.Error = err.Error()
		}
	}
	c.render(w, "browse", "Messages", d)
}

func (c *Console) read(ctx context.Context, topic string, partition int32, offset int64) ([]browseRecord, int64, error) {
	m := c.src.Meta()
	t, _ := m.Topic(topic)
	pl, _ := m.PartitionLog(t.ID, partition)
	if offset < pl.LogStart {
		offset = pl.LogStart
	}
	if offset >= pl.End {
		return nil, offset, nil
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.src.Addr()), kgo.ClientID("shale-console"),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {partition: kgo.NewOffset().At(offset)}}),
		kgo.FetchMaxWait(500*time.Millisecond))
	if err != nil {
		return nil, offset, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var out []browseRecord
	next := offset
	for len(out) < browseLimit && next < pl.End {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			break
		}
		if errs := fs.Errors(); len(errs) > 0 {
			return out, next, fmt.Errorf("read %s/%d: %w", topic, partition, errs[0].Err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if len(out) >= browseLimit || r.Offset < offset {
				return
			}
			br := browseRecord{Offset: r.Offset, Time: r.Timestamp.UTC().Format("2006-01-02 15:04:05.000")}
			var tk, tv bool
			br.Key, tk = shown(r.Key)
			br.Value, tv = shown(r.Value)
			br.Truncated = tk || tv
			var hs []string
			for _, h := range r.Headers {
				v, _ := shown(h.Value)
				hs = append(hs, h.Key+"="+v)
			}
			br.Headers = strings.Join(hs, ", ")
			out = append(out, br)
			next = r.Offset + 1
		})
	}
	return out, next, nil
}

// shownBytes is how much of a key or value the browser shows.
const shownBytes = 512

// shown renders b for a page: text as is, binary as hex, cut at
// shownBytes.
func shown(b []byte) (string, bool) {
	if b == nil {
		return "(null)", false
	}
	cut := len(b) > shownBytes
	if cut {
		b = b[:shownBytes]
	}
	if utf8.Valid(b) {
		return string(b), cut
	}
	return fmt.Sprintf("0x%x", b), cut
}

func humanBytes(n any) string {
	var f float64
	switch v := n.(type) {
	case int64:
		f = float64(v)
	case float64:
		f = v
	case int:
		f = float64(v)
	}
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.0f B", f)
	}
	return fmt.Sprintf("%.1f %s", f, units[i])
}
