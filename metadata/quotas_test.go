package metadata

import (
	"context"
	"errors"
	"math"
	"reflect"
	"testing"
)

func TestApplySetClientQuotas(t *testing.T) {
	a := newApplier(t)
	alice := QuotaEntity{User: QuotaNamed("alice")}
	aliceApp := QuotaEntity{User: QuotaNamed("alice"), ClientID: QuotaNamed("app")}
	defClient := QuotaEntity{ClientID: QuotaDefault()}
	a.must(setClientQuotasCmd{Alterations: []QuotaAlteration{
		{Entity: alice, Ops: []QuotaOp{{Key: QuotaProducerByteRate, Value: 1024}, {Key: QuotaRequestPercentage, Value: 12.5}}},
		{Entity: aliceApp, Ops: []QuotaOp{{Key: QuotaConsumerByteRate, Value: 2048}}},
		{Entity: defClient, Ops: []QuotaOp{{Key: QuotaProducerByteRate, Value: 4096}}},
	}})
	want := map[QuotaEntity]map[string]float64{
		alice:     {QuotaProducerByteRate: 1024, QuotaRequestPercentage: 12.5},
		aliceApp:  {QuotaConsumerByteRate: 2048},
		defClient: {QuotaProducerByteRate: 4096},
	}
	if !reflect.DeepEqual(a.f.st.quotas, want) {
		t.Fatalf("quotas %v, want %v", a.f.st.quotas, want)
	}

	// The snapshot carries them (section 3) and a clone is independent.
	clone := a.f.st.clone()
	st, err := decodeSnapshot(a.snapshotBytes(), "test")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(st.quotas, want) {
		t.Fatalf("quotas after snapshot %v, want %v", st.quotas, want)
	}

	// Removing the last key removes the entity; an invalid alteration is
	// skipped while the valid one beside it applies.
	res := a.apply(setClientQuotasCmd{Alterations: []QuotaAlteration{
		{Entity: aliceApp, Ops: []QuotaOp{{Key: QuotaConsumerByteRate, Remove: true}}},
		{Entity: QuotaEntity{}, Ops: []QuotaOp{{Key: QuotaProducerByteRate, Value: 1}}},
	}})
	if !errors.Is(res.err, ErrInvalidRequest) {
		t.Fatalf("empty entity: %v", res.err)
	}
	if _, ok := a.f.st.quotas[aliceApp]; ok {
		t.Fatal("entity without values kept")
	}
	if _, ok := clone.quotas[aliceApp]; !ok {
		t.Fatal("the clone changed with the state")
	}
}

func TestQuotaValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		a    QuotaAlteration
	}{
		{"empty entity", QuotaAlteration{Ops: []QuotaOp{{Key: QuotaProducerByteRate, Value: 1}}}},
		{"unknown key", QuotaAlteration{Entity: QuotaEntity{User: QuotaNamed("u")}, Ops: []QuotaOp{{Key: "producer_rate", Value: 1}}}},
		{"unknown key on removal", QuotaAlteration{Entity: QuotaEntity{User: QuotaNamed("u")}, Ops: []QuotaOp{{Key: "x", Remove: true}}}},
		{"fractional byte rate", QuotaAlteration{Entity: QuotaEntity{User: QuotaNamed("u")}, Ops: []QuotaOp{{Key: QuotaProducerByteRate, Value: 1.5}}}},
		{"zero rate", QuotaAlteration{Entity: QuotaEntity{User: QuotaNamed("u")}, Ops: []QuotaOp{{Key: QuotaConsumerByteRate, Value: 0}}}},
		{"NaN", QuotaAlteration{Entity: QuotaEntity{User: QuotaNamed("u")}, Ops: []QuotaOp{{Key: QuotaRequestPercentage, Value: math.NaN()}}}},
		{"key twice", QuotaAlteration{Entity: QuotaEntity{User: QuotaNamed("u")}, Ops: []QuotaOp{{Key: QuotaProducerByteRate, Value: 1}, {Key: QuotaProducerByteRate, Value: 2}}}},
		{"empty name", QuotaAlteration{Entity: QuotaEntity{ClientID: QuotaNamed("")}, Ops: []QuotaOp{{Key: QuotaProducerByteRate, Value: 1}}}},
		{"named default", QuotaAlteration{Entity: QuotaEntity{ClientID: QuotaName{Set: true, Default: true, Name: "x"}}}},
	} {
		if err := tc.a.Validate(); !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("%s: %v, want ErrInvalidRequest", tc.name, err)
		}
	}
	ok := QuotaAlteration{Entity: QuotaEntity{User: QuotaDefault(), ClientID: QuotaNamed("c")}, Ops: []QuotaOp{{Key: QuotaRequestPercentage, Value: 0.5}}}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestStoreSetClientQuotas(t *testing.T) {
	s := openTestStore(t, testConfig(t, t.TempDir()))
	ctx := context.Background()
	u := QuotaEntity{User: QuotaNamed("bob")}
	errs, err := s.SetClientQuotas(ctx, []QuotaAlteration{
		{Entity: u, Ops: []QuotaOp{{Key: QuotaProducerByteRate, Value: 100}}},
		{Entity: u, Ops: []QuotaOp{{Key: "nope", Value: 1}}},
	}, true)
	if err != nil || errs[0] != nil || !errors.Is(errs[1], ErrInvalidRequest) {
		t.Fatalf("validate only: %v %v", errs, err)
	}
	if q := s.ClientQuotas(); len(q) != 0 {
		t.Fatalf("validate only stored %v", q)
	}
	if _, err := s.SetClientQuotas(ctx, []QuotaAlteration{{Entity: u, Ops: []QuotaOp{{Key: QuotaProducerByteRate, Value: 100}}}}, false); err != nil {
		t.Fatal(err)
	}
	q := s.ClientQuotas()
	if len(q) != 1 || q[0].Entity != u || q[0].Values[QuotaProducerByteRate] != 100 {
		t.Fatalf("quotas %+v", q)
	}
}

// FuzzDecodeClientQuotas feeds arbitrary bytes to the client quota
// section decoder: it must not panic, and what it accepts must re-encode
// to the same bytes.
func FuzzDecodeClientQuotas(f *testing.F) {
	a := newApplier(f)
	a.must(setClientQuotasCmd{Alterations: []QuotaAlteration{
		{Entity: QuotaEntity{User: QuotaNamed("alice"), ClientID: QuotaDefault()}, Ops: []QuotaOp{{Key: QuotaProducerByteRate, Value: 1024}}},
		{Entity: QuotaEntity{ClientID: QuotaNamed("c")}, Ops: []QuotaOp{{Key: QuotaRequestPercentage, Value: 25}, {Key: QuotaConsumerByteRate, Value: 9}}},
	}})
	var w bodyWriter
	encodeClientQuotas(a.f.st, &w)
	f.Add(w.b)
	f.Add([]byte{1, 2, 1, 'u', 0, 1, 1, 'x', 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		st := newState()
		r := &bodyReader{b: data}
		if err := decodeClientQuotas(st, r); err != nil || r.done() != nil {
			return
		}
		var w bodyWriter
		encodeClientQuotas(st, &w)
		st2 := newState()
		if err := decodeClientQuotas(st2, &bodyReader{b: w.b}); err != nil {
			t.Fatalf("re-encoded section rejected: %v", err)
		}
		if !reflect.DeepEqual(st.quotas, st2.quotas) {
			t.Fatal("quota section does not round-trip")
		}
	})
}
