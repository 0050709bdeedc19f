package broker

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shalelog/shale/acl"
	"github.com/shalelog/shale/internal/hugepage"
	"github.com/shalelog/shale/internal/rawalloc"
	"github.com/shalelog/shale/metadata"
	"github.com/shalelog/shale/partition"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Server speaks the Kafka protocol on a listener.
type Server struct {
	cfg   Config
	lease atomic.Pointer[func() bool] // see SetLease
	meta  *metadata.Store
	parts *partition.Manager
	log   *slog.Logger
	obs   Observer // see SetObserver; nil observes nothing

	// authz decides what principals may do (authorize.go); nil when the
	// authorizer is off: everything is allowed.
	authz *acl.Authorizer

	topics *topicCache
	groups *groupCoordinator
	txns   *txnCoordinator
	pids   producerIDs
	now    func() time.Time
	// listeners are bound by Listen; never changed after Start.
	listeners []*listener
	// fakeSaltKey keys the SCRAM salts shown for unknown users.
	fakeSaltKey []byte

	peerTLS  *tls.Config // PeerTLS, for links to other brokers; nil: plaintext
	quotas   *quotaManager
	reqBytes *byteBudget    // QueuedMaxRequestBytes
	ipLimits map[string]int // MaxConnectionsPerIPOverrides by IP

	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	conns   map[*conn]struct{}
	counter connCounter
	// refused counts connections closed at accept by a limit.
	refused atomic.Int64
	closed  bool
	wg      sync.WaitGroup
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
	var err error
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
	s.fakeSaltKey = make([]byte, 32)
	rand.Read(s.fakeSaltKey)
	s.counter.perIP = make(map[string]int)
	if cfg.PeerTLS.Enabled() {
		tc, err := cfg.PeerTLS.clientTLS()
		if err != nil {
			cancel()
			return nil, err
		}
		s.peerTLS = tc
	}
	s.quotas = newQuotaManager(cfg.QuotaWindowNum, cfg.QuotaWindowSize, time.Now)
	s.reqBytes = &byteBudget{limit: cfg.QueuedMaxRequestBytes}
	if s.ipLimits, err = perIPLimits(cfg.MaxConnectionsPerIPOverrides); err != nil {
		cancel()
		return nil, err
	}
	if cfg.Authorizer.Enabled {
		if s.authz, err = acl.New(cfg.Authorizer, meta); err != nil {
			cancel()
			return nil, err
		}
	}
	s.topics = newTopicCache(s)
	s.pids.meta = meta
	gc := defaultGroupConfig()
	gc.OffsetsRetention = cfg.OffsetsRetention
	gc.InitialRebalanceDelay = cfg.GroupInitialRebalanceDelay
	var groups *groupCoordinator
	groups, err = newGroupCoordinator(gc, coordinatedStore{meta, cfg.NodeID}, s.partitionCount, nil, logger.With("component", "groups"))
	if err != nil {
		cancel()
		return nil, err
	}
	s.groups = groups
	s.txns = newTxnCoordinator(s)
	return s, nil
}

// Listen binds every listener (see Config.ListenerConfigs) and fixes
// their advertised addresses. It returns the first listener, the one
// AdvertisedAddr names.
func (s *Server) Listen() (net.Listener, error) {
	for _, lc := range s.cfg.ListenerConfigs() {
		l, err := lc.listen()
		if err != nil {
			for _, l := range s.listeners {
				l.ln.Close()
			}
			s.listeners = nil
			return nil, err
		}
		s.listeners = append(s.listeners, l)
	}
	return s.listeners[0].ln, nil
}

// ListenerAddr is the bound address of the listener named name, or "".
func (s *Server) ListenerAddr(name string) string {
	for _, l := range s.listeners {
		if l.name == name {
			return l.ln.Addr().String()
		}
	}
	return ""
}

// SetLease installs the broker's session lease: while valid() is false
// (its session with the controllers may have lapsed, so its partitions may
// already be led elsewhere) produce answers NOT_LEADER_OR_FOLLOWER.
func (s *Server) SetLease(valid func() bool) { s.lease.Store(&valid) }

// leaseValid reports whether the session lease holds (always without one).
func (s *Server) leaseValid() bool {
	if f := s.lease.Load(); f != nil {
		return (*f)()
	}
	return true
}

// AdvertisedAddr is the host and port of the first listener, the one a
// broker registered before listeners existed was known by.
func (s *Server) AdvertisedAddr() (string, int32) {
	return s.listeners[0].advHost, s.listeners[0].advPort
}

// Registration is this broker as it registers in the metadata: the first
// listener's endpoint as Host and Port and, when listeners are configured,
// every listener's. A broker with the one default listener registers
// without listeners, exactly as before they existed, so that nodes of an
// older version (whose decoders refuse unknown fields) can apply its
// registration during a rolling upgrade; it is then reached at Host:Port
// through every listener name.
func (s *Server) Registration() metadata.Broker {
	host, port := s.AdvertisedAddr()
	b := metadata.Broker{ID: s.cfg.NodeID, Host: host, Port: port}
	if len(s.cfg.Listeners) == 0 {
		return b
	}
	for _, l := range s.listeners {
		b.Listeners = append(b.Listeners, metadata.Endpoint{Name: l.name, Host: l.advHost, Port: l.advPort, Protocol: l.protocol})
	}
	return b
}

// Start registers the broker, loads the topics and serves every listener
// in the background until Close. ln is the listener Listen returned (or a
// wrapper of it, which is then served in its place).
func (s *Server) Start(ln net.Listener) error {
	if len(s.listeners) == 0 {
		return errors.New("start broker: Listen was not called")
	}
	if err := s.register(); err != nil {
		return err
	}
	s.topics.refresh()
	if err := s.parts.RestoreProducers(); err != nil {
		return fmt.Errorf("restore producer state: %w", err)
	}
	s.mu.Lock()
	s.listeners[0].ln = ln
	s.mu.Unlock()
	s.wg.Add(3 + len(s.listeners))
	go func() { defer s.wg.Done(); s.topics.watch(s.ctx) }()
	go func() { defer s.wg.Done(); s.quotas.watch(s.ctx, s.meta) }()
	go func() { defer s.wg.Done(); s.txns.run(s.ctx) }()
	s.groups.start()
	for _, l := range s.listeners {
		go func() { defer s.wg.Done(); s.acceptLoop(l) }()
	}
	return nil
}

// registerTimeout bounds how long Start keeps trying to register while
// the controllers elect a leader or move it.
const registerTimeout = 2 * time.Minute

// register registers this broker with the controllers. A failure whose
// outcome is unknown or that only says there is no leader yet (an election
// at cluster start, a leader change) is retried: a registration is safe to
// repeat, each one a new incarnation.
func (s *Server) register() error {
	ctx, cancel := context.WithTimeout(s.ctx, registerTimeout)
	defer cancel()
	b := s.Registration()
	delay := 50 * time.Millisecond
	for {
		_, err := s.meta.RegisterBroker(ctx, b)
		if err == nil {
			return nil
		}
		if !errors.Is(err, metadata.ErrNotLeader) || ctx.Err() != nil {
			return fmt.Errorf("register broker: %w", err)
		}
		s.log.Info("register broker: retrying", "err", err, "retry_in", delay)
		select {
		case <-ctx.Done():
			return fmt.Errorf("register broker: %w", err)
		case <-time.After(delay):
		}
		delay = min(2*delay, 2*time.Second)
	}
}

func (s *Server) acceptLoop(l *listener) {
	var delay time.Duration
	for {
		nc, err := l.ln.Accept()
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
		if !s.serveConn(nc, l) {
			return
		}
	}
}

// serveConn serves nc in the background until the client or the server
// closes it. It reports false, closing nc, when the server is closed.
func (s *Server) serveConn(nc net.Conn, l *listener) bool {
	ctx, cancel := context.WithCancel(s.ctx)
	c := &conn{s: s, nc: nc, ctx: ctx, cancel: cancel, out: make(chan *response, s.cfg.MaxInFlight),
		listener: l, principal: anonymousPrincipal, ip: ipOf(nc), queued: &byteBudget{limit: s.cfg.ConnectionMaxQueuedBytes}}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		cancel()
		nc.Close()
		return false
	}
	if err := s.admit(c.ip); err != nil {
		s.mu.Unlock()
		cancel()
		nc.Close()
		if s.refused.Add(1)%1000 == 1 {
			// One line per thousand: a flood must not flood the log.
			s.log.Warn("refused connection", "remote", nc.RemoteAddr().String(), "reason", err, "refused_so_far", s.refused.Load())
		}
		return true
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	if s.obs != nil {
		s.obs.ConnOpened()
	}
	go func() {
		defer s.wg.Done()
		c.serve()
		s.mu.Lock()
		delete(s.conns, c)
		s.releaseConn(c.ip)
		s.mu.Unlock()
		if s.obs != nil {
			s.obs.ConnClosed()
		}
	}()
	return true
}

// Close stops accepting, closes the group coordinator (answering the group
// requests that wait on a rebalance), closes every connection and waits for
// their goroutines. Groups close first so that no connection's writer
// waits for a rebalance step that would only end with its timeout.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	for _, l := range s.listeners {
		l.ln.Close()
	}
	s.mu.Unlock()
	s.groups.close()
	s.mu.Lock()
	s.cancel()
	for c := range s.conns {
		c.nc.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	s.txns.close()
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
	// finished guards done against a second close (a handler that panics
	// after answering).
	finished atomic.Bool
	// frame is the whole frame, size prefix included, as pieces written
	// back to back (a fetch response's record batches are pieces of their
	// own, not copied); nil sends nothing.
	frame net.Buffers
	// release, when set, gives the request's bytes back to the request
	// memory budgets once the response is ready.
	release func()
}

// finish publishes frame as the slot's frame. Only the first call counts.
func (r *response) finish(frame net.Buffers) {
	if r.finished.CompareAndSwap(false, true) {
		r.frame = frame
		if r.release != nil {
			r.release()
		}
		close(r.done)
	}
}

// conn serves one client connection. Requests are read and started in
// order; their responses are written in the same order by writeLoop, so a
// slow request (a produce waiting for fsync, a long-polling fetch) holds back
// only the responses after it on the same connection, as Kafka requires.
//
// At most cfg.MaxInFlight requests wait for their turn to be written; past
// that the reader stops, so a client that stops reading its responses stalls
// only its own connection. ctx ends when the client stops sending (or
// reading) and when the server closes; long polls and produce waits give up
// then.
type conn struct {
	s      *Server
	nc     net.Conn
	ctx    context.Context
	cancel context.CancelFunc
	out    chan *response

	// listener is the listener the client connected through: its name
	// picks the endpoints clients are told, its protocol whether SASL
	// is required.
	listener *listener
	// principal is the authenticated identity in Kafka's form,
	// "User:<name>", or "User:ANONYMOUS" (anonymousPrincipal) before (or
	// without) authentication. Written only by the read loop. Quotas by
	// user use its name.
	principal string
	// sasl is the connection's SASL state (sasl.go), read and written
	// only by the read loop.
	sasl saslSession
	// closeErr, set by a handler on the read loop, closes the
	// connection once the responses queued so far are written.
	closeErr error
	ip       string      // the remote IP, "" for in-memory pipes
	queued   *byteBudget // ConnectionMaxQueuedBytes
	// mutedUntil (unix ns) is when a quota throttle ends: the reader does
	// not read before it.
	mutedUntil atomic.Int64
	// pending counts requests read whose response is not yet written.
	pending atomic.Int32
	// peerChecked is set once the TLS client certificate, if any, has
	// been turned into the principal (principal.go).
	peerChecked bool
}

// anonymousPrincipal is the principal of an unauthenticated client.
const anonymousPrincipal = "User:ANONYMOUS"

// mute stops reading from the connection for d (a quota throttle).
func (c *conn) mute(d time.Duration) {
	if d <= 0 {
		return
	}
	until := time.Now().Add(d).UnixNano()
	for {
		old := c.mutedUntil.Load()
		if old >= until || c.mutedUntil.CompareAndSwap(old, until) {
			return
		}
	}
}

// waitMuted waits out a quota throttle.
func (c *conn) waitMuted() error {
	d := time.Until(time.Unix(0, c.mutedUntil.Load()))
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-c.ctx.Done():
		return c.ctx.Err()
	}
}

func (c *conn) serve() {
	defer c.nc.Close()
	defer c.cancel()
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		c.writeLoop()
	}()
	err := c.readLoop()
	c.cancel()
	close(c.out)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
		c.s.log.Info("closing connection", "remote", c.nc.RemoteAddr().String(), "reason", err)
	}
	<-writerDone
}

func (c *conn) readLoop() error {
	r := bufio.NewReaderSize(c.nc, 64<<10)
	var sizeBuf [4]byte
	timeout := c.s.cfg.RequestReadTimeout
	for {
		if err := c.waitMuted(); err != nil {
			return err
		}
		if err := c.awaitRequest(r); err != nil {
			return err
		}
		c.nc.SetReadDeadline(deadline(timeout))
		if _, err := io.ReadFull(r, sizeBuf[:]); err != nil {
			return readErr(err, "request size", timeout)
		}
		size := int32(binary.BigEndian.Uint32(sizeBuf[:]))
		least, most := c.frameBounds()
		if size < least || size > most {
			// Kafka closes the connection on a frame it will not read.
			return fmt.Errorf("request frame of %d bytes is outside [%d, %d]", size, least, most)
		}
		release, err := c.takeRequestBytes(int64(size) + 4 + requestOverheadBytes)
		if err != nil {
			return err
		}
		c.nc.SetReadDeadline(deadline(timeout))
		frame, err := readFrame(r, int(size))
		if err != nil {
			release()
			return readErr(err, fmt.Sprintf("request frame of %d bytes", size), timeout)
		}
		if err := c.handleFrame(frame, release); err != nil {
			return err
		}
	}
}

// awaitRequest waits for the first byte of the next request. A connection
// with nothing in progress that sends nothing for ConnectionsMaxIdle is
// closed; one waiting on its own requests (a long poll) is not.
func (c *conn) awaitRequest(r *bufio.Reader) error {
	idle := c.s.cfg.ConnectionsMaxIdle
	for {
		c.nc.SetReadDeadline(deadline(idle))
		_, err := r.Peek(1)
		if err == nil {
			return nil
		}
		if !isTimeout(err) {
			return err
		}
		if c.pending.Load() == 0 {
			return errIdle
		}
	}
}

// readErr names a read that failed; a deadline passing mid-request is
// the request read timeout.
func readErr(err error, what string, timeout time.Duration) error {
	if isTimeout(err) {
		return fmt.Errorf("read %s: not complete %v after it began (request_read_timeout)", what, timeout)
	}
	return fmt.Errorf("read %s: %w", what, err)
}

// requestOverheadBytes is what each request in progress is counted for in
// the request memory budgets besides its frame: its goroutine, response
// slot and decoded form. A connection may have many requests in progress
// (an acks=all producer pipelines a segment age's worth), so the budgets,
// not max_in_flight alone, bound how many the broker holds in all.
const requestOverheadBytes = 8 << 10

// takeRequestBytes takes n bytes from the connection's and the broker's
// request memory budgets, waiting (not reading) while either is short,
// and returns the func that gives them back.
func (c *conn) takeRequestBytes(n int64) (func(), error) {
	if err := c.queued.acquire(c.ctx, n); err != nil {
		return nil, err
	}
	if err := c.s.reqBytes.acquire(c.ctx, n); err != nil {
		c.queued.release(n)
		return nil, err
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			c.s.reqBytes.release(n)
			c.queued.release(n)
		})
	}, nil
}

// readFrame reads exactly size bytes into one buffer of that size. The
// caller has already taken size from the connection's and the broker's
// request memory budgets (takeRequestBytes), so a client announcing large
// frames and sending little holds at most what the budgets allow, until
// request_read_timeout; allocating the whole frame at once saves the
// copies of growing it (a 16 MiB produce was copied about once more).
func readFrame(r io.Reader, size int) ([]byte, error) {
	// Not cleared (internal/rawalloc): ReadFull fills it whole, and a
	// frame that was not filled is dropped here.
	frame := rawalloc.Bytes(size)
	hugepage.Advise(frame)
	if _, err := io.ReadFull(r, frame); err != nil {
		return nil, err
	}
	return frame, nil
}

// Limits of one write of writeLoop: it writes what it has gathered once no
// finished response is waiting, or earlier when this much is gathered.
const (
	writeBatchBytes  = 1 << 20
	writeBatchPieces = 1024 // the kernel's iovec limit per writev
)

// writeLoop writes the responses in order. The pieces of the responses
// that are ready go out together with one writev (net.Buffers), so
// pipelined small responses share a syscall and large record batches are
// never copied into a write buffer; nothing gathered waits while the loop
// waits for a later response. A TLS connection has no writev: each
// piece would be its own TLS record and syscall, so there the pieces are
// copied into one buffer first (encryption copies them anyway).
func (c *conn) writeLoop() {
	var (
		pending net.Buffers // pieces gathered for the next write
		size    int         // bytes in pending
		failed  bool
		joined  []byte // the TLS copy, reused
	)
	_, isTLS := c.nc.(*tls.Conn)
	write := func() {
		if len(pending) == 0 {
			return
		}
		var err error
		if isTLS && len(pending) > 1 {
			joined = joined[:0]
			for _, p := range pending {
				joined = append(joined, p...)
			}
			_, err = c.nc.Write(joined)
			if cap(joined) > 4*writeBatchBytes {
				joined = nil // a huge response: do not keep its buffer
			}
		} else {
			// WriteTo consumes its receiver: write through a copy of
			// the slice header, then drop the references for the
			// collector.
			out := pending
			_, err = out.WriteTo(c.nc)
		}
		if err != nil && !failed {
			failed = true
			c.cancel()
			c.nc.Close()
		}
		clear(pending)
		pending, size = pending[:0], 0
	}
	for {
		// Whatever is gathered goes out before this loop waits: for the
		// next request to arrive, or for the next response to be ready.
		// A response queued behind it is not a reason to hold it back:
		// a pipelined acks=all producer always has the next request
		// waiting, for up to a segment age.
		var resp *response
		select {
		case resp = <-c.out:
		default:
			if !failed {
				write()
			}
			resp = <-c.out
		}
		if resp == nil {
			break // closed
		}
		select {
		case <-resp.done:
		default:
			if !failed {
				write()
			}
			<-resp.done
		}
		c.pending.Add(-1)
		if failed || resp.frame == nil {
			continue
		}
		for _, piece := range resp.frame {
			if len(pending) == writeBatchPieces {
				if write(); failed {
					break
				}
			}
			pending = append(pending, piece)
			size += len(piece)
		}
		if !failed && size >= writeBatchBytes {
			write()
		}
	}
	if !failed {
		write()
	}
}

// errApiVersionsUnsupported marks an ApiVersions request of a version this
// broker does not serve: it is answered in v0 form (UNSUPPORTED_VERSION and
// the supported ranges) instead of being decoded, so that the client can
// retry with a version both speak.
var errApiVersionsUnsupported = errors.New("ApiVersions version is not served by this broker")

// decodeRequest parses one request frame (without its size prefix) into its
// header and kmsg request, exactly as the server does for every frame. Any
// error other than errApiVersionsUnsupported means the connection must
// close: a header or body that cannot be parsed, an unknown API key, or a
// version outside the advertised range (Kafka closes the connection in all
// of these; a client only sends what ApiVersions advertised).
func decodeRequest(frame []byte) (requestHeader, kmsg.Request, error) {
	hdr, body, err := parseRequestHeader(frame)
	if err != nil {
		return hdr, nil, err
	}
	h, ok := handlers[hdr.key]
	switch {
	case !ok:
		return hdr, nil, fmt.Errorf("unknown API key %d", hdr.key)
	case hdr.version < h.min || hdr.version > h.max:
		if hdr.key == apiVersionsKey {
			return hdr, nil, errApiVersionsUnsupported
		}
		return hdr, nil, fmt.Errorf("unsupported version: %s v%d (v%d-v%d are served)", kmsg.NameForKey(hdr.key), hdr.version, h.min, h.max)
	}
	req := kmsg.RequestForKey(hdr.key)
	if req == nil {
		return hdr, nil, fmt.Errorf("API key %d has no request type", hdr.key)
	}
	req.SetVersion(hdr.version)
	if req.IsFlexible() {
		if body, err = skipTags(body); err != nil {
			return hdr, nil, fmt.Errorf("%s v%d header: %w", kmsg.NameForKey(hdr.key), hdr.version, err)
		}
	}
	if err := req.ReadFrom(body); err != nil {
		return hdr, nil, fmt.Errorf("decode %s v%d: %w", kmsg.NameForKey(hdr.key), hdr.version, err)
	}
	return hdr, req, nil
}

// apiVersionsKey is ApiVersions' API key.
const apiVersionsKey = 18

// handleFrame parses one request and starts it. A frame that cannot be
// served closes the connection (after the responses before it are written),
// as Kafka does; everything else is answered.
func (c *conn) handleFrame(frame []byte, release func()) (err error) {
	if !c.peerChecked {
		// The first frame came through the TLS handshake: the client
		// certificate is known. SASL, where the listener has it, sets
		// the principal it authenticates later.
		c.peerChecked = true
		if tc, ok := c.nc.(*tls.Conn); ok && c.principal == anonymousPrincipal && c.listener != nil {
			p, err := tlsPrincipal(tc.ConnectionState(), c.listener.principalRules)
			if err != nil {
				release()
				return fmt.Errorf("authenticate client certificate: %w", err)
			}
			c.principal = p
		}
	}
	if c.sasl.raw {
		release()
		return c.saslRawToken(frame)
	}
	if err := c.saslGate(frame); err != nil {
		release()
		return err
	}
	hdr, req, err := decodeRequest(frame)
	if errors.Is(err, errApiVersionsUnsupported) {
		release()
		c.reply(hdr, apiVersionsUnsupported())
		return nil
	}
	if err != nil {
		release()
		return err
	}
	h := handlers[hdr.key]
	rc := &reqCtx{conn: c, hdr: hdr, req: req, start: time.Now()}
	if h.noResponse == nil || !h.noResponse(req) {
		rc.slot = &response{done: make(chan struct{}), release: release}
		c.pending.Add(1)
		c.out <- rc.slot
	} else {
		defer release()
	}
	if hdr.key == produceKey {
		rc.throttleFor(c.s.quotas.record(quotaProduce, quotaUser(c.principal), hdr.clientID, float64(len(frame)+4)))
	}
	rc.inHandler.Store(true)
	defer rc.recordRequestTime()
	defer rc.inHandler.Store(false)
	// A handler bug must not take the broker down: the request gets no
	// answer and its connection closes, which clients handle as a
	// network error.
	defer func() {
		if p := recover(); p != nil {
			c.s.log.Error("request handler panicked", "api", kmsg.NameForKey(hdr.key), "version", hdr.version,
				"panic", p, "stack", string(debug.Stack()))
			if rc.slot != nil {
				rc.slot.finish(nil)
			}
			err = fmt.Errorf("%s v%d handler failed: %v", kmsg.NameForKey(hdr.key), hdr.version, p)
		}
	}()
	h.fn(c.s, rc, req)
	if rc.slot == nil {
		rc.observe(nil, nil) // acks=0: handled, never answered
	}
	return c.closeErr
}

// reqCtx is one request in progress.
type reqCtx struct {
	conn *conn
	hdr  requestHeader
	req  kmsg.Request
	slot *response // nil when the request gets no response (acks=0)
	// start is when the request was read, for the latency Observer sees.
	start time.Time
	// throttle (ns) is the quota throttle the response carries.
	throttle atomic.Int64
	// inHandler is set while the handler runs on the reader; timed once
	// the request's time is counted (recordRequestTime).
	inHandler, timed atomic.Bool
}

// ctx ends when the request's connection or the server closes.
func (rc *reqCtx) ctx() context.Context { return rc.conn.ctx }

// respond finishes the request with resp. It may be called from any
// goroutine, at most once; a request without a response slot (acks=0)
// ignores it.
func (rc *reqCtx) respond(resp kmsg.Response) {
	if rc.slot == nil {
		return
	}
	resp.SetVersion(rc.hdr.version)
	if rc.inHandler.Load() {
		// Answered by the handler itself: its time so far is the
		// request's, and the throttle it earns goes in this response.
		rc.recordRequestTime()
	}
	rc.setThrottle(resp)
	rc.observe(resp, nil)
	if fr, ok := resp.(*kmsg.FetchResponse); ok {
		rc.slot.finish(encodeFetchResponse(rc.hdr, fr))
		return
	}
	rc.slot.finish(net.Buffers{encodeResponse(rc.hdr, rc.req.IsFlexible(), resp)})
}

// reply answers a request with a hand-built body (ApiVersions of a version
// this broker does not serve).
func (c *conn) reply(hdr requestHeader, body []byte) {
	buf := make([]byte, 8, 8+len(body))
	binary.BigEndian.PutUint32(buf[4:], uint32(hdr.correlationID))
	buf = append(buf, body...)
	binary.BigEndian.PutUint32(buf, uint32(len(buf)-4))
	slot := &response{done: make(chan struct{})}
	slot.finish(net.Buffers{buf})
	c.pending.Add(1)
	c.out <- slot
}

func encodeResponse(hdr requestHeader, flexible bool, resp kmsg.Response) []byte {
	buf := make([]byte, 8, 256)
	binary.BigEndian.PutUint32(buf[4:], uint32(hdr.correlationID))
	// ApiVersions responses always use header v0 so that a client can
	// read them before it knows which versions the broker speaks.
	if flexible && hdr.key != apiVersionsKey {
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
