package observe

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natschaos/natschaos/history"
	"github.com/natschaos/natschaos/protocol"
	"github.com/natschaos/natschaos/protocol/ackreply"
)

// Subjects the NATSObserver listens to. It never listens to _INBOX.> or
// $JS.API.>: a wildcard listener there keeps abandoned pull requests alive
// and turns no-responders errors into timeouts.
const (
	AckSubject = "$JS.ACK.>" // every ack of every consumer, both subject forms

	advisoryPrefix        = "$JS.EVENT.ADVISORY.CONSUMER."
	AdvisoryMaxDeliver    = advisoryPrefix + "MAX_DELIVERIES.>" // .<stream>.<consumer>
	AdvisoryNak           = advisoryPrefix + "MSG_NAKED.>"
	AdvisoryTerminated    = advisoryPrefix + "MSG_TERMINATED.>"
	AdvisoryLeaderElected = advisoryPrefix + "LEADER_ELECTED.>"
)

// The advisory types of history advisory events.
const (
	AdvisoryTypeMaxDeliveries = "max_deliveries"
	AdvisoryTypeNak           = "nak"
	AdvisoryTypeTerminated    = "terminated"
	AdvisoryTypeLeaderElected = "leader_elected"
)

// The ack kinds of history ack events.
const (
	AckAck  = "ack"
	AckNak  = "nak"
	AckWPI  = "wpi"
	AckTerm = "term"
)

// AckKind says what an ack payload does to the delivery it is published
// for, as nats-server reads it: "+ACK", "+OK", an empty payload and "+NXT"
// (ack, then next) are AckAck; "-NAK" (with or without a delay) is AckNak;
// "+WPI" is AckWPI; "+TERM" (with or without a reason) is AckTerm. Anything
// else is ignored by the server and gives "".
func AckKind(payload []byte) string {
	switch {
	case len(payload) == 0, bytes.Equal(payload, []byte("+ACK")), bytes.Equal(payload, []byte("+OK")),
		bytes.HasPrefix(payload, []byte("+NXT")):
		return AckAck
	case bytes.HasPrefix(payload, []byte("-NAK")):
		return AckNak
	case bytes.Equal(payload, []byte("+WPI")):
		return AckWPI
	case bytes.HasPrefix(payload, []byte("+TERM")):
		return AckTerm
	}
	return ""
}

// NATSOption tweaks a [NATSObserver].
type NATSOption func(*natsConfig) error

type natsConfig struct {
	taskSubject string
	connOpts    []nats.Option
	log         *slog.Logger
	taskOf      func(reply string) string
	scopeLater  bool
}

// WithNATSScopeLater makes the observer drop (and count as foreign) every
// event until [NATSObserver.Scope] names the run's stream, consumer and
// task subject: on a shared server nothing it sees before the run's job
// exists is the run's.
func WithNATSScopeLater() NATSOption {
	return func(c *natsConfig) error { c.scopeLater = true; return nil }
}

// ObserverNATS is the name of the NATS observer in its foreign event.
const ObserverNATS = "nats-observer"

// scope is the run's stream, consumer and task subject.
type scope struct{ stream, consumer, taskSubject string }

// WithObservePublishes makes the observer listen to the task subject (wildcards
// allowed; "" means [protocol.TaskSubjects]) and emit a publish event per
// message, with the task's image_id and no sseq (a core subscription cannot
// know it). It sees publishes only, never redeliveries. For external mode,
// where the API publishes its own tasks. Beware: a listener on the task
// subject answers "there is interest" for it, so a publish request to a
// subject no stream captures times out instead of failing with no responders.
func WithObservePublishes(subject string) NATSOption {
	return func(c *natsConfig) error {
		if subject == "" {
			subject = protocol.TaskSubjects
		}
		if strings.HasPrefix(subject, "_INBOX.") || strings.HasPrefix(subject, "$JS.API.") || subject == ">" {
			return fmt.Errorf("observe: refusing to listen to %q", subject)
		}
		c.taskSubject = subject
		return nil
	}
}

// WithNATSConnectOptions adds options to the observer's connection (credentials,
// TLS). The observer's own reconnect settings come first, so these may
// override them.
func WithNATSConnectOptions(opts ...nats.Option) NATSOption {
	return func(c *natsConfig) error { c.connOpts = append(c.connOpts, opts...); return nil }
}

// WithNATSLogger sets where the observer logs (connection trouble, dropped
// messages). The default discards.
func WithNATSLogger(l *slog.Logger) NATSOption {
	return func(c *natsConfig) error { return setLogger(l, &c.log) }
}

// WithNATSTaskLookup gives the observer a way to name the task of an ack's reply
// subject (for example [Proxy.TaskOf]); without it ack events carry no task.
func WithNATSTaskLookup(f func(reply string) string) NATSOption {
	return func(c *natsConfig) error { c.taskOf = f; return nil }
}

// NATSObserver listens on its own NATS connection to every ack and to the
// JetStream consumer advisories, and emits ack and advisory events (and
// publish events with [WithObservePublishes]). It reconnects forever, so it
// survives a nats_restart. Whoever starts it must Close it.
type NATSObserver struct {
	nc     *nats.Conn
	sink   history.Sink
	log    *slog.Logger
	taskOf func(string) string
	closed chan struct{}

	mu   sync.Mutex
	subs []*nats.Subscription

	scopeLater bool
	scope      atomic.Pointer[scope] // nil: every event is recorded (unless scopeLater)
	foreign    atomic.Int64          // events of other streams, consumers, subjects dropped

	closeOnce sync.Once
}

// Scope makes the observer record only the acks and advisories of stream
// and consumer and the publishes on taskSubject (with [WithObservePublishes]):
// what other jobs on the same server do is dropped at the source, and
// counted ([NATSObserver.Foreign]; one foreign event at Close).
func (o *NATSObserver) Scope(stream, consumer, taskSubject string) {
	o.scope.Store(&scope{stream: stream, consumer: consumer, taskSubject: taskSubject})
}

// Foreign is how many events of other jobs the observer dropped.
func (o *NATSObserver) Foreign() int { return int(o.foreign.Load()) }

// ours says whether an event of stream and consumer (or, for a publish,
// on subject) belongs to the run; it counts the others.
func (o *NATSObserver) ours(stream, consumer, subject string) bool {
	sc := o.scope.Load()
	switch {
	case sc == nil && !o.scopeLater:
		return true
	case sc == nil:
	case subject != "" && subject == sc.taskSubject:
		return true
	case subject == "" && stream == sc.stream && consumer == sc.consumer:
		return true
	}
	o.foreign.Add(1)
	return false
}

// closeTimeout bounds how long Close waits for the connection to drain.
const closeTimeout = 5 * time.Second

// NewNATSObserver connects to url (directly, not through a proxy) and
// subscribes; once it returns, every ack and advisory the server routes is
// seen. ctx bounds the connect and the first flush only (default 5 s).
func NewNATSObserver(ctx context.Context, url string, sink history.Sink, opts ...NATSOption) (*NATSObserver, error) {
	cfg := natsConfig{log: discardLogger}
	for _, opt := range opts {
		if err := opt(&cfg); err != nil {
			return nil, err
		}
	}
	o := &NATSObserver{sink: sink, log: cfg.log, taskOf: cfg.taskOf, closed: make(chan struct{}), scopeLater: cfg.scopeLater}
	timeout := 5 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		if timeout = time.Until(dl); timeout <= 0 {
			return nil, fmt.Errorf("observe: connect to %s: %w", url, context.DeadlineExceeded)
		}
	}
	connOpts := append([]nats.Option{
		nats.Name("natschaos-observer"),
		nats.Timeout(timeout),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(100 * time.Millisecond),
		nats.PingInterval(2 * time.Second), // notice a hung server in seconds, not minutes
		nats.ClosedHandler(func(*nats.Conn) { close(o.closed) }),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			o.log.Warn("observer disconnected from nats", "err", err)
		}),
		nats.ReconnectHandler(func(*nats.Conn) { o.log.Info("observer reconnected to nats") }),
		nats.ErrorHandler(func(_ *nats.Conn, s *nats.Subscription, err error) {
			subj := ""
			if s != nil {
				subj = s.Subject
			}
			o.log.Error("observer nats error: events are lost", "subject", subj, "err", err)
		}),
	}, cfg.connOpts...)
	nc, err := nats.Connect(url, connOpts...)
	if err != nil {
		return nil, fmt.Errorf("observe: connect to %s: %w", url, err)
	}
	o.nc = nc
	subs := []struct {
		subj string
		cb   nats.MsgHandler
	}{
		{AckSubject, o.onAck},
		{AdvisoryMaxDeliver, o.onAdvisory(AdvisoryTypeMaxDeliveries)},
		{AdvisoryNak, o.onAdvisory(AdvisoryTypeNak)},
		{AdvisoryTerminated, o.onAdvisory(AdvisoryTypeTerminated)},
		{AdvisoryLeaderElected, o.onAdvisory(AdvisoryTypeLeaderElected)},
	}
	if cfg.taskSubject != "" {
		subs = append(subs, struct {
			subj string
			cb   nats.MsgHandler
		}{cfg.taskSubject, o.onPublish})
	}
	for _, s := range subs {
		sub, err := nc.Subscribe(s.subj, s.cb)
		if err != nil {
			nc.Close()
			return nil, fmt.Errorf("observe: subscribe %s: %w", s.subj, err)
		}
		// Observers must not drop: allow a deep backlog (bounded) rather
		// than the client's 64k-message default.
		if err := sub.SetPendingLimits(1<<20, 256<<20); err != nil {
			nc.Close()
			return nil, fmt.Errorf("observe: pending limits on %s: %w", s.subj, err)
		}
		o.subs = append(o.subs, sub)
	}
	fctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := nc.FlushWithContext(fctx); err != nil {
		nc.Close()
		return nil, fmt.Errorf("observe: flush subscriptions: %w", err)
	}
	return o, nil
}

// Dropped returns how many messages the observer's subscriptions dropped
// because it fell behind (slow consumer): events the history lacks.
func (o *NATSObserver) Dropped() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, s := range o.subs {
		if d, err := s.Dropped(); err == nil {
			n += d
		}
	}
	return n
}

func (o *NATSObserver) onAck(m *nats.Msg) {
	kind := AckKind(m.Data)
	if kind == "" {
		o.log.Debug("ignoring unknown ack payload", "reply", m.Subject, "payload", string(m.Data))
		return
	}
	e := history.Event{Kind: history.KindAck, Reply: m.Subject, Ack: kind}
	meta, err := ackreply.Parse(m.Subject)
	if !o.ours(meta.Stream, meta.Consumer, "") {
		return
	}
	if err == nil {
		e.SSeq, e.DSeq, e.DC = meta.SSeq, meta.DSeq, meta.Delivered
	}
	if o.taskOf != nil {
		e.Task = o.taskOf(m.Subject)
	}
	o.sink.Emit(e)
}

// advisory holds the fields of the consumer advisories the observer records.
type advisory struct {
	Stream     string `json:"stream"`
	Consumer   string `json:"consumer"`
	StreamSeq  uint64 `json:"stream_seq"`
	Deliveries int    `json:"deliveries"`
}

func (o *NATSObserver) onAdvisory(typ string) nats.MsgHandler {
	return func(m *nats.Msg) {
		var a advisory
		if err := json.Unmarshal(m.Data, &a); err != nil {
			o.log.Warn("malformed advisory", "subject", m.Subject, "err", err)
			return
		}
		if !o.ours(a.Stream, a.Consumer, "") {
			return
		}
		o.sink.Emit(history.Event{
			Kind: history.KindAdvisory, Type: typ,
			Stream: a.Stream, ConsumerName: a.Consumer,
			SSeq: a.StreamSeq, Deliveries: a.Deliveries,
		})
	}
}

func (o *NATSObserver) onPublish(m *nats.Msg) {
	if !o.ours("", "", m.Subject) {
		return
	}
	var p protocol.Task
	if err := json.Unmarshal(m.Data, &p); err != nil {
		o.log.Warn("publish with a malformed task", "subject", m.Subject, "err", err)
		return
	}
	task := string(p.ImageID)
	if task == "" {
		o.log.Warn("publish without an image_id", "subject", m.Subject)
		return
	}
	o.sink.Emit(history.Event{Kind: history.KindPublish, Task: task})
}

// Close drains the observer's subscriptions (messages already received are
// still emitted), then closes its connection, and emits one foreign event
// (name ObserverNATS) when it dropped events of other jobs. Safe to call
// more than once.
func (o *NATSObserver) Close() {
	o.closeOnce.Do(func() {
		if err := o.nc.Drain(); err != nil {
			o.nc.Close()
		}
		select {
		case <-o.closed:
		case <-time.After(closeTimeout):
			o.nc.Close()
			<-o.closed
		}
		if n := o.Foreign(); n > 0 {
			o.sink.Emit(history.Event{Kind: history.KindForeign, Name: ObserverNATS, N: n})
		}
	})
}
