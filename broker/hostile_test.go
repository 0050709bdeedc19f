package broker

import (
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// taggedFieldFrame is a tiny flexible-version request (ApiVersions v3)
// whose body ends with a tagged-field count of 2^35-1 and no fields: kmsg
// v1.15.0 kept looping over that count after its reader had failed (CPU
// for seconds from a 40-byte frame); v1.15.1 stops at the first failed
// read.
func taggedFieldFrame() []byte {
	b := make([]byte, 4, 64)
	b = binary.BigEndian.AppendUint16(b, apiVersionsKey)
	b = binary.BigEndian.AppendUint16(b, 3)
	b = binary.BigEndian.AppendUint32(b, 1)
	b = binary.BigEndian.AppendUint16(b, 4)
	b = append(b, "evil"...)
	b = append(b, 0)                     // header: no tagged fields
	b = append(b, 2, 'x')                // client software name
	b = append(b, 2, '1')                // client software version
	b = binary.AppendUvarint(b, 1<<35-1) // tagged fields of the body
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

// The same count in a header's tagged fields, and in a nested struct's
// (a Metadata v12 topic).
func taggedFieldFrames() map[string][]byte {
	hdrTags := make([]byte, 4, 64)
	hdrTags = binary.BigEndian.AppendUint16(hdrTags, 3)
	hdrTags = binary.BigEndian.AppendUint16(hdrTags, 12)
	hdrTags = binary.BigEndian.AppendUint32(hdrTags, 1)
	hdrTags = binary.BigEndian.AppendUint16(hdrTags, 0xffff) // null client id
	hdrTags = binary.AppendUvarint(hdrTags, 1<<35-1)
	binary.BigEndian.PutUint32(hdrTags, uint32(len(hdrTags)-4))

	nested := make([]byte, 4, 64)
	nested = binary.BigEndian.AppendUint16(nested, 3)
	nested = binary.BigEndian.AppendUint16(nested, 12)
	nested = binary.BigEndian.AppendUint32(nested, 1)
	nested = binary.BigEndian.AppendUint16(nested, 0xffff)
	nested = append(nested, 0)                   // header tags
	nested = append(nested, 2)                   // one topic
	nested = append(nested, make([]byte, 16)...) // topic id
	nested = append(nested, 2, 't')              // name
	nested = binary.AppendUvarint(nested, 1<<35-1)
	binary.BigEndian.PutUint32(nested, uint32(len(nested)-4))
	return map[string][]byte{"body": taggedFieldFrame(), "header": hdrTags, "nested struct": nested}
}

// The tagged-field frame is rejected in well under a millisecond of CPU:
// the decoding thread's CPU time over 1000 rejections, per frame, checked
// against a generous 1 ms (v1.15.0 took seconds per frame).
func TestTaggedFieldFrameRejectedCheaply(t *testing.T) {
	const rounds = 1000
	for name, frame := range taggedFieldFrames() {
		var err error
		cpu := onThreadCPU(func() {
			for range rounds {
				if _, _, err = decodeRequest(frame[4:]); err == nil {
					return
				}
			}
		})
		if err == nil {
			t.Fatalf("%s: the frame was accepted", name)
		}
		per := cpu / rounds
		t.Logf("%s: %d-byte frame rejected in %v of thread CPU per frame (%v for %d): %v", name, len(frame), per, cpu, rounds, err)
		if per > time.Millisecond {
			t.Fatalf("%s: rejecting the frame took %v of CPU", name, per)
		}
	}
}

// Served: the connection that sends it is closed at once, and the
// broker answers the next client.
func TestTaggedFieldFrameOnTheWire(t *testing.T) {
	ws := startWireServer(t, nil)
	for name, frame := range taggedFieldFrames() {
		nc, err := net.Dial("tcp", ws.addr)
		if err != nil {
			t.Fatal(err)
		}
		before := processCPU()
		if _, err := nc.Write(frame); err != nil {
			t.Fatal(err)
		}
		closed := closedByServer(nc, 10*time.Second)
		cpu := processCPU() - before
		nc.Close()
		t.Logf("%s: connection closed %v, process CPU meanwhile %v", name, closed, cpu)
		if !closed {
			t.Fatalf("%s: connection kept open after the frame", name)
		}
		if cpu > time.Second {
			t.Fatalf("%s: the broker's process used %v of CPU on one 40-byte frame", name, cpu)
		}
		dialWire(t, ws.addr).checkAlive()
	}
}

// everyAPIFrames returns a default request of every API key and version
// the broker serves, as frames, so the fuzzers start from all of them.
func everyAPIFrames() [][]byte {
	var out [][]byte
	for _, k := range sortedKeys() {
		h := handlers[k]
		for v := h.min; v <= h.max; v++ {
			req := kmsg.RequestForKey(k)
			if req == nil {
				continue
			}
			req.SetVersion(v)
			out = append(out, requestFrame(req, int32(len(out))))
		}
	}
	return out
}
