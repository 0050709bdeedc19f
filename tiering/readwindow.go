package tiering

import (
	"context"
	"fmt"

	"github.com/shalelog/shale/index"
)

// sharedPieceFraction bounds the block memory a read's pieces keep alive:
// a piece shorter than 1/sharedPieceFraction of its block is copied rather
// than shared with the cache.
const sharedPieceFraction = 8

// blockWindow serves one read's bytes out of an object's blocks without
// copying them. It holds on to every block it fetched, so that the bytes it
// hands out stay valid for the whole read even with a cache too small to
// keep them (or none). A batch is verified where it lies (its header
// peeked, its CRC put together from the blocks' chunk sums, crc), even
// across a block boundary; what the read returns (keep, pieces) stays
// slices of the blocks.
//
// A blockWindow belongs to one goroutine.
type blockWindow struct {
	r      *Reader
	ctx    context.Context
	object string
	of     *objectFooter

	held []heldBlock // blocks fetched by this read, in order of first use
	head [index.BatchHeaderSize]byte
	kept []keptRange // what the read returns, in order
}

// heldBlock is one block a blockWindow fetched.
type heldBlock struct {
	index int64
	b     *cachedBlock
}

// keptRange is a run of one held block's bytes the read returns.
type keptRange struct {
	block    int64
	data     []byte // the whole block
	from, to int
}

func (r *Reader) newBlockWindow(ctx context.Context, object string, of *objectFooter) *blockWindow {
	return &blockWindow{r: r, ctx: ctx, object: object, of: of}
}

// block returns block bi's bytes, from the blocks held or through the
// Reader.
func (w *blockWindow) block(bi int64) ([]byte, error) {
	b, err := w.cached(bi)
	if err != nil {
		return nil, err
	}
	return b.data, nil
}

// cached returns block bi, from the blocks held or through the Reader.
func (w *blockWindow) cached(bi int64) (*cachedBlock, error) {
	for i := len(w.held) - 1; i >= 0; i-- {
		if w.held[i].index == bi {
			return w.held[i].b, nil
		}
	}
	b, err := w.r.block(w.ctx, w.object, w.of, bi)
	if err != nil {
		return nil, err
	}
	w.held = append(w.held, heldBlock{index: bi, b: b})
	return b, nil
}

// crc returns the CRC-32C of the n bytes at object position pos, from the
// blocks' chunk sums where whole chunks lie inside (see blocksum.go),
// fetching the blocks it needs. The caller keeps pos+n within the
// object's data.
func (w *blockWindow) crc(pos int64, n int64) (uint32, error) {
	bs := w.r.cfg.BlockSize
	var crc uint32
	for n > 0 {
		bi := pos / bs
		b, err := w.cached(bi)
		if err != nil {
			return 0, err
		}
		off := pos - bi*bs
		take := min(n, int64(len(b.data))-off)
		if take <= 0 {
			return 0, fmt.Errorf("read %s: position %d is past the %d bytes of data", w.object, pos, w.of.dataLen)
		}
		crc = b.rangeCRC(crc, int(off), int(off+take))
		pos += take
		n -= take
	}
	return crc, nil
}

// lastBlock is the highest block index the window fetched, -1 if none.
func (w *blockWindow) lastBlock() int64 {
	last := int64(-1)
	for _, h := range w.held {
		last = max(last, h.index)
	}
	return last
}

// blocksBefore returns the indexes of the held blocks that end at or
// before object position pos.
func (w *blockWindow) blocksBefore(pos int64) []int64 {
	var out []int64
	for _, h := range w.held {
		if (h.index+1)*w.r.cfg.BlockSize <= pos {
			out = append(out, h.index)
		}
	}
	return out
}

// peek returns the n (at most index.BatchHeaderSize) bytes at object
// position pos, valid until the next peek. The caller keeps pos+n within
// the object's data.
func (w *blockWindow) peek(pos int64, n int) ([]byte, error) {
	buf := w.head[:0]
	return w.assemble(pos, n, &buf)
}

// assemble returns the n bytes at pos, from one block when they lie in one,
// else appended to *buf (which it may grow).
func (w *blockWindow) assemble(pos int64, n int, buf *[]byte) ([]byte, error) {
	bs := w.r.cfg.BlockSize
	bi := pos / bs
	data, err := w.block(bi)
	if err != nil {
		return nil, err
	}
	off := pos - bi*bs
	if off+int64(n) <= int64(len(data)) {
		return data[off : off+int64(n)], nil
	}
	for {
		take := min(int64(n-len(*buf)), int64(len(data))-off)
		if take <= 0 {
			return nil, fmt.Errorf("read %s: position %d is past the %d bytes of data", w.object, bi*bs+off, w.of.dataLen)
		}
		*buf = append(*buf, data[off:off+take]...)
		if len(*buf) == n {
			return *buf, nil
		}
		bi++
		if data, err = w.block(bi); err != nil {
			return nil, err
		}
		off = 0
	}
}

// keep adds the n bytes at object position pos, which crc has covered
// (so their blocks are held), to what the read returns.
func (w *blockWindow) keep(pos int64, n int) error {
	bs := w.r.cfg.BlockSize
	for n > 0 {
		bi := pos / bs
		// crc fetched these blocks and the window holds them: no I/O.
		data, err := w.block(bi)
		if err != nil {
			return err
		}
		off := int(pos - bi*bs)
		take := min(n, len(data)-off)
		if last := len(w.kept) - 1; last >= 0 && w.kept[last].block == bi && w.kept[last].to == off {
			w.kept[last].to += take
		} else {
			w.kept = append(w.kept, keptRange{block: bi, data: data, from: off, to: off + take})
		}
		pos += int64(take)
		n -= take
	}
	return nil
}

// pieces returns the kept bytes as slices of their blocks, except runs
// shorter than 1/sharedPieceFraction of their block, which are copied
// (adjacent copied runs into one piece).
func (w *blockWindow) pieces() [][]byte {
	small := 0
	for _, k := range w.kept {
		if !sharedPiece(k) {
			small += k.to - k.from
		}
	}
	var copied []byte
	if small > 0 {
		copied = make([]byte, 0, small)
	}
	out := make([][]byte, 0, len(w.kept))
	prevCopied := false
	for _, k := range w.kept {
		if sharedPiece(k) {
			out = append(out, k.data[k.from:k.to:k.to])
			prevCopied = false
			continue
		}
		at := len(copied)
		copied = append(copied, k.data[k.from:k.to]...)
		if prevCopied {
			last := len(out) - 1
			out[last] = copied[at-len(out[last]) : len(copied) : len(copied)]
		} else {
			out = append(out, copied[at:len(copied):len(copied)])
		}
		prevCopied = true
	}
	return out
}

// sharedPiece reports whether k is long enough to be returned as a slice of
// its block rather than copied.
func sharedPiece(k keptRange) bool {
	return (k.to-k.from)*sharedPieceFraction >= len(k.data)
}
