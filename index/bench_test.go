package index

import (
	"bytes"
	"io"
	"math/rand/v2"
	"testing"
)

// BenchmarkBuild measures writing an object of 200 partitions of 16 KiB
// batches (about 3 MiB) to io.Discard.
func BenchmarkBuild(b *testing.B) {
	rng := rand.New(rand.NewPCG(51, 52))
	type add struct {
		k          Key
		base, last int64
		data       []byte
	}
	var adds []add
	var total int64
	for p := range 200 {
		k := Key{Topic: [16]byte{byte(p / 16)}, Partition: int32(p % 16)}
		chunk := makeBatch(b, rng, 0, 16, 0, 1_700_000_000_000, 1000)
		adds = append(adds, add{k, 0, 15, chunk})
		total += int64(len(chunk))
	}
	b.SetBytes(total)
	b.ReportAllocs()
	for b.Loop() {
		bld := NewBuilder(io.Discard, BuilderOptions{SparseInterval: 4 << 10})
		for _, a := range adds {
			if err := bld.Add(a.k, a.base, a.last, 0, a.data); err != nil {
				b.Fatal(err)
			}
		}
		if _, _, err := bld.Finish(); err != nil {
			b.Fatal(err)
		}
	}
}

// syntheticFooter returns a footer of partitions partitions with entries
// sparse entries each, laid out one after another, and its encoded tail.
func syntheticFooter(partitions, entries int) (*Footer, []byte, int64) {
	f := &Footer{Partitions: make([]Partition, partitions)}
	var pos int64
	for i := range f.Partitions {
		p := &f.Partitions[i]
		p.Key = Key{Topic: [16]byte{byte(i >> 8), byte(i)}, Partition: int32(i % 7)}
		p.FirstOffset = int64(i) * 1_000_000
		p.Pos = pos
		p.Sparse = make([]SparseEntry, entries)
		for j := range p.Sparse {
			p.Sparse[j] = SparseEntry{Offset: p.FirstOffset + int64(j)*100, Pos: int64(j) * 65_536, MaxTimestamp: 1_700_000_000_000 + int64(j)*10}
		}
		p.LastOffset = p.FirstOffset + int64(entries)*100 - 1
		p.Len = int64(entries) * 65_536
		p.MaxTimestamp = p.Sparse[entries-1].MaxTimestamp
		pos += p.Len
	}
	return f, sealFooter(appendFooter(nil, f.Partitions), pos), pos
}

// BenchmarkLocate looks up a random partition among 10,000 and locates a
// random offset and a random timestamp in its 256 sparse entries.
func BenchmarkLocate(b *testing.B) {
	f, _, _ := syntheticFooter(10_000, 256)
	rng := rand.New(rand.NewPCG(53, 54))
	const probes = 4096
	keys := make([]Key, probes)
	offs := make([]int64, probes)
	for i := range keys {
		p := &f.Partitions[rng.IntN(len(f.Partitions))]
		keys[i] = p.Key
		offs[i] = p.FirstOffset + rng.Int64N(p.LastOffset-p.FirstOffset+1)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		p, ok := f.Lookup(keys[i%probes])
		if !ok {
			b.Fatal("lookup missed")
		}
		if p.Locate(offs[i%probes]) < p.Pos {
			b.Fatal("bad locate")
		}
		if _, ok := p.LocateTime(1_700_000_000_000 + offs[i%probes]%2550); !ok {
			b.Fatal("bad locate time")
		}
		i++
	}
}

// BenchmarkDecodeFooter decodes (CRC and parse) the footer of 10,000
// partitions with 16 sparse entries each.
func BenchmarkDecodeFooter(b *testing.B) {
	_, tail, dataLen := syntheticFooter(10_000, 16)
	size := dataLen + int64(len(tail))
	b.SetBytes(int64(len(tail)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := ParseTail(tail, size); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyBatches measures the cold-read check over 1 MiB of batches.
func BenchmarkVerifyBatches(b *testing.B) {
	rng := rand.New(rand.NewPCG(55, 56))
	var data []byte
	var off int64
	for len(data) < 1<<20 {
		data = append(data, makeBatch(b, rng, off, 16, 0, 0, 1000)...)
		off += 16
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, _, n, err := VerifyBatches(data, 0); err != nil || n != len(data) {
			b.Fatal(n, err)
		}
	}
}

func TestSyntheticFooterDecodes(t *testing.T) {
	f, tail, dataLen := syntheticFooter(100, 8)
	got, _, err := ParseTail(tail, dataLen+int64(len(tail)))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Partitions) != 100 || !bytes.Equal(appendFooter(nil, got.Partitions), appendFooter(nil, f.Partitions)) {
		t.Fatal("synthetic footer does not round-trip")
	}
}
