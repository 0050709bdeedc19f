package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// fetchedBytes returns the record bytes of every partition of resp and
// fails the test on a partition error.
func fetchedBytes(tb testing.TB, resp *kmsg.FetchResponse) int {
	tb.Helper()
	if resp.ErrorCode != 0 {
		tb.Fatalf("fetch: %v", kerr.ErrorForCode(resp.ErrorCode))
	}
	n := 0
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if p.ErrorCode != 0 {
				tb.Fatalf("fetch %s/%d: %v", t.Topic, p.Partition, kerr.ErrorForCode(p.ErrorCode))
			}
			n += len(p.RecordBatches)
		}
	}
	return n
}

// A fetch's MaxBytes and PartitionMaxBytes are capped by the broker's
// fetch_max_bytes whatever the client asks: nothing (-1, 0) or 2 GiB.
func TestFetchMaxBytesCapped(t *testing.T) {
	if got := DefaultConfig().FetchMaxBytes; got != 57671680 {
		t.Fatalf("default fetch_max_bytes %d, want Kafka's 57671680", got)
	}
	const capBytes = 2 << 20
	ws := startWireServer(t, func(c *Config) { c.FetchMaxBytes = capBytes })
	ws.createTopic(t, "big", 2, nil)
	c := dialWire(t, ws.addr)
	// 6 MiB in each partition, in batches of about 256 KiB.
	for part := range int32(2) {
		for range 24 {
			res := produceResult(t, c.roundTrip(produceRequest("big", part, 1, testRecords(4, 64<<10, -1, -1, -1))))
			if res.ErrorCode != 0 {
				t.Fatalf("produce: %v", kerr.ErrorForCode(res.ErrorCode))
			}
		}
	}
	for _, tc := range []struct {
		name              string
		maxBytes, partMax int32
	}{
		{"no limits (-1)", -1, -1},
		{"zero limits", 0, 0},
		{"2 GiB", 1<<31 - 1, 1<<31 - 1},
	} {
		req := fetchRequest("big", 0, 0, 1, tc.maxBytes, 0, 1)
		for i := range req.Topics[0].Partitions {
			req.Topics[0].Partitions[i].PartitionMaxBytes = tc.partMax
		}
		n := fetchedBytes(t, c.roundTrip(req).(*kmsg.FetchResponse))
		if n == 0 || n > capBytes {
			t.Errorf("%s: fetched %d bytes, want 1 to %d (fetch_max_bytes)", tc.name, n, capBytes)
		}
	}
}

// A full fetch without a session (SessionEpoch -1, any SessionID, as some
// clients always send) or opening one (epoch 0) is served, answered with
// SessionID 0 (no session kept); an incremental fetch (epoch > 0) names a
// session this broker does not have: FETCH_SESSION_ID_NOT_FOUND.
func TestFetchSessionlessFullFetch(t *testing.T) {
	ws := startWireServer(t, nil)
	ws.createTopic(t, "sess", 1, nil)
	c := dialWire(t, ws.addr)
	if res := produceResult(t, c.roundTrip(produceRequest("sess", 0, 1, testRecords(3, 10, -1, -1, -1)))); res.ErrorCode != 0 {
		t.Fatalf("produce: %v", kerr.ErrorForCode(res.ErrorCode))
	}
	for _, tc := range []struct {
		id, epoch int32
		full      bool
	}{
		{-1, -1, true},
		{0, -1, true},
		{12345, -1, true},
		{0, 0, true},
		{777, 0, true},
		{0, 1, false},
		{777, 3, false},
		{777, -2, false},
	} {
		req := fetchRequest("sess", 0, 0, 1, 1<<20, 0)
		req.SessionID, req.SessionEpoch = tc.id, tc.epoch
		resp := c.roundTrip(req).(*kmsg.FetchResponse)
		if !tc.full {
			if resp.ErrorCode != kerr.FetchSessionIDNotFound.Code || len(resp.Topics) != 0 {
				t.Errorf("session %d epoch %d: %v with %d topics, want FETCH_SESSION_ID_NOT_FOUND and none",
					tc.id, tc.epoch, kerr.ErrorForCode(resp.ErrorCode), len(resp.Topics))
			}
			continue
		}
		if resp.ErrorCode != 0 || resp.SessionID != 0 {
			t.Errorf("session %d epoch %d: %v, session %d; want a full fetch answered with session 0",
				tc.id, tc.epoch, kerr.ErrorForCode(resp.ErrorCode), resp.SessionID)
			continue
		}
		if n := fetchedBytes(t, resp); n == 0 {
			t.Errorf("session %d epoch %d: no records", tc.id, tc.epoch)
		}
	}
}
