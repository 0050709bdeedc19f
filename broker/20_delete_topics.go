package broker

import (
	"github.com/shalelog/shale/acl"
	"github.com/shalelog/shale/metadata"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DeleteTopics: v0–v6 (by name, and by topic id in v6).
//
// The topic leaves the metadata store at once; its partitions stop serving
// and its data, keyed by the deleted topic's id, is never visible again,
// even to a new topic of the same name.
//
// Authorization: DELETE on each topic (TOPIC_AUTHORIZATION_FAILED); a
// topic id the principal may not DESCRIBE is UNKNOWN_TOPIC_ID.
func handleDeleteTopics(s *Server, rc *reqCtx, r kmsg.Request) {
	req := r.(*kmsg.DeleteTopicsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteTopicsResponse)
	type target struct {
		name *string
		id   [16]byte
	}
	var targets []target
	if req.Version >= 6 {
		for _, t := range req.Topics {
			targets = append(targets, target{t.Topic, t.TopicID})
		}
	} else {
		for i := range req.TopicNames {
			targets = append(targets, target{name: &req.TopicNames[i]})
		}
	}
	for _, tg := range targets {
		st := kmsg.NewDeleteTopicsResponseTopic()
		st.Topic, st.TopicID = tg.name, tg.id
		name := ""
		switch {
		case tg.name != nil:
			name = *tg.name
		case tg.id != [16]byte{}:
			if t, ok := s.meta.TopicByID(metadata.TopicID(tg.id)); ok && rc.authorizedTopic(acl.OpDescribe, t.Name) {
				name = t.Name
				st.Topic = &t.Name
			} else {
				st.ErrorCode = kerr.UnknownTopicID.Code
				resp.Topics = append(resp.Topics, st)
				continue
			}
		}
		if !rc.authorizedTopic(acl.OpDelete, name) {
			st.ErrorCode, st.ErrorMessage = kafkaError(topicAuthError(name))
			resp.Topics = append(resp.Topics, st)
			continue
		}
		t, err := s.meta.DeleteTopic(s.ctx, name)
		if err == nil {
			st.TopicID = [16]byte(t.ID)
		}
		st.ErrorCode, st.ErrorMessage = kafkaError(err)
		resp.Topics = append(resp.Topics, st)
	}
	s.topics.refresh()
	rc.respond(resp)
}
