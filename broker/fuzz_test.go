package broker

import (
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// fuzzSeedRequests are well-formed requests the fuzzers start from.
func fuzzSeedRequests() []kmsg.Request {
	api := kmsg.NewPtrApiVersionsRequest()
	api.Version = 3
	api.ClientSoftwareName, api.ClientSoftwareVersion = "fuzz", "1"
	meta := kmsg.NewPtrMetadataRequest()
	meta.Version = 12
	topic := "fuzz"
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = &topic
	meta.Topics = append(meta.Topics, mt)
	list := kmsg.NewPtrListOffsetsRequest()
	list.Version = 6
	lt := kmsg.NewListOffsetsRequestTopic()
	lt.Topic = "fuzz"
	lp := kmsg.NewListOffsetsRequestTopicPartition()
	lp.Timestamp = -1
	lt.Partitions = append(lt.Partitions, lp)
	list.Topics = append(list.Topics, lt)
	return []kmsg.Request{
		api,
		meta,
		list,
		produceRequest("fuzz", 0, 1, testRecords(2, 8, -1, -1, -1)),
		produceRequest("fuzz", 0, 0, testRecords(1, 8, -1, -1, -1)),
		fetchRequest("fuzz", 0, 10, 1, 1<<20, 0, 1),
	}
}

// CPU-time bounds of the fuzzers: per decoded frame, and per input served
// on a connection.
const (
	frameCPUBound = 100 * time.Millisecond
	serveCPUBound = 5 * time.Second
)

// FuzzRequestFrame feeds arbitrary bytes as one request frame through the
// header parse and kmsg decode the server runs on every frame. It must never
// panic, and what it accepts must be an API and version the broker serves.
func FuzzRequestFrame(f *testing.F) {
	for i, req := range fuzzSeedRequests() {
		f.Add(requestFrame(req, int32(i))[4:])
	}
	f.Add([]byte{0, 18, 0, 99, 0, 0, 0, 1, 255, 255})
	f.Add([]byte{39, 15, 0, 0, 0, 0, 0, 1, 0, 0})
	for _, fr := range everyAPIFrames() {
		f.Add(fr[4:])
	}
	for _, fr := range taggedFieldFrames() {
		f.Add(fr[4:])
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		var (
			hdr requestHeader
			req kmsg.Request
			err error
		)
		// No frame may cost more than a bounded amount of CPU to decode
		// (kmsg v1.15.0 spent seconds on a tagged-field count).
		if cpu := onThreadCPU(func() { hdr, req, err = decodeRequest(frame) }); cpu > frameCPUBound {
			t.Fatalf("decoding a %d-byte frame took %v of CPU (bound %v)", len(frame), cpu, frameCPUBound)
		}
		if err != nil {
			return
		}
		h, ok := handlers[hdr.key]
		if !ok || hdr.version < h.min || hdr.version > h.max {
			t.Fatalf("accepted %s v%d, which the broker does not serve", kmsg.NameForKey(hdr.key), hdr.version)
		}
		if req.Key() != hdr.key || req.GetVersion() != hdr.version {
			t.Fatalf("header says key %d v%d, request is key %d v%d", hdr.key, hdr.version, req.Key(), req.GetVersion())
		}
	})
}

// FuzzServeConn writes arbitrary bytes into a connection served by a real
// Server (with a real metadata store and WAL) and checks that the server
// neither panics nor hangs: once the client closes, the connection's
// goroutines must be gone within a bounded time.
func FuzzServeConn(f *testing.F) {
	for i, req := range fuzzSeedRequests() {
		f.Add(requestFrame(req, int32(i)))
	}
	var pipelined []byte
	for i, req := range fuzzSeedRequests() {
		pipelined = append(pipelined, requestFrame(req, int32(i))...)
	}
	f.Add(pipelined)
	f.Add(binary.BigEndian.AppendUint32(nil, 0x7fffffff))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	// Every API key at every version served, and the tagged-field frames.
	for _, fr := range everyAPIFrames() {
		f.Add(fr)
	}
	for _, fr := range taggedFieldFrames() {
		f.Add(fr)
	}

	ws := startWireServer(f, func(c *Config) { c.MaxRequestBytes = 1 << 20 })
	ws.createTopic(f, "fuzz", 2, nil)
	f.Fuzz(func(t *testing.T, input []byte) {
		client, server := net.Pipe()
		defer client.Close()
		cpuBefore := processCPU()
		if !ws.serveConn(server, ws.listeners[0]) {
			t.Fatal("server refused the connection")
		}
		drained := make(chan struct{})
		go func() {
			defer close(drained)
			io.Copy(io.Discard, client)
		}()
		client.SetWriteDeadline(time.Now().Add(5 * time.Second))
		client.Write(input) // fails when the server closes early; fine
		client.Close()
		<-drained
		deadline := time.Now().Add(10 * time.Second)
		for {
			ws.mu.Lock()
			open := len(ws.conns)
			ws.mu.Unlock()
			if open == 0 {
				// The whole process's CPU while the input was served:
				// generous, as it includes the broker's background work
				// and legitimately heavy requests the fuzzer may build.
				if cpu := processCPU() - cpuBefore; cpu > serveCPUBound {
					t.Fatalf("serving %d bytes took %v of CPU (bound %v)", len(input), cpu, serveCPUBound)
				}
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("connection still served 10s after the client closed")
			}
			time.Sleep(time.Millisecond)
		}
	})
}
