package observe

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/natschaos/natschaos/history"
	"github.com/natschaos/natschaos/protocol"
)

// MaxProtoLine bounds one NATS protocol line the [ConnTap] parses. A longer
// line ends the parsing of that connection (its counts stop there) but not
// the forwarding of its bytes.
const MaxProtoLine = 64 << 10

// OpenAtEnd is the Err of the close event that [ConnTap.Close] writes for a
// connection still open when the tap closes.
const OpenAtEnd = history.ConnOpenAtEnd

// tapDialTimeout bounds the tap's dial of its upstream.
const tapDialTimeout = 5 * time.Second

// tapBuf is the size of one read of a forwarded stream.
const tapBuf = 32 << 10

// ConnTap is the recording TCP tap of one NATS link (docs/history.md, the
// conn event). It sits behind the link's Toxiproxy proxy —
// client → proxy (where faults act) → tap → NATS — so that every connection
// the proxy accepts reaches it, and forwards bytes unchanged in both
// directions. Per connection it emits conn events: open at accept, ready
// when the server answered the client's first PING (the server's first
// PONG: the handshake completed), close when either side closed, with what
// the client sent counted from its protocol lines — PUB/HPUB to $JS.API.>
// (js_api; pull requests included), to $JS.API.CONSUMER.MSG.NEXT.> (pulls),
// to $JS.ACK.> (acks) — and the messages NATS delivered with a $JS.ACK reply
// (msgs). Only protocol lines are read; payloads are skipped by their byte
// counts, never looked into.
//
// Once told the run's stream ([ConnTap.SetStream]), requests and acks that
// name another job's stream (one of the same family: "job_9" beside the
// run's "job_1") are counted as foreign instead; a stream every job shares
// (the platform's "advisories") is the run's, and requests that name no
// stream ($JS.API.INFO, the stream list) are the run's. What a connection
// did before the run's stream was known is attributed when it closes.
type ConnTap struct {
	link     string
	upstream string
	sink     history.Sink
	log      *slog.Logger
	ln       net.Listener
	stream   atomic.Pointer[string]
	drop     atomic.Pointer[dropRule] // nil: every message goes through

	mu     sync.Mutex
	conns  map[uint64]*tapConn
	next   uint64
	closed bool
	wg     sync.WaitGroup
}

// NewConnTap starts a tap of link on 127.0.0.1 with a random port,
// forwarding to upstream (host:port). The caller must Close it.
func NewConnTap(link, upstream string, sink history.Sink, log *slog.Logger) (*ConnTap, error) {
	if sink == nil {
		sink = history.Discard
	}
	if log == nil {
		log = discardLogger
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("conn tap of %s: %w", link, err)
	}
	t := &ConnTap{link: link, upstream: upstream, sink: sink, log: log, ln: ln, conns: map[uint64]*tapConn{}}
	t.wg.Add(1)
	go t.accept()
	return t, nil
}

// Addr is the tap's listen address (host:port): the upstream of the link's proxy.
func (t *ConnTap) Addr() string { return t.ln.Addr().String() }

// SetStream names the run's stream; requests and acks naming another
// stream count as foreign from then on. "" counts everything as the run's.
func (t *ConnTap) SetStream(name string) { t.stream.Store(&name) }

// dropRule is a [ConnTap.Drop] in force.
type dropRule struct {
	pattern protocol.SubjectPattern
	dropped atomic.Int64
}

// Drop makes the tap drop every message a client publishes (PUB or HPUB:
// its line and payload) to a subject pattern matches, on every connection,
// until the returned stop is called; stop returns how many it dropped. The
// server never sees those messages: a request among them is never
// answered, while the connection and everything else on it go on — a
// JetStream API that does not answer one kind of call (the nats_drop
// fault). A message whose first bytes went through before Drop is not
// dropped. One rule at a time: a second Drop replaces the first.
func (t *ConnTap) Drop(pattern protocol.SubjectPattern) (stop func() int64) {
	r := &dropRule{pattern: pattern}
	t.drop.Store(r)
	return func() int64 {
		t.drop.CompareAndSwap(r, nil)
		return r.dropped.Load()
	}
}

// Open is how many connections are open through the tap now.
func (t *ConnTap) Open() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.conns)
}

// Close stops accepting, writes a close event marked [OpenAtEnd] for every
// connection still open (with its counts so far), closes those connections
// and waits for the tap's goroutines. It is safe to call more than once.
func (t *ConnTap) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	open := make([]*tapConn, 0, len(t.conns))
	for _, c := range t.conns {
		open = append(open, c)
	}
	t.mu.Unlock()
	err := t.ln.Close()
	for _, c := range open {
		c.finish(OpenAtEnd)
		c.shut()
	}
	t.wg.Wait()
	return err
}

func (t *ConnTap) accept() {
	defer t.wg.Done()
	for {
		nc, err := t.ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				t.log.Warn("conn tap accept", "link", t.link, "err", err)
			}
			return
		}
		t.mu.Lock()
		if t.closed {
			t.mu.Unlock()
			_ = nc.Close()
			return
		}
		t.next++
		c := &tapConn{t: t, id: t.next, client: nc}
		t.conns[c.id] = c
		t.wg.Add(1)
		// Under t.mu: a Close that sees this connection writes its close after this open.
		t.sink.Emit(history.Event{Kind: history.KindConn, Link: t.link, ConnID: c.id, Phase: history.ConnOpen})
		t.mu.Unlock()
		go c.serve()
	}
}

// tapConn is one connection through the tap.
type tapConn struct {
	t      *ConnTap
	id     uint64
	client net.Conn

	upMu sync.Mutex
	up   net.Conn // nil until dialled
	shot bool     // shut was called

	mu      sync.Mutex // guards own, foreign and pending (both directions count)
	own     streamCounts
	foreign int
	pending map[string]*streamCounts // per stream, while the run's stream is not known

	ready atomic.Bool
	done  atomic.Bool // the close event was written
}

func (c *tapConn) serve() {
	defer c.t.wg.Done()
	defer c.remove()
	up, err := net.DialTimeout("tcp", c.t.upstream, tapDialTimeout)
	if err != nil {
		_ = c.client.Close()
		c.finish("dial upstream: " + err.Error())
		return
	}
	c.upMu.Lock()
	if c.shot {
		c.upMu.Unlock()
		_ = up.Close()
		_ = c.client.Close()
		c.finish("")
		return
	}
	c.up = up
	c.upMu.Unlock()

	back := make(chan struct{})
	go func() {
		defer close(back)
		c.pump(c.client, up, &protoParser{c: c, server: true})
		c.shut()
	}()
	c.pump(up, c.client, &protoParser{c: c})
	c.shut()
	<-back
	c.finish("")
}

// tapBufs are the pumps' buffers, reused: the API opens a connection per
// request, and a buffer per direction of each made the tap about a tenth
// of a soak's allocations.
var tapBufs = sync.Pool{New: func() any { return new([tapBuf]byte) }}

// pump copies src to dst, feeding every chunk to p and writing what p
// says to forward of it.
func (c *tapConn) pump(dst io.Writer, src io.Reader, p *protoParser) {
	b := tapBufs.Get().(*[tapBuf]byte)
	defer tapBufs.Put(b)
	buf := b[:]
	for {
		n, rerr := src.Read(buf)
		if n > 0 {
			if out := p.feed(buf[:n]); len(out) > 0 {
				if _, werr := dst.Write(out); werr != nil {
					return
				}
			}
		}
		if rerr != nil {
			return
		}
	}
}

// shut closes both sides; the pumps then end.
func (c *tapConn) shut() {
	c.upMu.Lock()
	c.shot = true
	up := c.up
	c.upMu.Unlock()
	_ = c.client.Close()
	if up != nil {
		_ = up.Close()
	}
}

func (c *tapConn) remove() {
	c.t.mu.Lock()
	delete(c.t.conns, c.id)
	c.t.mu.Unlock()
}

// finish writes the connection's close event, once.
func (c *tapConn) finish(why string) {
	if c.done.Swap(true) {
		return
	}
	own, foreign := c.settle()
	c.t.sink.Emit(history.Event{Kind: history.KindConn, Link: c.t.link, ConnID: c.id, Phase: history.ConnClose, Err: why,
		JSAPI: own.jsAPI, Pulls: own.pulls, Acks: own.acks, Msgs: own.msgs, Foreign: foreign})
}
