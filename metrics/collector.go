package metrics

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/shalelog/shale/metadata"
	"github.com/shalelog/shale/objectstore"
	"github.com/shalelog/shale/tiering"
	"github.com/shalelog/shale/wal"
)

// Sources are the node's components the Collector reads at each scrape.
// Broker components are nil on a controller-only node.
type Sources struct {
	Meta     *metadata.Store
	Bucket   *objectstore.Counting // billed request classes
	WAL      *wal.Log
	WALMax   int64
	Uploader *tiering.Uploader
	Reader   *tiering.Reader
	// PartitionLabels adds consumer lag per partition.
	PartitionLabels bool
}

// Collector reads the node's figures when Prometheus scrapes: the WAL's
// size and counters, the uploader's progress and lag, the billed object
// store requests, the cold reader's cache, raft, topics and consumer lag.
type Collector struct {
	src Sources
	// forget, if set, is told the topics that exist at each scrape, so
	// series of deleted topics go.
	forget func(live map[string]bool)
}

// NewCollector returns a Collector over src.
func NewCollector(src Sources) *Collector { return &Collector{src: src} }

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

var (
	walBytesDesc    = desc("shale_wal_bytes", "Bytes of WAL files on local disk (segments and spares).")
	walMaxDesc      = desc("shale_wal_max_bytes", "The WAL's byte budget (wal max_bytes); produce fails with KAFKA_STORAGE_ERROR when it is full.")
	walCommitsDesc  = desc("shale_wal_commits_total", "WAL group commits (one write and one fdatasync each).")
	walEntriesDesc  = desc("shale_wal_entries_total", "WAL entries (produced batches) made durable.")
	walWrittenDesc  = desc("shale_wal_written_bytes_total", "Frame bytes made durable in the WAL.")
	walFsyncsDesc   = desc("shale_wal_fsyncs_total", "fsyncs the WAL issued: commits, new segment files, directories.")
	walSealsDesc    = desc("shale_wal_segments_sealed_total", "WAL segments sealed (each becomes one object).")
	walMemoryDesc   = desc("shale_wal_upload_memory_bytes", "Payload bytes of WAL segments kept in memory until the uploader reads them (wal upload_memory_bytes).")
	upObjectsDesc   = desc("shale_upload_objects_total", "Objects uploaded and committed to the catalog.")
	upBytesDesc     = desc("shale_upload_bytes_total", "Bytes of the objects uploaded and committed.")
	upSegmentsDesc  = desc("shale_upload_segments_total", "WAL segments the uploader handled.")
	upPutErrDesc    = desc("shale_upload_put_errors_total", "Failed PUT attempts of the uploader (each retried).")
	upCommitErrDesc = desc("shale_upload_commit_errors_total", "Failed catalog commit attempts of the uploader (each retried).")
	upCommitsDesc   = desc("shale_upload_commits_total", "Catalog commits of the uploader: raft entries, each committing one or more objects.")
	upRePutsDesc    = desc("shale_upload_reputs_total", "Objects uploaded again because their first PUT neared orphan_grace before its commit.")
	upFencedDesc    = desc("shale_upload_fenced_partitions_total", "Partitions (per epoch) whose data the catalog refused (leadership moved).")
	upPendingDesc   = desc("shale_upload_pending_segments", "Sealed WAL segments not yet uploaded.")
	upLagDesc       = desc("shale_upload_lag_seconds", "Age of the oldest data not yet uploaded (first entry of the oldest sealed segment pending); 0 when none is pending.")
	upLastLagDesc   = desc("shale_upload_last_commit_lag_seconds", "For the last segment committed: time from its first entry to its commit.")
	billedDesc      = desc("shale_objectstore_requests_total", "Object store requests as the store bills them: class a (PUT, COPY, POST, LIST; multipart parts counted), b (GET, HEAD), delete (free).", "class")
	crHitsDesc      = desc("shale_coldread_cache_hits_total", "Cold-read block lookups served from the block cache.")
	crMissesDesc    = desc("shale_coldread_cache_misses_total", "Cold-read block lookups that waited for a GET.")
	crFootHitsDesc  = desc("shale_coldread_footer_hits_total", "Object footer lookups served from the footer cache.")
	crFootMissDesc  = desc("shale_coldread_footer_misses_total", "Object footer lookups that waited for a GET.")
	crAheadDesc     = desc("shale_coldread_readahead_blocks_total", "Blocks fetched ahead of a sequential cold reader or in parallel.")
	crGetsDesc      = desc("shale_coldread_gets_total", "Ranged GETs the cold reader sent, retries included.")
	crGetBytesDesc  = desc("shale_coldread_get_bytes_total", "Bytes the cold reader received in GET bodies.")
	crRetriesDesc   = desc("shale_coldread_retries_total", "Cold-read GETs and HEADs retried after a retriable error.")
	crDedupDesc     = desc("shale_coldread_deduped_gets_total", "Lookups that joined a GET already in flight.")
	crCacheDesc     = desc("shale_coldread_cache_bytes", "Bytes of blocks in the cold-read cache.")
	raftStateDesc   = desc("shale_raft_state", "1 for this node's raft state (leader, follower, candidate, shutdown), 0 for the others.", "state")
	raftTermDesc    = desc("shale_raft_term", "This node's raft term.")
	raftCommitDesc  = desc("shale_raft_commit_index", "Highest raft index known committed.")
	raftAppliedDesc = desc("shale_raft_applied_index", "Highest raft index applied to this node's metadata.")
	raftLagDesc     = desc("shale_raft_apply_lag_entries", "Committed raft entries not yet applied here (commit index minus applied index).")
	raftContactDesc = desc("shale_raft_last_contact_seconds", "On a follower, time since the leader was last heard from (0 on the leader).")
	raftLeaderDesc  = desc("shale_raft_has_leader", "1 when this node knows a raft leader.")
	topicPartsDesc  = desc("shale_topic_partitions", "Partitions of a topic.", "topic")
	topicBytesDesc  = desc("shale_topic_stored_bytes", "Bytes of a topic's extents in the object tier (catalog).", "topic")
	topicExtDesc    = desc("shale_topic_extents", "Extents (object slices) of a topic in the catalog.", "topic")
	topicHWDesc     = desc("shale_topic_high_watermark_sum", "Sum over a topic's partitions of the high watermark (catalog end): its rate is the topic's committed records per second.", "topic")
	lagDesc         = desc("shale_consumer_group_lag", "Records a consumer group has not committed yet, summed over the topic's partitions it committed for (high watermark minus committed offset).", "group", "topic")
	partHWDesc      = desc("shale_partition_high_watermark", "A partition's high watermark (catalog end), with metrics_partition_labels.", "topic", "partition")
	partStartDesc   = desc("shale_partition_log_start_offset", "A partition's log start offset, with metrics_partition_labels.", "topic", "partition")
	partBytesDesc   = desc("shale_partition_stored_bytes", "Bytes of a partition's extents in the object tier, with metrics_partition_labels.", "topic", "partition")
	lagPartDesc     = desc("shale_consumer_group_partition_lag", "Consumer group lag of one partition (with metrics_partition_labels).", "group", "topic", "partition")
)

// Describe implements prometheus.Collector: the collector is unchecked
// (its series depend on topics and groups).
func (c *Collector) Describe(chan<- *prometheus.Desc) {}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v float64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, l...)
	}
	gauge := func(d *prometheus.Desc, v float64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, l...)
	}
	s := c.src
	if s.WAL != nil {
		st := s.WAL.Stats()
		gauge(walBytesDesc, float64(s.WAL.Bytes()))
		gauge(walMaxDesc, float64(s.WALMax))
		counter(walCommitsDesc, float64(st.Commits))
		counter(walEntriesDesc, float64(st.Entries))
		counter(walWrittenDesc, float64(st.Bytes))
		counter(walFsyncsDesc, float64(st.Fsyncs))
		counter(walSealsDesc, float64(st.Seals))
		gauge(walMemoryDesc, float64(st.MemoryBytes))
	}
	if s.Uploader != nil {
		st := s.Uploader.Stats()
		counter(upObjectsDesc, float64(st.Objects))
		counter(upBytesDesc, float64(st.Bytes))
		counter(upSegmentsDesc, float64(st.Segments))
		counter(upPutErrDesc, float64(st.PutErrors))
		counter(upCommitErrDesc, float64(st.CommitErrors))
		counter(upCommitsDesc, float64(st.Commits))
		counter(upRePutsDesc, float64(st.RePuts))
		counter(upFencedDesc, float64(st.Fenced))
		gauge(upPendingDesc, float64(st.Pending))
		lag := 0.0
		if oldest, ok := s.Uploader.OldestPending(); ok {
			lag = time.Since(oldest).Seconds()
		}
		gauge(upLagDesc, lag)
		gauge(upLastLagDesc, st.LastUploadLag.Seconds())
	}
	if s.Bucket != nil {
		st := s.Bucket.Stats()
		counter(billedDesc, float64(st.ClassA), "a")
		counter(billedDesc, float64(st.ClassB), "b")
		counter(billedDesc, float64(st.Deletes), "delete")
	}
	if s.Reader != nil {
		st := s.Reader.Stats()
		counter(crHitsDesc, float64(st.CacheHits))
		counter(crMissesDesc, float64(st.CacheMisses))
		counter(crFootHitsDesc, float64(st.FooterHits))
		counter(crFootMissDesc, float64(st.FooterMisses))
		counter(crAheadDesc, float64(st.ReadAheads))
		counter(crGetsDesc, float64(st.Gets))
		counter(crGetBytesDesc, float64(st.GetBytes))
		counter(crRetriesDesc, float64(st.Retries))
		counter(crDedupDesc, float64(st.DedupedGets))
		gauge(crCacheDesc, float64(st.CachedBytes))
	}
	if s.Meta != nil {
		c.collectRaft(gauge)
		c.collectTopicsAndLag(gauge)
	}
}

func (c *Collector) collectRaft(gauge func(*prometheus.Desc, float64, ...string)) {
	st := c.src.Meta.RaftStatus()
	for _, name := range []string{"Leader", "Follower", "Candidate", "Shutdown"} {
		v := 0.0
		if st.State == name {
			v = 1
		}
		gauge(raftStateDesc, v, lower(name))
	}
	gauge(raftTermDesc, float64(st.Term))
	gauge(raftCommitDesc, float64(st.CommitIndex))
	gauge(raftAppliedDesc, float64(st.AppliedIndex))
	lag := 0.0
	if st.CommitIndex > st.AppliedIndex {
		lag = float64(st.CommitIndex - st.AppliedIndex)
	}
	gauge(raftLagDesc, lag)
	gauge(raftContactDesc, st.LastContact.Seconds())
	leader := 0.0
	if st.HasLeader {
		leader = 1
	}
	gauge(raftLeaderDesc, leader)
}

func lower(s string) string {
	b := []byte(s)
	if len(b) > 0 && b[0] >= 'A' && b[0] <= 'Z' {
		b[0] += 'a' - 'A'
	}
	return string(b)
}

func (c *Collector) collectTopicsAndLag(gauge func(*prometheus.Desc, float64, ...string)) {
	m := c.src.Meta
	ends := map[string][]int64{} // topic -> high watermark per partition
	topics := m.Topics()
	if c.forget != nil {
		live := make(map[string]bool, len(topics))
		for _, t := range topics {
			live[t.Name] = true
		}
		c.forget(live)
	}
	for _, t := range topics {
		var bytes, hw int64
		var extents int
		e := make([]int64, len(t.Partitions))
		for p := range t.Partitions {
			if pl, ok := m.PartitionLog(t.ID, int32(p)); ok {
				bytes += pl.Bytes
				extents += pl.Extents
				hw += pl.End
				e[p] = pl.End
				if c.src.PartitionLabels {
					ps := strconv.Itoa(p)
					gauge(partHWDesc, float64(pl.End), t.Name, ps)
					gauge(partStartDesc, float64(pl.LogStart), t.Name, ps)
					gauge(partBytesDesc, float64(pl.Bytes), t.Name, ps)
				}
			}
		}
		ends[t.Name] = e
		gauge(topicPartsDesc, float64(len(t.Partitions)), t.Name)
		gauge(topicBytesDesc, float64(bytes), t.Name)
		gauge(topicExtDesc, float64(extents), t.Name)
		gauge(topicHWDesc, float64(hw), t.Name)
	}
	for _, g := range m.GroupsWithOffsets() {
		perTopic := map[string]int64{}
		for tp, off := range m.GroupOffsets(g) {
			e, ok := ends[tp.Topic]
			if !ok || int(tp.Partition) >= len(e) {
				continue
			}
			lag := max(e[tp.Partition]-off.Offset, 0)
			perTopic[tp.Topic] += lag
			if c.src.PartitionLabels {
				gauge(lagPartDesc, float64(lag), g, tp.Topic, strconv.Itoa(int(tp.Partition)))
			}
		}
		for t, lag := range perTopic {
			gauge(lagDesc, float64(lag), g, t)
		}
	}
}
