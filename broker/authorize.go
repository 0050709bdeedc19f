package broker

import (
	"fmt"
	"math"

	"github.com/shalelog/shale/acl"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Authorization
//
// With the authorizer on (Config.Authorizer), each API file asks what
// Kafka's KafkaApis asks before it acts, with the connection's principal
// and address (see principal.go), and answers Kafka's error codes:
// TOPIC_AUTHORIZATION_FAILED, GROUP_AUTHORIZATION_FAILED,
// CLUSTER_AUTHORIZATION_FAILED, TRANSACTIONAL_ID_AUTHORIZATION_FAILED.
// Lists (Metadata's topics, ListGroups, ListTransactions) are filtered to
// what the principal may describe instead of refused. With the authorizer
// off every question is answered yes.
//
// Shale's brokers call one another over the Kafka protocol for one thing:
// the transaction coordinator writes markers with WriteTxnMarkers. Kafka
// wants CLUSTER_ACTION on the cluster for it (the brokers' principal a
// super user); Shale also takes a marker the metadata state shows the
// coordinator is writing, whoever sends it (27_write_txn_markers.go), so
// brokers need no credentials of their own for it.

// authorized reports whether the request's principal may perform op on the
// resource rt/name.
func (rc *reqCtx) authorized(op acl.Operation, rt acl.ResourceType, name string) bool {
	a := rc.conn.s.authz
	if a == nil {
		return true
	}
	return a.Authorize(rc.conn.principal, rc.conn.ip, op, rt, name)
}

// authorizedTopic, authorizedGroup, authorizedCluster and authorizedTxnID
// are authorized for one resource type.
func (rc *reqCtx) authorizedTopic(op acl.Operation, topic string) bool {
	return rc.authorized(op, acl.ResourceTopic, topic)
}

func (rc *reqCtx) authorizedGroup(op acl.Operation, group string) bool {
	return rc.authorized(op, acl.ResourceGroup, group)
}

func (rc *reqCtx) authorizedCluster(op acl.Operation) bool {
	return rc.authorized(op, acl.ResourceCluster, acl.ClusterName)
}

func (rc *reqCtx) authorizedTxnID(op acl.Operation, id string) bool {
	return rc.authorized(op, acl.ResourceTransactionalID, id)
}

// authorizedAny reports whether the principal may perform op on some
// resource of type rt (Kafka's authorizeByResourceType).
func (rc *reqCtx) authorizedAny(op acl.Operation, rt acl.ResourceType) bool {
	a := rc.conn.s.authz
	if a == nil {
		return true
	}
	return a.AuthorizeAny(rc.conn.principal, rc.conn.ip, op, rt)
}

// authorizedOpsUnset is the authorized-operations field of a response that
// was not asked for it (Kafka's Integer.MIN_VALUE).
const authorizedOpsUnset = math.MinInt32

// The operations Kafka reports as authorized on each resource type.
var (
	topicOps   = []acl.Operation{acl.OpRead, acl.OpWrite, acl.OpCreate, acl.OpDescribe, acl.OpDelete, acl.OpAlter, acl.OpDescribeConfigs, acl.OpAlterConfigs}
	groupOps   = []acl.Operation{acl.OpRead, acl.OpDescribe, acl.OpDelete}
	clusterOps = []acl.Operation{acl.OpCreate, acl.OpClusterAction, acl.OpDescribeConfigs, acl.OpAlterConfigs, acl.OpIdempotentWrite, acl.OpAlter, acl.OpDescribe}
)

// authorizedOps is the bit field of the operations the principal may
// perform on rt/name (bit n set for the operation with code n), as
// Metadata, DescribeGroups and DescribeCluster report them. Without an
// authorizer every operation of the type is set.
func (rc *reqCtx) authorizedOps(rt acl.ResourceType, name string) int32 {
	var ops []acl.Operation
	switch rt {
	case acl.ResourceTopic:
		ops = topicOps
	case acl.ResourceGroup:
		ops = groupOps
	case acl.ResourceCluster:
		ops = clusterOps
	}
	var bits int32
	for _, op := range ops {
		if rc.authorized(op, rt, name) {
			bits |= 1 << op
		}
	}
	return bits
}

// Errors with Kafka's codes and messages.
func topicAuthError(topic string) error {
	return fmt.Errorf("%w: not authorized to access topics: [%s]", kerr.TopicAuthorizationFailed, topic)
}

func groupAuthError(group string) error {
	return fmt.Errorf("%w: not authorized to access group: %s", kerr.GroupAuthorizationFailed, group)
}

func clusterAuthError() error {
	return fmt.Errorf("%w: cluster authorization failed", kerr.ClusterAuthorizationFailed)
}

func txnIDAuthError(id string) error {
	return fmt.Errorf("%w: transactional id authorization failed: %s", kerr.TransactionalIDAuthorizationFailed, id)
}

// deniedTopics returns the topics among names the principal may not
// perform op on, or nil when there are none. Handlers that answer from
// another goroutine decide on the connection's reader with it first.
func (rc *reqCtx) deniedTopics(op acl.Operation, names []string) map[string]bool {
	if rc.conn.s.authz == nil {
		return nil
	}
	var denied map[string]bool
	for _, name := range names {
		if !rc.authorizedTopic(op, name) {
			if denied == nil {
				denied = make(map[string]bool)
			}
			denied[name] = true
		}
	}
	return denied
}
