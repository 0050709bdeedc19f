"""Transactions through librdkafka (confluent-kafka) against Shale.

Usage: txn_librdkafka.py BOOTSTRAP IN_TOPIC OUT_TOPIC GROUP

1. A transactional producer commits a transaction of 100 records
   ("commit-N") to OUT_TOPIC and aborts one of 100 ("abort-N").
2. A consume-transform-produce step: a consumer of GROUP reads IN_TOPIC
   (read_committed), the producer writes "etl-" + value to OUT_TOPIC and
   sends the consumer's offsets to the transaction, then commits.
3. A read_committed consumer reads OUT_TOPIC from the start and prints
   every value on its own line; exit 0 when it reached the end.
Errors go to stderr with exit status 1.
"""
import sys

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def main():
    bootstrap, in_topic, out_topic, group = sys.argv[1:5]
    p = Producer({
        "bootstrap.servers": bootstrap,
        "transactional.id": "py-txn",
        "transaction.timeout.ms": 30000,
    })
    p.init_transactions(30)

    p.begin_transaction()
    for i in range(100):
        p.produce(out_topic, key=str(i).encode(), value=f"commit-{i}".encode())
    p.commit_transaction(30)

    p.begin_transaction()
    for i in range(100):
        p.produce(out_topic, key=str(i).encode(), value=f"abort-{i}".encode())
    p.flush(30)
    p.abort_transaction(30)

    c = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "isolation.level": "read_committed",
    })
    c.subscribe([in_topic])
    msgs = []
    while len(msgs) < 50:
        m = c.poll(1.0)
        if m is None:
            continue
        if m.error():
            log("consume error:", m.error())
            continue
        msgs.append(m)
    p.begin_transaction()
    for m in msgs:
        p.produce(out_topic, key=m.key(), value=b"etl-" + m.value())
    positions = c.position(c.assignment())
    p.send_offsets_to_transaction(positions, c.consumer_group_metadata(), 30)
    p.commit_transaction(30)
    c.close()

    r = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": group + "-reader",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "enable.partition.eof": True,
        "isolation.level": "read_committed",
    })
    r.subscribe([out_topic])
    eof = set()
    parts = None
    while True:
        m = r.poll(1.0)
        if m is None:
            continue
        if m.error():
            if m.error().code() == -191:  # _PARTITION_EOF
                eof.add(m.partition())
                if parts is None:
                    parts = len(r.list_topics(out_topic).topics[out_topic].partitions)
                if len(eof) == parts:
                    break
                continue
            log("read error:", m.error())
            continue
        print(m.value().decode(), flush=True)
    r.close()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KafkaException as e:
        log("kafka error:", e)
        sys.exit(1)
