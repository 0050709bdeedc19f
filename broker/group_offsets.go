package broker

import (
	"context"
	"errors"
	"sort"
	"strings"

	"github.com/shalelog/shale/metadata"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// write queues fn behind every earlier offset write of group and returns
// its result when it has run.
func (c *groupCoordinator) write(group string, fn func(ctx context.Context) error) <-chan error {
	ch := make(chan error, 1)
	c.serialize(group, func() {
		ctx, cancel := context.WithTimeout(c.ctx, c.cfg.WriteTimeout)
		defer cancel()
		ch <- fn(ctx)
	})
	return ch
}

// offsetWriteError is the Kafka error for a failed offset write.
func offsetWriteError(err error) int16 {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, metadata.ErrUnknownTopic):
		return kerr.UnknownTopicOrPartition.Code
	case errors.Is(err, metadata.ErrOffsetMetadataTooLarge):
		return kerr.OffsetMetadataTooLarge.Code
	case errors.Is(err, metadata.ErrInvalidRequest):
		return kerr.InvalidRequest.Code
	case errors.Is(err, metadata.ErrNotLeader), errors.Is(err, metadata.ErrNotCoordinator):
		return kerr.NotCoordinator.Code
	case errors.Is(err, context.DeadlineExceeded):
		return kerr.RequestTimedOut.Code
	}
	// Retriable: the client finds the coordinator again and retries.
	return kerr.CoordinatorNotAvailable.Code
}

// checkCommit decides whether the member named in req may commit, as
// Kafka does: standalone commits (generation < 0) go to groups without
// members; group members commit with their current generation, also while
// a rebalance is being prepared, but not between JoinGroup and the
// leader's SyncGroup.
func (c *groupCoordinator) checkCommit(req *kmsg.OffsetCommitRequest) int16 {
	g := c.get(req.Group)
	if g == nil {
		if req.Generation >= 0 {
			return kerr.IllegalGeneration.Code
		}
		g = c.getOrCreate(req.Group)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.state == groupDead {
		return kerr.CoordinatorNotAvailable.Code
	}
	if g.fenced(req.InstanceID, req.MemberID) {
		return kerr.FencedInstanceID.Code
	}
	if req.Generation < 0 && g.state == groupEmpty {
		return 0
	}
	if g.state == groupCompletingRebalance {
		return kerr.RebalanceInProgress.Code
	}
	m, ok := g.members[req.MemberID]
	if !ok {
		return kerr.UnknownMemberID.Code
	}
	if req.Generation != g.generation {
		return kerr.IllegalGeneration.Code
	}
	g.touch(m)
	return 0
}

// commitOffsets serves OffsetCommit; reply is called once, when the
// offsets are durable or refused. v0 requests carry no generation or
// member and are not checked against the group, as Kafka did (it wrote
// them straight to ZooKeeper).
func (c *groupCoordinator) commitOffsets(req *kmsg.OffsetCommitRequest, reply func(*kmsg.OffsetCommitResponse)) {
	resp := kmsg.NewPtrOffsetCommitResponse()
	var code int16
	switch {
	case req.Group == "" || len(req.Group) > metadata.MaxGroupIDLen:
		code = kerr.InvalidGroupID.Code
	case req.Version > 0:
		code = c.checkCommit(req)
	}
	now := c.clock.Now().UnixMilli()
	offsets := make(map[metadata.TopicPartition]metadata.CommittedOffset)
	var writing []*kmsg.OffsetCommitResponseTopicPartition
	for i := range req.Topics {
		rt := &req.Topics[i]
		st := kmsg.NewOffsetCommitResponseTopic()
		st.Topic = rt.Topic
		st.Partitions = make([]kmsg.OffsetCommitResponseTopicPartition, len(rt.Partitions))
		nparts := c.partitions(rt.Topic)
		for j := range rt.Partitions {
			rp := &rt.Partitions[j]
			sp := &st.Partitions[j]
			*sp = kmsg.NewOffsetCommitResponseTopicPartition()
			sp.Partition = rp.Partition
			switch {
			case code != 0:
				sp.ErrorCode = code
			case rp.Partition < 0 || rp.Partition >= nparts:
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case rp.Metadata != nil && len(*rp.Metadata) > c.cfg.MaxMetadataBytes:
				sp.ErrorCode = kerr.OffsetMetadataTooLarge.Code
			case rp.Offset < -1:
				sp.ErrorCode = kerr.InvalidRequest.Code
			default:
				co := metadata.CommittedOffset{Offset: rp.Offset, LeaderEpoch: rp.LeaderEpoch, CommitTime: now}
				if req.Version < 6 || co.LeaderEpoch < -1 {
					co.LeaderEpoch = -1
				}
				if rp.Metadata != nil {
					co.Metadata = *rp.Metadata
				}
				offsets[metadata.TopicPartition{Topic: rt.Topic, Partition: rp.Partition}] = co
				writing = append(writing, sp)
			}
		}
		resp.Topics = append(resp.Topics, st)
	}
	if len(offsets) == 0 {
		reply(resp)
		return
	}
	done := c.write(req.Group, func(ctx context.Context) error {
		return c.store.CommitOffsets(ctx, req.Group, offsets)
	})
	go func() {
		err := <-done
		if err != nil {
			c.log.Warn("commit offsets failed", "group", req.Group, "err", err)
			code := offsetWriteError(err)
			for _, sp := range writing {
				sp.ErrorCode = code
			}
		}
		reply(resp)
	}()
}

// fetchOffsets serves one group of OffsetFetch: the requested partitions'
// committed offsets (offset -1 where none is), or every committed offset
// when topics is nil.
func (c *groupCoordinator) fetchOffsets(group string, topics []kmsg.OffsetFetchRequestGroupTopic, all bool) []kmsg.OffsetFetchResponseGroupTopic {
	committed := c.store.GroupOffsets(group)
	var out []kmsg.OffsetFetchResponseGroupTopic
	part := func(p int32, co metadata.CommittedOffset, ok bool) kmsg.OffsetFetchResponseGroupTopicPartition {
		sp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
		sp.Partition = p
		sp.Offset, sp.LeaderEpoch = -1, -1
		md := ""
		if ok {
			sp.Offset, sp.LeaderEpoch, md = co.Offset, co.LeaderEpoch, co.Metadata
		}
		sp.Metadata = &md
		return sp
	}
	if all {
		byTopic := make(map[string][]int32)
		for tp := range committed {
			byTopic[tp.Topic] = append(byTopic[tp.Topic], tp.Partition)
		}
		names := make([]string, 0, len(byTopic))
		for t := range byTopic {
			names = append(names, t)
		}
		sort.Strings(names)
		for _, t := range names {
			st := kmsg.NewOffsetFetchResponseGroupTopic()
			st.Topic = t
			ps := byTopic[t]
			sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
			for _, p := range ps {
				st.Partitions = append(st.Partitions, part(p, committed[metadata.TopicPartition{Topic: t, Partition: p}], true))
			}
			out = append(out, st)
		}
		return out
	}
	for _, rt := range topics {
		st := kmsg.NewOffsetFetchResponseGroupTopic()
		st.Topic = rt.Topic
		for _, p := range rt.Partitions {
			co, ok := committed[metadata.TopicPartition{Topic: rt.Topic, Partition: p}]
			st.Partitions = append(st.Partitions, part(p, co, ok))
		}
		out = append(out, st)
	}
	return out
}

// deleteGroups serves DeleteGroups: only groups without members go, with
// all their offsets. reply gets one code per name, in order.
func (c *groupCoordinator) deleteGroups(names []string, reply func([]int16)) {
	codes := make([]int16, len(names))
	waits := make([]<-chan error, len(names))
	for i, name := range names {
		if name == "" {
			codes[i] = kerr.InvalidGroupID.Code
			continue
		}
		g := c.get(name)
		if g == nil {
			if len(c.store.GroupOffsets(name)) == 0 {
				codes[i] = kerr.GroupIDNotFound.Code
				continue
			}
		} else {
			g.mu.Lock()
			switch {
			case g.state == groupDead:
				codes[i] = kerr.GroupIDNotFound.Code
			case g.state != groupEmpty || len(g.members) > 0 || len(g.pending) > 0:
				codes[i] = kerr.NonEmptyGroup.Code
			default:
				g.state = groupDead
				g.stopTimers()
			}
			g.mu.Unlock()
			if codes[i] != 0 {
				continue
			}
			c.mu.Lock()
			if c.groups[name] == g {
				delete(c.groups, name)
			}
			c.mu.Unlock()
		}
		waits[i] = c.write(name, func(ctx context.Context) error {
			return c.store.DeleteGroupOffsets(ctx, name, nil)
		})
	}
	go func() {
		for i, w := range waits {
			if w == nil {
				continue
			}
			if err := <-w; err != nil {
				c.log.Warn("delete group offsets failed", "group", names[i], "err", err)
				codes[i] = offsetWriteError(err)
			}
		}
		reply(codes)
	}()
}

// deleteOffsets serves OffsetDelete. Offsets of topics the group's members
// subscribe to stay (GROUP_SUBSCRIBED_TO_TOPIC).
func (c *groupCoordinator) deleteOffsets(req *kmsg.OffsetDeleteRequest, reply func(*kmsg.OffsetDeleteResponse)) {
	resp := kmsg.NewPtrOffsetDeleteResponse()
	g := c.get(req.Group)
	if g == nil && len(c.store.GroupOffsets(req.Group)) == 0 {
		resp.ErrorCode = kerr.GroupIDNotFound.Code
		reply(resp)
		return
	}
	var subscribed map[string]bool
	subscribedAll := false
	if g != nil {
		g.mu.Lock()
		switch {
		case g.state == groupDead:
			resp.ErrorCode = kerr.GroupIDNotFound.Code
		case g.protocolType == consumerProtocolType && len(g.members) > 0:
			subscribed, subscribedAll = g.subscribedTopics()
		case g.state != groupEmpty || len(g.members) > 0:
			resp.ErrorCode = kerr.NonEmptyGroup.Code
		}
		g.mu.Unlock()
		if resp.ErrorCode != 0 {
			reply(resp)
			return
		}
	}
	var parts []metadata.TopicPartition
	var deleting []*kmsg.OffsetDeleteResponseTopicPartition
	for _, rt := range req.Topics {
		st := kmsg.NewOffsetDeleteResponseTopic()
		st.Topic = rt.Topic
		st.Partitions = make([]kmsg.OffsetDeleteResponseTopicPartition, len(rt.Partitions))
		nparts := c.partitions(rt.Topic)
		for j, rp := range rt.Partitions {
			sp := &st.Partitions[j]
			*sp = kmsg.NewOffsetDeleteResponseTopicPartition()
			sp.Partition = rp.Partition
			switch {
			case rp.Partition < 0 || rp.Partition >= nparts:
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case subscribedAll || subscribed[rt.Topic]:
				sp.ErrorCode = kerr.GroupSubscribedToTopic.Code
			default:
				parts = append(parts, metadata.TopicPartition{Topic: rt.Topic, Partition: rp.Partition})
				deleting = append(deleting, sp)
			}
		}
		resp.Topics = append(resp.Topics, st)
	}
	if len(parts) == 0 {
		reply(resp)
		return
	}
	done := c.write(req.Group, func(ctx context.Context) error {
		return c.store.DeleteGroupOffsets(ctx, req.Group, parts)
	})
	go func() {
		if err := <-done; err != nil {
			c.log.Warn("delete offsets failed", "group", req.Group, "err", err)
			resp.ErrorCode = offsetWriteError(err)
		}
		reply(resp)
	}()
}

// describe serves DescribeGroups for one group.
func (c *groupCoordinator) describe(name string, withOps bool) kmsg.DescribeGroupsResponseGroup {
	dg := kmsg.NewDescribeGroupsResponseGroup()
	dg.Group = name
	if withOps {
		// Every group operation (READ, DELETE, DESCRIBE); the handler
		// replaces it with what the principal may do.
		dg.AuthorizedOperations = 1<<3 | 1<<6 | 1<<8
	}
	g := c.get(name)
	if g == nil {
		dg.State = groupDead.String()
		if len(c.store.GroupOffsets(name)) > 0 {
			dg.State = groupEmpty.String()
		}
		return dg
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	dg.State = g.state.String()
	dg.ProtocolType = g.protocolType
	stable := g.state == groupStable
	if stable {
		dg.Protocol = g.protocol
	}
	for _, id := range g.memberIDs() {
		m := g.members[id]
		dm := kmsg.NewDescribeGroupsResponseGroupMember()
		dm.MemberID = m.id
		dm.InstanceID = m.instanceID
		dm.ClientID = m.client.id
		dm.ClientHost = m.client.host
		dm.ProtocolMetadata, dm.MemberAssignment = []byte{}, []byte{}
		if stable {
			dm.ProtocolMetadata = m.metadataFor(g.protocol)
			if m.assignment != nil {
				dm.MemberAssignment = m.assignment
			}
		}
		dg.Members = append(dg.Members, dm)
	}
	return dg
}

// list serves ListGroups: groups in memory and groups that exist only
// through their committed offsets (Empty). Filters match case-insensitively;
// an empty filter matches everything. Every group here is "classic".
func (c *groupCoordinator) list(states, types []string) []kmsg.ListGroupsResponseGroup {
	match := func(filter []string, v string) bool {
		if len(filter) == 0 {
			return true
		}
		for _, f := range filter {
			if strings.EqualFold(f, v) {
				return true
			}
		}
		return false
	}
	if !match(types, "classic") {
		return nil
	}
	type row struct{ state, protocolType string }
	rows := make(map[string]row)
	for _, name := range c.store.GroupsWithOffsets() {
		rows[name] = row{state: groupEmpty.String()}
	}
	c.mu.Lock()
	groups := make([]*group, 0, len(c.groups))
	for _, g := range c.groups {
		groups = append(groups, g)
	}
	c.mu.Unlock()
	for _, g := range groups {
		g.mu.Lock()
		if g.state != groupDead {
			rows[g.id] = row{state: g.state.String(), protocolType: g.protocolType}
		}
		g.mu.Unlock()
	}
	names := make([]string, 0, len(rows))
	for n := range rows {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []kmsg.ListGroupsResponseGroup
	for _, n := range names {
		r := rows[n]
		if !match(states, r.state) {
			continue
		}
		lg := kmsg.NewListGroupsResponseGroup()
		lg.Group = n
		lg.ProtocolType = r.protocolType
		lg.GroupState = r.state
		lg.GroupType = "classic"
		out = append(out, lg)
	}
	return out
}

// expireOffsets drops the offsets of groups that have had no members for
// the retention and that are themselves older than it, then forgets
// empty groups with no offsets left.
func (c *groupCoordinator) expireOffsets() {
	now := c.clock.Now()
	cutoff := now.Add(-c.cfg.OffsetsRetention)
	for _, name := range c.store.GroupsWithOffsets() {
		since := c.started
		if g := c.get(name); g != nil {
			g.mu.Lock()
			idle := g.state == groupEmpty && len(g.members) == 0 && len(g.pending) == 0
			since = g.emptySince
			g.mu.Unlock()
			if !idle {
				continue
			}
		}
		if since.After(cutoff) {
			continue
		}
		var n int
		err := <-c.write(name, func(ctx context.Context) error {
			var err error
			n, err = c.store.ExpireGroupOffsets(ctx, name, cutoff.UnixMilli())
			return err
		})
		if err != nil {
			if c.ctx.Err() == nil {
				c.log.Warn("expire group offsets failed", "group", name, "err", err)
			}
			continue
		}
		if n > 0 {
			c.log.Info("expired group offsets", "group", name, "offsets", n, "retention", c.cfg.OffsetsRetention.String())
		}
	}
	c.forgetIdleGroups()
}

// forgetIdleGroups removes groups without members, pending writes or
// offsets from memory.
func (c *groupCoordinator) forgetIdleGroups() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for name, g := range c.groups {
		if c.tails[name] != nil {
			continue
		}
		g.mu.Lock()
		idle := g.state == groupEmpty && len(g.members) == 0 && len(g.pending) == 0
		if idle && len(c.store.GroupOffsets(name)) == 0 {
			g.state = groupDead
			g.stopTimers()
			delete(c.groups, name)
		}
		g.mu.Unlock()
	}
}

// partitionCount is the number of partitions of topic, 0 if it does not
// exist.
func (s *Server) partitionCount(topic string) int32 {
	t := s.topics.byName(topic)
	if t == nil {
		return 0
	}
	return int32(len(t.parts))
}

// checkTxnCommit validates the member of a TxnOffsetCommit (v3 carries the
// member id, instance id and generation, KIP-447) as Kafka does for a
// transactional commit: a request without them (older versions, or a
// producer outside any group) is not checked.
func (c *groupCoordinator) checkTxnCommit(group, memberID string, instanceID *string, generation int32) int16 {
	if generation < 0 && memberID == "" {
		return 0
	}
	g := c.get(group)
	if g == nil {
		if generation >= 0 {
			return kerr.IllegalGeneration.Code
		}
		return 0
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case g.state == groupDead:
		return kerr.CoordinatorNotAvailable.Code
	case g.fenced(instanceID, memberID):
		return kerr.FencedInstanceID.Code
	}
	if _, ok := g.members[memberID]; !ok {
		return kerr.UnknownMemberID.Code
	}
	if generation != g.generation {
		return kerr.IllegalGeneration.Code
	}
	return 0
}
