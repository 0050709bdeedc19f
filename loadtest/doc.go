// Package loadtest drives a Kafka-compatible broker with franz-go clients
// and measures throughput and latency: `shale loadtest produce|consume|e2e`.
//
// A run has up to two sides:
//
//	produce  N producer clients, each sending records of RecordSize bytes
//	         (no key) with the configured acks, compression, linger and
//	         batch size, at an optional shared target rate, until a
//	         duration or a count. Latency: Produce call → promise.
//	consume  M consumer clients without a group, partitions dealt
//	         round-robin, each read from its start offset, until a
//	         duration, a count, or (neither given) the end offsets listed
//	         when the run starts.
//	e2e      both at once: consumers start at the end offsets listed
//	         before producing and stop once they have seen every produced
//	         record. Latency: the producer's clock reading → the moment
//	         the consumer sees the record. Value layout (RecordSize >= 16):
//
//	           0        8        16            RecordSize
//	           +--------+--------+---------------+
//	           | send   | run id | filler        |
//	           | ns, BE | BE     | values        |
//	           +--------+--------+---------------+
//
//	         Records of other runs (without this run's id) are skipped.
//
// Values are, by default (Values "random"), every record its own slice of
// a 32 MiB pool of pseudo-random bytes per producer: incompressible, as
// real payloads mostly are, so the broker's cost per byte shows. Values
// "text" repeats one line of printable text in every record of a
// producer, which compression codecs shrink a lot.
//
// Latencies go into a log-linear Histogram (fixed memory, ≤0.4% error per
// percentile, mergeable), one per client, merged for the summary and for
// the progress line printed every ProgressInterval. Counts in the summary
// are exact: a produced record counts once its acknowledgement arrives
// without error, a consumed record once it is within the count and the
// end offsets. MB is 10^6 bytes of record values.
package loadtest
