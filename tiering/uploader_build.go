package tiering

import (
	"bytes"
	"fmt"
	"maps"
	"sort"

	"github.com/shalelog/shale/index"
	"github.com/shalelog/shale/metadata"
	"github.com/shalelog/shale/recordbatch"
	"github.com/shalelog/shale/wal"
)

// Building an uploaded segment's object: reading its entries back, the
// extents, producer and transaction state they carry, and the object body
// with its footer.

// partEntries is one partition's entries of a segment, in offset order,
// and the leader epoch each was written under.
type partEntries struct {
	key     wal.Key
	current int32 // the partition's leader epoch in the catalog
	entries []wal.Entry
	epochs  []int32
	maxTs   []int64 // largest of the entry's MaxTimestamp and its batches'
}

// entryEpoch returns the leader epoch an entry was written under (its
// first batch's PartitionLeaderEpoch: the partition stamps every batch of
// an entry with the same one) and the largest batch max timestamp.
func entryEpoch(data []byte) (epoch int32, maxTs int64, err error) {
	maxTs = -1
	for pos := 0; pos < len(data); {
		h, err := recordbatch.ParseHeader(data[pos:])
		if err != nil {
			return 0, 0, err
		}
		if pos == 0 {
			epoch = h.PartitionLeaderEpoch
		}
		maxTs = max(maxTs, h.MaxTimestamp)
		pos += h.Size()
	}
	return epoch, maxTs, nil
}

// collect reads a sealed segment and keeps, per partition, the entries the
// catalog does not have yet. Partitions of deleted topics are dropped;
// entries that can never be committed (written under an epoch the
// partition has left, or not continuing its log) fence their partition
// and are dropped. ends carries, across the segments of one wave, where
// each partition's data will end once the earlier segments are committed;
// a partition not in it starts at the catalog's end. collect updates it.
func (u *Uploader) collect(seg wal.SegmentInfo, ends map[wal.Key]int64) ([]*partEntries, error) {
	// The segment is read whole into the arena with one read, and the
	// entries point into it. The arena is reused by the next collect, so
	// the entries are valid until then.
	u.fencedMu.Lock()
	fenced := maps.Clone(u.fenced)
	u.fencedMu.Unlock()
	parts := map[wal.Key]*partEntries{}
	gone := map[wal.Key]bool{}
	var err error
	u.arena, err = u.log.ReadSegmentInto(seg.ID, u.arena, func(e wal.Entry) error {
		if gone[e.Key] {
			return nil
		}
		epoch, maxTs, err := entryEpoch(e.Data)
		if err != nil {
			return fmt.Errorf("partition %v offsets %d..%d: %w", e.Key, e.BaseOffset, e.LastOffset, err)
		}
		if f, ok := fenced[e.Key]; ok && epoch <= f {
			return nil // refused before: it can never be committed
		}
		pe := parts[e.Key]
		if pe == nil {
			t, ok := u.cat.TopicByID(metadata.TopicID(e.Key.Topic))
			pl, ok2 := u.cat.PartitionLog(metadata.TopicID(e.Key.Topic), e.Key.Partition)
			if !ok || !ok2 || int(e.Key.Partition) >= len(t.Partitions) {
				gone[e.Key] = true
				return nil
			}
			pe = &partEntries{key: e.Key, current: t.Partitions[e.Key.Partition].LeaderEpoch}
			parts[e.Key] = pe
			if _, seen := ends[e.Key]; !seen {
				ends[e.Key] = pl.End
			}
		}
		if e.LastOffset < ends[e.Key] {
			return nil // committed by an earlier upload
		}
		if epoch < pe.current {
			u.fence(e.Key, epoch, fmt.Errorf("%w: data written under leader epoch %d, the partition is at epoch %d", metadata.ErrFenced, epoch, pe.current))
			return nil
		}
		if e.BaseOffset != ends[e.Key] {
			// Entries of one partition are contiguous in the WAL and the
			// catalog ends where the WAL continues; anything else means
			// the catalog moved under this broker (another leader).
			u.fence(e.Key, epoch, fmt.Errorf("%w: WAL entry at offset %d does not continue the catalog, which ends at %d (segment %d)",
				metadata.ErrOffsetGap, e.BaseOffset, ends[e.Key], seg.ID))
			gone[e.Key] = true
			return nil
		}
		e.Done = nil
		pe.entries = append(pe.entries, e)
		pe.epochs = append(pe.epochs, epoch)
		pe.maxTs = append(pe.maxTs, max(maxTs, e.MaxTimestamp))
		ends[e.Key] = e.LastOffset + 1
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read segment %d: %w", seg.ID, err)
	}
	out := make([]*partEntries, 0, len(parts))
	for _, pe := range parts {
		if len(pe.entries) > 0 { // all committed already: nothing to upload
			out = append(out, pe)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return index.Key(out[i].key).Compare(index.Key(out[j].key)) < 0
	})
	return out, nil
}

// fence records that partition k's data of leader epoch epoch (and older)
// can never be committed, and tells OnFenced once per partition and epoch.
func (u *Uploader) fence(k wal.Key, epoch int32, why error) {
	u.fencedMu.Lock()
	if f, ok := u.fenced[k]; ok && f >= epoch {
		u.fencedMu.Unlock()
		return
	}
	u.fenced[k] = epoch
	u.fencedMu.Unlock()
	u.fencedParts.Add(1)
	u.logger.Warn("partition's data refused by the catalog; it is not led here under this epoch any more",
		"partition", k.String(), "epoch", epoch, "reason", why)
	if u.cfg.OnFenced != nil {
		u.cfg.OnFenced(k, epoch)
	}
}

// extentProducers returns the idempotent producers with batches in
// entries and each one's last batches there (at most
// metadata.MaxProducerBatches, reset by an epoch bump), in the order
// they first appear: what the catalog keeps so that a new leader answers
// retried batches (metadata/producers.go).
func extentProducers(entries []wal.Entry) ([]metadata.ProducerState, error) {
	var out []metadata.ProducerState
	var at map[int64]int
	err := eachBatch(entries, func(e wal.Entry, h recordbatch.Header, _ []byte) error {
		if h.ProducerID < 0 || h.BaseSequence < 0 {
			return nil
		}
		if at == nil {
			at = make(map[int64]int)
		}
		i, ok := at[h.ProducerID]
		if !ok {
			i = len(out)
			at[h.ProducerID] = i
			out = append(out, metadata.ProducerState{ID: h.ProducerID, Epoch: h.ProducerEpoch})
		}
		p := &out[i]
		if h.ProducerEpoch != p.Epoch {
			if h.ProducerEpoch < p.Epoch {
				return nil // the partition refuses these; never here
			}
			p.Epoch, p.Batches = h.ProducerEpoch, p.Batches[:0]
		}
		if len(p.Batches) == metadata.MaxProducerBatches {
			p.Batches = append(p.Batches[:0], p.Batches[1:]...)
		}
		p.Batches = append(p.Batches, metadata.ProducerBatch{
			FirstSeq: h.BaseSequence, LastSeq: h.LastSequence(),
			BaseOffset: h.BaseOffset, LastOffset: h.LastOffset(),
		})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// extentTxnEvents returns the transaction events of entries (see
// metadata/txnlog.go): each producer's first transactional data batch in
// them and after each of its markers, and every COMMIT or ABORT marker.
func extentTxnEvents(entries []wal.Entry) ([]metadata.TxnEvent, error) {
	var out []metadata.TxnEvent
	var open map[int64]bool
	err := eachBatch(entries, func(e wal.Entry, h recordbatch.Header, batch []byte) error {
		if !h.IsTransactional() || h.ProducerID < 0 {
			return nil
		}
		if open == nil {
			open = make(map[int64]bool)
		}
		if !h.IsControl() {
			if !open[h.ProducerID] {
				open[h.ProducerID] = true
				out = append(out, metadata.TxnEvent{ProducerID: h.ProducerID, Offset: h.BaseOffset, Kind: metadata.TxnData})
			}
			return nil
		}
		typ, err := recordbatch.ControlType(&h, batch)
		if err != nil {
			return fmt.Errorf("partition %v offset %d: %w", e.Key, h.BaseOffset, err)
		}
		kind := metadata.TxnAbort
		switch typ {
		case recordbatch.ControlCommit:
			kind = metadata.TxnCommit
		case recordbatch.ControlAbort:
		default:
			return nil
		}
		open[h.ProducerID] = false
		out = append(out, metadata.TxnEvent{ProducerID: h.ProducerID, Offset: h.BaseOffset, Kind: kind})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// eachBatch calls fn with every record batch of entries, in order: its
// entry, its parsed header and its bytes. A batch that does not parse, or
// an error from fn, stops the walk.
func eachBatch(entries []wal.Entry, fn func(e wal.Entry, h recordbatch.Header, batch []byte) error) error {
	for _, e := range entries {
		for pos := 0; pos < len(e.Data); {
			h, err := recordbatch.ParseHeader(e.Data[pos:])
			if err != nil {
				return fmt.Errorf("partition %v offsets %d..%d: %w", e.Key, e.BaseOffset, e.LastOffset, err)
			}
			batch := e.Data[pos:min(len(e.Data), pos+h.Size())]
			pos += h.Size()
			if err := fn(e, h, batch); err != nil {
				return err
			}
		}
	}
	return nil
}

// build writes the object for parts and returns its bytes and extents
// (without the object key) and each extent's producers.
func (u *Uploader) build(parts []*partEntries) ([]byte, []metadata.Extent, [][]metadata.ProducerState, [][]metadata.TxnEvent, error) {
	// Size the buffer once: growing it while copying a 16 MiB segment in
	// showed up as page faults in the broker's profile.
	size := 64 << 10 // footer and trailer
	for _, pe := range parts {
		for _, e := range pe.entries {
			size += len(e.Data)
		}
	}
	buf := bytes.NewBuffer(u.bodyBuffer(size))
	b := index.NewBuilder(buf, index.BuilderOptions{SparseInterval: u.cfg.SparseInterval})
	byKey := make(map[wal.Key]*partEntries, len(parts))
	for _, pe := range parts {
		byKey[pe.key] = pe
		for _, e := range pe.entries {
			if err := b.Add(index.Key(pe.key), e.BaseOffset, e.LastOffset, e.MaxTimestamp, e.Data); err != nil {
				return nil, nil, nil, nil, fmt.Errorf("build object: %w", err)
			}
		}
	}
	footer, _, err := b.Finish()
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("build object: %w", err)
	}
	// One extent per run of entries written under one leader epoch: the
	// footer covers the partition's whole byte range, each extent the
	// part of it its run's batches fill (the builder writes them
	// verbatim, back to back).
	extents := make([]metadata.Extent, 0, len(footer.Partitions))
	var producers [][]metadata.ProducerState
	var txns [][]metadata.TxnEvent
	anyTxn := false
	for _, p := range footer.Partitions {
		pe := byKey[wal.Key(p.Key)]
		pos := p.Pos
		for i := 0; i < len(pe.entries); {
			ext := metadata.Extent{
				Topic:        metadata.TopicID(p.Key.Topic),
				Partition:    p.Key.Partition,
				BaseOffset:   pe.entries[i].BaseOffset,
				Pos:          pos,
				MaxTimestamp: -1,
				LeaderEpoch:  pe.epochs[i],
			}
			first := i
			for ; i < len(pe.entries) && pe.epochs[i] == ext.LeaderEpoch; i++ {
				ext.LastOffset = pe.entries[i].LastOffset
				ext.Len += int64(len(pe.entries[i].Data))
				ext.MaxTimestamp = max(ext.MaxTimestamp, pe.maxTs[i])
			}
			ps, err := extentProducers(pe.entries[first:i])
			if err != nil {
				return nil, nil, nil, nil, fmt.Errorf("build object: %w", err)
			}
			evs, err := extentTxnEvents(pe.entries[first:i])
			if err != nil {
				return nil, nil, nil, nil, fmt.Errorf("build object: %w", err)
			}
			anyTxn = anyTxn || len(evs) > 0
			pos += ext.Len
			extents = append(extents, ext)
			producers = append(producers, ps)
			txns = append(txns, evs)
		}
		if pos != p.Pos+p.Len || extents[len(extents)-1].LastOffset != p.LastOffset {
			return nil, nil, nil, nil, fmt.Errorf("build object: partition %v: entries end at byte %d offset %d, the footer at byte %d offset %d",
				p.Key, pos, extents[len(extents)-1].LastOffset, p.Pos+p.Len, p.LastOffset)
		}
	}
	if !anyTxn {
		txns = nil
	}
	return buf.Bytes(), extents, producers, txns, nil
}

// prepare reads and builds one segment's object; a segment with nothing
// left to upload gets an upload with no body. Local read or build
// failures are retried after a pause: the WAL verified this data when it
// was written and on open.
func (u *Uploader) prepare(seg wal.SegmentInfo, ends map[wal.Key]int64) (*upload, error) {
	for {
		saved := maps.Clone(ends)
		parts, err := u.collect(seg, ends)
		if err == nil {
			up := &upload{seg: seg}
			if len(parts) == 0 {
				return up, nil
			}
			up.body, up.extents, up.producers, up.txns, err = u.build(parts)
			if err == nil {
				up.key = WALObjectKey(u.cfg.BrokerID, seg.ID, NewNonce())
				for i := range up.extents {
					up.extents[i].Object = up.key
				}
				return up, nil
			}
		}
		u.logger.Error("prepare sealed segment for upload", "segment", seg.ID, "err", err)
		clear(ends)
		maps.Copy(ends, saved)
		if err := u.sleep(u.cfg.RetryMax); err != nil {
			return nil, err
		}
	}
}
