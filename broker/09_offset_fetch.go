package broker

import (
	"github.com/shalelog/shale/acl"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// OffsetFetch: v0–v9 (v8+ asks for many groups at once).
//
// A partition without a committed offset answers offset -1, leader epoch
// -1 and empty metadata; no topics (v2+) means every committed offset of
// the group. RequireStable (v7+) is satisfied at once: there are no
// transactional offsets. The KIP-848 member fields of v9 are ignored, as
// for any classic group.
//
// Authorization, as Kafka: DESCRIBE on the group (GROUP_AUTHORIZATION_FAILED)
// and DESCRIBE on each named topic (TOPIC_AUTHORIZATION_FAILED on its
// partitions); asking for all of a group's offsets returns those of the
// topics the principal may describe.
//
// Not yet: topic ids (v10).

func handleOffsetFetch(s *Server, rc *reqCtx, r kmsg.Request) {
	req := r.(*kmsg.OffsetFetchRequest)
	resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
	if req.Version >= 8 {
		for _, rg := range req.Groups {
			g := kmsg.NewOffsetFetchResponseGroup()
			g.Group = rg.Group
			if !rc.authorizedGroup(acl.OpDescribe, rg.Group) {
				g.ErrorCode = kerr.GroupAuthorizationFailed.Code
				resp.Groups = append(resp.Groups, g)
				continue
			}
			g.Topics = authorizedOffsets(rc, s.groups.fetchOffsets(rg.Group, rg.Topics, rg.Topics == nil), rg.Topics == nil)
			resp.Groups = append(resp.Groups, g)
		}
		rc.respond(resp)
		return
	}
	topics := make([]kmsg.OffsetFetchRequestGroupTopic, len(req.Topics))
	for i, t := range req.Topics {
		topics[i] = kmsg.NewOffsetFetchRequestGroupTopic()
		topics[i].Topic = t.Topic
		topics[i].Partitions = t.Partitions
	}
	all := req.Topics == nil && req.Version >= 2
	if !rc.authorizedGroup(acl.OpDescribe, req.Group) {
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		if req.Version < 2 {
			// No top-level error before v2: every partition carries it.
			for _, t := range req.Topics {
				st := kmsg.NewOffsetFetchResponseTopic()
				st.Topic = t.Topic
				for _, p := range t.Partitions {
					sp := kmsg.NewOffsetFetchResponseTopicPartition()
					sp.Partition, sp.Offset, sp.ErrorCode = p, -1, kerr.GroupAuthorizationFailed.Code
					st.Partitions = append(st.Partitions, sp)
				}
				resp.Topics = append(resp.Topics, st)
			}
		}
		rc.respond(resp)
		return
	}
	for _, gt := range authorizedOffsets(rc, s.groups.fetchOffsets(req.Group, topics, all), all) {
		st := kmsg.NewOffsetFetchResponseTopic()
		st.Topic = gt.Topic
		for _, gp := range gt.Partitions {
			sp := kmsg.NewOffsetFetchResponseTopicPartition()
			sp.Partition = gp.Partition
			sp.Offset = gp.Offset
			sp.LeaderEpoch = gp.LeaderEpoch
			sp.Metadata = gp.Metadata
			sp.ErrorCode = gp.ErrorCode
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	rc.respond(resp)
}

// authorizedOffsets drops (all) or marks TOPIC_AUTHORIZATION_FAILED (named
// topics) the topics the principal may not describe.
func authorizedOffsets(rc *reqCtx, topics []kmsg.OffsetFetchResponseGroupTopic, all bool) []kmsg.OffsetFetchResponseGroupTopic {
	if rc.conn.s.authz == nil {
		return topics
	}
	out := topics[:0]
	for _, t := range topics {
		if !rc.authorizedTopic(acl.OpDescribe, t.Topic) {
			if all {
				continue
			}
			for i := range t.Partitions {
				p := &t.Partitions[i]
				p.Offset, p.LeaderEpoch, p.ErrorCode = -1, -1, kerr.TopicAuthorizationFailed.Code
				empty := ""
				p.Metadata = &empty
			}
		}
		out = append(out, t)
	}
	return out
}
