"""Produce and consume over SASL_SSL with SCRAM-SHA-512 (librdkafka through
python3-confluent-kafka), then check that a wrong password is refused.

usage: sasl_roundtrip.py BROKER CA_FILE USER PASSWORD TOPIC
"""
import sys
import time

from confluent_kafka import Consumer, KafkaError, Producer

broker, ca, user, password, topic = sys.argv[1:6]


def conf(pw):
    return {
        "bootstrap.servers": broker,
        "security.protocol": "SASL_SSL",
        "ssl.ca.location": ca,
        "sasl.mechanisms": "SCRAM-SHA-512",
        "sasl.username": user,
        "sasl.password": pw,
    }


N = 200
delivered = []
p = Producer({**conf(password), "acks": "all", "enable.idempotence": True})
for i in range(N):
    p.produce(topic, value=b"py-%d" % i, on_delivery=lambda err, msg: delivered.append(err))
left = p.flush(60)
if left or len(delivered) != N or any(delivered):
    sys.exit("produce: %d left, %d delivered, errors %s" % (left, len(delivered), [e for e in delivered if e][:3]))
print("produced", N)

c = Consumer({**conf(password), "group.id": "sasl-py", "auto.offset.reset": "earliest"})
c.subscribe([topic])
seen = set()
deadline = time.time() + 60
while len(seen) < N and time.time() < deadline:
    m = c.poll(1.0)
    if m is None:
        continue
    if m.error():
        sys.exit("consume: %s" % m.error())
    if m.value().startswith(b"py-"):
        seen.add(m.value())
c.close()
if len(seen) != N:
    sys.exit("consumed %d of %d" % (len(seen), N))
print("consumed", N)

errors = []
bad = Producer({**conf("wrong"), "error_cb": lambda e: errors.append(e)})
deadline = time.time() + 30
while not errors and time.time() < deadline:
    bad.poll(0.5)
auth = [e for e in errors if e.code() == KafkaError._AUTHENTICATION]
if not auth:
    sys.exit("a wrong password: no authentication error reported: %s" % errors)
print("wrong password refused:", auth[0].str())
print("OK")
