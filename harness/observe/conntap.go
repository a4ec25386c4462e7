package observe

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/natschaos/natschaos/chaos/history"
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

// pump copies src to dst, feeding every chunk to p before writing it.
func (c *tapConn) pump(dst io.Writer, src io.Reader, p *protoParser) {
	buf := make([]byte, tapBuf)
	for {
		n, rerr := src.Read(buf)
		if n > 0 {
			p.feed(buf[:n])
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
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

// protoParser reads one direction of a NATS connection as a stream of
// protocol lines and payloads, split across reads anywhere. It keeps at
// most MaxProtoLine bytes of a line that spans reads; a longer line stops
// it (broken) for the rest of the connection.
type protoParser struct {
	c      *tapConn
	server bool   // the server → client direction
	line   []byte // the start of a line that spans reads
	skip   int64  // payload bytes (and their CRLF) still to skip
	broken bool
}

func (p *protoParser) feed(b []byte) {
	for len(b) > 0 && !p.broken {
		if p.skip > 0 {
			n := int64(len(b))
			if n > p.skip {
				n = p.skip
			}
			p.skip -= n
			b = b[n:]
			continue
		}
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			if len(p.line)+len(b) > MaxProtoLine {
				p.stop()
				return
			}
			p.line = append(p.line, b...)
			return
		}
		line := b[:i]
		if len(p.line) > 0 {
			if len(p.line)+i > MaxProtoLine {
				p.stop()
				return
			}
			p.line = append(p.line, line...)
			line = p.line
		} else if i > MaxProtoLine {
			p.stop()
			return
		}
		p.handle(bytes.TrimSuffix(line, []byte{'\r'}))
		p.line = p.line[:0]
		b = b[i+1:]
	}
}

func (p *protoParser) stop() {
	p.broken, p.line = true, nil
	p.c.t.log.Debug("conn tap: protocol line too long; no more counting on this connection", "link", p.c.t.link, "conn", p.c.id)
}

// maxFields is how many fields of a protocol line matter (HMSG has 6).
const maxFields = 6

func (p *protoParser) handle(line []byte) {
	var f [maxFields][]byte
	n := fields(line, &f)
	if n == 0 {
		return
	}
	op := f[0]
	if p.server {
		switch {
		case is(op, "MSG") && (n == 4 || n == 5):
			p.payload(f[n-1])
			if n == 5 {
				p.delivery(f[3])
			}
		case is(op, "HMSG") && (n == 5 || n == 6):
			p.payload(f[n-1])
			if n == 6 {
				p.delivery(f[3])
			}
		case is(op, "PONG"):
			if !p.c.ready.Swap(true) {
				p.c.t.sink.Emit(history.Event{Kind: history.KindConn, Link: p.c.t.link, ConnID: p.c.id, Phase: history.ConnReady})
			}
		case isOp(op):
			p.stop() // a message line the tap cannot size: it would read payloads as lines
		}
		return
	}
	switch {
	case is(op, "PUB") && (n == 3 || n == 4):
		p.payload(f[n-1])
		p.publish(f[1])
	case is(op, "HPUB") && (n == 4 || n == 5):
		p.payload(f[n-1])
		p.publish(f[1])
	case isOp(op):
		p.stop()
	}
}

// payload skips the payload of size (and its CRLF); a bad size stops the parser.
func (p *protoParser) payload(size []byte) {
	v, ok := atoi(size)
	if !ok {
		p.stop()
		return
	}
	p.skip = v + 2
}

const (
	jsAPIPrefix = "$JS.API."
	pullPrefix  = "$JS.API.CONSUMER.MSG.NEXT."
	ackPrefix   = "$JS.ACK."
)

// publish counts a client's publish to subject.
func (p *protoParser) publish(subject []byte) {
	switch {
	case bytes.HasPrefix(subject, []byte(jsAPIPrefix)):
		pull := bytes.HasPrefix(subject, []byte(pullPrefix))
		p.c.count(apiStream(subject[len(jsAPIPrefix):]), func(n *streamCounts) {
			n.jsAPI++
			if pull {
				n.pulls++
			}
		})
	case bytes.HasPrefix(subject, []byte(ackPrefix)):
		p.c.count(ackStream(subject), func(n *streamCounts) { n.acks++ })
	}
}

// delivery counts a message delivered with reply subject reply.
func (p *protoParser) delivery(reply []byte) {
	if bytes.HasPrefix(reply, []byte(ackPrefix)) {
		p.c.count(ackStream(reply), func(n *streamCounts) { n.msgs++ })
	}
}

// streamCounts are what one connection sent (and was sent) for one stream.
type streamCounts struct{ jsAPI, pulls, acks, msgs int }

func (n *streamCounts) total() int { return n.jsAPI + n.acks + n.msgs }

// maxPending bounds the streams a connection keeps counts for while the
// run's stream is not known yet; the counts of any further stream are
// the run's.
const maxPending = 16

// count adds what add counts to the run's counts when stream is the run's
// or names none, to foreign when it names another. Until the run's stream
// is known (a job the run creates through the API, whose id comes back
// after its first requests), counts are kept per stream and attributed
// when the connection closes.
func (c *tapConn) count(stream []byte, add func(*streamCounts)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	run := c.t.stream.Load()
	switch {
	case len(stream) == 0:
		add(&c.own)
	case run != nil && *run != "":
		if !otherJobStream(string(stream), *run) {
			add(&c.own)
			return
		}
		var n streamCounts
		add(&n)
		c.foreign += n.total()
	default:
		n := c.pending[string(stream)]
		if n == nil {
			if len(c.pending) >= maxPending {
				add(&c.own)
				return
			}
			if c.pending == nil {
				c.pending = map[string]*streamCounts{}
			}
			n = &streamCounts{}
			c.pending[string(stream)] = n
		}
		add(n)
	}
}

// otherJobStream says whether stream is another job's than run, the run's
// stream: a different stream of the same family, the name up to its last
// "_" ("job_9" beside "job_1"). A stream every job shares (the platform's
// "advisories") is part of the run's work.
func otherJobStream(stream, run string) bool {
	if stream == run {
		return false
	}
	family := run[:strings.LastIndexByte(run, '_')+1]
	return strings.HasPrefix(stream, family)
}

// settle attributes the counts kept per stream — to the run when the
// stream is the run's or the run's stream is still not known, to foreign
// otherwise — and returns the connection's counts.
func (c *tapConn) settle() (own streamCounts, foreign int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	run := c.t.stream.Load()
	for s, n := range c.pending {
		if run != nil && *run != "" && otherJobStream(s, *run) {
			c.foreign += n.total()
			continue
		}
		c.own.jsAPI += n.jsAPI
		c.own.pulls += n.pulls
		c.own.acks += n.acks
		c.own.msgs += n.msgs
	}
	c.pending = nil
	return c.own, c.foreign
}

// apiStream is the stream a JetStream API subject (without "$JS.API.")
// names, nil when it names none ($JS.API.INFO, STREAM.NAMES, ...).
func apiStream(s []byte) []byte {
	var tok [4][]byte
	n := 0
	for n < len(tok) {
		i := bytes.IndexByte(s, '.')
		if i < 0 {
			tok[n] = s
			n++
			break
		}
		tok[n] = s[:i]
		n++
		s = s[i+1:]
	}
	at := func(i int) []byte {
		if i < n {
			return tok[i]
		}
		return nil
	}
	switch string(at(0)) {
	case "STREAM":
		switch string(at(1)) {
		case "NAMES", "LIST", "CREATE_FROM_TEMPLATE":
			return nil
		case "PEER", "LEADER", "MSG":
			return at(3) // STREAM.PEER.REMOVE.<s>, STREAM.LEADER.STEPDOWN.<s>, STREAM.MSG.GET.<s>
		}
		return at(2) // STREAM.INFO.<s>, CREATE, UPDATE, DELETE, PURGE, SNAPSHOT, RESTORE
	case "CONSUMER":
		switch string(at(1)) {
		case "DURABLE", "MSG", "LEADER":
			return at(3) // CONSUMER.DURABLE.CREATE.<s>, MSG.NEXT.<s>, LEADER.STEPDOWN.<s>
		}
		return at(2) // CONSUMER.CREATE.<s>, INFO, DELETE, NAMES, LIST, PAUSE
	case "DIRECT":
		return at(2) // DIRECT.GET.<s>
	}
	return nil
}

// ackStream is the stream of an ack reply subject of either form
// ($JS.ACK.<stream>.… with 9 tokens, $JS.ACK.<domain>.<hash>.<stream>.… with
// 11 or more), nil when it is neither.
func ackStream(s []byte) []byte {
	dots := bytes.Count(s, []byte{'.'})
	idx := -1
	switch {
	case dots == 8:
		idx = 2
	case dots >= 10:
		idx = 4
	default:
		return nil
	}
	for range idx {
		s = s[bytes.IndexByte(s, '.')+1:]
	}
	if i := bytes.IndexByte(s, '.'); i >= 0 {
		return s[:i]
	}
	return s
}

// fields splits line on spaces and tabs into f; it returns how many fields
// there are (maxFields+1 for a PUB, HPUB, MSG or HMSG line with too many).
func fields(line []byte, f *[maxFields][]byte) int {
	n := 0
	for len(line) > 0 {
		for len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
			line = line[1:]
		}
		if len(line) == 0 {
			break
		}
		i := 0
		for i < len(line) && line[i] != ' ' && line[i] != '\t' {
			i++
		}
		if n == maxFields {
			if isOp(f[0]) {
				return maxFields + 1 // too many fields: a line the tap cannot size
			}
			return n // a CONNECT or INFO line: only its op matters
		}
		f[n] = line[:i]
		n++
		line = line[i:]
	}
	return n
}

// isOp says whether op is one whose fields the tap counts.
func isOp(op []byte) bool {
	return is(op, "PUB") || is(op, "HPUB") || is(op, "MSG") || is(op, "HMSG")
}

// is compares a protocol op case-insensitively (NATS ops are).
func is(op []byte, want string) bool {
	if len(op) != len(want) {
		return false
	}
	for i := range op {
		b := op[i]
		if 'a' <= b && b <= 'z' {
			b -= 'a' - 'A'
		}
		if b != want[i] {
			return false
		}
	}
	return true
}

// atoi parses a payload size: decimal digits, at most 1 GiB.
func atoi(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 10 {
		return 0, false
	}
	var v int64
	for _, d := range b {
		if d < '0' || d > '9' {
			return 0, false
		}
		v = v*10 + int64(d-'0')
	}
	return v, v <= 1<<30
}
