// Package metrics shows what a Shale node does: Prometheus metrics of the
// request path, the WAL, the uploader, the object store, the cold reader,
// consumer groups and raft; a cost meter pricing each topic's object
// store requests and storage; and the HTTP listener serving them with
// /healthz and /readyz (docs/OPERATIONS.md lists every metric).
//
// Two kinds of metric: counters and histograms updated where things
// happen (Broker is the broker's Observer, Bucket wraps the object store,
// WAL commits and raft proposals call back), and figures read when
// Prometheus scrapes (Collector asks the node's components for their
// stats). Labels are bounded: API keys, operations, Kafka error names,
// topics and consumer groups; partitions only with partition labels on.
package metrics
