package index

import (
	"encoding/binary"
	"math"
	"slices"
)

// Smallest encodings, used to bound counts before allocating.
const (
	minPartitionEncoded = 16 + 4 + 6*1 + minSparseEncoded // fixed fields, six one-byte varints, one entry
	minSparseEncoded    = 3
)

// appendFooter encodes parts, which must be sorted by Key and valid, in the
// footer format described in the package doc.
func appendFooter(dst []byte, parts []Partition) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(parts)))
	for i := range parts {
		p := &parts[i]
		dst = append(dst, p.Key.Topic[:]...)
		dst = binary.BigEndian.AppendUint32(dst, uint32(p.Key.Partition))
		dst = binary.AppendUvarint(dst, uint64(p.FirstOffset))
		dst = binary.AppendUvarint(dst, uint64(p.LastOffset-p.FirstOffset))
		dst = binary.AppendUvarint(dst, uint64(p.Pos))
		dst = binary.AppendUvarint(dst, uint64(p.Len))
		dst = binary.AppendVarint(dst, p.MaxTimestamp)
		dst = binary.AppendUvarint(dst, uint64(len(p.Sparse)))
		prev := SparseEntry{Offset: p.FirstOffset}
		for _, e := range p.Sparse {
			dst = binary.AppendUvarint(dst, uint64(e.Offset-prev.Offset))
			dst = binary.AppendUvarint(dst, uint64(e.Pos-prev.Pos))
			dst = binary.AppendVarint(dst, e.MaxTimestamp-prev.MaxTimestamp)
			prev = e
		}
	}
	return dst
}

// footerDecoder reads footer fields; the first failure sticks in err and
// later reads return zero.
type footerDecoder struct {
	b    []byte
	off  int
	base int64 // object offset of b[0], for errors
	err  error
}

func (d *footerDecoder) remaining() int { return len(d.b) - d.off }

func (d *footerDecoder) fail(at int, format string, args ...any) {
	if d.err == nil {
		d.err = corruptf(d.base+int64(at), "footer: "+format, args...)
	}
}

func (d *footerDecoder) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		d.fail(d.off, "bad or truncated %s", what)
		return 0
	}
	d.off += n
	return v
}

// nonNeg reads a uvarint that must fit in an int64.
func (d *footerDecoder) nonNeg(what string) int64 {
	at := d.off
	v := d.uvarint(what)
	if v > math.MaxInt64 {
		d.fail(at, "%s %d out of range", what, v)
		return 0
	}
	return int64(v)
}

func (d *footerDecoder) varint(what string) int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b[d.off:])
	if n <= 0 {
		d.fail(d.off, "bad or truncated %s", what)
		return 0
	}
	d.off += n
	return v
}

func (d *footerDecoder) fixed(n int, what string) []byte {
	if d.err != nil {
		return nil
	}
	if d.remaining() < n {
		d.fail(d.off, "truncated %s", what)
		return nil
	}
	b := d.b[d.off : d.off+n]
	d.off += n
	return b
}

// count reads an element count and bounds it by the bytes left, given that
// each element takes at least minSize bytes.
func (d *footerDecoder) count(what string, minSize int) int {
	at := d.off
	v := d.uvarint(what)
	if d.err != nil {
		return 0
	}
	if v > uint64(d.remaining()/minSize) {
		d.fail(at, "%s %d cannot fit in the %d bytes left", what, v, d.remaining())
		return 0
	}
	return int(v)
}

// decodeFooter parses a footer whose CRC has been checked. dataLen is the
// length of the data section, which is also the footer's object offset.
func decodeFooter(b []byte, dataLen int64) (*Footer, error) {
	d := &footerDecoder{b: b, base: dataLen}
	n := d.count("partition count", minPartitionEncoded)
	f := &Footer{Partitions: make([]Partition, 0, n)}
	for i := 0; i < n && d.err == nil; i++ {
		start := d.off
		p := d.partition(dataLen)
		if d.err != nil {
			break
		}
		if i > 0 && f.Partitions[i-1].Key.Compare(p.Key) >= 0 {
			d.fail(start, "partition %v out of order after %v", p.Key, f.Partitions[i-1].Key)
			break
		}
		f.Partitions = append(f.Partitions, p)
	}
	if d.err == nil && d.remaining() != 0 {
		d.fail(d.off, "%d trailing bytes after the last partition", d.remaining())
	}
	if d.err != nil {
		return nil, d.err
	}
	if err := checkOverlap(f.Partitions, dataLen); err != nil {
		return nil, err
	}
	return f, nil
}

// partition decodes and checks one partition record.
func (d *footerDecoder) partition(dataLen int64) Partition {
	start := d.off
	var p Partition
	topic := d.fixed(16, "topic")
	copy(p.Key.Topic[:], topic)
	if pb := d.fixed(4, "partition number"); pb != nil {
		p.Key.Partition = int32(binary.BigEndian.Uint32(pb))
	}
	if d.err == nil && p.Key.Partition < 0 {
		d.fail(start+16, "negative partition number %d", p.Key.Partition)
	}
	p.FirstOffset = d.nonNeg("first offset")
	spanAt := d.off
	span := d.nonNeg("offset span")
	if d.err == nil && span > math.MaxInt64-p.FirstOffset {
		d.fail(spanAt, "offset span %d overflows from first offset %d", span, p.FirstOffset)
	}
	p.LastOffset = p.FirstOffset + span
	posAt := d.off
	p.Pos = d.nonNeg("position")
	lenAt := d.off
	p.Len = d.nonNeg("length")
	if d.err == nil {
		switch {
		case p.Pos > dataLen:
			d.fail(posAt, "partition %v starts at %d, past the data end %d", p.Key, p.Pos, dataLen)
		case p.Len == 0:
			d.fail(lenAt, "partition %v is empty", p.Key)
		case p.Len > dataLen-p.Pos:
			d.fail(lenAt, "partition %v range [%d, +%d) runs past the data end %d", p.Key, p.Pos, p.Len, dataLen)
		}
	}
	p.MaxTimestamp = d.varint("max timestamp")
	n := d.count("sparse entry count", minSparseEncoded)
	if d.err == nil && n == 0 {
		d.fail(d.off, "partition %v has no sparse entries", p.Key)
	}
	if d.err != nil {
		return p
	}
	p.Sparse = make([]SparseEntry, n)
	prev := SparseEntry{Offset: p.FirstOffset}
	for j := 0; j < n && d.err == nil; j++ {
		at := d.off
		dOff := d.uvarint("sparse offset delta")
		dPos := d.uvarint("sparse position delta")
		dTime := d.varint("sparse timestamp delta")
		if d.err != nil {
			break
		}
		if j == 0 {
			if dOff != 0 || dPos != 0 {
				d.fail(at, "partition %v: first sparse entry is not at the first batch", p.Key)
				break
			}
		} else if dOff == 0 || dPos == 0 {
			d.fail(at, "partition %v: sparse entry %d does not advance", p.Key, j)
			break
		}
		if dOff > uint64(p.LastOffset-prev.Offset) {
			d.fail(at, "partition %v: sparse entry %d is past the last offset %d", p.Key, j, p.LastOffset)
			break
		}
		if dPos >= uint64(p.Len-prev.Pos) {
			d.fail(at, "partition %v: sparse entry %d is past the partition's %d bytes", p.Key, j, p.Len)
			break
		}
		e := SparseEntry{
			Offset:       prev.Offset + int64(dOff),
			Pos:          prev.Pos + int64(dPos),
			MaxTimestamp: prev.MaxTimestamp + dTime, // wraps like the encoder's subtraction
		}
		if j > 0 && e.MaxTimestamp < prev.MaxTimestamp {
			d.fail(at, "partition %v: sparse entry %d max timestamp %d is below the previous %d", p.Key, j, e.MaxTimestamp, prev.MaxTimestamp)
			break
		}
		p.Sparse[j] = e
		prev = e
	}
	if d.err == nil && prev.MaxTimestamp != p.MaxTimestamp {
		d.fail(d.off, "partition %v: last sparse max timestamp %d differs from the partition's %d", p.Key, prev.MaxTimestamp, p.MaxTimestamp)
	}
	return p
}

// checkOverlap reports partitions whose byte ranges overlap.
func checkOverlap(parts []Partition, dataLen int64) error {
	if len(parts) < 2 {
		return nil
	}
	byPos := make([]int, len(parts))
	for i := range byPos {
		byPos[i] = i
	}
	slices.SortFunc(byPos, func(a, b int) int {
		pa, pb := parts[a].Pos, parts[b].Pos
		switch {
		case pa < pb:
			return -1
		case pa > pb:
			return 1
		}
		return 0
	})
	for i := 1; i < len(byPos); i++ {
		prev, cur := &parts[byPos[i-1]], &parts[byPos[i]]
		if cur.Pos < prev.Pos+prev.Len {
			return corruptf(dataLen, "footer: partitions %v and %v overlap at byte %d", prev.Key, cur.Key, cur.Pos)
		}
	}
	return nil
}
