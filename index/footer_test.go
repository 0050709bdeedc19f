package index

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"testing"
)

// sealFooter appends a valid trailer to footer, as if dataLen bytes of data
// came before it, and returns footer+trailer (the object's tail).
func sealFooter(footer []byte, dataLen int64) []byte {
	return appendTrailer(bytes.Clone(footer), trailerFields{
		dataLen:   dataLen,
		footerLen: int64(len(footer)),
		footerCRC: crc32.Checksum(footer, castagnoli),
	})
}

func goodPartition(k Key, pos int64) Partition {
	return Partition{
		Key: k, FirstOffset: 100, LastOffset: 199, Pos: pos, Len: 1000, MaxTimestamp: 50,
		Sparse: []SparseEntry{{Offset: 100, Pos: 0, MaxTimestamp: 20}, {Offset: 150, Pos: 500, MaxTimestamp: 50}},
	}
}

func TestSealedFooterRoundTrip(t *testing.T) {
	parts := []Partition{goodPartition(Key{Partition: 1}, 0), goodPartition(Key{Partition: 2}, 1000)}
	tail := sealFooter(appendFooter(nil, parts), 2000)
	f, _, err := ParseTail(tail, 2000+int64(len(tail)))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Partitions) != 2 || f.Partitions[1].Sparse[1] != parts[1].Sparse[1] {
		t.Fatalf("%+v", f)
	}
}

// Footers with a valid CRC whose contents are wrong: each must be refused as
// corruption, without large allocations.
func TestHostileFooters(t *testing.T) {
	k1, k2 := Key{Partition: 1}, Key{Partition: 2}
	encode := func(mod func(p []Partition)) []byte {
		parts := []Partition{goodPartition(k1, 0), goodPartition(k2, 1000)}
		mod(parts)
		return appendFooter(nil, parts)
	}
	huge := binary.AppendUvarint(nil, 1<<62)
	cases := map[string][]byte{
		"huge partition count": huge,
		"huge sparse count": func() []byte {
			b := binary.AppendUvarint(nil, 1)
			b = append(b, make([]byte, 20)...)
			b = binary.AppendUvarint(b, 0)  // first offset
			b = binary.AppendUvarint(b, 0)  // span
			b = binary.AppendUvarint(b, 0)  // pos
			b = binary.AppendUvarint(b, 10) // len
			b = binary.AppendVarint(b, 0)
			b = binary.AppendUvarint(b, 1<<40)
			return append(b, make([]byte, 30)...)
		}(),
		"varint overflow":       bytes.Repeat([]byte{0xff}, 11),
		"truncated":             encode(func([]Partition) {})[:40],
		"trailing bytes":        append(encode(func([]Partition) {}), 0),
		"keys out of order":     encode(func(p []Partition) { p[0].Key, p[1].Key = k2, k1 }),
		"duplicate keys":        encode(func(p []Partition) { p[1].Key = k1 }),
		"overlapping ranges":    encode(func(p []Partition) { p[1].Pos = 999 }),
		"past data end":         encode(func(p []Partition) { p[1].Pos = 1001 }),
		"empty partition":       encode(func(p []Partition) { p[0].Len = 0; p[0].Sparse = p[0].Sparse[:1] }),
		"negative partition":    encode(func(p []Partition) { p[0].Key.Partition = -1 }),
		"no sparse entries":     encode(func(p []Partition) { p[0].Sparse = nil }),
		"first entry not at 0":  encode(func(p []Partition) { p[0].Sparse[0].Pos = 1 }),
		"first entry offset":    encode(func(p []Partition) { p[0].Sparse[0].Offset = 101 }),
		"entry not advancing":   encode(func(p []Partition) { p[0].Sparse[1].Pos = 0 }),
		"entry offset repeats":  encode(func(p []Partition) { p[0].Sparse[1].Offset = 100 }),
		"entry past last":       encode(func(p []Partition) { p[0].Sparse[1].Offset = 200 }),
		"entry past length":     encode(func(p []Partition) { p[0].Sparse[1].Pos = 1000 }),
		"timestamps go back":    encode(func(p []Partition) { p[0].Sparse[1].MaxTimestamp = 10; p[0].MaxTimestamp = 10 }),
		"partition max differs": encode(func(p []Partition) { p[0].MaxTimestamp = 51 }),
		"offset span overflows": func() []byte {
			b := binary.AppendUvarint(nil, 1)
			b = append(b, make([]byte, 20)...)
			b = binary.AppendUvarint(b, math.MaxInt64)
			b = binary.AppendUvarint(b, 1)
			return append(b, make([]byte, 30)...)
		}(),
		"offset out of int64": func() []byte {
			b := binary.AppendUvarint(nil, 1)
			b = append(b, make([]byte, 20)...)
			b = binary.AppendUvarint(b, math.MaxUint64)
			return append(b, make([]byte, 30)...)
		}(),
	}
	const dataLen = 2000
	for name, footer := range cases {
		tail := sealFooter(footer, dataLen)
		size := dataLen + int64(len(tail))
		_, need, err := ParseTail(tail, size)
		var ce *CorruptionError
		if !errors.As(err, &ce) {
			t.Errorf("%s: need %d, err %v; want a CorruptionError", name, need, err)
			continue
		}
		t.Logf("%s: %v", name, err)
		if ce.Offset < dataLen || ce.Offset >= size {
			t.Errorf("%s: corruption at %d, outside the footer [%d, %d)", name, ce.Offset, dataLen, size)
		}
	}
}

func TestTrailerChecks(t *testing.T) {
	tail := sealFooter(appendFooter(nil, []Partition{goodPartition(Key{}, 0)}), 1000)
	size := 1000 + int64(len(tail))
	tr := tail[len(tail)-TrailerSize:]

	v2 := bytes.Clone(tr)
	binary.BigEndian.PutUint16(v2[trailerVersion:], 2)
	if _, err := DecodeTrailer(v2); !errors.Is(err, ErrUnsupportedVersion) {
		t.Fatalf("version 2: %v", err)
	}
	if _, err := DecodeTrailer(v2); errors.As(err, new(*CorruptionError)) {
		t.Fatal("an unknown version is reported as corruption")
	}

	flags := bytes.Clone(tr)
	flags[trailerFlags+1] = 1
	if _, err := DecodeTrailer(flags); !errors.As(err, new(*CorruptionError)) {
		t.Fatalf("flags: %v", err)
	}

	// A trailer with a valid CRC claiming a huge footer is refused before
	// any caller fetches it.
	big := appendTrailer(nil, trailerFields{dataLen: 0, footerLen: MaxFooterLen + 1})
	if _, err := DecodeTrailer(big); !errors.As(err, new(*CorruptionError)) {
		t.Fatalf("huge footer length: %v", err)
	}
	big = appendTrailer(nil, trailerFields{dataLen: math.MaxInt64, footerLen: 10})
	if _, err := DecodeTrailer(big); !errors.As(err, new(*CorruptionError)) {
		t.Fatalf("huge data length: %v", err)
	}

	// Offsets in errors from ParseTail are object offsets.
	bad := bytes.Clone(tail)
	bad[len(bad)-1] = 'Y'
	var ce *CorruptionError
	if _, _, err := ParseTail(bad, size); !errors.As(err, &ce) || ce.Offset != size-TrailerSize+trailerMagicStart {
		t.Fatalf("bad magic: %v", err)
	}
	if _, err := DecodeTrailer(bad); !errors.As(err, &ce) || ce.Offset != -1 {
		t.Fatalf("bad magic, unknown position: %v", err)
	}
}

func TestLocateOnHandBuiltPartition(t *testing.T) {
	p := Partition{
		FirstOffset: 100, LastOffset: 299, Pos: 5000, Len: 3000, MaxTimestamp: 90,
		Sparse: []SparseEntry{
			{Offset: 100, Pos: 0, MaxTimestamp: 10},
			{Offset: 150, Pos: 1000, MaxTimestamp: 10},
			{Offset: 220, Pos: 2000, MaxTimestamp: 90},
		},
	}
	for _, c := range []struct{ offset, want int64 }{
		{0, 5000}, {99, 5000}, {100, 5000}, {149, 5000}, {150, 6000}, {219, 6000},
		{220, 7000}, {299, 7000}, {300, 8000}, {math.MaxInt64, 8000}, {math.MinInt64, 5000},
	} {
		if got := p.Locate(c.offset); got != c.want {
			t.Errorf("Locate(%d) = %d, want %d", c.offset, got, c.want)
		}
	}
	for _, c := range []struct {
		ts   int64
		want int64
		ok   bool
	}{{math.MinInt64, 5000, true}, {10, 5000, true}, {11, 7000, true}, {90, 7000, true}, {91, 0, false}} {
		if got, ok := p.LocateTime(c.ts); got != c.want || ok != c.ok {
			t.Errorf("LocateTime(%d) = %d, %v; want %d, %v", c.ts, got, ok, c.want, c.ok)
		}
	}
	for _, c := range []struct{ pos, want int64 }{{5000, 6000}, {5999, 6000}, {6000, 7000}, {7000, 8000}, {7999, 8000}} {
		if got := p.BlockEnd(c.pos); got != c.want {
			t.Errorf("BlockEnd(%d) = %d, want %d", c.pos, got, c.want)
		}
	}
}
