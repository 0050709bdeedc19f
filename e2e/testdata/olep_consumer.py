#!/usr/bin/python3
"""A confluent-kafka (librdkafka) group consumer that resumes from its commit.

Usage: olep_consumer.py BOOTSTRAP TOPIC GROUP FROM COUNT

Subscribes to TOPIC (one partition) in GROUP, expects COUNT messages with
values "v-FROM" .. "v-(FROM+COUNT-1)" in order starting at offset FROM,
commits synchronously, closes, and prints OK. Any consumer error (other
than partition EOF) fails. Run twice with the same group, the second run
resumes from the committed offset (and its leader epoch, where librdkafka
validates it with OffsetForLeaderEpoch, KIP-320).
"""

import sys
import time

from confluent_kafka import Consumer, KafkaError


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def main():
    bootstrap, topic, group = sys.argv[1:4]
    start, count = int(sys.argv[4]), int(sys.argv[5])
    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "enable.partition.eof": True,
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 300,
        "debug": "protocol",
    })
    consumer.subscribe([topic])
    deadline = time.time() + 60
    want = start
    while want < start + count:
        if time.time() > deadline:
            fail("got offsets %d..%d of %d..%d before the deadline" % (start, want, start, start + count))
        msg = consumer.poll(0.2)
        if msg is None:
            continue
        if msg.error():
            if msg.error().code() == KafkaError._PARTITION_EOF:
                continue
            fail("consume error: %s" % msg.error())
        if msg.offset() != want:
            fail("offset %d, want %d" % (msg.offset(), want))
        if msg.value() != ("v-%d" % want).encode():
            fail("offset %d value %r" % (want, msg.value()))
        want += 1
    consumer.commit(asynchronous=False)
    consumer.close()
    print("OK", flush=True)


if __name__ == "__main__":
    main()
