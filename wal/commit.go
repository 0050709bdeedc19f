package wal

import (
	"fmt"
	"runtime"
	"time"
)

// run is the commit goroutine. Each round it takes everything queued,
// writes it with one vectored pwrite per segment it lands in, fdatasyncs, publishes
// the entries to the index and calls their Done callbacks in append order.
// Entries appended meanwhile queue up and form the next round. It also
// seals the active segment by size, by age and on request (SealNow), and
// exits after the round that observes Close.
func (l *Log) run() {
	defer close(l.committerDone)
	spare := &commitQueue{}
	age := time.NewTimer(time.Hour)
	age.Stop()
	defer age.Stop()
	var ageFor uint64 // id of the segment the age timer is armed for; 0 if none
	var ageC <-chan time.Time
	for {
		aged := false
		select {
		case <-l.wake:
		case <-ageC:
			aged = true
		}

		l.mu.Lock()
		q := l.queue
		l.queue = spare
		closing := l.closing
		asked := l.sealAsked
		l.sealAsked = nil
		l.mu.Unlock()

		if len(q.ents) > 0 {
			l.commit(q)
		}
		q.reset()
		spare = q

		// A seal request (SealNow) is served after the entries queued
		// before it are written, so the sealed segment holds them.
		sealed := false
		if (aged || len(asked) > 0) && l.active.entries > 0 && !l.isFailed() {
			if err := l.seal(); err != nil {
				l.fail(nil, err)
			} else {
				sealed = true
			}
		}
		for _, done := range asked {
			done(sealed)
		}

		// Arm the age timer on the first entry of a segment.
		if l.active.entries > 0 {
			if ageFor != l.active.id {
				ageFor = l.active.id
				age.Reset(l.cfg.SegmentMaxAge - time.Since(l.active.firstEntry))
			}
			ageC = age.C
		} else if ageFor != 0 {
			age.Stop()
			ageFor, ageC = 0, nil
		}

		if closing {
			return
		}
	}
}

func (l *Log) isFailed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.failed != nil
}

// commit makes the entries of q durable. The bytes go into the active
// segment until it reaches SegmentMaxBytes; then the segment is sealed and
// the rest continues in a new one. Each piece is one pwritev and one
// fdatasync.
func (l *Log) commit(q *commitQueue) {
	ents, hdrs := q.ents, q.hdrs
	maxSize := l.cfg.SegmentMaxBytes
	var iovs [][]byte
	for i := 0; i < len(ents); {
		if l.isFailed() {
			l.fail(ents[i:], nil)
			return
		}
		seg := l.active
		// Take entries while the segment is below its size limit, at
		// least one; Sync barriers ride along.
		j, n, count := i, int64(0), 0
		for ; j < len(ents); j++ {
			if ents[j].size == 0 {
				continue
			}
			if count > 0 && seg.written+n >= maxSize {
				break
			}
			n += int64(ents[j].size)
			count++
		}
		if n > 0 {
			iovs = iovs[:0]
			for k := i; k < j; k++ {
				if ents[k].size == 0 {
					continue
				}
				h := hdrs[:frameHeaderSize:frameHeaderSize]
				hdrs = hdrs[frameHeaderSize:]
				if seg.salt != 0 {
					saltFrameHeader(h, seg.salt)
				}
				iovs = append(iovs, h, ents[k].data)
			}
			if err := l.writeAndSync(seg, iovs, n); err != nil {
				l.fail(ents[i:], err)
				return
			}
			l.publish(seg, ents[i:j], seg.written-n)
		}
		for k := i; k < j; k++ {
			if done := ents[k].done; done != nil {
				done(nil)
			}
		}
		// Let the goroutines the callbacks woke run before this one
		// blocks in the next write and fdatasync: the last one woken sits
		// in this P's run-next slot, where it would wait for the syscall
		// (or the scheduler's monitor) instead of running now.
		runtime.Gosched()
		i = j
		if seg.written >= maxSize {
			if err := l.seal(); err != nil {
				l.fail(ents[i:], err)
				return
			}
		}
	}
}

// writeAndSync appends the n bytes of iovs to seg with a vectored pwrite
// (one call per IOV_MAX pieces) and fdatasyncs them.
func (l *Log) writeAndSync(seg *segment, iovs [][]byte, n int64) error {
	if h := l.cfg.hooks.beforeWrite; h != nil {
		if err := h(); err != nil {
			return fmt.Errorf("write segment %d: %w", seg.id, err)
		}
	}
	if err := writeAtv(seg.f, iovs, seg.written); err != nil {
		return fmt.Errorf("write segment %d: %w", seg.id, err)
	}
	// Bytes landing in preallocated space stop counting as spare.
	if seg.written < seg.size {
		l.extraBytes.Add(-(min(seg.size, seg.written+n) - seg.written))
	}
	seg.written += n
	seg.size = max(seg.size, seg.written)
	l.diskBytes.Add(n)
	l.released(n)
	if h := l.cfg.hooks.beforeSync; h != nil {
		if err := h(); err != nil {
			return fmt.Errorf("sync segment %d: %w", seg.id, err)
		}
	}
	l.stats.fsyncs.Add(1)
	synced := time.Now()
	if err := syncData(seg.f); err != nil {
		return fmt.Errorf("sync segment %d: %w", seg.id, err)
	}
	if f := l.cfg.OnCommit; f != nil {
		f(int(n), time.Since(synced))
	}
	l.stats.commits.Add(1)
	l.stats.bytes.Add(uint64(n))
	return nil
}

// released returns n written bytes to the backpressure budget.
func (l *Log) released(n int64) {
	l.mu.Lock()
	l.queuedBytes -= n
	if l.waiting > 0 {
		l.space.Broadcast()
	}
	l.mu.Unlock()
}

// publish makes durable entries, written to seg from byte position pos on,
// visible to readers.
func (l *Log) publish(seg *segment, ents []queued, pos int64) {
	count := 0
	l.indexMu.Lock()
	if seg.entries == 0 {
		seg.firstEntry = time.Now()
		seg.keeping = l.cfg.UploadMemoryBytes > 0
	}
	for i := range ents {
		e := &ents[i]
		if e.size == 0 {
			continue
		}
		l.indexLocked(seg, e.key, indexEntry{
			base:   e.base,
			maxTs:  e.maxTs,
			seg:    seg.id,
			pos:    uint32(pos),
			length: e.size - frameHeaderSize,
			span:   e.span,
		})
		if seg.keeping {
			l.keepLocked(seg, e)
		}
		pos += int64(e.size)
		count++
	}
	seg.durable = pos
	seg.entries += count
	l.indexMu.Unlock()
	l.stats.entries.Add(uint64(count))
}

// keepLocked keeps e's payload in memory with seg while the log's
// UploadMemoryBytes allow; past them seg stops keeping and lets go of what
// it kept. l.indexMu must be held for writing.
func (l *Log) keepLocked(seg *segment, e *queued) {
	n := int64(len(e.data))
	if l.keptBytes+n > l.cfg.UploadMemoryBytes {
		l.dropKeptLocked(seg)
		return
	}
	seg.kept = append(seg.kept, keptEntry{key: e.key, base: e.base, maxTs: e.maxTs, span: e.span, data: e.data})
	seg.keptBytes += n
	l.keptBytes += n
}

// dropKeptLocked lets go of the entries s kept in memory; s is read from
// its file from then on. l.indexMu must be held for writing.
func (l *Log) dropKeptLocked(s *segment) {
	l.keptBytes -= s.keptBytes
	s.kept, s.keeping, s.keptBytes = nil, false, 0
}

// indexLocked adds one entry of seg to the partition index and to seg's
// partition ranges. l.indexMu must be held for writing.
func (l *Log) indexLocked(seg *segment, k Key, ie indexEntry) {
	p := l.parts[k]
	if p == nil {
		p = &partitionIndex{}
		l.parts[k] = p
	}
	if len(p.entries) > 0 && ie.base < p.rangeOf().Next {
		// A new leadership restarted the partition lower: what the log
		// held for it before belongs to older epochs and is forgotten
		// (reads and Range see only the new run). The frames stay in
		// their segments until those are removed.
		p.entries = p.entries[:0]
	}
	p.entries = append(p.entries, ie)
	r, ok := seg.parts[k]
	if !ok {
		r.First = ie.base
	}
	r.Next = ie.next()
	seg.parts[k] = r
}

// seal seals the active segment, which the last commit left fsynced: it
// marks it sealed and reports it to OnSeal at once (its frames are
// durable, so its upload may start), then cuts the file to its frames and
// starts the next segment. RemoveSegment waits for those two steps
// (sealDone), so the file is not recycled under them.
func (l *Log) seal() error {
	old := l.active
	done := make(chan struct{})
	defer close(done)
	l.indexMu.Lock()
	old.sealed = true
	old.sealedAt = time.Now()
	old.sealDone = done
	info := old.info()
	l.indexMu.Unlock()
	l.stats.seals.Add(1)
	if l.cfg.OnSeal != nil {
		l.cfg.OnSeal(info)
	}
	if err := l.trimTail(old); err != nil {
		return err
	}
	next, err := l.newSegmentFile(old.id + 1)
	if err != nil {
		return fmt.Errorf("create segment %d: %w", old.id+1, err)
	}
	l.nextPrepared(next.id+1, old.written)
	l.indexMu.Lock()
	l.segments = append(l.segments, next)
	l.indexMu.Unlock()
	l.active = next
	return nil
}

// fail makes the log fail permanently with err (if it has not failed
// already) and fails ents plus everything still queued. Appends after a
// write or fsync error cannot be made durable safely: the kernel may have
// dropped the dirty pages of the failed range.
func (l *Log) fail(ents []queued, err error) {
	l.mu.Lock()
	if l.failed == nil && err != nil {
		l.failed = fmt.Errorf("wal failed: %w", err)
		l.log.Error("write-ahead log failed; refusing further appends", "err", err)
	}
	failed := l.failed
	rest := l.queue
	l.queue = &commitQueue{}
	l.queuedBytes = 0
	l.space.Broadcast()
	l.mu.Unlock()
	for _, e := range ents {
		if e.done != nil {
			e.done(failed)
		}
	}
	for _, e := range rest.ents {
		if e.done != nil {
			e.done(failed)
		}
	}
}
