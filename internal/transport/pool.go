package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// Pool keeps connections open between the steps of a run, so consecutive
// steps on a node share one connection (a new session costs ~2.5 ms, a new
// SSH connection ~31 ms). Each connection is lent to one caller at a time;
// idle connections are closed after the idle timeout. A Pool is safe for
// concurrent use.
type Pool struct {
	dialer Dialer
	idle   time.Duration

	mu     sync.Mutex
	free   map[poolKey][]idleConn
	closed bool

	stop    chan struct{}
	stopped sync.WaitGroup
}

// DefaultIdle is how long a pooled connection may sit unused when NewPool
// is given 0.
const DefaultIdle = 60 * time.Second

// poolKey identifies connections that are interchangeable.
type poolKey struct {
	kind, address string
	port          int
	user          string
	hostKey       string
	credential    string
}

// idleConn is a connection waiting in the pool.
type idleConn struct {
	conn  Conn
	since time.Time
}

// errPoolClosed is returned by Get after Close.
var errPoolClosed = errors.New("connection pool is closed")

// NewPool returns a Pool dialling through d that closes connections idle
// for longer than idle (0 means DefaultIdle).
func NewPool(d Dialer, idle time.Duration) *Pool {
	if idle <= 0 {
		idle = DefaultIdle
	}
	p := &Pool{dialer: d, idle: idle, free: map[poolKey][]idleConn{}, stop: make(chan struct{})}
	p.stopped.Go(p.reap)
	return p
}

// keyOf is the pool key of t.
func keyOf(t Target) poolKey {
	port := t.Port
	if port == 0 {
		port = 22
	}
	return poolKey{kind: t.Kind, address: t.Address, port: port, user: t.User, hostKey: t.HostKey, credential: t.Credential}
}

// Get lends a connection to t: an idle one if the pool has a live one,
// else a new one. Closing the returned Conn gives it back to the pool (or
// drops it if it broke).
func (p *Pool) Get(ctx context.Context, t Target) (Conn, error) {
	key := keyOf(t)
	for {
		c, ok, err := p.take(key)
		if err != nil {
			return nil, fmt.Errorf("get connection to %s: %w", t.NodeID, err)
		}
		if !ok {
			break
		}
		if isBroken(c) {
			_ = c.Close()
			continue
		}
		return &pooledConn{pool: p, key: key, target: t, conn: c, reused: true}, nil
	}
	c, err := p.dialer.Dial(ctx, t)
	if err != nil {
		return nil, err
	}
	return &pooledConn{pool: p, key: key, target: t, conn: c}, nil
}

// take pops the most recently used idle connection for key.
func (p *Pool) take(key poolKey) (Conn, bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, false, errPoolClosed
	}
	list := p.free[key]
	if len(list) == 0 {
		return nil, false, nil
	}
	ic := list[len(list)-1]
	if len(list) == 1 {
		delete(p.free, key)
	} else {
		p.free[key] = list[:len(list)-1]
	}
	return ic.conn, true, nil
}

// put returns c to the pool, or closes it if the pool is closed.
func (p *Pool) put(key poolKey, c Conn) error {
	p.mu.Lock()
	if !p.closed {
		p.free[key] = append(p.free[key], idleConn{conn: c, since: time.Now()})
		p.mu.Unlock()
		return nil
	}
	p.mu.Unlock()
	return c.Close()
}

// reap closes idle connections past the idle timeout until the pool closes.
func (p *Pool) reap() {
	tick := time.NewTicker(max(p.idle/4, 10*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-p.stop:
			return
		case now := <-tick.C:
			for _, c := range p.expired(now) {
				_ = c.Close()
			}
		}
	}
}

// expired removes and returns connections idle since before now-idle.
func (p *Pool) expired(now time.Time) []Conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	var old []Conn
	for key, list := range p.free {
		kept := list[:0]
		for _, ic := range list {
			if now.Sub(ic.since) >= p.idle {
				old = append(old, ic.conn)
			} else {
				kept = append(kept, ic)
			}
		}
		if len(kept) == 0 {
			delete(p.free, key)
		} else {
			p.free[key] = kept
		}
	}
	return old
}

// Close closes every idle connection; connections on loan are closed when
// they are given back.
func (p *Pool) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	free := p.free
	p.free = nil
	p.mu.Unlock()
	close(p.stop)
	p.stopped.Wait()
	var errs []error
	for _, list := range free {
		for _, ic := range list {
			errs = append(errs, ic.conn.Close())
		}
	}
	return errors.Join(errs...)
}

// isBroken reports whether c is known to have ended.
func isBroken(c Conn) bool {
	b, ok := c.(interface{ broken() bool })
	return ok && b.broken()
}

// pooledConn is a connection on loan from a Pool.
type pooledConn struct {
	pool   *Pool
	key    poolKey
	target Target

	mu     sync.Mutex
	conn   Conn // nil once given back
	reused bool // conn came from the idle list and has not proved alive yet
	failed bool // a Run failed in a way that may have broken conn
}

// Run implements Conn. If a reused idle connection turns out to have died
// before the command could start, it is redialled once and the command run
// on the new connection; the command never runs twice.
func (pc *pooledConn) Run(ctx context.Context, cmd string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	pc.mu.Lock()
	c, reused := pc.conn, pc.reused
	pc.reused = false
	pc.mu.Unlock()
	if c == nil {
		return -1, errors.New("run on a connection given back to the pool")
	}
	code, err := c.Run(ctx, cmd, stdin, stdout, stderr)
	if err != nil && reused && errors.Is(err, errNotStarted) && ctx.Err() == nil {
		_ = c.Close()
		fresh, dialErr := pc.pool.dialer.Dial(ctx, pc.target)
		pc.mu.Lock()
		if dialErr != nil {
			pc.failed = true
			pc.mu.Unlock()
			return -1, dialErr
		}
		pc.conn, c = fresh, fresh
		pc.mu.Unlock()
		code, err = c.Run(ctx, cmd, stdin, stdout, stderr)
	}
	if err != nil && ctx.Err() == nil {
		pc.mu.Lock()
		pc.failed = true
		pc.mu.Unlock()
	}
	return code, err
}

// Close gives the connection back to the pool, or closes it if it broke.
// Closing twice is harmless.
func (pc *pooledConn) Close() error {
	pc.mu.Lock()
	c, failed := pc.conn, pc.failed
	pc.conn = nil
	pc.mu.Unlock()
	if c == nil {
		return nil
	}
	if failed || isBroken(c) {
		return c.Close()
	}
	return pc.pool.put(pc.key, c)
}

// Drop closes the idle connections to t. A caller that knows the node
// went away (it rebooted) drops them, so the next Get dials afresh instead
// of trying a connection to the host's previous life.
func (p *Pool) Drop(t Target) {
	key := keyOf(t)
	p.mu.Lock()
	list := p.free[key]
	delete(p.free, key)
	p.mu.Unlock()
	for _, ic := range list {
		_ = ic.conn.Close()
	}
}
