package tiering

import (
	"errors"
	"fmt"
	"time"

	"github.com/shalelog/shale/metadata"
	"github.com/shalelog/shale/wal"
)

// Committing uploaded objects to the catalog, in segment order, several
// ready ones in one call.

// committer commits stored uploads in the order handOff passes them,
// until the uploader closes. It takes every upload handOff has passed by
// then, up to CommitBatch, and commits them in one catalog call (one raft
// entry): uploads that became ready while an earlier commit was on its
// way (a stall, a slow PUT holding back later ones) then share one commit
// instead of queueing behind each other's.
func (u *Uploader) committer() {
	limit := u.cfg.CommitBatch
	if limit == 0 {
		limit = u.cfg.Concurrency
	}
	var batch []*upload
	for {
		select {
		case <-u.ctx.Done():
			return
		case up := <-u.toCommit:
			batch = append(batch[:0], up)
		}
		batch = u.takeReady(batch, limit)
		if err := u.commitBatch(&batch, limit); err != nil {
			return // closing
		}
		now := time.Now()
		for i, up := range batch {
			up.committed = now
			u.committedCh <- up // buffered: at most Concurrency outstanding
			batch[i] = nil
		}
	}
}

// takeReady adds to batch the uploads handOff has passed already, without
// waiting, until batch holds limit.
func (u *Uploader) takeReady(batch []*upload, limit int) []*upload {
	for len(batch) < limit {
		select {
		case up := <-u.toCommit:
			batch = append(batch, up)
		default:
			return batch
		}
	}
	return batch
}

// commitBatch registers the extents of the uploads in *batch (those with
// an object) in the catalog in one call, retrying until the catalog
// decided on them or the uploader closes, then advances the partitions
// whose extents it accepted and fences those it refused. Before a retry
// it adds the uploads that became ready meanwhile (up to limit), so a stall
// ends with one commit of everything that waited.
//
// Before each attempt, an object whose PUT started more than half the
// orphan grace ago is uploaded again under a new key: the GC deletes
// objects the catalog does not know once they are older than the grace
// (a wave whose other PUTs kept failing, a long metadata outage), and
// checking that the old one still exists would leave it the rest of the
// grace to vanish between the check and the commit. The old object, if
// still there, is an orphan the GC removes.
//
// A failed call is retried whole (committing an object twice is a retry
// the catalog skips). An object the catalog refuses as a whole (its
// result's Err: it can never take it) is left to the garbage collector
// and its partitions fenced; the others of the batch are decided on
// their own, as if each had been committed alone.
func (u *Uploader) commitBatch(batch *[]*upload, limit int) error {
	var cs []metadata.ObjectCommit
	var ups []*upload // ups[i] is the upload of cs[i]
	for attempt := 0; ; attempt++ {
		cs, ups = cs[:0], ups[:0]
		now := time.Now().UnixMilli()
		for _, up := range *batch {
			if up.body == nil {
				continue // nothing in it needed uploading
			}
			if time.Since(up.putAt) > u.cfg.OrphanGrace/2 {
				if err := u.rePut(up); err != nil {
					return err
				}
			}
			cs = append(cs, metadata.ObjectCommit{Key: up.key, Size: int64(len(up.body)), Broker: u.cfg.BrokerID, Extents: up.extents,
				Producers: up.producers, Txns: up.txns, ProducerExpiry: u.cfg.ProducerExpiration.Milliseconds(), Now: now})
			ups = append(ups, up)
		}
		if len(cs) == 0 {
			return nil
		}
		results, err := u.cat.CommitObjects(u.ctx, cs)
		if err == nil && len(results) != len(cs) {
			err = fmt.Errorf("catalog answered %d results for %d commits", len(results), len(cs))
		}
		if err == nil {
			u.commits.Add(1)
			for i, up := range ups {
				if r := results[i]; r.Err != nil {
					u.commitErrors.Add(1)
					u.refused(up, r.Err)
				} else {
					u.committed(up, r)
				}
			}
			return nil
		}
		if u.ctx.Err() != nil {
			return u.ctx.Err()
		}
		u.commitErrors.Add(1)
		if errors.Is(err, metadata.ErrInvalidRequest) || errors.Is(err, metadata.ErrUnknownTopic) {
			// The catalog refused the call as a whole (Store.CommitObjects
			// reports such refusals per object; another Catalog may not):
			// one object is refused, several each get their own call.
			if len(ups) == 1 {
				u.refused(ups[0], err)
				return nil
			}
			for _, up := range ups {
				one := []*upload{up}
				if err := u.commitBatch(&one, 1); err != nil {
					return err
				}
			}
			return nil
		}
		u.logger.Warn("commit segments failed; retrying", "segments", len(ups), "first_segment", ups[0].seg.ID, "first_object", ups[0].key,
			"attempt", attempt+1, "err", err)
		if err := u.sleep(u.backoff(attempt)); err != nil {
			return err
		}
		*batch = u.takeReady(*batch, limit)
	}
}

// refused handles an object the catalog can never take: retrying would
// hold back every later segment, so its object is left to the garbage
// collector and its partitions cannot continue.
func (u *Uploader) refused(up *upload, err error) {
	u.logger.Error("segment cannot be committed; leaving its object to the garbage collector", "segment", up.seg.ID, "object", up.key, "err", err)
	for _, e := range up.extents {
		u.fence(wal.Key{Topic: [16]byte(e.Topic), Partition: e.Partition}, e.LeaderEpoch, err)
	}
}

// rePut uploads the object again under a fresh key.
func (u *Uploader) rePut(up *upload) error {
	old := up.key
	up.key = WALObjectKey(u.cfg.BrokerID, up.seg.ID, NewNonce())
	for i := range up.extents {
		up.extents[i].Object = up.key
	}
	if err := u.put(up); err != nil {
		return err
	}
	u.rePuts.Add(1)
	u.logger.Warn("object not committed within half the orphan grace; uploaded it again under a new key",
		"segment", up.seg.ID, "old_object", old, "object", up.key, "orphan_grace", u.cfg.OrphanGrace)
	return nil
}

// committed advances the partitions of the extents the catalog accepted
// and fences those of the extents it refused.
func (u *Uploader) committed(up *upload, res metadata.CommitResult) {
	// A partition's extents are in offset order; from its first refused
	// one on, none of them was accepted.
	refusedFrom := map[wal.Key]int64{}
	var first []metadata.RefusedExtent
	for _, r := range res.Refused {
		k := wal.Key{Topic: [16]byte(r.Topic), Partition: r.Partition}
		if _, ok := refusedFrom[k]; !ok {
			refusedFrom[k] = r.BaseOffset
			first = append(first, r)
		}
	}
	accepted := 0
	for _, e := range up.extents {
		k := wal.Key{Topic: [16]byte(e.Topic), Partition: e.Partition}
		if from, ok := refusedFrom[k]; ok && e.LastOffset >= from {
			continue
		}
		accepted++
		if u.cfg.OnCommitted != nil {
			u.cfg.OnCommitted(k, e.LastOffset+1)
		}
	}
	if accepted > 0 {
		u.objects.Add(1)
		u.bytes.Add(int64(len(up.body)))
	}
	u.mu.Lock()
	if !up.seg.FirstEntryTime.IsZero() {
		u.stats.LastUploadLag = time.Since(up.seg.FirstEntryTime)
	}
	u.mu.Unlock()
	// After the accepted extents: a partition fenced now still serves
	// what it committed from its local WAL.
	for _, r := range first {
		u.fence(wal.Key{Topic: [16]byte(r.Topic), Partition: r.Partition}, r.LeaderEpoch, r.Err)
	}
}
