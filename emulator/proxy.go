package emulator

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// Proxy forwards TCP connections from Addr to an emulator, so that a fault-injection test can
// break the network path to a dependency while the dependency itself keeps running — the fault
// a durable cloud service actually shows its clients (a partition, a dropped connection), as
// opposed to the loss of its state.
//
// Point a client at Addr (for Google's clients: set PUBSUB_EMULATOR_HOST or
// FIRESTORE_EMULATOR_HOST to it before creating the client), then Cut, Stall and Restore.
type Proxy struct {
	Addr   string // host:port clients dial
	target string

	mu     sync.Mutex
	ln     net.Listener
	conns  map[*proxyConn]struct{}
	gate   chan struct{} // closed while bytes may flow; open (blocking) while stalled
	cut    bool
	closed bool
	wg     sync.WaitGroup

	accepted int
}

type proxyConn struct {
	client, server net.Conn
	done           chan struct{}
	once           sync.Once
}

func (c *proxyConn) close() {
	c.once.Do(func() {
		close(c.done)
		_ = c.client.Close()
		_ = c.server.Close()
	})
}

// NewProxy listens on a free loopback port and forwards every connection to target.
func NewProxy(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("proxy listen: %w", err)
	}
	gate := make(chan struct{})
	close(gate)
	p := &Proxy{Addr: ln.Addr().String(), target: target, ln: ln, conns: map[*proxyConn]struct{}{}, gate: gate}
	p.wg.Add(1)
	go p.serve(ln)
	return p, nil
}

func (p *Proxy) serve(ln net.Listener) {
	defer p.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return // listener closed by Cut or Close
		}
		p.wg.Add(1)
		go p.handle(c)
	}
}

func (p *Proxy) handle(client net.Conn) {
	defer p.wg.Done()
	server, err := net.DialTimeout("tcp", p.target, 2*time.Second)
	if err != nil {
		_ = client.Close()
		return
	}
	c := &proxyConn{client: client, server: server, done: make(chan struct{})}
	p.mu.Lock()
	if p.cut || p.closed {
		p.mu.Unlock()
		c.close()
		return
	}
	p.conns[c] = struct{}{}
	p.accepted++
	p.mu.Unlock()

	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.pipe(c, c.server, c.client) }()
	go func() { defer wg.Done(); p.pipe(c, c.client, c.server) }()
	wg.Wait()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

// pipe copies src to dst, holding every chunk at the gate while the proxy is stalled.
func (p *Proxy) pipe(c *proxyConn, dst, src net.Conn) {
	defer c.close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			gate := p.gate
			p.mu.Unlock()
			select {
			case <-gate:
			case <-c.done:
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				return
			}
			// Half-close: pass the EOF on, as the peer would have seen it.
			if tc, ok := dst.(*net.TCPConn); ok {
				_ = tc.CloseWrite()
			}
			return
		}
	}
}

// Cut drops every open connection and refuses new ones (the port stops listening), as when the
// network path to the service dies. In-flight requests fail at once; whatever reached the
// service before the cut may still take effect there, unseen by the client.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut || p.closed {
		return
	}
	p.cut = true
	_ = p.ln.Close()
	for c := range p.conns {
		c.close()
	}
	p.openGateLocked()
}

// Stall keeps connections open and accepts new ones but forwards no byte, in either direction:
// a black hole, in which only the client's own deadlines end a request.
func (p *Proxy) Stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.gate:
		p.gate = make(chan struct{})
	default: // already stalled
	}
}

// Restore forwards again: after Cut it listens on the same address; after Stall it lets the
// held bytes through.
func (p *Proxy) Restore() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return errors.New("proxy closed")
	}
	p.openGateLocked()
	if !p.cut {
		return nil
	}
	var ln net.Listener
	var err error
	for deadline := time.Now().Add(5 * time.Second); ; {
		if ln, err = net.Listen("tcp", p.Addr); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("proxy relisten on %s: %w", p.Addr, err)
	}
	p.ln, p.cut = ln, false
	p.wg.Add(1)
	go p.serve(ln)
	return nil
}

func (p *Proxy) openGateLocked() {
	select {
	case <-p.gate:
	default:
		close(p.gate)
	}
}

// Accepted is the number of connections forwarded so far: a client that reconnected after a
// Cut shows up here.
func (p *Proxy) Accepted() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted
}

// Close stops the proxy and waits for its goroutines.
func (p *Proxy) Close() error {
	p.Cut()
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.wg.Wait()
	return nil
}
