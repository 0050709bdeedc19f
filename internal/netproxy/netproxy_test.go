package netproxy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// echoServer answers every line with the same line and counts the
// connections it accepted.
type echoServer struct {
	ln       net.Listener
	accepted atomic.Int64
	wg       sync.WaitGroup
}

func startEcho(t *testing.T) *echoServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &echoServer{ln: ln}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.accepted.Add(1)
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return s
}

func (s *echoServer) Addr() string { return s.ln.Addr().String() }

func newProxy(t *testing.T, target string) *Proxy {
	t.Helper()
	p, err := New(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &client{Conn: c, r: bufio.NewReader(c)}
}

type client struct {
	net.Conn
	r *bufio.Reader
}

// roundTrip sends line and waits up to wait for it to come back.
func (c *client) roundTrip(line string, wait time.Duration) (string, error) {
	c.SetDeadline(time.Now().Add(wait))
	defer c.SetDeadline(time.Time{})
	if _, err := fmt.Fprintln(c, line); err != nil {
		return "", err
	}
	return c.readLine(wait)
}

func (c *client) readLine(wait time.Duration) (string, error) {
	c.SetReadDeadline(time.Now().Add(wait))
	defer c.SetReadDeadline(time.Time{})
	got, err := c.r.ReadString('\n')
	return strings.TrimSuffix(got, "\n"), err
}

// connectAndTalk connects to addr and makes one round trip. A proxy that
// resets a connection as soon as it accepts it may do so before connect
// returns, so either step may fail.
func connectAndTalk(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	cl := &client{Conn: c, r: bufio.NewReader(c)}
	_, err = cl.roundTrip("hello", 10*time.Second)
	return err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestForwardsBothWays(t *testing.T) {
	echo := startEcho(t)
	p := newProxy(t, echo.Addr())
	c := dial(t, p.Addr())
	for i := range 10 {
		want := fmt.Sprintf("line %d", i)
		if got, err := c.roundTrip(want, 10*time.Second); err != nil || got != want {
			t.Fatalf("round trip %d: %q, %v", i, got, err)
		}
	}
	// A large transfer, larger than the queue, arrives intact and in
	// order; closing the write side reaches the server as EOF, whose
	// close comes back as EOF.
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<18) // 4 MiB
	go func() {
		c.Write(big)
		c.Conn.(*net.TCPConn).CloseWrite()
	}()
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	got, err := io.ReadAll(c.r)
	if err != nil {
		t.Fatalf("read back: %v", err)
	}
	if !bytes.Equal(got, big) {
		t.Fatalf("read back %d bytes, sent %d (equal prefix %v)", len(got), len(big), bytes.HasPrefix(big, got))
	}
	if p.Accepted() != 1 || echo.accepted.Load() != 1 {
		t.Fatalf("accepted: proxy %d, server %d, want 1 and 1", p.Accepted(), echo.accepted.Load())
	}
}

func TestCutResetsAndRefuses(t *testing.T) {
	echo := startEcho(t)
	p := newProxy(t, echo.Addr())
	c := dial(t, p.Addr())
	if _, err := c.roundTrip("before", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	p.Cut()
	if _, err := c.readLine(10 * time.Second); err == nil || isTimeout(err) {
		t.Fatalf("read on a cut connection: %v, want reset or EOF", err)
	}
	// New connections are accepted and reset at once.
	if err := connectAndTalk(p.Addr()); err == nil || isTimeout(err) {
		t.Fatalf("round trip on a new connection while cut: %v, want reset or EOF", err)
	}
	if n := echo.accepted.Load(); n != 1 {
		t.Fatalf("server accepted %d connections, want 1 (none while cut)", n)
	}
	p.Heal()
	c3 := dial(t, p.Addr())
	if got, err := c3.roundTrip("after", 10*time.Second); err != nil || got != "after" {
		t.Fatalf("after Heal: %q, %v", got, err)
	}
}

func TestBlackholeHoldsThenDelivers(t *testing.T) {
	echo := startEcho(t)
	p := newProxy(t, echo.Addr())
	c := dial(t, p.Addr())
	if _, err := c.roundTrip("before", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	p.Blackhole()
	if _, err := c.roundTrip("held", 300*time.Millisecond); !isTimeout(err) {
		t.Fatalf("round trip while blackholed: %v, want a timeout", err)
	}
	// A new connection is accepted but never reaches the server.
	c2 := dial(t, p.Addr())
	if _, err := c2.roundTrip("new-held", 300*time.Millisecond); !isTimeout(err) {
		t.Fatalf("round trip on a new connection while blackholed: %v, want a timeout", err)
	}
	if n := echo.accepted.Load(); n != 1 {
		t.Fatalf("server accepted %d connections while blackholed, want 1", n)
	}
	p.Heal()
	// What was held is delivered, in order, on both connections.
	if got, err := c.readLine(10 * time.Second); err != nil || got != "held" {
		t.Fatalf("after Heal: %q, %v", got, err)
	}
	if got, err := c2.readLine(10 * time.Second); err != nil || got != "new-held" {
		t.Fatalf("new connection after Heal: %q, %v", got, err)
	}
	if got, err := c.roundTrip("after", 10*time.Second); err != nil || got != "after" {
		t.Fatalf("after Heal: %q, %v", got, err)
	}
}

func TestDelay(t *testing.T) {
	echo := startEcho(t)
	p := newProxy(t, echo.Addr())
	c := dial(t, p.Addr())
	const d = 100 * time.Millisecond
	p.SetDelay(d)
	// Each direction holds every byte for at least d, so no answer can
	// come back sooner than 2d.
	start := time.Now()
	if got, err := c.roundTrip("slow", 10*time.Second); err != nil || got != "slow" {
		t.Fatalf("delayed round trip: %q, %v", got, err)
	}
	if rtt := time.Since(start); rtt < 2*d {
		t.Fatalf("round trip took %v with %v each way", rtt, d)
	}
	p.SetDelay(0)
	if got, err := c.roundTrip("fast", 10*time.Second); err != nil || got != "fast" {
		t.Fatalf("round trip without delay: %q, %v", got, err)
	}
}

func TestTargetDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := newProxy(t, ln.Addr().String())
	ln.Close() // only now: the proxy must not get the same port
	if err := connectAndTalk(p.Addr()); err == nil || isTimeout(err) {
		t.Fatalf("round trip to a closed port: %v, want reset or EOF", err)
	}
}

func TestClose(t *testing.T) {
	echo := startEcho(t)
	p := newProxy(t, echo.Addr())
	c := dial(t, p.Addr())
	if _, err := c.roundTrip("before", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	p.Blackhole()
	c2 := dial(t, p.Addr()) // waiting for the gate: Close must end it too
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	for _, cl := range []*client{c, c2} {
		if _, err := cl.readLine(10 * time.Second); err == nil || isTimeout(err) {
			t.Fatalf("read after Close: %v, want reset or EOF", err)
		}
	}
	if c, err := net.Dial("tcp", p.Addr()); err == nil {
		c.Close()
		t.Fatal("a closed proxy accepts connections")
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}
