package tiering

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shalelog/shale/index"
	"github.com/shalelog/shale/objectstore"
)

// Extent is one partition's data in one object, as the catalog records it:
// the bytes [Pos, Pos+Len) of object Object hold whole batches with offsets
// BaseOffset through LastOffset.
type Extent struct {
	Object     string
	Pos, Len   int64
	BaseOffset int64
	LastOffset int64 // inclusive
	// ObjectSize is the object's total size in bytes, or 0 when the catalog
	// does not know it; the Reader then asks the store (one HEAD) before
	// fetching the footer.
	ObjectSize int64
}

// ExtentFinder looks offsets up in the catalog.
type ExtentFinder interface {
	// FindExtent returns the extent of partition key holding offset, or the
	// first extent after offset, and false when there is none (offset below
	// the log start or past the end of the catalog).
	FindExtent(key index.Key, offset int64) (Extent, bool)
}

// ErrNotInCatalog is returned by Read for an offset no extent covers: below
// the log start or beyond the end of the catalog.
var ErrNotInCatalog = errors.New("offset not in the object tier catalog")

// ErrReaderClosed is returned by Read after Close.
var ErrReaderClosed = errors.New("cold reader is closed")

// ReaderConfig tunes a Reader.
type ReaderConfig struct {
	// BlockSize is the unit of ranged GETs and of the block cache. Blocks
	// are aligned to object offsets: block i is [i*BlockSize,
	// (i+1)*BlockSize), cut at the end of the object's batch data.
	BlockSize int64
	// CacheBytes bounds the bytes of blocks kept in the cache. 0 keeps none
	// (concurrent reads of a block still share one GET).
	CacheBytes int64
	// FooterCacheEntries bounds the number of decoded footers kept.
	FooterCacheEntries int
	// FooterReadSize is how many bytes of an object's tail the first GET
	// fetches, hoping the whole footer comes along. A longer footer costs a
	// second GET.
	FooterReadSize int64
	// ReadAhead is the number of blocks fetched in the background, in
	// parallel, ahead of a sequential reader, and the most blocks one large
	// read fetches in parallel beyond its first. 0 turns both off.
	ReadAhead int
	// MaxConcurrentGets bounds the GETs (and HEADs) in flight at once.
	MaxConcurrentGets int
	// GetAttempts is how many times a GET that fails with a retriable error
	// (objectstore.IsRetriable) is tried in all.
	GetAttempts int
	// RetryBackoff is the wait before the first retry; it doubles with each
	// further retry up to 1 s, with jitter.
	RetryBackoff time.Duration
	// Logger receives retries and corruption reports; nil discards them.
	Logger *slog.Logger
}

// DefaultReaderConfig returns the defaults: 4 MiB blocks, a 256 MiB block
// cache, 4096 footers, 64 KiB tail reads, read-ahead of 4 blocks, 16
// concurrent GETs, 4 attempts per GET starting 50 ms apart.
func DefaultReaderConfig() ReaderConfig {
	return ReaderConfig{
		BlockSize:          4 << 20,
		CacheBytes:         256 << 20,
		FooterCacheEntries: 4096,
		FooterReadSize:     64 << 10,
		ReadAhead:          4,
		MaxConcurrentGets:  16,
		GetAttempts:        4,
		RetryBackoff:       50 * time.Millisecond,
	}
}

// maxRetryBackoff caps the doubling retry wait.
const maxRetryBackoff = time.Second

// maxBlockSize bounds ReaderConfig.BlockSize (1 GiB): one block is one
// allocation.
const maxBlockSize = 1 << 30

// Validate reports settings that cannot be used.
func (c ReaderConfig) Validate() error {
	switch {
	case c.BlockSize < 1 || c.BlockSize > maxBlockSize:
		return fmt.Errorf("block size %d is outside [1, %d]", c.BlockSize, maxBlockSize)
	case c.CacheBytes < 0:
		return fmt.Errorf("cache bytes %d is negative", c.CacheBytes)
	case c.FooterCacheEntries < 0:
		return fmt.Errorf("footer cache entries %d is negative", c.FooterCacheEntries)
	case c.FooterReadSize < index.TrailerSize || c.FooterReadSize > index.MaxFooterLen+index.TrailerSize:
		return fmt.Errorf("footer read size %d is outside [%d, %d]", c.FooterReadSize, index.TrailerSize, index.MaxFooterLen+index.TrailerSize)
	case c.ReadAhead < 0:
		return fmt.Errorf("read-ahead %d is negative", c.ReadAhead)
	case c.MaxConcurrentGets < 1:
		return fmt.Errorf("max concurrent GETs %d is below 1", c.MaxConcurrentGets)
	case c.GetAttempts < 1:
		return fmt.Errorf("GET attempts %d is below 1", c.GetAttempts)
	case c.RetryBackoff < 0:
		return fmt.Errorf("retry backoff %v is negative", c.RetryBackoff)
	}
	return nil
}

// ReaderStats counts a Reader's work since it was made.
type ReaderStats struct {
	Gets        int64 // ranged GET requests sent, retries included
	GetBytes    int64 // bytes received in GET bodies
	Heads       int64 // HEAD (Stat) requests, for extents without ObjectSize
	Retries     int64 // GETs and HEADs retried after a retriable error
	CacheHits   int64 // block lookups served from the cache
	CacheMisses int64 // block lookups that waited for a GET
	// FooterHits and FooterMisses count footer lookups served from the
	// cache and those that waited for GETs.
	FooterHits, FooterMisses int64
	// ReadAheads counts blocks fetched in the background: ahead of a
	// sequential reader, or in parallel for a read spanning many blocks.
	ReadAheads int64
	// DedupedGets counts lookups (of blocks or footers) that joined a fetch
	// already in flight instead of sending their own.
	DedupedGets int64
	// PassedDropped counts blocks a sequential reader read past that left
	// the cache at once (see Reader: no other reader of the partition
	// behind it, nobody else's bytes in the block).
	PassedDropped int64

	CachedBlocks  int   // blocks in the cache now
	CachedBytes   int64 // their bytes; never above ReaderConfig.CacheBytes
	CachedFooters int   // footers in the cache now
}

// readerCounters are the atomic counters behind ReaderStats.
type readerCounters struct {
	gets, getBytes, heads, retries atomic.Int64
	readAheads, passedDropped      atomic.Int64
}

// maxCursorPartitions bounds the partitions whose readers' cursors are
// remembered; past it they are all forgotten at once (the next read of
// each reader starts over).
const maxCursorPartitions = 1 << 16

// cursorsPerPartition bounds the cursors remembered per partition: a read
// that continues none of them takes the least recently used one's place.
const cursorsPerPartition = 4

// readerActive is how recently a cursor must have moved for its reader to
// count as another reader of the partition, whose blocks a sequential
// reader therefore leaves in the cache when it reads past them.
const readerActive = 10 * time.Second

// readCursor is where a reader of a partition will read next (next) and
// when it last read (used, in nanoseconds since the Reader was made, plus
// one; 0 is an empty slot).
type readCursor struct {
	next, used int64
}

// partitionCursors are the cursors of one partition's readers.
type partitionCursors [cursorsPerPartition]readCursor

// Reader serves reads of partitions from the object tier: catalog lookup,
// then the object's footer (cached), then ranged GETs of BlockSize blocks
// (cached in an LRU bounded by bytes). Concurrent reads of one block or one
// footer share one GET. A reader that asks for the offset where its last
// read ended is sequential: the next ReadAhead blocks of the extent are
// fetched in parallel in the background, and so are the later blocks of a
// single read that spans several. Transient store errors are retried with
// backoff; a failed or canceled GET leaves nothing cached.
//
// Blocks are cut from the object at multiples of BlockSize, whatever the
// partitions inside, so partitions sharing an object share blocks; the last
// block stops where the batch data ends and the footer begins:
//
//	object   |<------------ batch data (dataLen) ------------>|footer|trailer|
//	extent             |<----- partition k: Pos, Len ----->|
//	sparse             ^e0        ^e1         ^e2
//	blocks   |  block 0   |  block 1   |  block 2   |  block 3 |
//
// A read of an offset in e1's range starts at e1, walks blocks 1 and 2 as
// far as it needs, verifies every batch from e1 on and returns those from
// the batch holding the offset. The batches are returned as slices of the
// cached blocks, not copied (ReadPieces; Read copies them into one slice),
// even a batch that crosses a block boundary: its CRC-32C is put together
// from the chunk sums each block got as its GET's body arrived (see
// blocksum.go), so verification reads again only the bytes at the edges of
// a batch, not the whole batch out of memory that has left the CPU cache.
//
// Every batch Read returns has been checked as index.VerifyBatches checks
// (framing, magic, CRC-32C, contiguous offsets starting from the sparse
// index entry the read started at) and against the footer and the catalog
// (offsets inside the extent, the extent's data ending at its last offset).
// Bad bytes give an error wrapping *index.CorruptionError with Object set;
// nothing read from a bad object is returned. The batch fields outside the
// Kafka CRC (base offset, length, partition leader epoch) are covered by
// the offset and framing checks except the leader epoch, which no check of
// this format can cover.
//
// Blocks a sequential reader has read past are of no more use to it. They
// leave the cache at once when they hold only that partition's bytes (all
// blocks of the one-partition objects compaction writes, the inner blocks
// of a long extent) and no other reader of the partition behind it has
// read within readerActive: a lone replay would otherwise fill the cache
// with blocks nobody reads again, and the Go heap, which grows to about
// twice what is live, with them (on a fresh broker that is new memory, a
// page fault and the kernel zeroing the page for every byte of it).
// Otherwise, when another reader may still want them or they hold other
// partitions' bytes, they move to the evict-first end of the cache
// instead, behind the blocks read ahead. Blocks count as passed when they
// end before the sparse entry where the reader's next read will start.
// The cost: the cache no longer keeps the heap grown between replays, so
// the Go runtime gives memory back after one and the next faults it in
// again.
//
// A Reader is safe for concurrent use. It never holds a lock during I/O.
//
// LOCKING: the block cache and the footer cache each have their own mutex
// (see loadingCache), and cursorsMu guards cursors; each is held only for
// map and list updates, never during I/O, never while waiting and never
// together with another. getSlots is a semaphore, held only around one
// request to the store.
type Reader struct {
	bucket objectstore.Bucket
	cat    ExtentFinder
	cfg    ReaderConfig
	log    *slog.Logger

	ctx    context.Context // base of every fetch; canceled by Close
	cancel context.CancelFunc
	closed atomic.Bool

	blocks  *loadingCache[blockKey, *cachedBlock]
	footers *loadingCache[string, *objectFooter]

	getSlots        chan struct{} // one token per GET in flight
	pendingPrefetch atomic.Int64  // background block fetches not finished

	born      time.Time // the clock of readCursor.used
	cursorsMu sync.Mutex
	cursors   map[index.Key]*partitionCursors

	stats readerCounters
}

// NewReader returns a Reader of objects in b located through cat. The
// Reader does not own b: Close leaves it open.
func NewReader(b objectstore.Bucket, cat ExtentFinder, cfg ReaderConfig) (*Reader, error) {
	if b == nil || cat == nil {
		return nil, errors.New("new cold reader: bucket and catalog are required")
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("new cold reader: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Reader{
		bucket:   b,
		cat:      cat,
		cfg:      cfg,
		log:      log,
		ctx:      ctx,
		cancel:   cancel,
		blocks:   newLoadingCache[blockKey](ctx, cfg.CacheBytes, blockCost),
		footers:  newLoadingCache[string](ctx, int64(cfg.FooterCacheEntries), footerCost),
		getSlots: make(chan struct{}, cfg.MaxConcurrentGets),
		born:     time.Now(),
		cursors:  make(map[index.Key]*partitionCursors),
	}, nil
}

// Stats returns the Reader's counters. They are read one by one, so a
// snapshot taken during reads may be off by those reads.
func (r *Reader) Stats() ReaderStats {
	blocks, bytes := r.blocks.usage()
	footers, _ := r.footers.usage()
	return ReaderStats{
		Gets:          r.stats.gets.Load(),
		GetBytes:      r.stats.getBytes.Load(),
		Heads:         r.stats.heads.Load(),
		Retries:       r.stats.retries.Load(),
		CacheHits:     r.blocks.hits.Load(),
		CacheMisses:   r.blocks.joins.Load() + r.blocks.loads.Load(),
		FooterHits:    r.footers.hits.Load(),
		FooterMisses:  r.footers.joins.Load() + r.footers.loads.Load(),
		ReadAheads:    r.stats.readAheads.Load(),
		DedupedGets:   r.blocks.joins.Load() + r.footers.joins.Load(),
		PassedDropped: r.stats.passedDropped.Load(),
		CachedBlocks:  blocks,
		CachedBytes:   bytes,
		CachedFooters: footers,
	}
}

// Close cancels background fetches and waits for them to end. Reads in
// progress fail; later ones return ErrReaderClosed. It does not close the
// bucket. Close is idempotent.
func (r *Reader) Close() error {
	r.closed.Store(true)
	r.cancel()
	r.blocks.wait()
	r.footers.wait()
	return nil
}

// Read returns whole batches of partition k starting with the batch that
// contains offset (or, when offset falls in a gap, the first batch after
// it): at most about maxBytes, but at least one whole batch even if it is
// larger; no batch whose base offset is at or past end (the high
// watermark); and nothing past the end of the extent holding offset (call
// again from the returned data's end for the next extent). It returns nil
// and no error when there is nothing to return, and an error wrapping
// ErrNotInCatalog when no extent covers offset.
//
// The returned slice is the caller's: it is a copy of what ReadPieces
// returns. Corrupt data gives an error wrapping *index.CorruptionError
// naming the object; errors of the store come back wrapped after
// GetAttempts tries; ctx bounds the whole call.
func (r *Reader) Read(ctx context.Context, k index.Key, offset, end int64, maxBytes int) ([]byte, error) {
	pieces, err := r.ReadPieces(ctx, k, offset, end, maxBytes)
	if err != nil || len(pieces) == 0 {
		return nil, err
	}
	n := 0
	for _, p := range pieces {
		n += len(p)
	}
	data := make([]byte, 0, n)
	for _, p := range pieces {
		data = append(data, p...)
	}
	return data, nil
}

// ReadPieces is Read without the copy: it returns the same bytes as pieces
// that, written back to back, are the batches Read would return, each batch
// verified as Read describes. A piece is usually a slice of a cached block,
// shared with the cache and with other readers, so the caller must never
// modify one. Holding pieces keeps their blocks alive after the cache drops
// them; a piece shorter than 1/sharedPieceFraction of its block is a copy,
// so that pieces never keep more than sharedPieceFraction times their own
// bytes of block memory alive.
func (r *Reader) ReadPieces(ctx context.Context, k index.Key, offset, end int64, maxBytes int) ([][]byte, error) {
	if r.closed.Load() {
		return nil, ErrReaderClosed
	}
	if offset < 0 {
		return nil, fmt.Errorf("read %v: negative offset %d", k, offset)
	}
	if offset >= end {
		return nil, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("read %v offset %d: %w", k, offset, err)
	}
	ext, ok := r.cat.FindExtent(k, offset)
	if !ok {
		return nil, fmt.Errorf("read %v offset %d: %w", k, offset, ErrNotInCatalog)
	}
	if err := checkExtent(ext, offset); err != nil {
		return nil, fmt.Errorf("read %v offset %d: %w", k, offset, err)
	}
	target := max(offset, ext.BaseOffset)
	if target >= end {
		return nil, nil
	}
	data, next, err := r.readExtent(ctx, k, ext, target, end, maxBytes)
	if err != nil {
		if r.closed.Load() && ctx.Err() == nil {
			// Close canceled the fetches this read was waiting for.
			return nil, fmt.Errorf("read %v offset %d: %w (%v)", k, offset, ErrReaderClosed, err)
		}
		var ce *index.CorruptionError
		if errors.As(err, &ce) {
			r.log.Warn("corrupt object in cold read", "object", ext.Object, "topic", hex.EncodeToString(k.Topic[:]), "partition", k.Partition, "offset", target, "err", err)
		}
		return nil, fmt.Errorf("read %v offset %d: %w", k, offset, err)
	}
	if len(data.pieces) == 0 {
		return nil, nil
	}
	if sequential, alone := r.advanceCursor(k, offset, next); sequential {
		r.readAhead(ext, data.footer, data.lastBlock)
		// A sequential reader will not come back for the blocks it has
		// read past: drop those nobody else may want (see Reader), and
		// let the others go before the blocks read ahead of it (and of
		// other readers), which the LRU order alone would evict first
		// when they were fetched earlier.
		for _, b := range data.passed {
			key := blockKey{ext.Object, b}
			if alone && r.privateBlock(data.footer, data.part, b) {
				if r.blocks.remove(key) {
					r.stats.passedDropped.Add(1)
				}
			} else {
				r.blocks.demote(key)
			}
		}
	}
	return data.pieces, nil
}

// TimeStart returns where to start reading ext to find the first record
// of partition k whose timestamp is at least ts: the base offset of the
// first sparse block of k in ext's object whose running max timestamp
// reaches ts (index.Partition.LocateTime), or ext's base offset if that
// block starts before it. It reports false when no batch of k in ext
// reaches ts. It reads only the object's footer (cached).
func (r *Reader) TimeStart(ctx context.Context, k index.Key, ext Extent, ts int64) (int64, bool, error) {
	if r.closed.Load() {
		return 0, false, ErrReaderClosed
	}
	if err := checkExtent(ext, ext.BaseOffset); err != nil {
		return 0, false, fmt.Errorf("time lookup %v: %w", k, err)
	}
	of, err := r.objectFooterFor(ctx, ext)
	if err != nil {
		return 0, false, fmt.Errorf("time lookup %v: %w", k, err)
	}
	p, ok := of.footer.Lookup(k)
	if !ok {
		return 0, false, r.objectError(ext.Object, "time lookup", &index.CorruptionError{
			Offset: -1, Reason: fmt.Sprintf("footer has no partition %v, the catalog says it holds offsets [%d, %d]", k, ext.BaseOffset, ext.LastOffset)})
	}
	i := sort.Search(len(p.Sparse), func(i int) bool { return p.Sparse[i].MaxTimestamp >= ts })
	if i == len(p.Sparse) || p.Sparse[i].Offset > ext.LastOffset {
		return 0, false, nil
	}
	return max(p.Sparse[i].Offset, ext.BaseOffset), true, nil
}

// checkExtent rejects extents the catalog should never return for offset.
func checkExtent(ext Extent, offset int64) error {
	switch {
	case ext.Object == "":
		return errors.New("catalog extent has no object")
	case ext.Pos < 0 || ext.Len <= 0 || ext.Pos > (1<<62)-ext.Len:
		return fmt.Errorf("catalog extent of %s has bad byte range pos %d len %d", ext.Object, ext.Pos, ext.Len)
	case ext.BaseOffset < 0 || ext.LastOffset < ext.BaseOffset:
		return fmt.Errorf("catalog extent of %s has bad offsets [%d, %d]", ext.Object, ext.BaseOffset, ext.LastOffset)
	case ext.LastOffset < offset:
		return fmt.Errorf("catalog returned extent of %s with offsets [%d, %d] for offset %d", ext.Object, ext.BaseOffset, ext.LastOffset, offset)
	case ext.ObjectSize < 0:
		return fmt.Errorf("catalog extent of %s has negative object size %d", ext.Object, ext.ObjectSize)
	}
	return nil
}

// extentRead is what readExtent returns.
type extentRead struct {
	pieces    [][]byte
	footer    *objectFooter
	part      *index.Partition // the partition's entry in footer
	lastBlock int64            // the last block the read touched
	passed    []int64          // blocks wholly before where the next read starts
}

// readExtent reads from ext the batches ReadPieces describes, for offset
// target (inside ext). It returns them and the offset after the last one.
func (r *Reader) readExtent(ctx context.Context, k index.Key, ext Extent, target, end int64, maxBytes int) (extentRead, int64, error) {
	of, err := r.objectFooterFor(ctx, ext)
	if err != nil {
		return extentRead{}, 0, err
	}
	p, ok := of.footer.Lookup(k)
	if !ok {
		return extentRead{}, 0, r.objectError(ext.Object, "find partition", &index.CorruptionError{
			Offset: -1, Reason: fmt.Sprintf("footer has no partition %v, the catalog says it holds offsets [%d, %d]", k, ext.BaseOffset, ext.LastOffset)})
	}
	if ext.Pos < p.Pos || ext.Pos+ext.Len > p.Pos+p.Len || ext.BaseOffset < p.FirstOffset || ext.LastOffset > p.LastOffset {
		return extentRead{}, 0, r.objectError(ext.Object, "check extent", &index.CorruptionError{
			Offset: -1, Reason: fmt.Sprintf("footer has partition %v at bytes [%d, %d) offsets [%d, %d], the catalog says bytes [%d, %d) offsets [%d, %d]",
				k, p.Pos, p.Pos+p.Len, p.FirstOffset, p.LastOffset, ext.Pos, ext.Pos+ext.Len, ext.BaseOffset, ext.LastOffset)})
	}

	start, expect := readStart(ext, p, target)
	hi := ext.Pos + ext.Len
	if maxBytes < 1 {
		maxBytes = 1
	}

	if r.cfg.ReadAhead > 0 {
		// A read that will likely span several blocks fetches them in
		// parallel: the sparse block holding target plus maxBytes.
		likelyEnd := min(hi, p.BlockEnd(start)+int64(maxBytes))
		first := start/r.cfg.BlockSize + 1
		last := min((likelyEnd-1)/r.cfg.BlockSize, first+int64(r.cfg.ReadAhead)-1)
		for b := first; b <= last; b++ {
			r.prefetchBlock(ext.Object, of, b)
		}
	}

	// Objects written by compaction (single-partition, under part/) may
	// have gaps between batches where compaction by key removed records:
	// offsets still ascend, and a read of an offset in a gap returns the
	// batch after it. Uploaded WAL objects must be exactly contiguous.
	verify := index.VerifyOptions{AllowGaps: strings.HasPrefix(ext.Object, compactedPrefix)}
	w := r.newBlockWindow(ctx, ext.Object, of)
	next := expect
	included := 0
	cur := start
	for cur < hi {
		if included > 0 && included+batchMinSize > maxBytes {
			// No further batch can fit: stop without looking at it, so
			// that a read ending at a block's end does not wait for the
			// next block.
			break
		}
		if hi-cur < batchMinSize {
			return extentRead{}, 0, r.objectError(ext.Object, "read batches", &index.CorruptionError{
				Offset: cur, Reason: fmt.Sprintf("extent of %v ends %d bytes into a batch", k, hi-cur)})
		}
		head, err := w.peek(cur, batchPeekSize)
		if err != nil {
			return extentRead{}, 0, err
		}
		// The header is not verified yet: it may end the read early (the
		// caller comes back for this batch and it is checked then), but
		// nothing else is decided on it before the checks below.
		base := int64(binary.BigEndian.Uint64(head))
		size := batchLengthEnd + int64(int32(binary.BigEndian.Uint32(head[8:])))
		if included > 0 && (base >= end || int64(included)+size > int64(maxBytes)) {
			break
		}
		// Length, magic and base offset are checked before the rest is
		// fetched, so that a damaged length cannot ask for a huge fetch.
		if _, _, _, err := index.VerifyBatches(head, next); err != nil {
			return extentRead{}, 0, r.batchError(ext.Object, cur, err)
		}
		if base < next || (!verify.AllowGaps && base != next) {
			return extentRead{}, 0, r.objectError(ext.Object, "read batches", &index.CorruptionError{
				Offset: cur, Reason: fmt.Sprintf("batch base offset %d, want %d", base, next)})
		}
		if size > hi-cur {
			return extentRead{}, 0, r.objectError(ext.Object, "read batches", &index.CorruptionError{
				Offset: cur, Reason: fmt.Sprintf("batch of %d bytes runs %d bytes past the end of the extent of %v", size, size-(hi-cur), k)})
		}
		if base >= end {
			break
		}
		// The whole header, then the CRC of the rest from the blocks'
		// chunk sums: the batch is verified where it lies, even across
		// blocks, without being copied together.
		if head, err = w.peek(cur, index.BatchHeaderSize); err != nil {
			return extentRead{}, 0, err
		}
		h, err := index.VerifyBatchHeader(head, next, verify)
		if err != nil {
			return extentRead{}, 0, r.batchError(ext.Object, cur, err)
		}
		crc, err := w.crc(cur+index.BatchCRCStart, size-index.BatchCRCStart)
		if err != nil {
			return extentRead{}, 0, err
		}
		if crc != h.CRC {
			return extentRead{}, 0, r.batchError(ext.Object, cur, index.CRCMismatch(h, crc))
		}
		nextOffset := h.NextOffset
		if nextOffset-1 > ext.LastOffset {
			return extentRead{}, 0, r.objectError(ext.Object, "read batches", &index.CorruptionError{
				Offset: cur, Reason: fmt.Sprintf("batch ends at offset %d, past the last offset %d of the extent of %v", nextOffset-1, ext.LastOffset, k)})
		}
		next = nextOffset
		if next > target {
			// At or after the batch holding target: returned. Batches
			// before it are checked, not returned.
			if err := w.keep(cur, int(size)); err != nil {
				return extentRead{}, 0, err
			}
			included += int(size)
		}
		cur += size
	}
	if cur == hi && next != ext.LastOffset+1 {
		return extentRead{}, 0, r.objectError(ext.Object, "read batches", &index.CorruptionError{
			Offset: cur, Reason: fmt.Sprintf("extent of %v ends at offset %d, the catalog says %d", k, next-1, ext.LastOffset)})
	}
	if included == 0 {
		return extentRead{}, 0, nil
	}
	// A read continuing from next starts at the sparse entry covering it,
	// maybe before cur: the blocks before that are passed.
	resume := cur
	if next <= ext.LastOffset {
		resume, _ = readStart(ext, p, next)
	}
	return extentRead{pieces: w.pieces(), footer: of, part: p, lastBlock: w.lastBlock(), passed: w.blocksBefore(min(cur, resume))}, next, nil
}

// readStart returns where a read of target in ext (partition p of its
// object) starts: at the sparse entry covering target, or at the extent's
// start when that entry lies before it; and the offset of the first batch
// there.
func readStart(ext Extent, p *index.Partition, target int64) (pos, offset int64) {
	pos, offset = ext.Pos, ext.BaseOffset
	if i := sort.Search(len(p.Sparse), func(i int) bool { return p.Sparse[i].Offset > target }) - 1; i >= 0 {
		if at := p.Pos + p.Sparse[i].Pos; at > ext.Pos {
			pos, offset = at, p.Sparse[i].Offset
		}
	}
	return pos, offset
}

// RecordBatch framing: the base offset and length fields come first, the
// magic byte at 16; a batch has at least 61 bytes.
const (
	batchLengthEnd = 12
	batchPeekSize  = 17
	batchMinSize   = 61
)

// batchError turns an error from index.VerifyBatches on bytes starting at
// object position at into an error naming the object and the position.
func (r *Reader) batchError(object string, at int64, err error) error {
	var ce *index.CorruptionError
	if errors.As(err, &ce) {
		c := *ce
		c.Offset = at + max(c.Offset, 0)
		err = &c
	}
	return r.objectError(object, "read batches", err)
}

// objectError wraps err with op and the object's key; a *CorruptionError is
// copied with Object set.
func (r *Reader) objectError(object, op string, err error) error {
	var ce *index.CorruptionError
	if errors.As(err, &ce) {
		c := *ce
		c.Object = object
		return fmt.Errorf("%s: %w", op, &c)
	}
	return fmt.Errorf("%s %s: %w", op, object, err)
}

// advanceCursor records that a read of k at offset ended before next. It
// reports whether the read continued where an earlier read ended
// (sequential), and whether no other reader of k may want what the read
// passed (alone): no other cursor of k behind next moved within
// readerActive. A reader at or past next has passed those bytes itself,
// and one that stopped (a replay that reached the end) is no reader.
func (r *Reader) advanceCursor(k index.Key, offset, next int64) (sequential, alone bool) {
	now := int64(time.Since(r.born)) + 1
	r.cursorsMu.Lock()
	defer r.cursorsMu.Unlock()
	pc := r.cursors[k]
	if pc == nil {
		if len(r.cursors) >= maxCursorPartitions {
			clear(r.cursors)
		}
		pc = new(partitionCursors)
		r.cursors[k] = pc
	}
	slot := -1
	for i := range pc {
		if pc[i].used != 0 && pc[i].next == offset {
			slot, sequential = i, true
			break
		}
	}
	if slot < 0 {
		slot = 0
		for i := range pc {
			if pc[i].used < pc[slot].used {
				slot = i
			}
		}
	}
	pc[slot] = readCursor{next: next, used: now}
	alone = true
	for i := range pc {
		if i != slot && pc[i].used != 0 && pc[i].next < next && now-pc[i].used < int64(readerActive) {
			alone = false
		}
	}
	return sequential, alone
}

// privateBlock reports whether block bi of the object whose footer is of
// holds only bytes of partition p (its entry in that footer), so that no
// reader of another partition needs it.
func (r *Reader) privateBlock(of *objectFooter, p *index.Partition, bi int64) bool {
	off, length := r.blockRange(of, bi)
	return p != nil && off >= p.Pos && off+length <= p.Pos+p.Len
}

// readAhead starts background fetches of the ReadAhead blocks after block
// last, stopping at the end of ext.
func (r *Reader) readAhead(ext Extent, of *objectFooter, last int64) {
	if r.cfg.ReadAhead == 0 {
		return
	}
	endBlock := (ext.Pos + ext.Len - 1) / r.cfg.BlockSize
	for b := last + 1; b <= min(endBlock, last+int64(r.cfg.ReadAhead)); b++ {
		r.prefetchBlock(ext.Object, of, b)
	}
}

// getRange fetches exactly length bytes at off of object, retrying
// retriable failures.
func (r *Reader) getRange(ctx context.Context, object string, off, length int64) ([]byte, error) {
	var data []byte
	err := r.retry(ctx, "get "+object, func() error {
		var err error
		data, err = r.getRangeOnce(ctx, object, off, length)
		return err
	})
	return data, err
}

func (r *Reader) getRangeOnce(ctx context.Context, object string, off, length int64) ([]byte, error) {
	b, err := r.getOnce(ctx, object, off, length, false)
	if err != nil {
		return nil, err
	}
	return b.data, nil
}

// getBlock fetches exactly length bytes at off of object as a block, with
// its chunk sums, retrying retriable failures.
func (r *Reader) getBlock(ctx context.Context, object string, off, length int64) (*cachedBlock, error) {
	var b *cachedBlock
	err := r.retry(ctx, "get "+object, func() error {
		var err error
		b, err = r.getOnce(ctx, object, off, length, true)
		return err
	})
	return b, err
}

// getOnce sends one ranged GET and reads its body whole; with sums, it
// computes the chunk sums of each sumWindow of the body right after
// reading it, while those bytes are still in the CPU's cache.
func (r *Reader) getOnce(ctx context.Context, object string, off, length int64, sums bool) (*cachedBlock, error) {
	if err := r.acquireSlot(ctx); err != nil {
		return nil, err
	}
	defer r.releaseSlot()
	r.stats.gets.Add(1)
	body, err := r.bucket.ReadRange(ctx, object, off, length)
	if err != nil {
		return nil, fmt.Errorf("get %s bytes [%d, %d): %w", object, off, off+length, err)
	}
	defer body.Close()
	// Not zeroed: the loop below fills it whole or returns an error.
	b := &cachedBlock{data: newBlockBuffer(int(length))}
	if sums {
		b.sums = make([]uint32, 0, (length+sumChunk-1)/sumChunk)
	}
	window := int64(len(b.data))
	if sums {
		window = sumWindow
	}
	got := 0
	for got < len(b.data) {
		part := b.data[got:min(int64(got)+window, length)]
		n, err := io.ReadFull(body, part)
		got += n
		r.stats.getBytes.Add(int64(n))
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("get %s bytes [%d, %d): body ended after %d bytes: %w", object, off, off+length, got, err)
		}
		if sums {
			b.sums = chunkSums(part, b.sums)
		}
	}
	return b, nil
}

// stat asks the store for object's size, retrying retriable failures.
func (r *Reader) stat(ctx context.Context, object string) (objectstore.ObjectInfo, error) {
	var info objectstore.ObjectInfo
	err := r.retry(ctx, "stat "+object, func() error {
		if err := r.acquireSlot(ctx); err != nil {
			return err
		}
		defer r.releaseSlot()
		r.stats.heads.Add(1)
		var err error
		info, err = r.bucket.Stat(ctx, object)
		if err != nil {
			return fmt.Errorf("stat %s: %w", object, err)
		}
		return nil
	})
	return info, err
}

// retry runs call until it succeeds, fails with an error that is not
// retriable, has run GetAttempts times, or ctx ends.
func (r *Reader) retry(ctx context.Context, what string, call func() error) error {
	backoff := r.cfg.RetryBackoff
	for attempt := 1; ; attempt++ {
		err := call()
		if err == nil || attempt >= r.cfg.GetAttempts || !objectstore.IsRetriable(err) || ctx.Err() != nil {
			return err
		}
		r.stats.retries.Add(1)
		r.log.Debug("retrying object store request", "request", what, "attempt", attempt, "err", err)
		wait := backoff
		if wait > 1 {
			wait = wait/2 + rand.N(wait/2)
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (after: %v)", ctx.Err(), err)
		}
		backoff = min(backoff*2, maxRetryBackoff)
	}
}

func (r *Reader) acquireSlot(ctx context.Context) error {
	select {
	case r.getSlots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (r *Reader) releaseSlot() { <-r.getSlots }
