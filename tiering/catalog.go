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
	return Extent{Object: e.Object, Pos: e.Pos, Len: e.Len, BaseOffset: e.BaseOffset, LastOffset: e.LastOffset}, true
}

// PartitionReader adapts a Reader to the partition package's ColdReader,
// which names partitions by WAL key, and the catalog to its TimeIndex.
type PartitionReader struct {
	R     *Reader
	Store *metadata.Store
}

// timeScanExtents bounds the extents one time lookup walks.
const timeScanExtents = 1 << 16

// OffsetForTime returns the first offset, at or after from, of the first
// extent whose max timestamp reaches ts.
func (p PartitionReader) OffsetForTime(k wal.Key, ts, from int64) (int64, bool) {
	for _, e := range p.Store.Extents(metadata.TopicID(k.Topic), k.Partition, from, timeScanExtents) {
		if e.LastOffset >= from && e.MaxTimestamp >= ts {
			return max(e.BaseOffset, from), true
		}
	}
	return 0, false
}

// ReadPieces reads cold batches of partition k without copying them (see
// Reader.ReadPieces).
func (p PartitionReader) ReadPieces(ctx context.Context, k wal.Key, offset, end int64, maxBytes int) ([][]byte, error) {
	return p.R.ReadPieces(ctx, index.Key(k), offset, end, maxBytes)
}
