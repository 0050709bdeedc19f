package tiering

import (
	"context"
	"math/rand/v2"
	"reflect"
	"testing"
)

func TestFooterLongerThanFirstRead(t *testing.T) {
	f := newColdFixture(t)
	rng := rand.New(rand.NewPCG(30, 30))
	k := coldKey(8, 0)
	// A sparse entry per batch gives a footer of a few hundred bytes.
	batches := genColdBatches(t, rng, 0, 200, coldBatchShape{minValue: 10, maxValue: 50, maxRecords: 2})
	footer := f.addObject(t, "long-footer", []coldPart{{key: k, batches: batches}}, 1, false)
	cfg := testReaderConfig()
	cfg.FooterReadSize = 64
	r := newTestReader(t, f, cfg)
	ext := f.cat.extents[k][0].Extent
	of, err := r.objectFooterFor(context.Background(), ext)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(of.footer.Partitions, footer.Partitions) {
		t.Fatal("decoded footer differs from the one written")
	}
	if of.size != int64(len(f.objects["long-footer"])) || of.dataLen != ext.Pos+ext.Len {
		t.Fatalf("size %d data %d; want %d and %d", of.size, of.dataLen, len(f.objects["long-footer"]), ext.Pos+ext.Len)
	}
	st := r.Stats()
	if st.Heads != 1 || st.Gets != 2 {
		t.Fatalf("%d HEADs and %d GETs; want one HEAD for the size, a 64-byte tail, then the rest", st.Heads, st.Gets)
	}
	if want := int64(len(f.objects["long-footer"])) - ext.Len; st.GetBytes != want {
		t.Fatalf("fetched %d bytes, want exactly the footer and trailer (%d)", st.GetBytes, want)
	}
	// Cached: no more requests.
	if _, err := r.objectFooterFor(context.Background(), ext); err != nil {
		t.Fatal(err)
	}
	if st2 := r.Stats(); st2.Gets != 2 || st2.FooterHits != 1 {
		t.Fatalf("second lookup: %+v", st2)
	}
	got, err := r.Read(context.Background(), k, 100, 1000, 1<<20)
	if err != nil || len(got) == 0 {
		t.Fatalf("read through the long footer: %d bytes, %v", len(got), err)
	}
}

func TestFooterOfSmallObjectTakesOneGet(t *testing.T) {
	f := newColdFixture(t)
	f.standardObjects(t, rand.New(rand.NewPCG(31, 31)))
	r := newTestReader(t, f, testReaderConfig())
	ext := f.cat.extents[coldKey(1, 0)][0].Extent
	if _, err := r.objectFooterFor(context.Background(), ext); err != nil {
		t.Fatal(err)
	}
	if st := r.Stats(); st.Gets != 1 || st.Heads != 0 {
		t.Fatalf("%d GETs, %d HEADs; want one GET for an object with a known size", st.Gets, st.Heads)
	}
}

func TestFooterCacheBound(t *testing.T) {
	f := newColdFixture(t)
	f.standardObjects(t, rand.New(rand.NewPCG(32, 32)))
	cfg := testReaderConfig()
	cfg.FooterCacheEntries = 2
	r := newTestReader(t, f, cfg)
	ctx := context.Background()
	for range 3 {
		for _, k := range f.keys {
			for _, e := range f.cat.extents[k] {
				if _, err := r.Read(ctx, k, e.BaseOffset, e.LastOffset+1, 1); err != nil {
					t.Fatal(err)
				}
				if n := r.Stats().CachedFooters; n > 2 {
					t.Fatalf("%d footers cached, bound 2", n)
				}
			}
		}
	}
	if r.Stats().FooterMisses <= 3 {
		t.Fatal("a 2-entry footer cache over 3 objects never missed again")
	}
}

func TestFooterWithoutPartition(t *testing.T) {
	f := newColdFixture(t)
	f.standardObjects(t, rand.New(rand.NewPCG(33, 33)))
	// The catalog claims coldKey(2, 7) is in an object that lacks it.
	cat := &coldCatalog{}
	cat.add(coldKey(2, 7), coldExtent{Extent: Extent{Object: "seg/00000002", Pos: 0, Len: 100, BaseOffset: 0, LastOffset: 5}})
	r, err := NewReader(f.bucket, cat, testReaderConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	_, err = r.Read(context.Background(), coldKey(2, 7), 0, 6, 100)
	ce := wantCorruption(t, err, "seg/00000002")
	if ce.Offset != -1 {
		t.Errorf("offset %d, want -1", ce.Offset)
	}
}
