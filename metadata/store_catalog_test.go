package metadata

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestStoreCatalog(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, testConfig(t, t.TempDir()))
	orders, err := s.CreateTopic(ctx, "orders", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	audit, err := s.CreateTopic(ctx, "audit", 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if pl, ok := s.PartitionLog(orders.ID, 1); !ok || pl != (PartitionLog{}) {
		t.Fatalf("new partition: %+v %v", pl, ok)
	}
	if _, ok := s.PartitionLog(orders.ID, 2); ok {
		t.Fatal("PartitionLog of a missing partition")
	}
	e0 := Extent{Topic: orders.ID, Partition: 0, BaseOffset: 0, LastOffset: 99, Object: "wal/1", Pos: 0, Len: 1000, MaxTimestamp: 5}
	e1 := Extent{Topic: audit.ID, Partition: 0, BaseOffset: 0, LastOffset: 9, Pos: 1000, Len: 100, MaxTimestamp: 6}
	// Refused up front, without a proposal.
	if _, err := s.CommitObject(ctx, ObjectCommit{Key: "wal/1", Size: 500, Extents: []Extent{e0}}); !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("extent beyond the object: %v", err)
	}
	if _, err := s.CommitObject(ctx, ObjectCommit{Key: "wal/1", Size: 2000, Extents: []Extent{e0, e1}, Now: 10}); err != nil {
		t.Fatal(err)
	}
	if res, err := s.CommitObject(ctx, ObjectCommit{Key: "wal/2", Size: 2000, Extents: []Extent{{Topic: orders.ID, Partition: 0, BaseOffset: 101, LastOffset: 110, Len: 10}}}); err != nil || len(res.Refused) != 1 || !errors.Is(res.Refused[0].Err, ErrOffsetGap) {
		t.Fatalf("gap: %+v %v", res, err)
	}
	if pl, _ := s.PartitionLog(orders.ID, 0); pl != (PartitionLog{End: 100, Bytes: 1000, Extents: 1}) {
		t.Fatalf("orders-0 %+v", pl)
	}
	e1.Object = "wal/1"
	e0.CommitTime, e1.CommitTime = 10, 10 // the commit's Now
	if got, ok := s.FindExtent(audit.ID, 0, 9); !ok || got != e1 {
		t.Fatalf("FindExtent = %+v %v, want %+v", got, ok, e1)
	}
	if _, ok := s.FindExtent(audit.ID, 0, 10); ok {
		t.Fatal("FindExtent at the end")
	}
	if got := s.Extents(orders.ID, 0, 50, 10); !reflect.DeepEqual(got, []Extent{e0}) {
		t.Fatalf("Extents = %+v", got)
	}
	// wal/2 holds nothing the catalog accepted: garbage at once.
	if !s.IsKnownObject("wal/1") || !s.IsKnownObject("wal/2") || s.IsKnownObject("wal/3") {
		t.Fatal("IsKnownObject")
	}
	if err := s.ReplaceExtents(ctx, Replacement{New: Extent{Topic: orders.ID, Partition: 0, BaseOffset: 0, LastOffset: 98, Object: "c/1", Len: 10}, ObjectSize: 10, Now: 20}); !errors.Is(err, ErrCatalogChanged) {
		t.Fatalf("replace of no run: %v", err)
	}
	if err := s.ReplaceExtents(ctx, Replacement{New: Extent{Topic: orders.ID, Partition: 0, BaseOffset: 0, LastOffset: 99, Object: "c/1", Len: 10}, ObjectSize: 10, Now: 20}); err != nil {
		t.Fatal(err)
	}
	if err := s.TruncatePartition(ctx, audit.ID, 0, 11, 30); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("truncate beyond end: %v", err)
	}
	if err := s.TruncatePartition(ctx, audit.ID, 0, 10, 30); err != nil {
		t.Fatal(err)
	}
	if got := s.GarbageObjects(); !reflect.DeepEqual(got, []GarbageObject{{"wal/2", 0}, {"wal/1", 30}}) {
		t.Fatalf("garbage %+v", got)
	}
	if err := s.ForgetObjects(ctx, []string{"wal/1", "wal/2", "c/1"}); err != nil {
		t.Fatal(err)
	}
	if len(s.GarbageObjects()) != 0 || !s.IsKnownObject("c/1") || s.IsKnownObject("wal/1") {
		t.Fatal("forget")
	}

	before := time.Now().UnixMilli()
	if _, err := s.DeleteTopic(ctx, "orders"); err != nil {
		t.Fatal(err)
	}
	after := time.Now().UnixMilli()
	g := s.GarbageObjects()
	if len(g) != 1 || g[0].Key != "c/1" || g[0].Since < before || g[0].Since > after {
		t.Fatalf("garbage after delete topic %+v (want c/1 since %d..%d)", g, before, after)
	}
	if _, ok := s.PartitionLog(orders.ID, 0); ok {
		t.Fatal("deleted topic's partition log remains")
	}
}

func TestStoreGroupOffsets(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, testConfig(t, t.TempDir()))
	if _, err := s.CreateTopic(ctx, "orders", 3, nil); err != nil {
		t.Fatal(err)
	}
	offs := map[TopicPartition]CommittedOffset{
		{"orders", 0}: {Offset: 10, LeaderEpoch: 0, Metadata: "x", CommitTime: 100},
		{"orders", 2}: {Offset: 30, LeaderEpoch: 0, CommitTime: 300},
	}
	if err := s.CommitOffsets(ctx, "g", map[TopicPartition]CommittedOffset{{"nope", 0}: {}}); !errors.Is(err, ErrUnknownTopic) {
		t.Fatalf("unknown topic: %v", err)
	}
	if err := s.CommitOffsets(ctx, "g", offs); err != nil {
		t.Fatal(err)
	}
	if err := s.CommitOffsets(ctx, "h", map[TopicPartition]CommittedOffset{{"orders", 1}: {Offset: 1}}); err != nil {
		t.Fatal(err)
	}
	got := s.GroupOffsets("g")
	if !reflect.DeepEqual(got, offs) {
		t.Fatalf("GroupOffsets = %+v", got)
	}
	got[TopicPartition{"orders", 0}] = CommittedOffset{}
	if s.GroupOffsets("g")[TopicPartition{"orders", 0}].Offset != 10 {
		t.Fatal("GroupOffsets returned the store's map")
	}
	if gs := s.GroupsWithOffsets(); !reflect.DeepEqual(gs, []string{"g", "h"}) {
		t.Fatalf("GroupsWithOffsets = %v", gs)
	}
	if n, err := s.ExpireGroupOffsets(ctx, "g", 200); err != nil || n != 1 {
		t.Fatalf("ExpireGroupOffsets = %d, %v", n, err)
	}
	if err := s.DeleteGroupOffsets(ctx, "g", []TopicPartition{}); err != nil || len(s.GroupOffsets("g")) != 1 {
		t.Fatalf("delete of no partitions: %v", err)
	}
	if err := s.DeleteGroupOffsets(ctx, "g", nil); err != nil {
		t.Fatal(err)
	}
	if gs := s.GroupsWithOffsets(); !reflect.DeepEqual(gs, []string{"h"}) {
		t.Fatalf("after delete: %v", gs)
	}
	if err := s.DeleteGroupOffsets(ctx, "", nil); !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("empty group: %v", err)
	}
}
