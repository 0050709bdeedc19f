package broker

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// consumerProtocolType is the protocol type of Kafka consumers; their
// JoinGroup metadata is a ConsumerMemberMetadata naming the subscribed
// topics.
const consumerProtocolType = "consumer"

// parseSubscription reads the topics out of a consumer's JoinGroup
// protocol metadata (ConsumerProtocolSubscription, any version). The bytes
// come from the client.
func parseSubscription(b []byte) ([]string, error) {
	var m kmsg.ConsumerMemberMetadata
	if err := m.ReadFrom(b); err != nil {
		return nil, fmt.Errorf("read consumer subscription of %d bytes: %w", len(b), err)
	}
	return m.Topics, nil
}

// subscribedTopics returns the topics g's members subscribe to under the
// current protocol. all is true when some member's subscription cannot be
// read, so every topic must be treated as subscribed.
func (g *group) subscribedTopics() (topics map[string]bool, all bool) {
	topics = make(map[string]bool)
	for _, m := range g.members {
		md := m.metadataFor(g.protocol)
		if g.protocol == "" && len(m.protocols) > 0 {
			md = m.protocols[0].Metadata
		}
		ts, err := parseSubscription(md)
		if err != nil {
			return nil, true
		}
		for _, t := range ts {
			topics[t] = true
		}
	}
	return topics, false
}
