#!/usr/bin/python3
"""Round trip through Shale with confluent-kafka-python (librdkafka).

Usage: confluent_roundtrip.py BOOTSTRAP TOPIC [COUNT]

An AdminClient creates TOPIC (3 partitions, with overrides), lists and
describes it; an idempotent acks=all zstd Producer sends COUNT keyed
messages with headers and checks every delivery report; a Consumer reads
the partitions back with assign() (no group subscription, no commits) and
checks every message byte for byte against what was delivered; finally the
topic is deleted and must disappear from the metadata.

Exits 0 when everything matches, otherwise prints what did not match and
exits 1.
"""

import sys
import time

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka import OFFSET_BEGINNING
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

PARTITIONS = 3
TIMEOUT = 30.0


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def step(msg):
    print("step: " + msg, flush=True)


def payload(i):
    """The value of message i: text, non-ASCII UTF-8 and binary bytes."""
    body = ("message %d — значение ✓ " % i).encode("utf-8")
    return body + bytes([i % 256, 0, 255, (i * 7) % 256]) + b"x" * (i % 50)


def message_headers(i):
    return [
        ("seq", str(i).encode()),
        ("bin", bytes([0, 1, 2, i % 256])),
        ("dup", b"first"),
        ("dup", b"second"),
        ("empty", b""),
    ]


def create_topic(admin, topic):
    new = NewTopic(topic, num_partitions=PARTITIONS, replication_factor=1,
                   config={"retention.ms": "3600000", "cleanup.policy": "delete"})
    for name, fut in admin.create_topics([new], operation_timeout=TIMEOUT).items():
        try:
            fut.result(timeout=TIMEOUT)
        except Exception as e:  # KafkaException carries the broker's error
            fail("create topic %s: %s" % (name, e))
    # Creating it again must be refused with TOPIC_ALREADY_EXISTS.
    for name, fut in admin.create_topics([new], operation_timeout=TIMEOUT).items():
        try:
            fut.result(timeout=TIMEOUT)
            fail("second create of %s succeeded, want TOPIC_ALREADY_EXISTS" % name)
        except KafkaException as e:
            err = e.args[0]
            if err.name() != "TOPIC_ALREADY_EXISTS":
                fail("second create of %s: got %s, want TOPIC_ALREADY_EXISTS" % (name, err))


def check_listed(admin, topic):
    md = admin.list_topics(timeout=TIMEOUT)
    if topic not in md.topics:
        fail("list_topics: %s missing from %s" % (topic, sorted(md.topics)))
    t = md.topics[topic]
    if t.error is not None:
        fail("list_topics: %s has error %s" % (topic, t.error))
    if sorted(t.partitions) != list(range(PARTITIONS)):
        fail("list_topics: %s partitions %s, want 0..%d" % (topic, sorted(t.partitions), PARTITIONS - 1))
    broker_ids = set(md.brokers)
    for p in t.partitions.values():
        if p.leader not in broker_ids:
            fail("list_topics: partition %d leader %d is not a listed broker %s" % (p.id, p.leader, broker_ids))
    if len(md.brokers) < 1:
        fail("list_topics: no brokers")


def check_configs(admin, topic):
    res = ConfigResource("topic", topic)
    futs = admin.describe_configs([res], request_timeout=TIMEOUT)
    try:
        configs = futs[res].result(timeout=TIMEOUT)
    except Exception as e:
        fail("describe_configs %s: %s" % (topic, e))
    want = {"retention.ms": ("3600000", False), "cleanup.policy": ("delete", False),
            "compression.type": ("producer", True), "max.message.bytes": ("1048588", True)}
    for name, (value, is_default) in want.items():
        if name not in configs:
            fail("describe_configs: %s missing (got %s)" % (name, sorted(configs)))
        c = configs[name]
        if c.value != value or c.is_default != is_default:
            fail("describe_configs: %s = %r default=%s, want %r default=%s" %
                 (name, c.value, c.is_default, value, is_default))


def produce(bootstrap, topic, count):
    producer = Producer({
        "bootstrap.servers": bootstrap,
        "acks": "all",
        "enable.idempotence": True,
        "compression.type": "zstd",
        "linger.ms": 5,
        "message.timeout.ms": 30000,
    })
    delivered = {}
    errors = []

    def on_delivery(err, msg):
        if err is not None:
            errors.append("message %s: %s" % (msg.key(), err))
            return
        i = int(msg.key().decode().split("-")[1])
        if i in delivered:
            errors.append("message %d delivered twice" % i)
        delivered[i] = (msg.partition(), msg.offset())

    for i in range(count):
        while True:
            try:
                producer.produce(topic, key=("key-%d" % i).encode(), value=payload(i),
                                 headers=message_headers(i), on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    left = producer.flush(TIMEOUT)
    if left:
        fail("flush: %d messages still in queue after %.0fs" % (left, TIMEOUT))
    if errors:
        fail("delivery reports: %d errors, first: %s" % (len(errors), errors[0]))
    if len(delivered) != count:
        fail("delivery reports: %d of %d" % (len(delivered), count))
    # Offsets per partition are contiguous from 0.
    per_partition = {}
    for i, (p, off) in delivered.items():
        per_partition.setdefault(p, []).append(off)
    for p, offs in per_partition.items():
        offs.sort()
        if offs != list(range(len(offs))):
            fail("partition %d: delivered offsets are not 0..%d" % (p, len(offs) - 1))
    return delivered, {p: len(o) for p, o in per_partition.items()}


def consume(bootstrap, topic, count, delivered, ends):
    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        # librdkafka wants a group id even for assign(); it is never joined.
        "group.id": "shale-e2e-assign-only",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "error",
    })
    try:
        for p in range(PARTITIONS):
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=TIMEOUT)
            if low != 0 or high != ends.get(p, 0):
                fail("watermarks of partition %d: [%d, %d), want [0, %d)" % (p, low, high, ends.get(p, 0)))
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(PARTITIONS)])
        by_position = {pos: i for i, pos in delivered.items()}
        seen = set()
        deadline = time.monotonic() + TIMEOUT
        while len(seen) < count:
            if time.monotonic() > deadline:
                fail("consume: got %d of %d messages within %.0fs" % (len(seen), count, TIMEOUT))
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error() is not None:
                fail("consume: %s" % msg.error())
            pos = (msg.partition(), msg.offset())
            if pos not in by_position:
                fail("consume: unexpected message at partition %d offset %d" % pos)
            i = by_position[pos]
            if pos in seen:
                fail("consume: message %d (partition %d offset %d) read twice" % (i, pos[0], pos[1]))
            seen.add(pos)
            if msg.key() != ("key-%d" % i).encode():
                fail("message %d: key %r" % (i, msg.key()))
            if msg.value() != payload(i):
                fail("message %d: value %r, want %r" % (i, msg.value(), payload(i)))
            got_headers = [(k, v if v is not None else b"") for k, v in (msg.headers() or [])]
            if got_headers != message_headers(i):
                fail("message %d: headers %r, want %r" % (i, got_headers, message_headers(i)))
            ts_type, ts = msg.timestamp()
            if ts_type == 0 or ts <= 0:
                fail("message %d: timestamp type %d value %d" % (i, ts_type, ts))
        # Nothing more than what was produced.
        extra = consumer.poll(1.0)
        if extra is not None and extra.error() is None:
            fail("consume: extra message at partition %d offset %d" % (extra.partition(), extra.offset()))
    finally:
        consumer.close()


def delete_topic(admin, topic):
    for name, fut in admin.delete_topics([topic], operation_timeout=TIMEOUT).items():
        try:
            fut.result(timeout=TIMEOUT)
        except Exception as e:
            fail("delete topic %s: %s" % (name, e))
    md = admin.list_topics(timeout=TIMEOUT)
    if topic in md.topics and md.topics[topic].error is None:
        fail("list_topics after delete still shows %s" % topic)


def main():
    if len(sys.argv) < 3:
        fail("usage: confluent_roundtrip.py BOOTSTRAP TOPIC [COUNT]")
    bootstrap, topic = sys.argv[1], sys.argv[2]
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 2000
    admin = AdminClient({"bootstrap.servers": bootstrap})
    step("create topic")
    create_topic(admin, topic)
    step("list topics")
    check_listed(admin, topic)
    step("describe configs")
    check_configs(admin, topic)
    step("produce %d" % count)
    delivered, ends = produce(bootstrap, topic, count)
    step("consume %d with assign()" % count)
    consume(bootstrap, topic, count, delivered, ends)
    step("delete topic")
    delete_topic(admin, topic)
    print("OK", flush=True)


if __name__ == "__main__":
    main()
