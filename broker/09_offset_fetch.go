package broker

import (
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
// Not yet: topic ids (v10).

func handleOffsetFetch(s *Server, rc *reqCtx, r kmsg.Request) {
	req := r.(*kmsg.OffsetFetchRequest)
	resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
	if req.Version >= 8 {
		for _, rg := range req.Groups {
			g := kmsg.NewOffsetFetchResponseGroup()
			g.Group = rg.Group
			g.Topics = s.groups.fetchOffsets(rg.Group, rg.Topics, rg.Topics == nil)
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
	for _, gt := range s.groups.fetchOffsets(req.Group, topics, all) {
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
