package recordbatch

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestMarkerRoundTrip(t *testing.T) {
	for _, commit := range []bool{true, false} {
		b := EncodeMarker(77, 3, commit, 5, 1234)
		h, err := Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		if err := ValidateRecords(&h, b); err != nil {
			t.Fatalf("marker fails the record checks: %v", err)
		}
		if !h.IsControl() || !h.IsTransactional() || h.ProducerID != 77 || h.ProducerEpoch != 3 || h.BaseSequence != -1 || h.RecordCount != 1 {
			t.Fatalf("header %+v", h)
		}
		typ, err := ControlType(&h, b)
		want := ControlAbort
		if commit {
			want = ControlCommit
		}
		if err != nil || typ != want {
			t.Fatalf("type %d %v, want %d", typ, err, want)
		}
		// franz-go reads it as Kafka's marker.
		var rb kmsg.RecordBatch
		if err := rb.ReadFrom(b); err != nil {
			t.Fatal(err)
		}
		var rec kmsg.Record
		if err := rec.ReadFrom(rb.Records); err != nil {
			t.Fatal(err)
		}
		if len(rec.Key) != 4 || int16(rec.Key[3]) != want || len(rec.Value) != 6 {
			t.Fatalf("record %+v", rec)
		}
	}
	h, _ := ParseHeader(EncodeMarker(1, 1, true, 0, 0))
	if _, err := ControlType(&h, EncodeMarker(1, 1, true, 0, 0)[:HeaderSize+2]); err == nil {
		t.Fatal("a truncated marker parsed")
	}
}

func FuzzControlType(f *testing.F) {
	f.Add(EncodeMarker(1, 2, true, 3, 4))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseHeader(b)
		if err != nil {
			return
		}
		ControlType(&h, b) // must not panic
	})
}
