package broker

import (
	"fmt"
	"strconv"

	"github.com/shalelog/shale/metadata"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DescribeConfigs: v0–v4, for TOPIC and BROKER resources.
//
// A topic lists every config Shale understands with its value, whether it
// is an override (DYNAMIC_TOPIC_CONFIG) or the default (DEFAULT_CONFIG),
// and from v3 its type and documentation. A broker lists its static
// settings, read-only. Other resource types are INVALID_REQUEST.
func handleDescribeConfigs(s *Server, rc *reqCtx, r kmsg.Request) {
	req := r.(*kmsg.DescribeConfigsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeConfigsResponse)
	for _, rr := range req.Resources {
		sr := kmsg.NewDescribeConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
		want := func(name string) bool {
			if rr.ConfigNames == nil {
				return true
			}
			for _, n := range rr.ConfigNames {
				if n == name {
					return true
				}
			}
			return false
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
				c.Source = kmsg.ConfigSourceDefaultConfig
				c.IsDefault = true
				if _, ok := t.Configs[def.Name]; ok {
					c.Source = kmsg.ConfigSourceDynamicTopicConfig
					c.IsDefault = false
				}
				c.ConfigType = configType(def.Type)
				if req.IncludeDocumentation {
					doc := def.Doc
					c.Documentation = &doc
				}
				sr.Configs = append(sr.Configs, c)
			}
		case kmsg.ConfigResourceTypeBroker:
			if rr.ResourceName != "" && rr.ResourceName != strconv.Itoa(int(s.cfg.NodeID)) {
				sr.ErrorCode = kerr.InvalidRequest.Code
				msg := fmt.Sprintf("broker %q is not this broker (%d)", rr.ResourceName, s.cfg.NodeID)
				sr.ErrorMessage = &msg
				break
			}
			for _, bc := range s.brokerConfigs() {
				if !want(bc.name) {
					continue
				}
				c := kmsg.NewDescribeConfigsResponseResourceConfig()
				c.Name = bc.name
				v := bc.value
				c.Value = &v
				c.ReadOnly = true
				c.Source = kmsg.ConfigSourceStaticBrokerConfig
				c.ConfigType = bc.typ
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

type brokerConfig struct {
	name, value string
	typ         kmsg.ConfigType
}

func (s *Server) brokerConfigs() []brokerConfig {
	return []brokerConfig{
		{"auto.create.topics.enable", strconv.FormatBool(s.cfg.AutoCreateTopics), kmsg.ConfigTypeBoolean},
		{"broker.id", strconv.Itoa(int(s.cfg.NodeID)), kmsg.ConfigTypeInt},
		{"default.replication.factor", "1", kmsg.ConfigTypeInt},
		{"message.max.bytes", "1048588", kmsg.ConfigTypeInt},
		{"num.partitions", strconv.Itoa(int(s.cfg.DefaultPartitions)), kmsg.ConfigTypeInt},
		{"socket.request.max.bytes", strconv.Itoa(int(s.cfg.MaxRequestBytes)), kmsg.ConfigTypeInt},
	}
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
