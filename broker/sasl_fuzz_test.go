package broker

import (
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/shalelog/shale/sasl"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// FuzzSASLFrames writes arbitrary bytes into a connection of a SASL
// listener, seeded with handshakes, authentications (PLAIN, SCRAM, raw v0
// tokens) and requests out of turn: the server must not panic, must close
// or answer, and must let go of the connection once the client closes.
func FuzzSASLFrames(f *testing.F) {
	hs := func(mech string, v int16) kmsg.Request {
		r := kmsg.NewPtrSASLHandshakeRequest()
		r.Version, r.Mechanism = v, mech
		return r
	}
	auth := func(tok string) kmsg.Request {
		r := kmsg.NewPtrSASLAuthenticateRequest()
		r.Version, r.SASLAuthBytes = 2, []byte(tok)
		return r
	}
	frames := func(reqs ...kmsg.Request) []byte {
		var b []byte
		for i, r := range reqs {
			b = append(b, requestFrame(r, int32(i))...)
		}
		return b
	}
	raw := func(tok string) []byte { return append(binary.BigEndian.AppendUint32(nil, uint32(len(tok))), tok...) }
	f.Add(frames(hs(sasl.Plain, 1), auth("\x00alice\x00alice-pw"), kmsg.NewPtrMetadataRequest()))
	f.Add(frames(hs(sasl.Plain, 1), auth("\x00alice\x00bad")))
	f.Add(frames(hs(sasl.ScramSHA256, 1), auth("n,,n=alice,r=abc"), auth("c=biws,r=abc,p=AAAA")))
	f.Add(frames(hs(sasl.ScramSHA512, 1), auth("n,,n=alice,r=abc")))
	f.Add(append(frames(hs(sasl.Plain, 0)), raw("\x00alice\x00alice-pw")...))
	f.Add(append(frames(hs(sasl.ScramSHA256, 0)), raw("n,,n=alice,r=x")...))
	f.Add(frames(auth("x")))
	f.Add(frames(kmsg.NewPtrMetadataRequest()))
	f.Add(frames(hs("OAUTHBEARER", 1)))

	// The warnings of failed logins go nowhere: a fuzz function may not
	// write to f's log.
	ws := startWireServerWith(f, func(c *Config) {
		c.Listeners = []ListenerConfig{{Name: "SASL_PLAINTEXT", Listen: "127.0.0.1:0"}}
		c.SASLMechanisms = []string{sasl.ScramSHA256, sasl.ScramSHA512, sasl.Plain}
	}, func(s *Server) { s.log = slog.New(slog.DiscardHandler) })
	addTestUser(f, ws.meta, "alice", "alice-pw")
	f.Fuzz(func(t *testing.T, input []byte) {
		serveFuzzInput(t, ws, ws.listeners[0], input)
	})
}

// serveFuzzInput serves input on a fresh connection of l and waits until
// the server has let go of it.
func serveFuzzInput(t *testing.T, ws *wireServer, l *listener, input []byte) {
	client, server := net.Pipe()
	defer client.Close()
	if !ws.serveConn(server, l) {
		t.Fatal("server refused the connection")
	}
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		io.Copy(io.Discard, client)
	}()
	client.SetWriteDeadline(time.Now().Add(5 * time.Second))
	client.Write(input)
	client.Close()
	<-drained
	deadline := time.Now().Add(10 * time.Second)
	for {
		ws.mu.Lock()
		open := len(ws.conns)
		ws.mu.Unlock()
		if open == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("connection still served 10s after the client closed")
		}
		time.Sleep(time.Millisecond)
	}
}
