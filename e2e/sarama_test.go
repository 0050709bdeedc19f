package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/shalelog/shale/internal/shaletest"
)

func saramaConfig() *sarama.Config {
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V3_6_0_0
	cfg.ClientID = "shale-e2e"
	cfg.Net.DialTimeout = 10 * time.Second
	cfg.Metadata.Retry.Max = 5
	cfg.Metadata.Retry.Backoff = 100 * time.Millisecond
	cfg.Producer.Return.Successes = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Idempotent = true
	cfg.Net.MaxOpenRequests = 1
	cfg.Producer.Compression = sarama.CompressionSnappy
	cfg.Consumer.Return.Errors = true
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	return cfg
}

// TestSaramaRoundTrip sends keyed messages with headers through a sarama
// SyncProducer (idempotent, acks=all) and reads them back with sarama
// partition consumers.
func TestSaramaRoundTrip(t *testing.T) {
	t.Parallel()
	const topic, partitions, count = "sarama-roundtrip", 3, 600
	n := shaletest.StartNode(t, nil)
	shaletest.CreateTopic(t, n.Addr(), topic, partitions, nil)
	cfg := saramaConfig()

	producer, err := sarama.NewSyncProducer([]string{n.Addr()}, cfg)
	if err != nil {
		t.Fatalf("new sync producer: %v", err)
	}
	defer producer.Close()
	type sent struct {
		key, value []byte
		headers    []sarama.RecordHeader
	}
	at := map[int32]map[int64]sent{}
	// One message at a time, then the rest as one SendMessages call.
	msgs := make([]*sarama.ProducerMessage, count)
	for i := range msgs {
		msgs[i] = &sarama.ProducerMessage{
			Topic: topic,
			Key:   sarama.ByteEncoder(fmt.Appendf(nil, "key-%d", i%37)),
			Value: sarama.ByteEncoder(fmt.Appendf(nil, "value %d ✓ \x00\xff", i)),
			Headers: []sarama.RecordHeader{
				{Key: []byte("seq"), Value: fmt.Appendf(nil, "%d", i)},
				{Key: []byte("ключ"), Value: []byte("значение")},
			},
		}
	}
	for _, m := range msgs[:10] {
		p, off, err := producer.SendMessage(m)
		if err != nil {
			t.Fatalf("send message: %v", err)
		}
		if m.Partition != p || m.Offset != off {
			t.Fatalf("SendMessage returned %d/%d, message says %d/%d", p, off, m.Partition, m.Offset)
		}
	}
	if err := producer.SendMessages(msgs[10:]); err != nil {
		var perrs sarama.ProducerErrors
		if errors.As(err, &perrs) && len(perrs) > 0 {
			t.Fatalf("send messages: %d failed, first: %v", len(perrs), perrs[0].Err)
		}
		t.Fatalf("send messages: %v", err)
	}
	keyPartition := map[string]int32{}
	for i, m := range msgs {
		k, _ := m.Key.Encode()
		v, _ := m.Value.Encode()
		if p, ok := keyPartition[string(k)]; ok && p != m.Partition {
			t.Errorf("key %s went to partitions %d and %d", k, p, m.Partition)
		}
		keyPartition[string(k)] = m.Partition
		if at[m.Partition] == nil {
			at[m.Partition] = map[int64]sent{}
		}
		if _, dup := at[m.Partition][m.Offset]; dup {
			t.Fatalf("message %d: offset %d/%d acknowledged twice", i, m.Partition, m.Offset)
		}
		at[m.Partition][m.Offset] = sent{k, v, m.Headers}
	}

	consumer, err := sarama.NewConsumer([]string{n.Addr()}, cfg)
	if err != nil {
		t.Fatalf("new consumer: %v", err)
	}
	defer consumer.Close()
	got := 0
	for p := int32(0); p < partitions; p++ {
		want := at[p]
		pc, err := consumer.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			t.Fatalf("consume partition %d: %v", p, err)
		}
		timeout := time.After(30 * time.Second)
		for next := int64(0); next < int64(len(want)); next++ {
			select {
			case m := <-pc.Messages():
				w, ok := want[m.Offset]
				switch {
				case m.Offset != next:
					t.Fatalf("partition %d: offset %d, want %d", p, m.Offset, next)
				case !ok:
					t.Fatalf("partition %d: offset %d was never acknowledged", p, m.Offset)
				case !bytes.Equal(m.Key, w.key) || !bytes.Equal(m.Value, w.value):
					t.Errorf("%d/%d: key %q value %q, want %q %q", p, m.Offset, m.Key, m.Value, w.key, w.value)
				case len(m.Headers) != len(w.headers):
					t.Errorf("%d/%d: %d headers, want %d", p, m.Offset, len(m.Headers), len(w.headers))
				default:
					for j, h := range m.Headers {
						if !bytes.Equal(h.Key, w.headers[j].Key) || !bytes.Equal(h.Value, w.headers[j].Value) {
							t.Errorf("%d/%d header %d: %q=%q, want %q=%q", p, m.Offset, j, h.Key, h.Value, w.headers[j].Key, w.headers[j].Value)
						}
					}
				}
				got++
			case err := <-pc.Errors():
				t.Fatalf("partition %d: %v", p, err)
			case <-timeout:
				t.Fatalf("partition %d: read %d of %d messages", p, next, len(want))
			}
		}
		if hwm := pc.HighWaterMarkOffset(); hwm != int64(len(want)) {
			t.Errorf("partition %d: high watermark %d, want %d", p, hwm, len(want))
		}
		pc.Close()
	}
	if got != count {
		t.Fatalf("read %d messages, sent %d", got, count)
	}
}

// TestSaramaClusterAdmin creates, describes and deletes a topic with
// sarama's ClusterAdmin.
func TestSaramaClusterAdmin(t *testing.T) {
	t.Parallel()
	const topic = "sarama-admin"
	n := shaletest.StartNode(t, nil)
	admin, err := sarama.NewClusterAdmin([]string{n.Addr()}, saramaConfig())
	if err != nil {
		t.Fatalf("new cluster admin: %v", err)
	}
	defer admin.Close()

	retention := "7200000"
	detail := &sarama.TopicDetail{NumPartitions: 4, ReplicationFactor: 1, ConfigEntries: map[string]*string{"retention.ms": &retention}}
	if err := admin.CreateTopic(topic, detail, false); err != nil {
		t.Fatalf("create topic: %v", err)
	}
	err = admin.CreateTopic(topic, detail, false)
	var terr *sarama.TopicError
	if !errors.As(err, &terr) || terr.Err != sarama.ErrTopicAlreadyExists {
		t.Errorf("create an existing topic: %v, want %v", err, sarama.ErrTopicAlreadyExists)
	}
	if err := admin.CreateTopic("bad/name", detail, false); !errors.As(err, &terr) || terr.Err != sarama.ErrInvalidTopic {
		t.Errorf("create bad/name: %v, want %v", err, sarama.ErrInvalidTopic)
	}

	topics, err := admin.ListTopics()
	if err != nil {
		t.Fatalf("list topics: %v", err)
	}
	d, ok := topics[topic]
	if !ok || len(topics) != 1 {
		t.Fatalf("list topics: %v", topics)
	}
	if d.NumPartitions != 4 || d.ReplicationFactor != 1 {
		t.Errorf("listed %s: %d partitions, replication %d", topic, d.NumPartitions, d.ReplicationFactor)
	}
	if v := d.ConfigEntries["retention.ms"]; v == nil || *v != retention {
		t.Errorf("listed %s: retention.ms %v, want %s", topic, v, retention)
	}

	mds, err := admin.DescribeTopics([]string{topic})
	if err != nil || len(mds) != 1 {
		t.Fatalf("describe topics: %v %v", err, mds)
	}
	md := mds[0]
	if md.Err != sarama.ErrNoError || md.Name != topic || len(md.Partitions) != 4 {
		t.Fatalf("describe %s: err %v name %q partitions %d", topic, md.Err, md.Name, len(md.Partitions))
	}
	for _, p := range md.Partitions {
		if p.Err != sarama.ErrNoError || len(p.Replicas) != 1 || p.Leader != p.Replicas[0] {
			t.Errorf("partition %d: err %v leader %d replicas %v", p.ID, p.Err, p.Leader, p.Replicas)
		}
	}

	entries, err := admin.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: topic})
	if err != nil {
		t.Fatalf("describe config: %v", err)
	}
	found := map[string]sarama.ConfigEntry{}
	for _, e := range entries {
		found[e.Name] = e
	}
	if e := found["retention.ms"]; e.Value != retention || e.Default || e.Source != sarama.SourceTopic {
		t.Errorf("retention.ms: %+v, want an override of %s", e, retention)
	}
	if e := found["cleanup.policy"]; e.Value != "delete" || !e.Default || e.Source != sarama.SourceDefault {
		t.Errorf("cleanup.policy: %+v, want the default delete", e)
	}

	if err := admin.CreatePartitions(topic, 6, nil, false); err != nil {
		t.Errorf("create partitions: %v", err)
	}
	if mds, err := admin.DescribeTopics([]string{topic}); err != nil || len(mds[0].Partitions) != 6 {
		t.Errorf("after create partitions: %v, %d partitions", err, len(mds[0].Partitions))
	}

	if err := admin.DeleteTopic(topic); err != nil {
		t.Fatalf("delete topic: %v", err)
	}
	if err := admin.DeleteTopic(topic); !errors.Is(err, sarama.ErrUnknownTopicOrPartition) {
		t.Errorf("delete again: %v, want %v", err, sarama.ErrUnknownTopicOrPartition)
	}
	topics, err = admin.ListTopics()
	if err != nil || len(topics) != 0 {
		t.Errorf("topics after delete: %v %v", topics, err)
	}
}
