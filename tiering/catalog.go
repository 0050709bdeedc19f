package tiering

import (
	"context"

	"github.com/shalelog/shale/index"
	"github.com/shalelog/shale/metadata"
	"github.com/shalelog/shale/wal"
)

// CatalogFinder adapts the metadata store's extent catalog to the cold
// reader's ExtentFinder.
type CatalogFinder struct{ Store *metadata.Store }

// FindExtent returns the extent holding offset, or the first after it.
func (f CatalogFinder) FindExtent(k index.Key, offset int64) (Extent, bool) {
	e, ok := f.Store.FindExtent(metadata.TopicID(k.Topic), k.Partition, offset)
	if !ok {
		return Extent{}, false
	}
	return readerExtent(e), true
}

func readerExtent(e metadata.Extent) Extent {
	return Extent{Object: e.Object, Pos: e.Pos, Len: e.Len, BaseOffset: e.BaseOffset, LastOffset: e.LastOffset}
}

// PartitionReader adapts a Reader to the partition package's ColdReader,
// which names partitions by WAL key, and the catalog with the objects'
// sparse indexes to its TimeIndex.
type PartitionReader struct {
	R     *Reader
	Store *metadata.Store
}

// timeScanExtents bounds the extents one time lookup walks, and
// timeScanPage how many it takes from the catalog at once.
const (
	timeScanExtents = 1 << 16
	timeScanPage    = 1 << 10
)

// OffsetForTime returns where to start looking, at or after from, for the
// first record whose timestamp reaches ts: in the first extent whose max
// timestamp reaches ts (the catalog's), the start of the first sparse block
// of its object whose running max timestamp does (the footer's, one GET of
// the object's tail unless cached), so that the scan that follows reads
// about one block rather than the whole extent. ok is false when no extent
// from there on reaches ts.
func (p PartitionReader) OffsetForTime(ctx context.Context, k wal.Key, ts, from int64) (int64, bool, error) {
	next := from
	for walked := 0; walked < timeScanExtents; {
		exts := p.Store.Extents(metadata.TopicID(k.Topic), k.Partition, next, timeScanPage)
		if len(exts) == 0 {
			return 0, false, nil
		}
		for _, e := range exts {
			if e.LastOffset < from || e.MaxTimestamp < ts {
				continue
			}
			off, ok, err := p.R.TimeStart(ctx, index.Key(k), readerExtent(e), ts)
			if err != nil {
				return 0, false, err
			}
			if !ok {
				// The footer disagrees with the catalog: scan the
				// whole extent rather than trust either.
				off = e.BaseOffset
			}
			return max(off, from), true, nil
		}
		walked += len(exts)
		next = exts[len(exts)-1].LastOffset + 1
		if err := ctx.Err(); err != nil {
			return 0, false, err
		}
	}
	return 0, false, nil
}

// CleanedTo is where compaction by key has cleaned partition k up to
// (partition.CompactedReader): reads below it skip the local WAL.
func (p PartitionReader) CleanedTo(k wal.Key) int64 {
	return p.Store.KeyCleanedTo(metadata.TopicID(k.Topic), k.Partition)
}

// ReadPieces reads cold batches of partition k without copying them (see
// Reader.ReadPieces).
func (p PartitionReader) ReadPieces(ctx context.Context, k wal.Key, offset, end int64, maxBytes int) ([][]byte, error) {
	return p.R.ReadPieces(ctx, index.Key(k), offset, end, maxBytes)
}
