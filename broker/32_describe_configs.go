package broker

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shalelog/shale/metadata"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DescribeConfigs: v0–v4, for TOPIC and BROKER resources.
//
// A topic lists every config Shale understands (metadata.TopicConfigDefs)
// with its value and source: DYNAMIC_TOPIC_CONFIG for an override, else the
// source of the broker config it falls back to, as Kafka reports it. A
// broker lists Kafka's broker configs that clients and tools commonly read
// (brokerConfigDefs): the settings Shale's broker configuration holds
// (STATIC_BROKER_CONFIG), the topic defaults behind every topic config, the
// group coordinator's settings, and a few Kafka settings that have no
// effect here (the log cleaner's), shown with Kafka's default and a note.
// All broker configs are read-only: Shale cannot alter them at run time.
// Values are what Shale does, never a Kafka default it does not follow.
//
// A topic also answers the read-only entry CompactionStatusConfig, only
// when it is asked for by name (so Kafka tools listing every config never
// see it): the compaction by key of each partition, as JSON
// (CompactionStatus), which `shale topics describe` shows.
//
// IncludeSynonyms (v1+) adds each config's synonyms in Kafka's order of
// precedence: for a topic config, its override and then the broker configs
// it falls back to (retention.ms: log.retention.ms, log.retention.minutes,
// log.retention.hours); for a broker config, the configs of its group
// that hold a value. IncludeDocumentation (v3+) adds a one-line
// description that says what Shale does with the config. Other resource
// types are INVALID_REQUEST.
func handleDescribeConfigs(s *Server, rc *reqCtx, r kmsg.Request) {
	req := r.(*kmsg.DescribeConfigsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeConfigsResponse)
	brokerDefs := s.brokerConfigDefs()
	for _, rr := range req.Resources {
		sr := kmsg.NewDescribeConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
		want := func(name string) bool {
			return rr.ConfigNames == nil || slices.Contains(rr.ConfigNames, name)
		}
		switch rr.ResourceType {
		case kmsg.ConfigResourceTypeTopic:
			t, ok := s.meta.Topic(rr.ResourceName)
			if !ok {
				sr.ErrorCode = kerr.UnknownTopicOrPartition.Code
				msg := fmt.Sprintf("topic %q does not exist", rr.ResourceName)
				sr.ErrorMessage = &msg
				break
			}
			for _, def := range metadata.TopicConfigDefs() {
				if !want(def.Name) {
					continue
				}
				c := kmsg.NewDescribeConfigsResponseResourceConfig()
				c.Name = def.Name
				v := t.Config(def.Name)
				c.Value = &v
				var synonyms []kmsg.DescribeConfigsResponseResourceConfigConfigSynonym
				if override, ok := t.Configs[def.Name]; ok {
					synonyms = append(synonyms, configSynonym(def.Name, &override, kmsg.ConfigSourceDynamicTopicConfig))
				}
				synonyms = append(synonyms, brokerDefs.synonyms(topicConfigSynonyms[def.Name])...)
				c.Source = kmsg.ConfigSourceDefaultConfig
				if len(synonyms) > 0 {
					c.Source = synonyms[0].Source
				}
				c.IsDefault = c.Source == kmsg.ConfigSourceDefaultConfig
				if req.IncludeSynonyms {
					c.ConfigSynonyms = synonyms
				}
				c.ConfigType = configType(def.Type)
				if req.IncludeDocumentation {
					doc := def.Doc
					c.Documentation = &doc
				}
				sr.Configs = append(sr.Configs, c)
			}
			if rr.ConfigNames != nil && slices.Contains(rr.ConfigNames, CompactionStatusConfig) {
				sr.Configs = append(sr.Configs, s.compactionStatus(t))
			}
		case kmsg.ConfigResourceTypeBroker:
			if rr.ResourceName != "" && rr.ResourceName != strconv.Itoa(int(s.cfg.NodeID)) {
				sr.ErrorCode = kerr.InvalidRequest.Code
				msg := fmt.Sprintf("broker %q is not this broker (%d)", rr.ResourceName, s.cfg.NodeID)
				sr.ErrorMessage = &msg
				break
			}
			for _, bc := range brokerDefs {
				if !want(bc.name) {
					continue
				}
				c := kmsg.NewDescribeConfigsResponseResourceConfig()
				c.Name = bc.name
				c.Value = bc.value
				c.ReadOnly = true
				synonyms := brokerDefs.synonyms(bc.synonymGroup())
				c.Source = kmsg.ConfigSourceDefaultConfig
				if len(synonyms) > 0 {
					c.Source = synonyms[0].Source
				}
				c.IsDefault = c.Source == kmsg.ConfigSourceDefaultConfig
				if req.IncludeSynonyms {
					c.ConfigSynonyms = synonyms
				}
				c.ConfigType = bc.typ
				if req.IncludeDocumentation {
					doc := bc.doc
					c.Documentation = &doc
				}
				sr.Configs = append(sr.Configs, c)
			}
		default:
			sr.ErrorCode = kerr.InvalidRequest.Code
			msg := fmt.Sprintf("resource type %d is not supported", rr.ResourceType)
			sr.ErrorMessage = &msg
		}
		resp.Resources = append(resp.Resources, sr)
	}
	rc.respond(resp)
}

func configSynonym(name string, value *string, source kmsg.ConfigSource) kmsg.DescribeConfigsResponseResourceConfigConfigSynonym {
	sy := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
	sy.Name, sy.Value, sy.Source = name, value, source
	return sy
}

// brokerConfigDef is one broker config as DescribeConfigs describes it.
type brokerConfigDef struct {
	name  string
	typ   kmsg.ConfigType
	value *string // nil: no value (null), as Kafka shows log.retention.ms
	// static marks a value taken from Shale's broker configuration
	// (STATIC_BROKER_CONFIG); otherwise it is a fixed default
	// (DEFAULT_CONFIG).
	static bool
	doc    string
	// group lists the configs that stand for the same setting, in Kafka's
	// order of precedence (log.retention.ms, log.retention.minutes,
	// log.retention.hours); nil means the config alone.
	group []string
}

func (d brokerConfigDef) synonymGroup() []string {
	if d.group == nil {
		return []string{d.name}
	}
	return d.group
}

func (d brokerConfigDef) source() kmsg.ConfigSource {
	if d.static {
		return kmsg.ConfigSourceStaticBrokerConfig
	}
	return kmsg.ConfigSourceDefaultConfig
}

type brokerConfigDefs []brokerConfigDef

// synonyms returns the configs named in group that hold a value, in the
// group's order, as Kafka lists a config's synonyms.
func (defs brokerConfigDefs) synonyms(group []string) []kmsg.DescribeConfigsResponseResourceConfigConfigSynonym {
	var out []kmsg.DescribeConfigsResponseResourceConfigConfigSynonym
	for _, name := range group {
		i := slices.IndexFunc(defs, func(d brokerConfigDef) bool { return d.name == name })
		if i >= 0 && defs[i].value != nil {
			out = append(out, configSynonym(name, defs[i].value, defs[i].source()))
		}
	}
	return out
}

// topicConfigSynonyms names, per topic config, the broker configs it falls
// back to, in Kafka's order of precedence (Kafka's
// LogConfig.TopicConfigSynonyms with the broker's own synonym groups).
// Topic configs without broker synonyms in Kafka are absent.
var topicConfigSynonyms = map[string][]string{
	"cleanup.policy":                      {"log.cleanup.policy"},
	"compression.type":                    {"compression.type"},
	"delete.retention.ms":                 {"log.cleaner.delete.retention.ms"},
	"file.delete.delay.ms":                {"log.segment.delete.delay.ms"},
	"flush.messages":                      {"log.flush.interval.messages"},
	"flush.ms":                            {"log.flush.interval.ms", "log.flush.scheduler.interval.ms"},
	"index.interval.bytes":                {"log.index.interval.bytes"},
	"local.retention.bytes":               {"log.local.retention.bytes"},
	"local.retention.ms":                  {"log.local.retention.ms"},
	"max.compaction.lag.ms":               {"log.cleaner.max.compaction.lag.ms"},
	"max.message.bytes":                   {"message.max.bytes"},
	"message.downconversion.enable":       {"log.message.downconversion.enable"},
	"message.format.version":              {"log.message.format.version"},
	"message.timestamp.after.max.ms":      {"log.message.timestamp.after.max.ms"},
	"message.timestamp.before.max.ms":     {"log.message.timestamp.before.max.ms"},
	"message.timestamp.difference.max.ms": {"log.message.timestamp.difference.max.ms"},
	"message.timestamp.type":              {"log.message.timestamp.type"},
	"min.cleanable.dirty.ratio":           {"log.cleaner.min.cleanable.ratio"},
	"min.compaction.lag.ms":               {"log.cleaner.min.compaction.lag.ms"},
	"min.insync.replicas":                 {"min.insync.replicas"},
	"preallocate":                         {"log.preallocate"},
	"retention.bytes":                     {"log.retention.bytes"},
	"retention.ms":                        {"log.retention.ms", "log.retention.minutes", "log.retention.hours"},
	"segment.bytes":                       {"log.segment.bytes"},
	"segment.index.bytes":                 {"log.index.size.max.bytes"},
	"segment.jitter.ms":                   {"log.roll.jitter.ms", "log.roll.jitter.hours"},
	"segment.ms":                          {"log.roll.ms", "log.roll.hours"},
	"unclean.leader.election.enable":      {"unclean.leader.election.enable"},
}

// brokerConfigDefs lists the broker configs DescribeConfigs describes,
// sorted by name. Topic defaults take their value from the topic config
// registry, so a broker config and the topic default it stands for never
// disagree.
func (s *Server) brokerConfigDefs() brokerConfigDefs {
	str := func(v string) *string { return &v }
	topicDefault := func(topicConfig string) *string {
		def, ok := metadata.LookupTopicConfig(topicConfig)
		if !ok {
			panic("broker config stands for unknown topic config " + topicConfig)
		}
		return str(def.Default)
	}
	retention := []string{"log.retention.ms", "log.retention.minutes", "log.retention.hours"}
	roll := []string{"log.roll.ms", "log.roll.hours"}
	jitter := []string{"log.roll.jitter.ms", "log.roll.jitter.hours"}
	flush := []string{"log.flush.interval.ms", "log.flush.scheduler.interval.ms"}
	gc := defaultGroupConfig()
	ms := func(d time.Duration) *string { return str(strconv.FormatInt(d.Milliseconds(), 10)) }
	var bound, advertised, protocols []string
	for _, l := range s.listeners {
		bound, advertised = append(bound, l.boundURL()), append(advertised, l.advertisedURL())
		protocols = append(protocols, l.name+":"+l.protocol)
	}
	const ignored = " Shale accepts it for compatibility and ignores it."
	const noCleaner = " Shale's key compactor (on the metadata leader, over the object tier) has its own settings; shown with Kafka's default."
	defs := brokerConfigDefs{
		{name: "advertised.listeners", typ: kmsg.ConfigTypeList, value: str(strings.Join(advertised, ",")), static: true,
			doc: "The endpoints clients are told to connect to, one per listener (broker listeners' advertised addresses)."},
		{name: "auto.create.topics.enable", typ: kmsg.ConfigTypeBoolean, value: str(strconv.FormatBool(s.cfg.AutoCreateTopics)), static: true,
			doc: "Whether Metadata requests that allow it create unknown topics (broker auto_create_topics)."},
		{name: "broker.id", typ: kmsg.ConfigTypeInt, value: str(strconv.Itoa(int(s.cfg.NodeID))), static: true,
			doc: "This broker's id (broker node_id)."},
		{name: "compression.type", typ: kmsg.ConfigTypeString, value: topicDefault("compression.type"),
			doc: "Default compression.type of topics: producer, batches are kept as producers send them."},
		{name: "connections.max.reauth.ms", typ: kmsg.ConfigTypeLong, value: ms(s.cfg.ConnectionsMaxReauth), static: true,
			doc: "Longest SASL session before the client must re-authenticate (broker connections_max_reauth); 0: no limit."},
		{name: "default.replication.factor", typ: kmsg.ConfigTypeInt, value: str("1"),
			doc: "Replication factor recorded for new topics: one leader per partition; durability comes from the object store."},
		{name: "delete.topic.enable", typ: kmsg.ConfigTypeBoolean, value: str("true"),
			doc: "DeleteTopics is served."},
		{name: "group.initial.rebalance.delay.ms", typ: kmsg.ConfigTypeInt, value: ms(s.cfg.GroupInitialRebalanceDelay), static: true,
			doc: "How long the first rebalance of an empty consumer group waits for more members (broker group_initial_rebalance_delay)."},
		{name: "group.max.session.timeout.ms", typ: kmsg.ConfigTypeInt, value: ms(gc.MaxSessionTimeout),
			doc: "Largest session timeout a group member may ask for."},
		{name: "group.min.session.timeout.ms", typ: kmsg.ConfigTypeInt, value: ms(gc.MinSessionTimeout),
			doc: "Smallest session timeout a group member may ask for."},
		{name: "listener.security.protocol.map", typ: kmsg.ConfigTypeList, value: str(strings.Join(protocols, ",")), static: true,
			doc: "Each listener's security protocol (broker listeners)."},
		{name: "listeners", typ: kmsg.ConfigTypeList, value: str(strings.Join(bound, ",")), static: true,
			doc: "The addresses the Kafka listeners bind (broker listen, or broker listeners)."},
		{name: "log.cleaner.backoff.ms", typ: kmsg.ConfigTypeLong, value: str("15000"),
			doc: "How long the log cleaner sleeps when there is nothing to clean." + noCleaner},
		{name: "log.cleaner.dedupe.buffer.size", typ: kmsg.ConfigTypeLong, value: str("134217728"),
			doc: "Memory for log cleaner deduplication." + noCleaner},
		{name: "log.cleaner.delete.retention.ms", typ: kmsg.ConfigTypeLong, value: topicDefault("delete.retention.ms"),
			doc: "Default delete.retention.ms of topics." + noCleaner},
		{name: "log.cleaner.enable", typ: kmsg.ConfigTypeBoolean, value: str("true"),
			doc: "Whether the log cleaner runs: Shale compacts cleanup.policy=compact topics by key on the object tier (tiering key compaction settings)."},
		{name: "log.cleaner.max.compaction.lag.ms", typ: kmsg.ConfigTypeLong, value: topicDefault("max.compaction.lag.ms"),
			doc: "Default max.compaction.lag.ms of topics." + noCleaner},
		{name: "log.cleaner.min.cleanable.ratio", typ: kmsg.ConfigTypeDouble, value: topicDefault("min.cleanable.dirty.ratio"),
			doc: "Default min.cleanable.dirty.ratio of topics." + noCleaner},
		{name: "log.cleaner.min.compaction.lag.ms", typ: kmsg.ConfigTypeLong, value: topicDefault("min.compaction.lag.ms"),
			doc: "Default min.compaction.lag.ms of topics." + noCleaner},
		{name: "log.cleaner.threads", typ: kmsg.ConfigTypeInt, value: str("1"),
			doc: "Log cleaner threads: one key compactor, on the metadata leader."},
		{name: "log.cleanup.policy", typ: kmsg.ConfigTypeList, value: topicDefault("cleanup.policy"),
			doc: "Default cleanup.policy of topics: delete, by retention.ms and retention.bytes (compact: by key)."},
		{name: "log.flush.interval.messages", typ: kmsg.ConfigTypeLong, value: topicDefault("flush.messages"),
			doc: "Default flush.messages of topics." + ignored + " The WAL is fsynced by group commit."},
		{name: "log.flush.interval.ms", typ: kmsg.ConfigTypeLong, group: flush,
			doc: "Default flush.ms of topics; unset, so log.flush.scheduler.interval.ms applies." + ignored},
		{name: "log.flush.scheduler.interval.ms", typ: kmsg.ConfigTypeLong, value: topicDefault("flush.ms"), group: flush,
			doc: "Fallback for log.flush.interval.ms." + ignored + " The WAL is fsynced by group commit."},
		{name: "log.index.interval.bytes", typ: kmsg.ConfigTypeInt, value: topicDefault("index.interval.bytes"),
			doc: "Default index.interval.bytes of topics."},
		{name: "log.index.size.max.bytes", typ: kmsg.ConfigTypeInt, value: topicDefault("segment.index.bytes"),
			doc: "Default segment.index.bytes of topics."},
		{name: "log.local.retention.bytes", typ: kmsg.ConfigTypeLong, value: topicDefault("local.retention.bytes"),
			doc: "Default local.retention.bytes of topics."},
		{name: "log.local.retention.ms", typ: kmsg.ConfigTypeLong, value: topicDefault("local.retention.ms"),
			doc: "Default local.retention.ms of topics."},
		{name: "log.message.downconversion.enable", typ: kmsg.ConfigTypeBoolean, value: topicDefault("message.downconversion.enable"),
			doc: "Default message.downconversion.enable of topics." + ignored + " Fetch v4+ reads batches as stored."},
		{name: "log.message.format.version", typ: kmsg.ConfigTypeString, value: topicDefault("message.format.version"),
			doc: "Default message.format.version of topics." + ignored + " Batches are kept as RecordBatch v2, as producers send them."},
		{name: "log.message.timestamp.after.max.ms", typ: kmsg.ConfigTypeLong, value: topicDefault("message.timestamp.after.max.ms"),
			doc: "Default message.timestamp.after.max.ms of topics."},
		{name: "log.message.timestamp.before.max.ms", typ: kmsg.ConfigTypeLong, value: topicDefault("message.timestamp.before.max.ms"),
			doc: "Default message.timestamp.before.max.ms of topics."},
		{name: "log.message.timestamp.difference.max.ms", typ: kmsg.ConfigTypeLong, value: topicDefault("message.timestamp.difference.max.ms"),
			doc: "Default message.timestamp.difference.max.ms of topics."},
		{name: "log.message.timestamp.type", typ: kmsg.ConfigTypeString, value: topicDefault("message.timestamp.type"),
			doc: "Default message.timestamp.type of topics: CreateTime keeps producer timestamps."},
		{name: "log.preallocate", typ: kmsg.ConfigTypeBoolean, value: topicDefault("preallocate"),
			doc: "Default preallocate of topics." + ignored},
		{name: "log.retention.bytes", typ: kmsg.ConfigTypeLong, value: topicDefault("retention.bytes"),
			doc: "Default retention.bytes of topics: -1, unlimited."},
		{name: "log.retention.hours", typ: kmsg.ConfigTypeInt, value: str("168"), group: retention,
			doc: "Default retention of topics in hours: 168 (retention.ms 604800000), applied in the object store."},
		{name: "log.retention.minutes", typ: kmsg.ConfigTypeInt, group: retention,
			doc: "Default retention of topics in minutes; unset, so log.retention.hours applies."},
		{name: "log.retention.ms", typ: kmsg.ConfigTypeLong, group: retention,
			doc: "Default retention.ms of topics; unset, so log.retention.hours applies."},
		{name: "log.roll.hours", typ: kmsg.ConfigTypeInt, value: str("168"), group: roll,
			doc: "Default segment.ms of topics in hours: 168."},
		{name: "log.roll.jitter.hours", typ: kmsg.ConfigTypeInt, value: str("0"), group: jitter,
			doc: "Default segment.jitter.ms of topics in hours: 0."},
		{name: "log.roll.jitter.ms", typ: kmsg.ConfigTypeLong, group: jitter,
			doc: "Default segment.jitter.ms of topics; unset, so log.roll.jitter.hours applies."},
		{name: "log.roll.ms", typ: kmsg.ConfigTypeLong, group: roll,
			doc: "Default segment.ms of topics; unset, so log.roll.hours applies."},
		{name: "log.segment.bytes", typ: kmsg.ConfigTypeInt, value: topicDefault("segment.bytes"),
			doc: "Default segment.bytes of topics."},
		{name: "log.segment.delete.delay.ms", typ: kmsg.ConfigTypeLong, value: topicDefault("file.delete.delay.ms"),
			doc: "Default file.delete.delay.ms of topics."},
		{name: "message.max.bytes", typ: kmsg.ConfigTypeInt, value: topicDefault("max.message.bytes"),
			doc: "Default max.message.bytes of topics: the largest record batch accepted."},
		{name: "min.insync.replicas", typ: kmsg.ConfigTypeInt, value: topicDefault("min.insync.replicas"),
			doc: "Default min.insync.replicas of topics." + ignored + " acks=all means stored in the object store and committed."},
		{name: "node.id", typ: kmsg.ConfigTypeInt, value: str(strconv.Itoa(int(s.cfg.NodeID))), static: true,
			doc: "This broker's id (broker node_id)."},
		{name: "num.partitions", typ: kmsg.ConfigTypeInt, value: str(strconv.Itoa(int(s.cfg.DefaultPartitions))), static: true,
			doc: "Partition count of topics created without one (broker default_partitions)."},
		{name: "offset.metadata.max.bytes", typ: kmsg.ConfigTypeInt, value: str(strconv.Itoa(gc.MaxMetadataBytes)),
			doc: "Largest metadata string of a committed offset."},
		{name: "offsets.retention.check.interval.ms", typ: kmsg.ConfigTypeLong, value: ms(gc.RetentionCheckInterval),
			doc: "How often expired committed offsets are looked for."},
		{name: "offsets.retention.minutes", typ: kmsg.ConfigTypeInt, value: str(strconv.FormatInt(int64(s.cfg.OffsetsRetention/time.Minute), 10)), static: true,
			doc: "How long a consumer group without members keeps its committed offsets (broker offsets_retention)."},
		{name: "sasl.enabled.mechanisms", typ: kmsg.ConfigTypeList, value: str(strings.Join(s.cfg.SASLMechanisms, ",")), static: true,
			doc: "The SASL mechanisms SASL listeners offer (broker sasl_enabled_mechanisms)."},
		{name: "socket.request.max.bytes", typ: kmsg.ConfigTypeInt, value: str(strconv.Itoa(int(s.cfg.MaxRequestBytes))), static: true,
			doc: "Largest request frame accepted; a larger one closes the connection (broker max_request_bytes)."},
		{name: "unclean.leader.election.enable", typ: kmsg.ConfigTypeBoolean, value: topicDefault("unclean.leader.election.enable"),
			doc: "Default unclean.leader.election.enable of topics." + ignored + " A new leader starts at the committed end."},
	}
	return defs
}
func configType(t metadata.ConfigType) kmsg.ConfigType {
	switch t {
	case metadata.ConfigTypeBoolean:
		return kmsg.ConfigTypeBoolean
	case metadata.ConfigTypeInt:
		return kmsg.ConfigTypeInt
	case metadata.ConfigTypeLong:
		return kmsg.ConfigTypeLong
	case metadata.ConfigTypeDouble:
		return kmsg.ConfigTypeDouble
	case metadata.ConfigTypeList:
		return kmsg.ConfigTypeList
	}
	return kmsg.ConfigTypeString
}

// CompactionStatusConfig is the read-only topic entry of DescribeConfigs
// that carries the compaction by key of every partition, as JSON: a list
// of CompactionStatus. It is answered only when asked for by name.
const CompactionStatusConfig = "shale.compaction.status"

// CompactionStatus is one partition's compaction by key.
type CompactionStatus struct {
	Partition      int32   `json:"partition"`
	DirtyRatio     float64 `json:"dirty_ratio"`
	CleanedTo      int64   `json:"cleaned_to"`
	LastCompaction int64   `json:"last_compaction_ms"` // 0: never
	Reclaimed      int64   `json:"bytes_reclaimed"`
	Passes         int64   `json:"passes"`
}

// compactionStatus is CompactionStatusConfig's entry for t.
func (s *Server) compactionStatus(t metadata.Topic) kmsg.DescribeConfigsResponseResourceConfig {
	out := make([]CompactionStatus, 0, len(t.Partitions))
	for i := range t.Partitions {
		st, _ := s.meta.KeyCompactionState(t.ID, int32(i))
		out = append(out, CompactionStatus{Partition: int32(i), DirtyRatio: st.DirtyRatio(), CleanedTo: st.CleanedTo,
			LastCompaction: st.LastCompaction, Reclaimed: st.Reclaimed, Passes: st.Passes})
	}
	b, _ := json.Marshal(out)
	c := kmsg.NewDescribeConfigsResponseResourceConfig()
	c.Name = CompactionStatusConfig
	v := string(b)
	c.Value = &v
	c.ReadOnly = true
	c.Source = kmsg.ConfigSourceDefaultConfig
	c.IsDefault = true
	c.ConfigType = kmsg.ConfigTypeString
	return c
}
