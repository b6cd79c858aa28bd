package server_test

import (
	"net"
	"net/url"
	"sync"
	"testing"

	"k8s.io/client-go/rest"
)

// apiProxy is a TCP proxy in front of the test API server that a test can pause (bytes stop
// flowing both ways, connections stay open: an API server that does not answer) and cut
// (every connection closed and new ones refused: a replica that lost the network). TLS passes
// through untouched, so a rest.Config pointed at it needs nothing but its Host changed.
type apiProxy struct {
	l        net.Listener
	upstream string

	mu    sync.Mutex
	open  chan struct{} // closed while data may flow
	conns map[net.Conn]bool
	cut   bool
}

// startAPIProxy proxies to env's API server until the test ends.
func startAPIProxy(t testing.TB) *apiProxy {
	t.Helper()
	u, err := url.Parse(env.Config.Host)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &apiProxy{l: l, upstream: u.Host, open: make(chan struct{}), conns: map[net.Conn]bool{}}
	close(p.open)
	go p.serve()
	t.Cleanup(p.cutOff)
	return p
}

// config is env's configuration reaching the API server through the proxy.
func (p *apiProxy) config() *rest.Config {
	cfg := rest.CopyConfig(env.Config)
	cfg.Host = "https://" + p.l.Addr().String()
	return cfg
}

func (p *apiProxy) serve() {
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		go p.forward(c)
	}
}

func (p *apiProxy) forward(c net.Conn) {
	up, err := net.Dial("tcp", p.upstream)
	if err != nil {
		c.Close()
		return
	}
	if !p.track(c, up) {
		return
	}
	go p.pipe(up, c)
	p.pipe(c, up)
}

// track remembers both ends so that cutOff can close them; false (and both closed) once cut.
func (p *apiProxy) track(conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut {
		for _, c := range conns {
			c.Close()
		}
		return false
	}
	for _, c := range conns {
		p.conns[c] = true
	}
	return true
}

// pipe copies src to dst, holding every chunk while the proxy is paused.
func (p *apiProxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			open := p.open
			p.mu.Unlock()
			<-open
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// pause stops the bytes on every connection, new ones included, until resume.
func (p *apiProxy) pause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.open:
		p.open = make(chan struct{})
	default:
	}
}

func (p *apiProxy) resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.open:
	default:
		close(p.open)
	}
}

// cutOff closes every connection and refuses new ones, for good.
func (p *apiProxy) cutOff() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut {
		return
	}
	p.cut = true
	p.l.Close()
	for c := range p.conns {
		c.Close()
	}
	select {
	case <-p.open:
	default:
		close(p.open)
	}
}
