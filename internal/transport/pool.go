package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// Pool keeps connections open between the steps of a run, so consecutive
// steps on a node share one connection (a new SSH session costs ~2.5 ms, a
// new SSH connection ~31 ms). It holds Communicators of any protocol and
// reaches them only through that interface. Each connection is lent to one
// caller at a time; idle connections are closed after the idle timeout. A
// Pool is safe for concurrent use.
type Pool struct {
	dialer Dialer
	idle   time.Duration

	mu     sync.Mutex
	free   map[Target][]idleConn
	closed bool

	stop    chan struct{}
	stopped sync.WaitGroup
}

// DefaultIdle is how long a pooled connection may sit unused when NewPool
// is given 0.
const DefaultIdle = 60 * time.Second

// idleConn is a connection waiting in the pool.
type idleConn struct {
	conn  Communicator
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
	p := &Pool{dialer: d, idle: idle, free: map[Target][]idleConn{}, stop: make(chan struct{})}
	p.stopped.Go(p.reap)
	return p
}

// keyOf is the pool key of t: targets that differ only in the node they
// name reach the same host the same way, so their connections are
// interchangeable.
func keyOf(t Target) Target {
	t.NodeID = ""
	return t
}

// Get lends a connection to t: an idle one if the pool has a live one,
// else a new one. Closing the returned Communicator gives it back to the
// pool (or drops it if it broke).
func (p *Pool) Get(ctx context.Context, t Target) (Communicator, error) {
	key := keyOf(t)
	for {
		c, ok, err := p.take(key)
		if err != nil {
			return nil, fmt.Errorf("get connection to %s: %w", t.NodeID, err)
		}
		if !ok {
			break
		}
		if !c.Alive() {
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
func (p *Pool) take(key Target) (Communicator, bool, error) {
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
func (p *Pool) put(key Target, c Communicator) error {
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
func (p *Pool) expired(now time.Time) []Communicator {
	p.mu.Lock()
	defer p.mu.Unlock()
	var old []Communicator
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

// pooledConn is a connection on loan from a Pool.
type pooledConn struct {
	pool   *Pool
	key    Target
	target Target

	mu     sync.Mutex
	conn   Communicator // nil once given back
	reused bool         // conn came from the idle list and has not proved alive yet
	failed bool         // a Run failed in a way that may have broken conn
}

// Run implements Communicator. If a reused idle connection turns out to have died
// before the command could start, it is redialled once and the command run
// on the new connection; the command never runs twice.
func (pc *pooledConn) Run(ctx context.Context, cmd string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	pc.mu.Lock()
	c, reused := pc.conn, pc.reused
	pc.reused = false
	pc.mu.Unlock()
	if c == nil {
		return -1, errors.New("use of a connection given back to the pool")
	}
	code, err := c.Run(ctx, cmd, stdin, stdout, stderr)
	if err != nil && reused && errors.Is(err, ErrNotStarted) && ctx.Err() == nil {
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

// lent is the connection on loan, or an error once it was given back.
func (pc *pooledConn) lent() (Communicator, error) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.conn == nil {
		return nil, errors.New("use of a connection given back to the pool")
	}
	return pc.conn, nil
}

// Upload implements Communicator on the connection on loan.
func (pc *pooledConn) Upload(ctx context.Context, dest string, r io.Reader, perm os.FileMode) (string, error) {
	c, err := pc.lent()
	if err != nil {
		return "", err
	}
	return c.Upload(ctx, dest, r, perm)
}

// Download implements Communicator on the connection on loan.
func (pc *pooledConn) Download(ctx context.Context, src string, w io.Writer, limit int64) (int64, int64, error) {
	c, err := pc.lent()
	if err != nil {
		return 0, 0, err
	}
	return c.Download(ctx, src, w, limit)
}

// Alive implements Communicator.
func (pc *pooledConn) Alive() bool {
	c, err := pc.lent()
	return err == nil && c.Alive()
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
	if failed || !c.Alive() {
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

// Idle counts the connections waiting in the pool, for metrics.
func (p *Pool) Idle() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, list := range p.free {
		n += len(list)
	}
	return n
}
