package metadata

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// The controller RPC shares the raft port.
//
// Raft's TCP transport opens every connection with a one-byte RPC type
// (0 to 3). A connection whose first byte is rpcMagic ('S') is Shale's
// controller RPC instead; the listener hands every other connection to
// raft with its first byte put back. So a node has one metadata address,
// and the raft leader's address (which every raft member knows) is also
// where writes are forwarded.
//
// After the magic byte a connection carries request/response pairs, one
// at a time:
//
//	request:  length uint32 (big endian, of what follows) | op uint8 | body
//	response: length uint32 | status uint8 | body
//
// Status 0 is success, with the op's result as body. Any other status is
// an error kind (errKind*) and the body is a uvarint-length string: the
// message, or for errKindNotLeader "ID@ADDRESS" of the leader if known
// (empty if not). Frames
// are at most maxRPCFrame bytes; anything malformed closes the connection.
//
// Ops:
//
//	opApply      body: an encoded command (encodeCommand)
//	             result: the raft index it was applied at (uint64)
//	opHeartbeat  body: broker id int32 | incarnation int64
//	             result: session timeout in ms (uint32)
//	opJoin       body: node id int32 | raft address string
//	             result: the leader's applied index (uint64)
//	opAdmin      body: JSON (see admin.go); result: JSON
const rpcMagic = 'S'

const (
	opApply     = 1
	opHeartbeat = 2
	opJoin      = 3
	opAdmin     = 4
)

const (
	errKindNotLeader     = 1
	errKindStale         = 2
	errKindUnknownBroker = 3
	errKindClosed        = 4
	errKindInvalid       = 5
	errKindOther         = 6
)

const maxRPCFrame = 64 << 20

// errNotSent marks a call that failed before its request could reach the
// controller, so it is safe to send again.
var errNotSent = errors.New("request not sent")

// muxLayer is the raft StreamLayer over a listener that also serves the
// controller RPC.
type muxLayer struct {
	ln        net.Listener
	advertise net.Addr
	serve     func(net.Conn)
	conns     chan net.Conn
	closed    chan struct{}
	closeOnce sync.Once
	// tls, when set, is how peers are dialed (the listener is then a TLS
	// listener too).
	tls *tls.Config
}

func newMuxLayer(ln net.Listener, advertise net.Addr, serve func(net.Conn), clientTLS *tls.Config) *muxLayer {
	m := &muxLayer{ln: ln, advertise: advertise, serve: serve, conns: make(chan net.Conn), closed: make(chan struct{}), tls: clientTLS}
	go m.acceptLoop()
	return m
}

func (m *muxLayer) acceptLoop() {
	for {
		c, err := m.ln.Accept()
		if err != nil {
			select {
			case <-m.closed:
				return
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		go m.route(c)
	}
}

// route reads the first byte and hands the connection to raft or to the
// controller RPC.
func (m *muxLayer) route(c net.Conn) {
	var b [1]byte
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(c, b[:]); err != nil {
		c.Close()
		return
	}
	c.SetReadDeadline(time.Time{})
	if b[0] == rpcMagic {
		m.serve(c)
		return
	}
	select {
	case m.conns <- &peekedConn{Conn: c, first: b[0], has: true}:
	case <-m.closed:
		c.Close()
	}
}

// Accept returns the next raft connection.
func (m *muxLayer) Accept() (net.Conn, error) {
	select {
	case c := <-m.conns:
		return c, nil
	case <-m.closed:
		return nil, net.ErrClosed
	}
}

func (m *muxLayer) Close() error {
	m.closeOnce.Do(func() { close(m.closed) })
	return m.ln.Close()
}

func (m *muxLayer) Addr() net.Addr {
	if m.advertise != nil {
		return m.advertise
	}
	return m.ln.Addr()
}

func (m *muxLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	if m.tls != nil {
		return tls.DialWithDialer(&net.Dialer{Timeout: timeout}, "tcp", string(address), m.tls)
	}
	return net.DialTimeout("tcp", string(address), timeout)
}

// peekedConn gives back the byte route read.
type peekedConn struct {
	net.Conn
	first byte
	has   bool
}

func (p *peekedConn) Read(b []byte) (int, error) {
	if p.has && len(b) > 0 {
		b[0] = p.first
		p.has = false
		if len(b) == 1 {
			return 1, nil
		}
		n, err := p.Conn.Read(b[1:])
		return n + 1, err
	}
	return p.Conn.Read(b)
}

// rpcError is an error answer from a controller.
type rpcError struct {
	kind byte
	msg  string
}

func (e *rpcError) Error() string { return e.msg }

func (e *rpcError) Is(target error) bool {
	switch e.kind {
	case errKindNotLeader:
		return target == ErrNotLeader
	case errKindStale:
		return target == ErrStaleIncarnation
	case errKindUnknownBroker:
		return target == ErrUnknownBroker
	case errKindClosed:
		return target == ErrClosed
	case errKindInvalid:
		return target == ErrInvalidRequest
	}
	return false
}

// errKindOf maps an error to the kind sent on the wire.
func errKindOf(err error) byte {
	switch {
	case errors.Is(err, ErrNotLeader):
		return errKindNotLeader
	case errors.Is(err, ErrStaleIncarnation):
		return errKindStale
	case errors.Is(err, ErrUnknownBroker):
		return errKindUnknownBroker
	case errors.Is(err, ErrClosed):
		return errKindClosed
	case errors.Is(err, ErrInvalidRequest):
		return errKindInvalid
	}
	return errKindOther
}

func writeFrame(w *bufio.Writer, kind byte, body []byte) error {
	var hdr [5]byte
	binary.BigEndian.PutUint32(hdr[:4], uint32(len(body)+1))
	hdr[4] = kind
	w.Write(hdr[:])
	w.Write(body)
	return w.Flush()
}

func readFrame(r *bufio.Reader) (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:4])
	if n < 1 || n > maxRPCFrame {
		return 0, nil, fmt.Errorf("controller rpc frame of %d bytes (limit %d)", n, maxRPCFrame)
	}
	body := make([]byte, n-1)
	if _, err := io.ReadFull(r, body); err != nil {
		return 0, nil, err
	}
	return hdr[4], body, nil
}

// serveRPC answers one controller RPC connection until it closes.
func (s *Store) serveRPC(c net.Conn) {
	defer c.Close()
	select {
	case <-s.ready:
	case <-s.stop:
		return
	}
	r, w := bufio.NewReader(c), bufio.NewWriter(c)
	for {
		c.SetReadDeadline(time.Now().Add(5 * time.Minute))
		op, body, err := readFrame(r)
		if err != nil {
			return
		}
		res, err := s.handleRPC(op, body)
		if err != nil {
			msg := err.Error()
			kind := errKindOf(err)
			if kind == errKindNotLeader {
				addr, id := s.raft.LeaderWithID()
				msg = ""
				if addr != "" {
					msg = string(id) + "@" + string(addr)
				}
			}
			b := binary.AppendUvarint(nil, uint64(len(msg)))
			res = append(b, msg...)
			if writeFrame(w, kind, res) != nil {
				return
			}
			continue
		}
		if writeFrame(w, 0, res) != nil {
			return
		}
	}
}

func (s *Store) handleRPC(op byte, body []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ApplyTimeout)
	defer cancel()
	switch op {
	case opApply:
		c, err := decodeCommand(body)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalidRequest, err)
		}
		idx, _, err := s.applyLocal(ctx, c)
		if err != nil && idx == 0 {
			return nil, err
		}
		// A state-machine rejection is delivered by the follower's own
		// apply of the same entry: only the index travels.
		return binary.BigEndian.AppendUint64(nil, idx), nil
	case opHeartbeat:
		if len(body) != 12 {
			return nil, fmt.Errorf("%w: heartbeat of %d bytes, want 12", ErrInvalidRequest, len(body))
		}
		id := int32(binary.BigEndian.Uint32(body))
		inc := int64(binary.BigEndian.Uint64(body[4:]))
		lease, err := s.sessions.heartbeat(s, id, inc)
		if err != nil {
			return nil, err
		}
		return binary.BigEndian.AppendUint32(nil, uint32(lease.Milliseconds())), nil
	case opJoin:
		if len(body) < 5 {
			return nil, fmt.Errorf("%w: join of %d bytes", ErrInvalidRequest, len(body))
		}
		id := int32(binary.BigEndian.Uint32(body))
		addr := string(body[4:])
		if _, _, err := net.SplitHostPort(addr); err != nil || id < 0 {
			return nil, fmt.Errorf("%w: join of node %d at %q", ErrInvalidRequest, id, addr)
		}
		if err := s.addNonvoter(ctx, id, addr); err != nil {
			return nil, err
		}
		return binary.BigEndian.AppendUint64(nil, s.raft.AppliedIndex()), nil
	case opAdmin:
		return s.handleAdmin(ctx, body)
	}
	return nil, fmt.Errorf("%w: controller rpc op %d", ErrInvalidRequest, op)
}

// rpcClient calls controllers, keeping a few idle connections per address.
type rpcClient struct {
	mu    sync.Mutex
	idle  map[string][]*rpcConn
	close chan struct{}
	tls   *tls.Config // set before first use when the cluster speaks TLS
}

type rpcConn struct {
	c net.Conn
	r *bufio.Reader
	w *bufio.Writer
}

const maxIdleRPCConns = 4

func newRPCClient() *rpcClient {
	return &rpcClient{idle: make(map[string][]*rpcConn), close: make(chan struct{})}
}

func (rc *rpcClient) get(ctx context.Context, addr string) (*rpcConn, error) {
	rc.mu.Lock()
	if l := rc.idle[addr]; len(l) > 0 {
		c := l[len(l)-1]
		rc.idle[addr] = l[:len(l)-1]
		rc.mu.Unlock()
		return c, nil
	}
	rc.mu.Unlock()
	var (
		c   net.Conn
		err error
	)
	if rc.tls != nil {
		d := tls.Dialer{Config: rc.tls}
		c, err = d.DialContext(ctx, "tcp", addr)
	} else {
		var d net.Dialer
		c, err = d.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errNotSent, err)
	}
	if _, err := c.Write([]byte{rpcMagic}); err != nil {
		c.Close()
		return nil, fmt.Errorf("%w: %v", errNotSent, err)
	}
	return &rpcConn{c: c, r: bufio.NewReader(c), w: bufio.NewWriter(c)}, nil
}

func (rc *rpcClient) put(addr string, c *rpcConn) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	select {
	case <-rc.close:
		c.c.Close()
		return
	default:
	}
	if len(rc.idle[addr]) >= maxIdleRPCConns {
		c.c.Close()
		return
	}
	rc.idle[addr] = append(rc.idle[addr], c)
}

// call sends one request to addr. A transport failure returns a plain
// error; an error answer returns an *rpcError.
func (rc *rpcClient) call(ctx context.Context, addr string, op byte, body []byte) ([]byte, error) {
	c, err := rc.get(ctx, addr)
	if err != nil {
		return nil, fmt.Errorf("controller %s: %w", addr, err)
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(30 * time.Second)
	}
	c.c.SetDeadline(deadline)
	if err := writeFrame(c.w, op, body); err != nil {
		c.c.Close()
		return nil, fmt.Errorf("controller %s: %w: %v", addr, errNotSent, err)
	}
	status, res, err := readFrame(c.r)
	if err != nil {
		c.c.Close()
		return nil, fmt.Errorf("controller %s: %w", addr, err)
	}
	c.c.SetDeadline(time.Time{})
	rc.put(addr, c)
	if status == 0 {
		return res, nil
	}
	n, k := binary.Uvarint(res)
	if k <= 0 || uint64(len(res)-k) < n {
		return nil, fmt.Errorf("controller %s: malformed error answer", addr)
	}
	return nil, &rpcError{kind: status, msg: string(res[k : k+int(n)])}
}

func (rc *rpcClient) Close() {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	select {
	case <-rc.close:
		return
	default:
		close(rc.close)
	}
	for _, l := range rc.idle {
		for _, c := range l {
			c.c.Close()
		}
	}
	rc.idle = nil
}
