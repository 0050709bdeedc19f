package broker

import (
	"encoding/binary"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ApiVersions: v0–v4.
//
// A client may open with a version newer than the broker knows; Kafka then
// answers in v0 form with UNSUPPORTED_VERSION and its own ranges, and the
// client retries with a version both speak. Any other API at a version
// outside its range, and an unknown API key, close the connection. librdkafka's first request is
// v3 (flexible request header, non-flexible response header).

// handler serves one API key over a range of versions.
type handler struct {
	min, max int16
	fn       func(s *Server, rc *reqCtx, req kmsg.Request)
	// noResponse reports whether this request gets no response at all
	// (produce with acks=0).
	noResponse func(kmsg.Request) bool
}

// handlers lists every API this broker serves; ApiVersions advertises
// exactly these ranges. It is filled once by init and never written after.
var handlers map[int16]handler

func init() {
	handlers = map[int16]handler{
		0:  {min: 0, max: 12, fn: handleProduce, noResponse: produceNoResponse},
		1:  {min: 4, max: 12, fn: handleFetch},
		2:  {min: 1, max: 6, fn: handleListOffsets},
		3:  {min: 0, max: 12, fn: handleMetadata},
		8:  {min: 0, max: 9, fn: handleOffsetCommit},
		9:  {min: 0, max: 9, fn: handleOffsetFetch},
		10: {min: 0, max: 4, fn: handleFindCoordinator},
		11: {min: 0, max: 9, fn: handleJoinGroup},
		12: {min: 0, max: 4, fn: handleHeartbeat},
		13: {min: 0, max: 5, fn: handleLeaveGroup},
		14: {min: 0, max: 5, fn: handleSyncGroup},
		15: {min: 0, max: 5, fn: handleDescribeGroups},
		16: {min: 0, max: 5, fn: handleListGroups},
		17: {min: 0, max: 1, fn: handleSASLHandshake},
		18: {min: 0, max: 4, fn: handleApiVersions},
		19: {min: 0, max: 7, fn: handleCreateTopics},
		20: {min: 0, max: 6, fn: handleDeleteTopics},
		21: {min: 0, max: 2, fn: handleDeleteRecords},
		22: {min: 0, max: 4, fn: handleInitProducerID},
		23: {min: 0, max: 4, fn: handleOffsetForLeaderEpoch},
		24: {min: 0, max: 4, fn: handleAddPartitionsToTxn},
		25: {min: 0, max: 3, fn: handleAddOffsetsToTxn},
		26: {min: 0, max: 5, fn: handleEndTxn},
		27: {min: 0, max: 1, fn: handleWriteTxnMarkers},
		28: {min: 0, max: 5, fn: handleTxnOffsetCommit},
		32: {min: 0, max: 4, fn: handleDescribeConfigs},
		33: {min: 0, max: 2, fn: handleAlterConfigs},
		36: {min: 0, max: 2, fn: handleSASLAuthenticate},
		37: {min: 0, max: 3, fn: handleCreatePartitions},
		42: {min: 0, max: 2, fn: handleDeleteGroups},
		44: {min: 0, max: 1, fn: handleIncrementalAlterConfigs},
		47: {min: 0, max: 0, fn: handleOffsetDelete},
		48: {min: 0, max: 1, fn: handleDescribeClientQuotas},
		49: {min: 0, max: 1, fn: handleAlterClientQuotas},
		50: {min: 0, max: 0, fn: handleDescribeUserSCRAMCredentials},
		51: {min: 0, max: 0, fn: handleAlterUserSCRAMCredentials},
		60: {min: 0, max: 1, fn: handleDescribeCluster},
		61: {min: 0, max: 0, fn: handleDescribeProducers},
		65: {min: 0, max: 0, fn: handleDescribeTransactions},
		66: {min: 0, max: 1, fn: handleListTransactions},
	}
}

const (
	// transactionVersion is the transaction.version feature level
	// advertised: 2, KIP-890 part 2.
	transactionVersion = 2
	// featuresEpoch is the finalized features' epoch: they never change.
	featuresEpoch = 1
)

// sortedKeys is handlers' keys in ascending order.
func sortedKeys() []int16 {
	keys := make([]int16, 0, len(handlers))
	for k := range handlers {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	return keys
}

func handleApiVersions(s *Server, rc *reqCtx, r kmsg.Request) {
	req := r.(*kmsg.ApiVersionsRequest)
	resp := req.ResponseKind().(*kmsg.ApiVersionsResponse)
	for _, k := range sortedKeys() {
		h := handlers[k]
		resp.ApiKeys = append(resp.ApiKeys, kmsg.ApiVersionsResponseApiKey{ApiKey: k, MinVersion: h.min, MaxVersion: h.max})
	}
	// Features (v3+, tagged fields): transaction.version 2 is KIP-890
	// part 2 (Produce v12, TxnOffsetCommit v5 and EndTxn v5 with the
	// epoch bumped per transaction); every Shale broker has it, so it is
	// finalized at the level supported, under one unchanging epoch.
	resp.SupportedFeatures = []kmsg.ApiVersionsResponseSupportedFeature{{Name: "transaction.version", MinVersion: 0, MaxVersion: transactionVersion}}
	resp.FinalizedFeaturesEpoch = featuresEpoch
	resp.FinalizedFeatures = []kmsg.ApiVersionsResponseFinalizedFeature{{Name: "transaction.version", MinVersionLevel: transactionVersion, MaxVersionLevel: transactionVersion}}
	rc.respond(resp)
}

// apiVersionsUnsupported is the body answering an ApiVersions request of a
// version this broker does not serve: the v0 response with
// UNSUPPORTED_VERSION and the supported ranges, as Kafka answers it.
// Requests of other APIs at unsupported versions, and unknown API keys,
// close the connection instead (see decodeRequest).
func apiVersionsUnsupported() []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(kerr.UnsupportedVersion.Code))
	keys := sortedKeys()
	b = binary.BigEndian.AppendUint32(b, uint32(len(keys)))
	for _, k := range keys {
		h := handlers[k]
		b = binary.BigEndian.AppendUint16(b, uint16(k))
		b = binary.BigEndian.AppendUint16(b, uint16(h.min))
		b = binary.BigEndian.AppendUint16(b, uint16(h.max))
	}
	return b
}
