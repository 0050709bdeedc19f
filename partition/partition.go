// Package partition owns the state of the partitions this broker leads:
// offset assignment, idempotent-producer sequence checks, the high watermark
// and the read path over the write-ahead log.
//
// The produce path is: Append takes the partition's mutex, checks producer
// sequences, assigns offsets by rewriting each batch's baseOffset in place
// (outside the batch CRC, so producers' bytes stay valid), enqueues the
// batches to the broker-wide WAL, and releases the mutex. Because the enqueue
// happens under the mutex, a partition's entries appear in the WAL in offset
// order. The WAL calls back after the group-commit fsync that covers the
// entry, and the high watermark advances to the entry's end; readers see only
// data below the high watermark, so a consumer never reads a record that a
// crash could take back.
//
// Fencing: the partition is led under the leader epoch it was opened with,
// which Append stamps into every batch. When the catalog refuses data the
// partition wrote under that epoch (a newer leader exists, or the data does
// not continue the committed log), the uploader calls Fence: from then on
// the partition answers NOT_LEADER_OR_FOLLOWER to appends and to producers
// waiting for offsets past its last commit, and reads past that point come
// from the object tier only, never from the local WAL's un-committed tail.
//
// LOCKING: Partition.mu serialises appends (offset assignment, producer state
// and WAL enqueue) and fencing. The durable end, high watermark and log start offset are
// atomics read without the mutex; each mark's own small mutex guards only
// its watch channel, and failMu only the sticky failure. Those are taken
// from the WAL's commit goroutine and the uploader, never while waiting on
// anything.
package partition

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/shalelog/shale/internal/crc32c"
	"github.com/shalelog/shale/recordbatch"
	"github.com/shalelog/shale/wal"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Log is the part of the write-ahead log a partition uses.
type Log interface {
	Append(e wal.Entry) error
	Read(k wal.Key, offset, maxOffset int64, maxBytes int) ([]byte, error)
	Range(k wal.Key) (wal.PartitionRange, bool)
	OffsetForTime(k wal.Key, ts int64) (int64, bool)
}

// ColdReader reads offsets that have left the local WAL from the object
// tier. It returns whole, verified batches starting with the one holding
// offset, never at or past end, as pieces that are the batches' bytes
// written back to back. Pieces may be shared with the reader's cache: the
// partition and its callers read them and never modify them.
type ColdReader interface {
	ReadPieces(ctx context.Context, k wal.Key, offset, end int64, maxBytes int) ([][]byte, error)
}

// CompactedReader is a ColdReader that knows how far compaction by key
// has rewritten a partition: offsets below CleanedTo are read from the
// object tier even while the local WAL still holds them, since the WAL
// holds them as they were before compaction.
type CompactedReader interface {
	CleanedTo(k wal.Key) int64
}

// Partition is one partition led by this broker.
type Partition struct {
	key  wal.Key
	log  Log
	cold ColdReader

	mu          sync.Mutex
	next        int64
	leaderEpoch int32
	producers   map[int64]*producerState

	durable  mark // end of fsynced WAL data: acks=1
	hwm      mark // end of data committed to the object tier: acks=all, consumers
	logStart atomic.Int64

	failMu sync.Mutex
	failed error

	// fenced is set by Fence; fencedAt is the high watermark then: the end
	// of what this partition committed, past which its WAL data is not
	// the log's (MaxInt64 while not fenced).
	fenced   atomic.Bool
	fencedAt atomic.Int64

	// onCommitWait, if set, is called when WaitCommitted must wait (the
	// manager's SetCommitWaiter).
	onCommitWait func()

	sealed    atomic.Bool // see Seal
	restoring atomic.Bool // see State.TailFrom and RestoreFromObjects
	walFloor  int64       // see State.WALFloor
}

// mark is an offset that only grows, with a channel closed each time it
// does, so waiters on one mark (fetches on the high watermark, acks=1
// producers on the durable end) are not woken by the other.
type mark struct {
	atomic.Int64
	mu sync.Mutex
	ch chan struct{}
}

// watch returns a channel closed at the next advance (or wake).
func (m *mark) watch() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ch == nil {
		m.ch = make(chan struct{})
	}
	return m.ch
}

// advance raises the mark to end and wakes its waiters; a lower or equal
// end changes nothing and wakes no one.
func (m *mark) advance(end int64) {
	for {
		cur := m.Load()
		if end <= cur {
			return
		}
		if m.CompareAndSwap(cur, end) {
			break
		}
	}
	m.wake()
}

func (m *mark) wake() {
	m.mu.Lock()
	if m.ch != nil {
		close(m.ch)
		m.ch = nil
	}
	m.mu.Unlock()
}

// State is where a partition starts: its log start offset and high
// watermark from the catalog, and the next offset (the end of the local WAL
// when it holds data not yet in the catalog).
type State struct {
	LogStart      int64
	HighWatermark int64
	Next          int64
	LeaderEpoch   int32
	// RestoreTail makes the partition rebuild its idempotent producers'
	// state from the committed batches in [TailFrom, HighWatermark) of
	// the object tier before it takes writes (a new leader, or a leader
	// whose WAL lost its tail); the manager that opens it runs
	// RestoreFromObjects.
	RestoreTail bool
	TailFrom    int64
	// Producers is the idempotent producers' state as of HighWatermark,
	// as the catalog keeps it: a new leader starts from it, then
	// replays its own tail (the WAL, RestoreProducers) or, when the
	// catalog's state is incomplete, the committed tail (RestoreTail)
	// on top; batches already known are not counted twice.
	Producers []ProducerSeed
	// WALFloor is the lowest offset the partition reads from the local
	// WAL; below it reads go to the object tier. The WAL may hold data of
	// an older leadership there that the catalog never took (or took
	// from another leader at the same offsets).
	WALFloor int64
}

// New returns a partition over the WAL and, when cold is not nil, the object
// tier. Without an object tier (cold == nil) the partition runs WAL-only:
// fsynced data is committed data, which is what unit tests of the protocol
// layer use.
func New(key wal.Key, log Log, cold ColdReader, st State) *Partition {
	p := &Partition{
		key:         key,
		log:         log,
		cold:        cold,
		next:        max(st.Next, st.HighWatermark),
		leaderEpoch: st.LeaderEpoch,
		producers:   make(map[int64]*producerState),
	}
	for _, s := range st.Producers {
		seed(p.producers, s)
	}
	p.durable.Store(p.next)
	p.hwm.Store(st.HighWatermark)
	p.fencedAt.Store(math.MaxInt64)
	p.walFloor = st.WALFloor
	p.restoring.Store(cold != nil && st.RestoreTail && st.TailFrom < st.HighWatermark)
	if cold == nil {
		p.walFloor = 0 // WAL-only: the WAL is the whole log
		p.hwm.Store(p.next)
	}
	p.logStart.Store(st.LogStart)
	return p
}

// Key names the partition.
func (p *Partition) Key() wal.Key { return p.key }

// HighWatermark is the end of data committed to the object tier and the
// catalog: consumers read below it.
func (p *Partition) HighWatermark() int64 { return p.hwm.Load() }

// DurableEnd is the end of data fsynced to the local WAL.
func (p *Partition) DurableEnd() int64 { return p.durable.Load() }

// LeaderEpoch is the epoch this partition was opened with.
func (p *Partition) LeaderEpoch() int32 { return p.leaderEpoch }

// Fence tells the partition that data it wrote under leader epoch epoch
// can never be committed: this broker no longer leads it under that
// epoch. An epoch older than the partition's is about an earlier
// incarnation and changes nothing. Fencing is final for this Partition.
func (p *Partition) Fence(epoch int32) {
	if epoch < p.leaderEpoch {
		return
	}
	p.mu.Lock()
	if !p.fenced.Load() {
		p.fencedAt.Store(p.hwm.Load())
		p.fenced.Store(true)
	}
	p.mu.Unlock()
	p.durable.wake()
	p.hwm.wake()
}

// Fenced reports whether Fence stopped the partition.
func (p *Partition) Fenced() bool { return p.fenced.Load() }

// Seal stops new appends (NOT_LEADER_OR_FOLLOWER) while what was appended
// goes on to the object tier and its producers are answered: the first
// step of a graceful handover.
func (p *Partition) Seal() { p.sealed.Store(true) }

// Sealed reports whether Seal was called.
func (p *Partition) Sealed() bool { return p.sealed.Load() }

// Drained reports whether everything appended is committed: a sealed
// partition may then be handed over without losing an acknowledged write.
func (p *Partition) Drained() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hwm.Load() >= p.next
}

func (p *Partition) notLeader() error {
	return fmt.Errorf("%w: partition %v is no longer led here under leader epoch %d", kerr.NotLeaderForPartition, p.key, p.leaderEpoch)
}

// LogStartOffset is the first offset still held.
func (p *Partition) LogStartOffset() int64 { return p.logStart.Load() }

// NextOffset is the offset the next appended record will get.
func (p *Partition) NextOffset() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.next
}

// AppendOptions carries the topic settings that affect an append.
type AppendOptions struct {
	MaxMessageBytes int   // largest batch accepted; 0 means no limit
	LogAppendTime   bool  // message.timestamp.type=LogAppendTime
	Now             int64 // broker time in ms, used for LogAppendTime and producer id expiration
	// RequireKeys refuses records without a key (a topic compacted by
	// key): INVALID_RECORD wrapping recordbatch.ErrNullKey.
	RequireKeys bool
	// Marker appends a transaction marker (one control batch, built by
	// the broker for WriteTxnMarkers) instead of producer data: no
	// sequence check; an epoch older than the producer's is refused,
	// a newer one becomes the producer's (its sequences restart).
	Marker bool
}

// Appended describes the outcome of an accepted append.
type Appended struct {
	BaseOffset    int64
	LastOffset    int64
	LogAppendTime int64 // -1 unless the topic uses LogAppendTime
	Duplicate     bool  // a retry of data already appended; offsets are the original ones
	p             *Partition
}

// WaitLocal blocks until the appended data is fsynced to the local WAL
// (acks=1), the log failed, or ctx ends.
func (a *Appended) WaitLocal(ctx context.Context) error {
	return a.p.waitFor(ctx, &a.p.durable, a.LastOffset+1)
}

// WaitCommitted blocks until the appended data is in the object store and
// the catalog, that is below the high watermark (acks=all), the log failed,
// or ctx ends.
func (a *Appended) WaitCommitted(ctx context.Context) error {
	if f := a.p.onCommitWait; f != nil && a.p.hwm.Load() <= a.LastOffset {
		f()
	}
	return a.p.waitFor(ctx, &a.p.hwm, a.LastOffset+1)
}

// Append validates the batches in records (one or more whole RecordBatch v2,
// each checked against its records by recordbatch.ValidateRecords),
// assigns offsets and enqueues them to the WAL. Errors are Kafka errors
// (kerr) ready for the response: CORRUPT_MESSAGE, MESSAGE_TOO_LARGE,
// INVALID_RECORD, OUT_OF_ORDER_SEQUENCE_NUMBER, UNKNOWN_PRODUCER_ID,
// INVALID_PRODUCER_EPOCH, KAFKA_STORAGE_ERROR, NOT_LEADER_OR_FOLLOWER
// (fenced).
func (p *Partition) Append(records []byte, opts AppendOptions) (*Appended, error) {
	var (
		headers [4]recordbatch.Header
		hs      = headers[:0]
		spans   [4][2]int
		ss      = spans[:0]
		pos     int
	)
	err := recordbatch.Split(records, func(h recordbatch.Header, batch []byte) error {
		if err := recordbatch.ValidateProduced(&h); err != nil {
			return err
		}
		if opts.MaxMessageBytes > 0 && len(batch) > opts.MaxMessageBytes {
			return kerr.MessageTooLarge
		}
		switch {
		case h.IsControl() != opts.Marker:
			return fmt.Errorf("%w: a control batch only as a transaction marker", kerr.InvalidRecord)
		case h.IsTransactional() && h.ProducerID < 0:
			return fmt.Errorf("%w: a transactional batch without a producer id", kerr.InvalidRecord)
		}
		if err := validateRecords(&h, batch, opts.RequireKeys); err != nil {
			return err
		}
		hs = append(hs, h)
		ss = append(ss, [2]int{pos, pos + len(batch)})
		pos += len(batch)
		return nil
	})
	switch {
	case errors.Is(err, kerr.MessageTooLarge), errors.Is(err, kerr.InvalidRecord):
		return nil, err
	case errors.Is(err, recordbatch.ErrMagic):
		return nil, kerr.UnsupportedForMessageFormat
	case err != nil:
		return nil, kerr.CorruptMessage
	case len(hs) == 0:
		return nil, kerr.CorruptMessage
	}
	idempotent := hs[0].ProducerID >= 0
	for i := range hs {
		if (hs[i].ProducerID >= 0) != idempotent || (idempotent && len(hs) > 1) {
			// Kafka requires exactly one batch per partition per request
			// from an idempotent producer.
			return nil, kerr.InvalidRecord
		}
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.failure(); err != nil {
		return nil, kerr.KafkaStorageError
	}
	if p.fenced.Load() || p.sealed.Load() {
		return nil, p.notLeader()
	}
	if p.restoring.Load() {
		return nil, fmt.Errorf("%w: partition %v is loading its producers' state", kerr.NotLeaderForPartition, p.key)
	}
	if opts.Marker {
		h := &hs[0]
		if len(hs) != 1 || h.ProducerID < 0 {
			return nil, kerr.InvalidRecord
		}
		if st := p.producers[h.ProducerID]; st != nil && h.ProducerEpoch < st.epoch {
			return nil, kerr.InvalidProducerEpoch
		} else if st != nil && h.ProducerEpoch > st.epoch {
			p.producers[h.ProducerID] = &producerState{epoch: h.ProducerEpoch, lastSeq: -1, lastAppend: opts.Now}
		}
	} else if idempotent {
		h := &hs[0]
		res, orig, err := checkSequence(p.producers[h.ProducerID], h)
		if err != nil {
			return nil, err
		}
		if res == checkDuplicate {
			return &Appended{BaseOffset: orig.baseOffset, LastOffset: orig.lastOffset, LogAppendTime: -1, Duplicate: true, p: p}, nil
		}
	}

	base := p.next
	off := base
	maxTs := int64(-1)
	lat := int64(-1)
	if opts.LogAppendTime {
		lat = opts.Now
	}
	for i := range hs {
		b := records[ss[i][0]:ss[i][1]]
		recordbatch.SetBaseOffset(b, off)
		recordbatch.SetPartitionLeaderEpoch(b, p.leaderEpoch)
		hs[i].BaseOffset = off
		if opts.LogAppendTime {
			recordbatch.SetLogAppendTime(b, lat)
			hs[i].MaxTimestamp = lat
		}
		maxTs = max(maxTs, hs[i].MaxTimestamp)
		off += int64(hs[i].LastOffsetDelta) + 1
	}
	last := off - 1
	dataCRC, hasCRC := batchesCRC(records, ss)
	err = p.log.Append(wal.Entry{
		Key:          p.key,
		BaseOffset:   base,
		LastOffset:   last,
		MaxTimestamp: maxTs,
		Data:         records,
		DataCRC:      dataCRC,
		HasDataCRC:   hasCRC,
		Done: func(err error) {
			if err != nil {
				p.fail(err)
				return
			}
			if p.cold == nil {
				// WAL-only mode (no object tier): durable is committed.
				// The high watermark first, so that whoever sees the
				// durable end advanced sees it advanced too.
				p.hwm.advance(last + 1)
			}
			p.durable.advance(last + 1)
		},
	})
	if err != nil {
		if errors.Is(err, wal.ErrFull) {
			return nil, fmt.Errorf("%w: local write-ahead log is full", kerr.KafkaStorageError)
		}
		return nil, fmt.Errorf("%w: %v", kerr.KafkaStorageError, err)
	}
	p.next = off
	if idempotent && !opts.Marker {
		record(p.producers, &hs[0], opts.Now)
	}
	return &Appended{BaseOffset: base, LastOffset: last, LogAppendTime: lat, p: p}, nil
}

// crcFromHeadersMin is the smallest append whose WAL frame CRC is derived
// from its batches' CRCs (batchesCRC): below it reading the bytes again is
// cheaper than the two multiplications modulo the polynomial.
const crcFromHeadersMin = 64 << 10

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// batchesCRC returns the CRC-32C of records, the batches at spans, from
// the CRC each batch carries, which Split verified (or SetLogAppendTime
// recomputed): only the 21 header bytes before each CRC'd part are read.
// It reports false, and the WAL reads the bytes itself, for small appends.
func batchesCRC(records []byte, spans [][2]int) (uint32, bool) {
	if len(records) < crcFromHeadersMin {
		return 0, false
	}
	next := 0
	for _, sp := range spans {
		if sp[0] != next || sp[1]-sp[0] < recordbatch.CRCEnd {
			return 0, false
		}
		next = sp[1]
	}
	if next != len(records) {
		return 0, false
	}
	var crc uint32
	for _, sp := range spans {
		b := records[sp[0]:sp[1]]
		crc = crc32.Update(crc, castagnoli, b[:recordbatch.CRCEnd])
		crc = crc32c.Combine(crc, recordbatch.StoredCRC(b), int64(len(b)-recordbatch.CRCEnd))
	}
	return crc, true
}

// validateRecords checks a produced batch's records against its header
// (recordbatch.ValidateRecords): records that disagree with it are
// INVALID_RECORD, as in Kafka; records that do not decompress are
// CORRUPT_MESSAGE.
func validateRecords(h *recordbatch.Header, batch []byte, requireKeys bool) error {
	err := recordbatch.ValidateRecordsWith(h, batch, recordbatch.ValidateOptions{RequireKeys: requireKeys})
	if errors.Is(err, recordbatch.ErrRecords) || errors.Is(err, recordbatch.ErrNullKey) {
		return fmt.Errorf("%w: %w", kerr.InvalidRecord, err)
	}
	return err
}

// Producers returns the idempotent producers this partition holds state
// for, by producer id.
func (p *Partition) Producers() []ProducerInfo {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]ProducerInfo, 0, len(p.producers))
	for id, st := range p.producers {
		out = append(out, ProducerInfo{ID: id, Epoch: st.epoch, LastSeq: st.lastSeq, LastAppend: st.lastAppend})
	}
	slices.SortFunc(out, func(a, b ProducerInfo) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// RestoreProducer replays one already-logged batch into the producer state
// (used at start-up, in log order).
func (p *Partition) RestoreProducer(h *recordbatch.Header) {
	if h.ProducerID < 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if h.IsControl() {
		// A marker moves the producer to its epoch (see AppendOptions.Marker).
		if st := p.producers[h.ProducerID]; st != nil && h.ProducerEpoch > st.epoch {
			p.producers[h.ProducerID] = &producerState{epoch: h.ProducerEpoch, lastSeq: -1}
		}
		return
	}
	record(p.producers, h, 0) // append time unknown: see producerState
}

// RestoreFromObjects rebuilds the idempotent producers' state from the
// committed batches in [from, end) of the object tier, then lets the
// partition take writes. A new leader does this before its first append,
// so a producer retrying a batch the previous leader committed gets the
// batch's original offsets instead of a second copy. On failure the
// partition takes writes anyway (producers then start over, as after
// producer-id expiry) and the error is returned.
func (p *Partition) RestoreFromObjects(ctx context.Context, from, end int64) error {
	defer p.restoring.Store(false)
	if p.cold == nil {
		return nil
	}
	for off := from; off < end; {
		pieces, err := p.cold.ReadPieces(ctx, p.key, off, end, 4<<20)
		if err != nil {
			return fmt.Errorf("restore producer state of %v from offset %d: %w", p.key, off, err)
		}
		next := off
		for _, piece := range pieces {
			for pos := 0; pos < len(piece); {
				h, err := recordbatch.ParseHeader(piece[pos:])
				if err != nil {
					return fmt.Errorf("restore producer state of %v at offset %d: %w", p.key, next, err)
				}
				if h.LastOffset() >= off {
					p.RestoreProducer(&h)
				}
				next = max(next, h.LastOffset()+1)
				pos += h.Size()
			}
		}
		if next <= off {
			return nil // nothing more is readable (retention moved the start)
		}
		off = next
	}
	return nil
}

// ReadResult is what Read returns.
type ReadResult struct {
	// Data is whole batches, the first of which may start before the
	// requested offset, as one or more pieces: the batches' bytes are the
	// pieces written back to back (a cold read returns slices of the object
	// tier's cached blocks rather than a copy). Nil when there is no data.
	// Pieces may be shared: read them, never modify them.
	Data           [][]byte
	HighWatermark  int64
	LogStartOffset int64
}

// Len returns the number of bytes in r.Data.
func (r ReadResult) Len() int {
	n := 0
	for _, p := range r.Data {
		n += len(p)
	}
	return n
}

// Bytes returns r.Data as one slice: the only piece itself, or a copy of
// the pieces joined. Like the pieces, it is for reading only.
func (r ReadResult) Bytes() []byte {
	switch len(r.Data) {
	case 0:
		return nil
	case 1:
		return r.Data[0]
	}
	b := make([]byte, 0, r.Len())
	for _, p := range r.Data {
		b = append(b, p...)
	}
	return b
}

// Read returns whole batches from offset on, at most about maxBytes but
// always at least one batch when there is data. Reading exactly at the high
// watermark returns no data; outside [log start, high watermark] it returns
// OFFSET_OUT_OF_RANGE. Offsets still in the local WAL are read from it;
// older ones come from the object tier.
func (p *Partition) Read(ctx context.Context, offset int64, maxBytes int) (ReadResult, error) {
	return p.ReadBelow(ctx, offset, math.MaxInt64, maxBytes)
}

// ReadBelow is Read returning only batches that start below upper (a
// read_committed fetch passes the last stable offset, which is always a
// batch boundary); an offset at or above upper but within the log reads
// nothing.
func (p *Partition) ReadBelow(ctx context.Context, offset, upper int64, maxBytes int) (ReadResult, error) {
	r := ReadResult{HighWatermark: p.hwm.Load(), LogStartOffset: p.logStart.Load()}
	if offset < r.LogStartOffset || offset > r.HighWatermark {
		return r, kerr.OffsetOutOfRange
	}
	end := min(r.HighWatermark, upper)
	if offset >= end {
		return r, nil
	}
	// Past fencedAt the WAL holds this broker's refused tail, not the log.
	// Below the cleaned offset of compaction by key the log is the
	// compacted one in the object tier.
	floor := p.walFloor
	if cr, ok := p.cold.(CompactedReader); ok {
		floor = max(floor, cr.CleanedTo(p.key))
	}
	if wr, ok := p.log.Range(p.key); ok && offset >= max(wr.First, floor) && offset < p.fencedAt.Load() {
		data, err := p.readLog(offset, min(end, p.fencedAt.Load()), maxBytes)
		if err == nil && data != nil {
			r.Data = data
			return r, nil
		}
		if err != nil && !errors.Is(err, wal.ErrOffsetTooLow) {
			return r, fmt.Errorf("%w: %v", kerr.KafkaStorageError, err)
		}
		// Trimmed from the WAL since Range: read it from the object tier.
	}
	if p.cold == nil {
		return r, kerr.OffsetOutOfRange
	}
	pieces, err := p.cold.ReadPieces(ctx, p.key, offset, end, maxBytes)
	if err != nil {
		return r, fmt.Errorf("%w: %v", kerr.KafkaStorageError, err)
	}
	// Compaction by key leaves empty batches (a producer's last batch,
	// an extent's first and last). A response of nothing but empty
	// batches stalls some clients (librdkafka takes it for a batch too
	// large to fetch): read on until a batch with records, as a Kafka
	// segment read would include the batches after them.
	for got := piecesLen(pieces); len(pieces) > 0 && got < maxBytes; got = piecesLen(pieces) {
		next, empty := emptyBatchesEnd(pieces)
		if !empty || next >= end {
			break
		}
		more, err := p.cold.ReadPieces(ctx, p.key, next, end, maxBytes-got)
		if err != nil || len(more) == 0 {
			break // what was read stands; the next fetch tries again
		}
		pieces = append(pieces, more...)
	}
	if len(pieces) > 0 {
		r.Data = pieces
	}
	return r, nil
}

// ReadsCold reports whether a read at offset would go to the object tier
// (the local WAL does not serve it): what a fetch reads ahead in parallel
// across partitions.
func (p *Partition) ReadsCold(offset int64) bool {
	if p.cold == nil {
		return false
	}
	floor := p.walFloor
	if cr, ok := p.cold.(CompactedReader); ok {
		floor = max(floor, cr.CleanedTo(p.key))
	}
	wr, ok := p.log.Range(p.key)
	return !ok || offset < max(wr.First, floor) || offset >= p.fencedAt.Load()
}

func piecesLen(pieces [][]byte) int {
	n := 0
	for _, p := range pieces {
		n += len(p)
	}
	return n
}

// emptyBatchesEnd reports whether pieces (whole batches back to back) hold
// only batches without records, and the offset after the last. Only small
// reads are looked at: empty batches are 61 bytes each.
func emptyBatchesEnd(pieces [][]byte) (next int64, empty bool) {
	if piecesLen(pieces) > 64<<10 {
		return 0, false
	}
	var b []byte
	for _, p := range pieces {
		b = append(b, p...)
	}
	for pos := 0; pos < len(b); {
		h, err := recordbatch.ParseHeader(b[pos:])
		if err != nil || h.RecordCount != 0 {
			return 0, false
		}
		next = h.LastOffset() + 1
		pos += h.Size()
	}
	return next, len(b) > 0
}

// logReadPiece bounds one read of the WAL: a large read is made of pieces
// of about this size (a piece holds whole WAL entries, so one entry larger
// than this is a piece of its own), so no read needs one huge buffer.
const logReadPiece = 1 << 20

// readLog reads whole batches from offset below end from the WAL, at most
// about maxBytes but at least one entry, in pieces of about logReadPiece.
// Like wal.Log.Read it returns nil when there is nothing, and
// wal.ErrOffsetTooLow when offset has left the WAL; an offset trimmed
// away after the first piece just ends the read there.
func (p *Partition) readLog(offset, end int64, maxBytes int) ([][]byte, error) {
	var pieces [][]byte
	got := 0
	for offset < end {
		left := maxBytes - got
		if got > 0 && left <= 0 {
			break
		}
		want := min(left, logReadPiece)
		data, err := p.log.Read(p.key, offset, end, max(want, 1))
		if err != nil {
			if got > 0 {
				break
			}
			return nil, err
		}
		if len(data) == 0 || (got > 0 && len(data) > left) {
			// Nothing more, or an entry that no longer fits: the WAL
			// always returns at least one entry, so the read ends here.
			break
		}
		pieces = append(pieces, data)
		got += len(data)
		if want == left {
			// The WAL stopped before an entry that would have passed
			// maxBytes, or at the end: nothing more fits.
			break
		}
		next, err := nextOffset(data)
		if err != nil {
			return nil, err
		}
		offset = next
	}
	return pieces, nil
}

// nextOffset returns the offset after the last of the whole batches in data.
func nextOffset(data []byte) (int64, error) {
	next := int64(-1)
	for pos := 0; pos < len(data); {
		h, err := recordbatch.ParseHeader(data[pos:])
		if err == nil && h.Size() > len(data)-pos {
			err = fmt.Errorf("batch of %d bytes is cut at %d", h.Size(), len(data)-pos)
		}
		if err != nil {
			return 0, fmt.Errorf("%w: batch at byte %d of a WAL read: %v", kerr.KafkaStorageError, pos, err)
		}
		next = h.LastOffset() + 1
		pos += h.Size()
	}
	return next, nil
}

// Committed advances the high watermark after the object tier committed
// data up to end (exclusive).
func (p *Partition) Committed(end int64) { p.hwm.advance(end) }

// SetLogStart advances the log start offset (retention, DeleteRecords).
func (p *Partition) SetLogStart(start int64) {
	for {
		cur := p.logStart.Load()
		if start <= cur || p.logStart.CompareAndSwap(cur, start) {
			return
		}
	}
}

// TimeIndex finds where to start looking for a timestamp in the object
// tier: an offset, at or after from, at or before the first record at or
// after from whose timestamp reaches ts, as close to it as the index can
// tell (the object tier uses the catalog's extents, then the sparse index
// of the extent's object). ok is false when no record from there on
// reaches ts. ctx bounds the lookup, which may read an object's footer.
type TimeIndex interface {
	OffsetForTime(ctx context.Context, k wal.Key, ts, from int64) (offset int64, ok bool, err error)
}

// maxTimeScan bounds the bytes OffsetForTime reads past its starting point.
// With the object tier's sparse index the scan normally ends within one
// sparse block; the bound is for data whose index cannot narrow it down
// (a log start offset inside a block reaching ts).
const maxTimeScan = 256 << 20

// timeScanRead is how much one step of OffsetForTime's scan reads: about a
// sparse block of the object tier.
const timeScanRead = 256 << 10

// OffsetForTime returns the offset and timestamp of the first record below
// the high watermark whose timestamp is at or after ts, as Kafka's
// ListOffsets does, or offset -1 when there is none. The object tier's
// index (or, without one, the WAL's entries) gives a starting batch; the
// batches from there are read and, for the first whose max timestamp
// reaches ts, its records' timestamps (decompressed if need be). It stops
// when ctx ends (the request's connection closed).
func (p *Partition) OffsetForTime(ctx context.Context, ts int64) (offset, timestamp int64, err error) {
	start, hwm := p.logStart.Load(), p.hwm.Load()
	var (
		from int64
		ok   bool
	)
	if ti, isIndex := p.cold.(TimeIndex); isIndex {
		if from, ok, err = ti.OffsetForTime(ctx, p.key, ts, start); err != nil {
			return -1, -1, fmt.Errorf("%w: %v", kerr.KafkaStorageError, err)
		}
	} else {
		from, ok = p.log.OffsetForTime(p.key, ts)
	}
	if !ok || from >= hwm {
		return -1, -1, nil
	}
	off := max(from, start)
	for scanned := 0; off < hwm && scanned < maxTimeScan; {
		if err := ctx.Err(); err != nil {
			return -1, -1, kerr.RequestTimedOut
		}
		r, err := p.Read(ctx, off, timeScanRead)
		if err != nil {
			return -1, -1, err
		}
		data := r.Bytes()
		if len(data) == 0 {
			break
		}
		scanned += len(data)
		for pos := 0; pos < len(data); {
			h, err := recordbatch.ParseHeader(data[pos:])
			if err != nil {
				return -1, -1, fmt.Errorf("%w: %v", kerr.KafkaStorageError, err)
			}
			batch := data[pos : pos+h.Size()]
			pos += h.Size()
			if h.LastOffset() < off {
				continue
			}
			if h.MaxTimestamp >= ts {
				found, foundTs := int64(-1), int64(-1)
				err := recordbatch.RecordTimestamps(batch, func(delta int32, t int64) bool {
					if o := h.BaseOffset + int64(delta); o >= off && t >= ts {
						found, foundTs = o, t
						return false
					}
					return true
				})
				if err != nil {
					return -1, -1, fmt.Errorf("%w: %v", kerr.CorruptMessage, err)
				}
				if found >= 0 {
					return found, foundTs, nil
				}
			}
			off = h.LastOffset() + 1
		}
	}
	return -1, -1, nil
}

// Watch returns a channel closed when the high watermark next advances or
// the partition fails. Check the condition after calling Watch, then wait.
func (p *Partition) Watch() <-chan struct{} { return p.hwm.watch() }

func (p *Partition) fail(err error) {
	p.failMu.Lock()
	if p.failed == nil {
		p.failed = err
	}
	p.failMu.Unlock()
	p.durable.wake()
	p.hwm.wake()
}

func (p *Partition) failure() error {
	p.failMu.Lock()
	defer p.failMu.Unlock()
	return p.failed
}

func (p *Partition) waitFor(ctx context.Context, m *mark, end int64) error {
	for {
		ch := m.watch()
		// Checked first: once fenced, a high watermark past end is
		// another leader's data, not this producer's.
		if p.fenced.Load() && end > p.fencedAt.Load() {
			return p.notLeader()
		}
		if m.Load() >= end {
			return nil
		}
		if err := p.failure(); err != nil {
			return fmt.Errorf("%w: %v", kerr.KafkaStorageError, err)
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return kerr.RequestTimedOut
		}
	}
}
