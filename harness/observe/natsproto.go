package observe

import (
	"bytes"

	"github.com/natschaos/natschaos/history"
)

// protoParser reads one direction of a NATS connection as a stream of
// protocol lines and payloads, split across reads anywhere. It keeps at
// most MaxProtoLine bytes of a line that spans reads; a longer line stops
// it (broken) for the rest of the connection.
//
// On the client's side it also says what to forward (see [ConnTap.Drop]):
// while a drop rule is on, it leaves out the messages the rule picks, and
// holds back the start of a line a read does not finish until its end
// comes, so that the line can be left out whole.
type protoParser struct {
	c      *tapConn
	server bool   // the server → client direction
	line   []byte // the start of a line that spans reads
	skip   int64  // payload bytes (and their CRLF) still to skip
	broken bool

	filter   bool   // feed builds what it forwards in out (a drop rule is on, or was)
	out      []byte // what feed forwards while it filters
	sent     bool   // line's first bytes were forwarded already: the line cannot be dropped
	dropping bool   // the payload being skipped is a dropped message's
}

// feed reads the chunk b and returns what of it to forward: b itself,
// unless a drop rule is on or a line or payload it filtered is not
// finished yet; then what is forwarded is built in p.out.
func (p *protoParser) feed(b []byte) []byte {
	chunk := b
	var rule *dropRule
	if !p.server {
		rule = p.c.t.drop.Load()
	}
	p.filter = rule != nil || p.dropping || len(p.line) > 0 && !p.sent
	p.out = p.out[:0]
	for len(b) > 0 && !p.broken {
		if p.skip > 0 {
			n := min(int64(len(b)), p.skip)
			if !p.dropping {
				p.emit(b[:n])
			}
			p.skip -= n
			p.dropping = p.dropping && p.skip > 0
			b = b[n:]
			continue
		}
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			if len(p.line)+len(b) > MaxProtoLine {
				p.emitHeld()
				p.stop()
				break
			}
			p.line = append(p.line, b...)
			switch {
			case rule != nil && !p.sent: // held back until the line ends
			case p.sent:
				p.emit(b)
			default:
				p.emit(p.line) // held back while a rule was on, and b
				p.sent = true
			}
			return p.forward(chunk)
		}
		held := len(p.line)
		if held+i > MaxProtoLine {
			p.emitHeld()
			p.stop()
			break
		}
		line := b[:i]
		if held > 0 {
			p.line = append(p.line, line...)
			line = p.line
		}
		start := line[:held] // the line's start, from earlier chunks
		subject := p.handle(bytes.TrimSuffix(line, []byte{'\r'}))
		switch {
		case !p.filter: // the whole chunk goes on
		case !p.sent && rule != nil && subject != nil && rule.pattern.Match(subject):
			rule.dropped.Add(1)
			p.dropping = p.skip > 0
		case p.sent:
			p.out = append(p.out, b[:i+1]...)
		default:
			p.out = append(append(p.out, start...), b[:i+1]...)
		}
		p.line, p.sent = p.line[:0], false
		b = b[i+1:]
	}
	p.emit(b) // a broken parser forwards the rest as it comes
	return p.forward(chunk)
}

// forward is what feed forwards of chunk.
func (p *protoParser) forward(chunk []byte) []byte {
	if p.filter {
		return p.out
	}
	return chunk
}

// emit adds x to what feed forwards, when it filters.
func (p *protoParser) emit(x []byte) {
	if p.filter {
		p.out = append(p.out, x...)
	}
}

// emitHeld forwards the start of a line that feed held back.
func (p *protoParser) emitHeld() {
	if !p.sent {
		p.emit(p.line)
	}
}

func (p *protoParser) stop() {
	p.broken, p.line = true, nil
	p.c.t.log.Debug("conn tap: protocol line too long; no more counting on this connection", "link", p.c.t.link, "conn", p.c.id)
}

// maxFields is how many fields of a protocol line matter (HMSG has 6).
const maxFields = 6

// handle reads one protocol line; it returns the subject of a client's
// PUB or HPUB (nil for any other line, or one that stopped the parser).
func (p *protoParser) handle(line []byte) []byte {
	var f [maxFields][]byte
	n := fields(line, &f)
	if n == 0 {
		return nil
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
		return nil
	}
	switch {
	case is(op, "PUB") && (n == 3 || n == 4), is(op, "HPUB") && (n == 4 || n == 5):
		p.payload(f[n-1])
		p.publish(f[1])
		if !p.broken {
			return f[1]
		}
	case isOp(op):
		p.stop()
	}
	return nil
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
