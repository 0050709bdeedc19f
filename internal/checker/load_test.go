package checker

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/shalelog/shale/internal/shaletest"
)

// TestLoadReadLogTail runs a bounded idempotent acks=all load and a tail
// consumer against an in-process Shale node, reads the log back and
// verifies it: every attempt acknowledged, every ack in the log where it
// was acknowledged, every read in order and present.
func TestLoadReadLogTail(t *testing.T) {
	n := shaletest.StartNode(t, nil)
	addr := n.Addr()
	shaletest.CreateTopic(t, addr, "load", 3, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	rec := NewRecorder()
	tail, err := StartTail(ctx, []string{addr}, "load", "tail", rec)
	if err != nil {
		t.Fatal(err)
	}
	load, err := StartLoad(ctx, LoadConfig{
		Brokers: []string{addr}, Topic: "load", Producers: 2, Idempotent: true, Records: 3000,
	}, rec)
	if err != nil {
		t.Fatal(err)
	}
	stats := load.Wait()
	t.Logf("load: %v", stats)
	if stats.Attempted != 3000 || stats.Acked != 3000 || stats.Failed != 0 {
		t.Fatalf("load: %v, want 3000 attempted and acked", stats)
	}
	for tail.Read() < 3000 {
		if ctx.Err() != nil {
			t.Fatalf("tail read %d of 3000", tail.Read())
		}
		time.Sleep(10 * time.Millisecond)
	}
	tail.Stop()

	final, err := ReadLog(ctx, []string{addr}, "load")
	if err != nil {
		t.Fatal(err)
	}
	rep := rec.Verify(final)
	t.Logf("report:\n%s", rep)
	if err := rep.Err(); err != nil {
		t.Fatal(err)
	}
	if rep.Final != 3000 || rep.Observed != 3000 || rep.Acked != 3000 {
		t.Fatalf("final %d, observed %d, acked %d; want 3000 each", rep.Final, rep.Observed, rep.Acked)
	}
	parts := map[int32]bool{}
	for i, r := range final {
		parts[r.Partition] = true
		if i > 0 && r.Partition == final[i-1].Partition && r.Offset != final[i-1].Offset+1 {
			t.Fatalf("final log not in offset order at %d: %v after %v", i, r, final[i-1])
		}
	}
	if len(parts) != 3 {
		t.Fatalf("load reached partitions %v, want all 3", parts)
	}

	// The log is the same when read again, and a second load on the
	// same recorder writes values of its own.
	load2, err := StartLoad(ctx, LoadConfig{Brokers: []string{addr}, Topic: "load", AcksOne: true, Duration: 200 * time.Millisecond}, rec)
	if err != nil {
		t.Fatal(err)
	}
	stats2 := load2.Wait()
	if stats2.Acked == 0 || stats2.Failed != 0 {
		t.Fatalf("second load: %v", stats2)
	}
	// acks=1 acknowledgements are readable once uploaded.
	if err := WaitHighWatermark(ctx, []string{addr}, "load", rec.AckedEnds("load")); err != nil {
		t.Fatal(err)
	}
	final, err = ReadLog(ctx, []string{addr}, "load")
	if err != nil {
		t.Fatal(err)
	}
	if err := rec.Verify(final).Err(); err != nil {
		t.Fatalf("after a second load: %v", err)
	}
	short, cancelShort := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancelShort()
	err = WaitHighWatermark(short, []string{addr}, "load", map[int32]int64{2: 1 << 40})
	if err == nil || !strings.Contains(err.Error(), "2 (to 1099511627776)") {
		t.Fatalf("WaitHighWatermark for an end never reached: %v", err)
	}
}

func TestLoadConfigErrors(t *testing.T) {
	rec := NewRecorder()
	for _, cfg := range []LoadConfig{
		{Topic: "t"},
		{Brokers: []string{"127.0.0.1:1"}},
		{Brokers: []string{"127.0.0.1:1"}, Topic: "t", Idempotent: true, AcksOne: true},
	} {
		if l, err := StartLoad(context.Background(), cfg, rec); err == nil {
			l.Stop()
			t.Errorf("StartLoad(%+v) accepted", cfg)
		}
	}
}

func TestReadLogUnknownTopic(t *testing.T) {
	n := shaletest.StartNode(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := ReadLog(ctx, []string{n.Addr()}, "nope"); err == nil {
		t.Fatal("ReadLog of an unknown topic succeeded")
	}
}
