package broker

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/shalelog/shale/metadata"
	"github.com/shalelog/shale/partition"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Server speaks the Kafka protocol on a listener.
type Server struct {
	cfg   Config
	meta  *metadata.Store
	parts *partition.Manager
	log   *slog.Logger

	topics  *topicCache
	pids    producerIDs
	now     func() time.Time
	advHost string
	advPort int32

	ctx    context.Context
	cancel context.CancelFunc

	mu     sync.Mutex
	ln     net.Listener
	conns  map[*conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// New returns a server over the metadata store and the partition manager.
func New(cfg Config, meta *metadata.Store, parts *partition.Manager, logger *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg:    cfg,
		meta:   meta,
		parts:  parts,
		log:    logger,
		now:    time.Now,
		ctx:    ctx,
		cancel: cancel,
		conns:  make(map[*conn]struct{}),
	}
	s.topics = newTopicCache(s)
	s.pids.meta = meta
	return s, nil
}

// Listen binds the configured address and fixes the advertised address.
func (s *Server) Listen() (net.Listener, error) {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", s.cfg.Listen, err)
	}
	adv := s.cfg.Advertised
	if adv == "" {
		adv = ln.Addr().String()
	}
	host, port, err := splitHostPort(adv)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("advertised address %q: %w", adv, err)
	}
	s.advHost, s.advPort = host, port
	return ln, nil
}

// AdvertisedAddr is the host and port this broker tells clients about.
func (s *Server) AdvertisedAddr() (string, int32) { return s.advHost, s.advPort }

// Start registers the broker, loads the topics and serves ln in the
// background until Close.
func (s *Server) Start(ln net.Listener) error {
	if err := s.meta.RegisterBroker(s.ctx, metadata.Broker{ID: s.cfg.NodeID, Host: s.advHost, Port: s.advPort}); err != nil {
		return fmt.Errorf("register broker: %w", err)
	}
	s.topics.refresh()
	if err := s.parts.RestoreProducers(); err != nil {
		return fmt.Errorf("restore producer state: %w", err)
	}
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
	s.wg.Add(2)
	go func() { defer s.wg.Done(); s.topics.watch(s.ctx) }()
	go func() { defer s.wg.Done(); s.acceptLoop(ln) }()
	return nil
}

func (s *Server) acceptLoop(ln net.Listener) {
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			// Temporary failures (out of file descriptors) back off.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			s.log.Warn("accept failed", "err", err, "retry_in", delay)
			time.Sleep(delay)
			continue
		}
		delay = 0
		c := &conn{s: s, nc: nc, out: make(chan *response, s.cfg.MaxInFlight)}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			nc.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			c.serve()
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		}()
	}
}

// Close stops accepting, closes every connection and waits for their
// goroutines.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.cancel()
	if s.ln != nil {
		s.ln.Close()
	}
	for c := range s.conns {
		c.nc.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

// requestHeader is the Kafka request header (v1, or v2 when flexible).
type requestHeader struct {
	key, version  int16
	correlationID int32
	clientID      string
}

// response is one in-order slot of a connection's reply stream.
type response struct {
	done chan struct{}
	buf  []byte // the whole frame, size prefix included; nil sends nothing
}

// conn serves one client connection. Requests are read and started in
// order; their responses are written in the same order by writeLoop, so a
// slow request (a produce waiting for fsync, a long-polling fetch) holds back
// only the responses after it on the same connection, as Kafka requires.
type conn struct {
	s   *Server
	nc  net.Conn
	out chan *response
}

func (c *conn) serve() {
	defer c.nc.Close()
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		c.writeLoop()
	}()
	err := c.readLoop()
	close(c.out)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
		c.s.log.Info("closing connection", "remote", c.nc.RemoteAddr().String(), "reason", err)
	}
	<-writerDone
}

func (c *conn) readLoop() error {
	r := bufio.NewReaderSize(c.nc, 64<<10)
	var sizeBuf [4]byte
	for {
		if _, err := io.ReadFull(r, sizeBuf[:]); err != nil {
			return err
		}
		size := int32(binary.BigEndian.Uint32(sizeBuf[:]))
		if size < 8 || size > c.s.cfg.MaxRequestBytes {
			// Kafka closes the connection on a frame it will not read.
			return fmt.Errorf("request frame of %d bytes is outside [8, %d]", size, c.s.cfg.MaxRequestBytes)
		}
		frame := make([]byte, size)
		if _, err := io.ReadFull(r, frame); err != nil {
			return fmt.Errorf("read request frame: %w", err)
		}
		if err := c.handleFrame(frame); err != nil {
			return err
		}
	}
}

func (c *conn) writeLoop() {
	w := bufio.NewWriterSize(c.nc, 64<<10)
	failed := false
	for resp := range c.out {
		<-resp.done
		if failed || resp.buf == nil {
			continue
		}
		if _, err := w.Write(resp.buf); err != nil {
			failed = true
			c.nc.Close()
			continue
		}
		if len(c.out) == 0 {
			if err := w.Flush(); err != nil {
				failed = true
				c.nc.Close()
			}
		}
	}
}

// handleFrame parses one request and starts it. A frame that cannot be
// parsed closes the connection, as Kafka does; everything else is answered.
func (c *conn) handleFrame(frame []byte) error {
	hdr, body, err := parseRequestHeader(frame)
	if err != nil {
		return err
	}
	h, ok := handlers[hdr.key]
	if !ok || hdr.version < h.min || hdr.version > h.max {
		c.reply(hdr, nil, unsupportedVersion(hdr))
		return nil
	}
	req := kmsg.RequestForKey(hdr.key)
	req.SetVersion(hdr.version)
	if req.IsFlexible() {
		if body, err = skipTags(body); err != nil {
			return fmt.Errorf("%s v%d header: %w", kmsg.NameForKey(hdr.key), hdr.version, err)
		}
	}
	if err := req.ReadFrom(body); err != nil {
		return fmt.Errorf("decode %s v%d: %w", kmsg.NameForKey(hdr.key), hdr.version, err)
	}
	rc := &reqCtx{conn: c, hdr: hdr}
	if h.noResponse != nil && h.noResponse(req) {
		// acks=0 produce: Kafka sends no response at all.
		h.fn(c.s, rc, req)
		return nil
	}
	slot := &response{done: make(chan struct{})}
	c.out <- slot
	rc.slot = slot
	rc.req = req
	h.fn(c.s, rc, req)
	return nil
}

// reqCtx is one request in progress.
type reqCtx struct {
	conn *conn
	hdr  requestHeader
	req  kmsg.Request
	slot *response
}

// respond finishes the request with resp. It may be called from any
// goroutine, exactly once.
func (rc *reqCtx) respond(resp kmsg.Response) {
	if rc.slot == nil {
		return
	}
	resp.SetVersion(rc.hdr.version)
	rc.slot.buf = encodeResponse(rc.hdr, rc.req.IsFlexible(), resp)
	close(rc.slot.done)
}

// reply answers a request without a kmsg response value (unsupported
// versions): the body bytes are given.
func (c *conn) reply(hdr requestHeader, _ kmsg.Request, body []byte) {
	slot := &response{done: make(chan struct{})}
	buf := make([]byte, 8, 8+len(body))
	binary.BigEndian.PutUint32(buf[4:], uint32(hdr.correlationID))
	buf = append(buf, body...)
	binary.BigEndian.PutUint32(buf, uint32(len(buf)-4))
	slot.buf = buf
	close(slot.done)
	c.out <- slot
}

func encodeResponse(hdr requestHeader, flexible bool, resp kmsg.Response) []byte {
	buf := make([]byte, 8, 256)
	binary.BigEndian.PutUint32(buf[4:], uint32(hdr.correlationID))
	// ApiVersions responses always use header v0 so that a client can
	// read them before it knows which versions the broker speaks.
	if flexible && hdr.key != 18 {
		buf = append(buf, 0)
	}
	buf = resp.AppendTo(buf)
	binary.BigEndian.PutUint32(buf, uint32(len(buf)-4))
	return buf
}

var errShortHeader = errors.New("request header truncated")

func parseRequestHeader(frame []byte) (requestHeader, []byte, error) {
	var h requestHeader
	if len(frame) < 10 {
		return h, nil, errShortHeader
	}
	h.key = int16(binary.BigEndian.Uint16(frame[0:]))
	h.version = int16(binary.BigEndian.Uint16(frame[2:]))
	h.correlationID = int32(binary.BigEndian.Uint32(frame[4:]))
	n := int16(binary.BigEndian.Uint16(frame[8:]))
	rest := frame[10:]
	if n > 0 {
		if int(n) > len(rest) {
			return h, nil, fmt.Errorf("client id of %d bytes: %w", n, errShortHeader)
		}
		h.clientID = string(rest[:n])
		rest = rest[n:]
	} else if n < -1 {
		return h, nil, fmt.Errorf("client id length %d is invalid", n)
	}
	return h, rest, nil
}

// skipTags skips the tagged fields of a flexible request header.
func skipTags(b []byte) ([]byte, error) {
	n, used := binary.Uvarint(b)
	if used <= 0 {
		return nil, errors.New("bad tagged field count")
	}
	b = b[used:]
	for i := uint64(0); i < n; i++ {
		if _, used = binary.Uvarint(b); used <= 0 {
			return nil, errors.New("bad tag")
		}
		b = b[used:]
		size, used := binary.Uvarint(b)
		if used <= 0 || size > uint64(len(b)-used) {
			return nil, errors.New("bad tagged field size")
		}
		b = b[used+int(size):]
	}
	return b, nil
}
