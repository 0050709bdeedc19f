package partition

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shalelog/shale/wal"
)

// noCold is an object tier with nothing in it.
type noCold struct{}

func (noCold) ReadPieces(context.Context, wal.Key, int64, int64, int) ([][]byte, error) {
	return nil, errors.New("no object tier in this test")
}

// An acks=all wait tells the manager's commit waiter (the uploader's
// group commit) once per wait that has to wait, after the data is in the
// WAL; a wait for data already committed does not.
func TestWaitCommittedTellsTheCommitWaiter(t *testing.T) {
	m := NewManager(openWAL(t), noCold{})
	var calls atomic.Int64
	m.SetCommitWaiter(func() { calls.Add(1) })
	p := m.Open(wal.Key{Partition: 1}, State{})
	a, err := p.Append(makeBatch(2, -1, -1, -1, 10), AppendOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := a.WaitCommitted(ctx); err == nil {
		t.Fatal("WaitCommitted returned without a commit")
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("commit waiter called %d times by one waiting WaitCommitted, want 1", n)
	}
	p.Committed(a.LastOffset + 1)
	if err := a.WaitCommitted(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("commit waiter called for committed data (%d calls)", n)
	}
}
