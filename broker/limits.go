package broker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// Connection limits and request memory, so that one client (or one
// address flooding connections) cannot exhaust the broker:
//
//   - MaxConnections and MaxConnectionsPerIP (with overrides by address or
//     host name) are checked at accept; a connection past either is closed
//     at once, as Kafka closes it, and the clients already connected go on.
//   - QueuedMaxRequestBytes (broker-wide) and ConnectionMaxQueuedBytes (per
//     connection) bound the request bytes held between the read of a frame
//     and its response being ready. The size of the next frame is taken
//     from the budget before its bytes are read; while the budget is short
//     the connection is simply not read (TCP pushes back on the client).
//   - ConnectionsMaxIdle closes a connection that has no request in
//     progress and sent nothing for that long (half-open connections
//     included); RequestReadTimeout closes one whose request's bytes take
//     longer than that to arrive (a slowloris client).

// connCounter counts open connections, broker-wide and per IP.
//
// LOCKING: its fields are guarded by Server.mu.
type connCounter struct {
	total int
	perIP map[string]int
}

// ipOf is the IP of a connection's remote address ("" when it has none,
// as with in-memory pipes).
func ipOf(nc net.Conn) string {
	a, ok := nc.RemoteAddr().(*net.TCPAddr)
	if !ok {
		return ""
	}
	return a.IP.String()
}

// perIPLimits resolves MaxConnectionsPerIPOverrides' host names to IPs
// once, at start (Kafka resolves them when the setting is read too).
func perIPLimits(overrides map[string]int) (map[string]int, error) {
	out := make(map[string]int, len(overrides))
	for host, n := range overrides {
		if ip := net.ParseIP(host); ip != nil {
			out[ip.String()] = n
			continue
		}
		ips, err := net.LookupIP(host)
		if err != nil {
			return nil, fmt.Errorf("broker max_connections_per_ip_overrides: resolve %q: %w", host, err)
		}
		for _, ip := range ips {
			out[ip.String()] = n
		}
	}
	return out, nil
}

// admit counts a new connection from ip, or reports why it is refused.
// Callers hold Server.mu.
func (s *Server) admit(ip string) error {
	if s.cfg.MaxConnections > 0 && s.counter.total >= s.cfg.MaxConnections {
		return fmt.Errorf("%d connections open, max_connections is %d", s.counter.total, s.cfg.MaxConnections)
	}
	if ip != "" {
		limit, ok := s.ipLimits[ip]
		if !ok {
			limit = s.cfg.MaxConnectionsPerIP
		}
		if (ok || limit > 0) && s.counter.perIP[ip] >= limit {
			return fmt.Errorf("%d connections open from %s, the limit is %d", s.counter.perIP[ip], ip, limit)
		}
		s.counter.perIP[ip]++
	}
	s.counter.total++
	return nil
}

// release uncounts a connection admitted from ip. Callers hold Server.mu.
func (s *Server) releaseConn(ip string) {
	s.counter.total--
	if ip != "" {
		if s.counter.perIP[ip]--; s.counter.perIP[ip] <= 0 {
			delete(s.counter.perIP, ip)
		}
	}
}

// byteBudget is a count of bytes that callers take from and give back,
// waiting while too few are left. A request larger than the whole budget
// is let through when nothing else holds any, so it cannot wait forever.
// A zero limit means no limit. Safe for concurrent use.
type byteBudget struct {
	limit int64

	mu      sync.Mutex
	used    int64
	waiters []chan struct{}
}

// acquire takes n bytes, waiting until they are available or ctx ends.
func (b *byteBudget) acquire(ctx context.Context, n int64) error {
	if b == nil || b.limit <= 0 {
		return nil
	}
	for {
		b.mu.Lock()
		if b.used == 0 || b.used+n <= b.limit {
			b.used += n
			b.mu.Unlock()
			return nil
		}
		ch := make(chan struct{})
		b.waiters = append(b.waiters, ch)
		b.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// release gives back n bytes taken by acquire.
func (b *byteBudget) release(n int64) {
	if b == nil || b.limit <= 0 {
		return
	}
	b.mu.Lock()
	b.used -= n
	waiters := b.waiters
	b.waiters = nil
	b.mu.Unlock()
	for _, ch := range waiters {
		close(ch)
	}
}

// inUse reports the bytes taken.
func (b *byteBudget) inUse() int64 {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// errIdle closes a connection idle for ConnectionsMaxIdle.
var errIdle = errors.New("connection idle for longer than connections_max_idle")

// isTimeout reports whether err is a read deadline passing.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// deadline is now+d, or no deadline when d is 0.
func deadline(d time.Duration) time.Time {
	if d <= 0 {
		return time.Time{}
	}
	return time.Now().Add(d)
}
