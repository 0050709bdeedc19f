"""A confluent-kafka (librdkafka) group consumer for Shale's group tests.

Usage: group_consumer.py BOOTSTRAP GROUP TOPIC STOPFILE

Subscribes with the range assignor, prints each record's value on its own
line, commits synchronously every few records and on revocation, and when
STOPFILE exists commits once more, closes (leaving the group) and exits 0.
"""
import os
import sys

from confluent_kafka import Consumer, KafkaError, KafkaException


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def main():
    bootstrap, group, topic, stop_file = sys.argv[1:5]
    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "client.id": "py-member",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 300,
        "max.poll.interval.ms": 10000,
        "partition.assignment.strategy": "range",
    })

    def commit():
        try:
            consumer.commit(asynchronous=False)
        except KafkaException as e:
            # Nothing consumed since the last commit is not a failure.
            if e.args[0].code() != KafkaError._NO_OFFSET:
                log("commit failed:", e)

    def on_assign(c, parts):
        log("assigned", [p.partition for p in parts])

    def on_revoke(c, parts):
        log("revoked", [p.partition for p in parts])
        commit()

    consumer.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke)
    uncommitted = 0
    while not os.path.exists(stop_file):
        msg = consumer.poll(0.2)
        if msg is None:
            if uncommitted:
                commit()
                uncommitted = 0
            continue
        if msg.error():
            if msg.error().code() != KafkaError._PARTITION_EOF:
                log("consume error:", msg.error())
            continue
        print(msg.value().decode(), flush=True)
        uncommitted += 1
        if uncommitted >= 20:
            commit()
            uncommitted = 0
    commit()
    consumer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
