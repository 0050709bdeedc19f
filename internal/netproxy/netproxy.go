// Package netproxy is a TCP proxy on loopback that stands in front of one
// address and breaks the link on demand: a test points one node's peers
// (or one node at its peers) at Addr instead of the target, then cuts,
// partitions or slows that link. It carries any TCP protocol unchanged:
// Raft, Kafka, HTTP to an object store.
//
// The link is in one of three modes:
//
//	flowing    (New, Heal)  bytes are forwarded, each direction after the
//	                        delay set by SetDelay
//	cut        (Cut)        every connection is reset; new ones are
//	                        accepted and reset at once, like a refused
//	                        connection or a dead host that answers RST
//	blackholed (Blackhole)  connections stay open and new ones are
//	                        accepted, but no byte goes through in either
//	                        direction: a network partition, seen by both
//	                        sides only as silence until their own timeouts
//
// Heal after Blackhole delivers what was held back, in order, as TCP does
// when a partition ends before either side gave up; a connection opened
// while blackholed reaches the target then. Heal after Cut lets new
// connections through.
package netproxy

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// chunkSize is the most one read takes from a connection; queueChunks is
// how many chunks one direction holds before it stops reading (and the
// sender's kernel buffers fill).
const (
	chunkSize   = 32 << 10
	queueChunks = 64
)

// Proxy forwards connections from Addr to its target. Its methods are safe
// for concurrent use.
type Proxy struct {
	target string
	ln     net.Listener

	// LOCKING: mu guards everything below; it is never held while
	// reading, writing or dialling.
	mu      sync.Mutex
	mode    mode
	flowing chan struct{} // closed while mode is flowing; replaced on Blackhole
	delay   time.Duration
	links   map[*link]struct{}
	closed  bool
	accepts int

	wg sync.WaitGroup // the accept loop and every link's goroutines
}

type mode int

const (
	modeFlowing mode = iota
	modeCut
	modeBlackholed
)

// New starts a proxy on a free loopback port forwarding to target.
func New(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("netproxy: listen: %w", err)
	}
	p := &Proxy{target: target, ln: ln, flowing: make(chan struct{}), links: map[*link]struct{}{}}
	close(p.flowing)
	p.wg.Add(1)
	go p.acceptLoop()
	return p, nil
}

// Addr is the proxy's address, "127.0.0.1:PORT".
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Target is the address connections are forwarded to.
func (p *Proxy) Target() string { return p.target }

// Accepted is how many connections the proxy has accepted so far.
func (p *Proxy) Accepted() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepts
}

// Cut resets every open connection and resets new ones as they arrive,
// until Heal.
func (p *Proxy) Cut() {
	p.mu.Lock()
	p.setModeLocked(modeCut)
	links := p.linksLocked()
	p.mu.Unlock()
	for _, l := range links {
		l.reset()
	}
}

// Blackhole holds every byte in both directions, on open and new
// connections alike, until Heal.
func (p *Proxy) Blackhole() {
	p.mu.Lock()
	p.setModeLocked(modeBlackholed)
	p.mu.Unlock()
}

// Heal lets bytes flow again.
func (p *Proxy) Heal() {
	p.mu.Lock()
	p.setModeLocked(modeFlowing)
	p.mu.Unlock()
}

func (p *Proxy) setModeLocked(m mode) {
	if m == modeFlowing {
		if p.mode != modeFlowing {
			close(p.flowing)
		}
	} else if p.mode == modeFlowing {
		p.flowing = make(chan struct{})
	}
	p.mode = m
}

// SetDelay adds d of latency to each direction: a chunk read at time T is
// written no earlier than T+d. Zero removes the delay. It applies to bytes
// not yet written, on open connections too.
func (p *Proxy) SetDelay(d time.Duration) {
	p.mu.Lock()
	p.delay = d
	p.mu.Unlock()
}

// Close stops listening, closes every connection and waits for the
// proxy's goroutines to end.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	links := p.linksLocked()
	p.mu.Unlock()
	err := p.ln.Close()
	for _, l := range links {
		l.reset()
	}
	p.wg.Wait()
	return err
}

func (p *Proxy) linksLocked() []*link {
	links := make([]*link, 0, len(p.links))
	for l := range p.links {
		links = append(links, l)
	}
	return links
}

func (p *Proxy) acceptLoop() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond) // e.g. out of descriptors
			continue
		}
		l := &link{client: c.(*net.TCPConn), done: make(chan struct{})}
		p.mu.Lock()
		p.accepts++
		if p.closed || p.mode == modeCut {
			p.mu.Unlock()
			l.reset()
			continue
		}
		p.links[l] = struct{}{}
		p.wg.Add(1)
		p.mu.Unlock()
		go p.serve(l)
	}
}

// gate returns the channel that is closed while bytes may flow, and the
// current delay.
func (p *Proxy) gate() (<-chan struct{}, time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.flowing, p.delay
}

// serve dials the target once the link may flow and then forwards both
// directions until both have ended or the link is reset.
func (p *Proxy) serve(l *link) {
	defer p.wg.Done()
	defer func() {
		p.mu.Lock()
		delete(p.links, l)
		p.mu.Unlock()
		l.reset()
	}()
	if !p.waitFlowing(l) {
		return
	}
	c, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		return // the client sees a reset, like a refused connection
	}
	if !l.setServer(c.(*net.TCPConn)) {
		c.Close()
		return
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.pipe(l, l.client, l.server) }()
	go func() { defer wg.Done(); p.pipe(l, l.server, l.client) }()
	wg.Wait()
	l.close() // both directions ended: a graceful close, unless reset already
}

// waitFlowing waits until the proxy is flowing; false if the link was
// reset meanwhile.
func (p *Proxy) waitFlowing(l *link) bool {
	for {
		flowing, _ := p.gate()
		select {
		case <-flowing:
			return true
		case <-l.done:
			return false
		}
	}
}

// chunk is bytes read from one side and when they were read; nil data
// means the reader saw the end of the stream.
type chunk struct {
	data []byte
	at   time.Time
}

// pipe forwards src to dst: one goroutine reads into a bounded queue,
// this one writes each chunk when the delay after its read has passed and
// the proxy is flowing. A clean end of src half-closes dst; an error
// resets the whole link.
func (p *Proxy) pipe(l *link, src, dst *net.TCPConn) {
	queue := make(chan chunk, queueChunks)
	defer func() {
		// The reader ends at the end of src or when the link is
		// reset; either way it closes the queue.
		for range queue {
		}
	}()
	go func() {
		defer close(queue)
		for {
			buf := make([]byte, chunkSize)
			n, err := src.Read(buf)
			if n > 0 {
				select {
				case queue <- chunk{buf[:n], time.Now()}:
				case <-l.done:
					return
				}
			}
			if err != nil {
				if errors.Is(err, io.EOF) {
					select {
					case queue <- chunk{nil, time.Now()}:
					case <-l.done:
					}
				} else {
					l.reset()
				}
				return
			}
		}
	}()
	for c := range queue {
		for {
			flowing, delay := p.gate()
			select {
			case <-flowing:
			case <-l.done:
				return
			}
			wait := time.Until(c.at.Add(delay))
			if wait <= 0 {
				break
			}
			select {
			case <-time.After(wait):
			case <-l.done:
				return
			}
			// Check the gate and the delay again: either may have
			// changed while waiting.
		}
		if c.data == nil {
			dst.CloseWrite()
			return
		}
		if _, err := dst.Write(c.data); err != nil {
			l.reset()
			return
		}
	}
}

// link is one proxied connection: the client's side and, once dialled,
// the target's.
type link struct {
	client *net.TCPConn

	mu     sync.Mutex
	server *net.TCPConn
	done   chan struct{} // closed by reset
	isDone bool
}

// setServer records the target side; false if the link was reset first.
func (l *link) setServer(c *net.TCPConn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.isDone {
		return false
	}
	l.server = c
	return true
}

// close closes both sides gracefully (FIN, after what was written is
// delivered) unless the link was reset.
func (l *link) close() {
	l.mu.Lock()
	if l.isDone {
		l.mu.Unlock()
		return
	}
	l.isDone = true
	close(l.done)
	server := l.server
	l.mu.Unlock()
	l.client.Close()
	if server != nil {
		server.Close()
	}
}

// reset closes both sides with RST (linger 0) and wakes every goroutine
// of the link. Resetting twice does nothing.
func (l *link) reset() {
	l.mu.Lock()
	if l.isDone {
		l.mu.Unlock()
		return
	}
	l.isDone = true
	close(l.done)
	server := l.server
	l.mu.Unlock()
	for _, c := range []*net.TCPConn{l.client, server} {
		if c != nil {
			c.SetLinger(0)
			c.Close()
		}
	}
}
