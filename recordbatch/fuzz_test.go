package recordbatch

import (
	"bytes"
	"testing"
)

func addSeeds(f *testing.F) {
	good := plainBatch(f, 3)
	f.Add(good)
	f.Add(append(bytes.Clone(good), plainBatch(f, 1)...))
	f.Add(good[:len(good)-1])
	f.Add(good[:HeaderSize])
	f.Add([]byte{})
	bad := bytes.Clone(good)
	bad[len(bad)-1] ^= 1
	f.Add(bad)
	legacy := bytes.Clone(good)
	legacy[16] = 1
	f.Add(legacy)
}

// FuzzParse: Parse never panics, and what it accepts lies within the input
// and has a CRC that verifies.
func FuzzParse(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := ParseHeader(b); err == nil && len(b) < HeaderSize {
			t.Fatalf("ParseHeader accepted %d bytes", len(b))
		}
		h, err := Parse(b)
		if err != nil {
			return
		}
		if h.Size() < HeaderSize || h.Size() > len(b) {
			t.Fatalf("accepted a batch of %d bytes from %d", h.Size(), len(b))
		}
		if got := Checksum(b[:h.Size()]); got != h.CRC {
			t.Fatalf("accepted a batch whose CRC %08x does not verify (%08x)", h.CRC, got)
		}
		if h.Magic != 2 || h.LastOffsetDelta < 0 || h.RecordCount < 0 {
			t.Fatalf("accepted header %+v", h)
		}
	})
}

// FuzzSplit: Split never panics; when it succeeds the batches it reported
// tile the input exactly and each one parses on its own.
func FuzzSplit(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		covered := 0
		err := Split(b, func(h Header, batch []byte) error {
			if len(batch) != h.Size() {
				t.Fatalf("batch of %d bytes, header says %d", len(batch), h.Size())
			}
			if _, err := Parse(batch); err != nil {
				t.Fatalf("Split handed out a batch Parse rejects: %v", err)
			}
			covered += len(batch)
			return nil
		})
		if err == nil && covered != len(b) {
			t.Fatalf("Split succeeded covering %d of %d bytes", covered, len(b))
		}
	})
}
