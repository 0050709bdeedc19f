package broker

import (
	"errors"
	"sort"

	"github.com/shalelog/shale/metadata"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Metadata: v0–v12.
//
// Lists the brokers, the controller, the cluster id and the requested
// topics (all of them for a null list, or an empty list before v1). Every
// partition is led by the broker that owns it in the metadata store, with a
// replica set of that one broker: durability comes from the object tier, not
// from replicas. An unknown topic is UNKNOWN_TOPIC_OR_PARTITION unless the
// request allows auto-creation and auto_create_topics is on.
//
// Brokers are listed with their endpoint of the listener the request came
// through, as Kafka does; a broker without that listener is left out, and
// a partition it leads has LISTENER_NOT_FOUND and no leader.
func handleMetadata(s *Server, rc *reqCtx, r kmsg.Request) {
	req := r.(*kmsg.MetadataRequest)
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	reachable := make(map[int32]bool)
	for _, b := range s.meta.Brokers() {
		if b.Fenced {
			continue // Kafka lists only brokers that are alive
		}
		host, port, ok := s.endpoint(b, rc.conn.listener)
		if !ok {
			continue
		}
		reachable[b.ID] = true
		mb := kmsg.NewMetadataResponseBroker()
		mb.NodeID, mb.Host, mb.Port = b.ID, host, port
		if b.Rack != "" {
			rack := b.Rack
			mb.Rack = &rack
		}
		resp.Brokers = append(resp.Brokers, mb)
	}
	cid := s.meta.ClusterID()
	resp.ClusterID = &cid
	resp.ControllerID = s.controllerID()

	all := req.Topics == nil || (req.Version == 0 && len(req.Topics) == 0)
	if all {
		names := make([]string, 0, len(s.topics.all()))
		for name := range s.topics.all() {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			resp.Topics = append(resp.Topics, s.describeTopic(s.topics.byName(name), reachable))
		}
		rc.respond(resp)
		return
	}
	autoCreate := s.cfg.AutoCreateTopics && (req.Version < 4 || req.AllowAutoTopicCreation)
	for _, rt := range req.Topics {
		var t *topicEntry
		var name string
		switch {
		case rt.Topic != nil:
			name = *rt.Topic
			t = s.topics.byName(name)
		case rt.TopicID != [16]byte{}:
			t = s.topics.snap.Load().byID[metadata.TopicID(rt.TopicID)]
		}
		if t == nil && autoCreate && metadata.ValidateTopicName(name) == nil {
			t = s.autoCreate(name)
		}
		if t == nil {
			mt := kmsg.NewMetadataResponseTopic()
			mt.Topic = rt.Topic
			mt.TopicID = rt.TopicID
			mt.ErrorCode = kerr.UnknownTopicOrPartition.Code
			if name != "" && metadata.ValidateTopicName(name) != nil {
				mt.ErrorCode = kerr.InvalidTopicException.Code
			}
			resp.Topics = append(resp.Topics, mt)
			continue
		}
		resp.Topics = append(resp.Topics, s.describeTopic(t, reachable))
	}
	rc.respond(resp)
}

func (s *Server) autoCreate(name string) *topicEntry {
	_, err := s.meta.CreateTopic(s.ctx, name, s.cfg.DefaultPartitions, nil)
	if err != nil && !errors.Is(err, metadata.ErrTopicExists) {
		s.log.Info("auto-create topic failed", "topic", name, "err", err)
		return nil
	}
	s.topics.refresh()
	return s.topics.byName(name)
}

// describeTopic describes t's partitions; a partition whose leader is
// registered but not in reachable (it lacks the client's listener) has
// LISTENER_NOT_FOUND, as in Kafka. A nil reachable skips the check.
func (s *Server) describeTopic(t *topicEntry, reachable map[int32]bool) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	name := t.meta.Name
	mt.Topic = &name
	mt.TopicID = [16]byte(t.meta.ID)
	for i, p := range t.meta.Partitions {
		mp := kmsg.NewMetadataResponseTopicPartition()
		mp.Partition = int32(i)
		mp.Leader = p.Leader
		mp.LeaderEpoch = p.LeaderEpoch
		mp.Replicas = []int32{p.Leader}
		mp.ISR = []int32{p.Leader}
		if reachable != nil && p.Leader >= 0 && !reachable[p.Leader] {
			if b, ok := s.meta.Broker(p.Leader); ok && !b.Fenced {
				mp.ErrorCode, mp.Leader = kerr.ListenerNotFound.Code, -1
			}
		}
		mt.Partitions = append(mt.Partitions, mp)
	}
	return mt
}

// controllerID is the id clients get as the controller: the metadata
// leader when it is a live broker, else this broker, which forwards what
// clients send to the controller (the leader may be a controller-only
// node clients cannot reach).
func (s *Server) controllerID() int32 {
	id := s.meta.ControllerID()
	if b, ok := s.meta.Broker(id); ok && !b.Fenced {
		return id
	}
	return s.cfg.NodeID
}
