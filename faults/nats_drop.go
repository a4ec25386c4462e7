package faults

import (
	"context"
	"fmt"

	"github.com/natschaos/natschaos/history"
	"github.com/natschaos/natschaos/protocol"
)

func init() {
	register(Def{Name: "nats_drop", Family: "tap",
		Doc:   "drop the client's messages to subject (e.g. $JS.API.STREAM.DELETE.>) on a NATS link: those requests are never answered, the connection and everything else on it go on",
		Attrs: []string{"subject"}, Link: NATSLink, Needs: []Need{NeedLinkProxy}, Effects: history.EffectRequestsDropped, build: buildNATSDrop})
}

// Taps are the harness's recording taps, one behind the proxy of each NATS
// link (api-nats, results-nats), which read the NATS protocol the client
// sends: nats_drop acts there.
type Taps interface {
	// Drop drops every message a client publishes on link to a subject
	// pattern matches until stop is called; stop returns how many it dropped.
	Drop(link string, pattern protocol.SubjectPattern) (stop func() int64, err error)
}

// NATSDrop drops what the API's clients publish on Link to Subject: a
// JetStream API that never answers one kind of call — a stream delete, a
// consumer info — while the connection stays up, so that the call can
// only end by its own timeout.
type NATSDrop struct {
	ID      string // window id
	Link    string // api-nats or results-nats
	Subject protocol.SubjectPattern
}

// Name implements Fault.
func (NATSDrop) Name() string { return "nats_drop" }

// Inject implements Fault.
func (f NATSDrop) Inject(_ context.Context, env Env) (Heal, error) {
	taps := env.Taps()
	if taps == nil {
		return nil, fmt.Errorf("nats_drop %s: no NATS taps in this environment", f.Link)
	}
	stop, err := taps.Drop(f.Link, f.Subject)
	if err != nil {
		return nil, fmt.Errorf("nats_drop %s: %w", f.Link, err)
	}
	return func(context.Context) error {
		stop()
		return nil
	}, nil
}

func buildNATSDrop(id, link string, a Attrs) (Fault, error) {
	r := newAttrReader(a)
	subject := r.string("subject", "")
	if err := r.done("nats_drop"); err != nil {
		return nil, err
	}
	pat, err := protocol.ParseSubjectPattern(subject)
	if err != nil {
		return nil, fieldErr("subject", "%v", err)
	}
	return NATSDrop{ID: id, Link: link, Subject: pat}, nil
}
