package faults

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/natschaos/natschaos/history"
)

// Direction is the stream a toxic acts on.
type Direction string

// The directions of a toxic: upstream is client → server, downstream is
// server → client, both is two toxics.
const (
	Upstream   Direction = "upstream"
	Downstream Direction = "downstream"
	Both       Direction = "both"
)

func (d Direction) streams() []string {
	switch d {
	case Upstream:
		return []string{"upstream"}
	case Downstream:
		return []string{"downstream"}
	case Both:
		return []string{"upstream", "downstream"}
	}
	return nil
}

// Net is what every toxic fault has: the window it belongs to, its link,
// its direction and its toxicity.
type Net struct {
	ID        string    // window id; names the toxics (unique within a run)
	Link      string    // the link whose proxy gets the toxics
	Direction Direction // upstream, downstream or both
	Toxicity  float64   // probability per connection in [0, 1]; 0 really means never
}

func (n Net) validate() error {
	if err := ValidLink(n.Link); err != nil {
		return err
	}
	if n.Direction.streams() == nil {
		return fieldErr("direction", "unknown direction %q (upstream, downstream or both)", n.Direction)
	}
	if !(n.Toxicity >= 0 && n.Toxicity <= 1) {
		return fieldErr("toxicity", "toxicity %v outside [0, 1]", n.Toxicity)
	}
	return nil
}

// toxics expands one toxic type into one Toxic per stream.
func (n Net) toxics(typ string, attrs map[string]any) []Toxic {
	var ts []Toxic
	for _, s := range n.Direction.streams() {
		ts = append(ts, Toxic{
			Name:       fmt.Sprintf("%s-%s-%s", n.ID, typ, s),
			Type:       typ,
			Stream:     s,
			Toxicity:   float32(n.Toxicity),
			Attributes: attrs,
		})
	}
	return ts
}

// readNet reads direction and toxicity (default 1).
func readNet(r *attrReader, id, link string, def Direction) Net {
	return Net{
		ID:        id,
		Link:      link,
		Direction: Direction(r.string("direction", string(def))),
		Toxicity:  r.float("toxicity", 1),
	}
}

// millis converts d to Toxiproxy's whole milliseconds, refusing what would
// be rounded away.
func millis(name string, d time.Duration) (int64, error) {
	if d < 0 {
		return 0, fieldErr(name, "negative duration %q", d)
	}
	if d%time.Millisecond != 0 {
		return 0, fieldErr(name, "%s is not a whole number of milliseconds", d)
	}
	return d.Milliseconds(), nil
}

// injectToxics adds ts to the proxy of link, undoing the ones already added
// when one fails; the Heal removes them all.
func injectToxics(ctx context.Context, env Env, link string, ts []Toxic) (Heal, error) {
	p := env.Proxies()
	if p == nil {
		return nil, fmt.Errorf("inject on %s: no proxies in this environment", link)
	}
	heal := func(ctx context.Context) error {
		var errs []error
		for _, t := range ts {
			if err := p.RemoveToxic(ctx, link, t.Name); err != nil {
				errs = append(errs, fmt.Errorf("remove toxic %s from %s: %w", t.Name, link, err))
			}
		}
		return errors.Join(errs...)
	}
	for i, t := range ts {
		if err := p.AddToxic(ctx, link, t); err != nil {
			for _, done := range ts[:i] {
				_ = p.RemoveToxic(context.WithoutCancel(ctx), link, done.Name) // best effort; Heal of the run clears all
			}
			return nil, fmt.Errorf("add toxic %s to %s: %w", t.Name, link, err)
		}
	}
	return heal, nil
}

// The toxic faults of this file (limit_data.go holds one in a file of its
// own, the model for a new one).
func init() {
	registerToxic(Def{Name: "latency", Doc: "delay data by latency ± jitter (default direction downstream)",
		Attrs: []string{"latency", "jitter"}, Effects: history.EffectLinkSlow},
		Downstream, func(r *attrReader, n Net) toxicSpec {
			required(r, "latency")
			return Latency{Net: n, Latency: r.duration("latency", 0), Jitter: r.duration("jitter", 0)}
		})
	registerToxic(Def{Name: "bandwidth", Doc: "limit throughput to rate KB/s (default direction downstream)",
		Attrs: []string{"rate"}, Effects: history.EffectLinkSlow},
		Downstream, func(r *attrReader, n Net) toxicSpec { return Bandwidth{Net: n, Rate: r.int64("rate", 0)} })
	registerToxic(Def{Name: "blackhole", Doc: "hold all data, keep connections open: a half-open peer (default direction both)",
		Effects: history.EffectLinkDown},
		Both, func(_ *attrReader, n Net) toxicSpec { return Blackhole{Net: n} })
	// The toxics of one duration, in Toxiproxy's whole milliseconds.
	for _, t := range []struct {
		d               Def
		def             Direction
		toxic, duration string
	}{
		{Def{Name: "slow_close", Doc: "delay the close of a connection by delay (default direction downstream)", Effects: history.EffectLinkSlow},
			Downstream, "slow_close", "delay"},
		{Def{Name: "timeout", Doc: "hold all data and close the connection after timeout (default direction both)", Effects: history.EffectLinkDown},
			Both, "timeout", "timeout"},
		{Def{Name: "reset", Doc: "reset the connection (TCP RST) timeout after data arrives (default direction both)", Effects: history.EffectLinkDown},
			Both, "reset_peer", "timeout"},
	} {
		t.d.Attrs = []string{t.duration}
		registerToxic(t.d, t.def, func(r *attrReader, n Net) toxicSpec {
			return Millis{Net: n, Type: t.toxic, Key: t.duration, D: r.duration(t.duration, 0)}
		})
	}
	registerToxic(Def{Name: "slicer", Doc: "slice data into average_size ± size_variation byte pieces, delay apart (default direction downstream)",
		Attrs: []string{"average_size", "size_variation", "delay"}, Effects: history.EffectLinkSlow},
		Downstream, func(r *attrReader, n Net) toxicSpec {
			return Slicer{Net: n, AverageSize: int(r.int64("average_size", 0)), SizeVariation: int(r.int64("size_variation", 0)), Delay: r.duration("delay", 0)}
		})
}

// Latency delays data by Latency ± Jitter.
type Latency struct {
	Net
	Latency time.Duration
	Jitter  time.Duration
}

// toxic is f's Toxiproxy toxic type and attributes, attributes in milliseconds.
func (f Latency) toxic() (string, map[string]any, error) {
	l, err := millis("latency", f.Latency)
	if err != nil {
		return "", nil, err
	}
	j, err := millis("jitter", f.Jitter)
	if err != nil {
		return "", nil, err
	}
	return "latency", map[string]any{"latency": l, "jitter": j}, nil
}

// Bandwidth limits throughput to Rate KB/s.
type Bandwidth struct {
	Net
	Rate int64 // KB/s, > 0
}

// toxic is f's Toxiproxy toxic type and attributes.
func (f Bandwidth) toxic() (string, map[string]any, error) {
	if f.Rate <= 0 {
		return "", nil, fieldErr("rate", "rate %d KB/s must be > 0", f.Rate)
	}
	return "bandwidth", map[string]any{"rate": f.Rate}, nil
}

// Blackhole holds all data and keeps connections open: Toxiproxy's timeout
// toxic with timeout 0. Healing it closes the connections it held (that is
// Toxiproxy's timeout toxic).
type Blackhole struct{ Net }

// toxic is f's Toxiproxy toxic type and attributes.
func (f Blackhole) toxic() (string, map[string]any, error) {
	return "timeout", map[string]any{"timeout": int64(0)}, nil
}

// Millis is a toxic of one duration attribute, Key, in Toxiproxy's whole
// milliseconds: slow_close (delay the close of a connection by delay),
// timeout (hold all data, close the connection after timeout; a timeout of
// 0 is a [Blackhole], so it must be > 0) and reset (Toxiproxy's reset_peer:
// a TCP RST, where Toxiproxy can set linger 0, timeout after data arrives).
type Millis struct {
	Net
	Type string // the Toxiproxy toxic type
	Key  string // its attribute, as the fault takes it
	D    time.Duration
}

// toxic is f's Toxiproxy toxic type and attributes.
func (f Millis) toxic() (string, map[string]any, error) {
	if f.Type == "timeout" && f.D == 0 {
		return "", nil, fieldErr("timeout", "timeout must be > 0 (use blackhole to hold connections open)")
	}
	ms, err := millis(f.Key, f.D)
	if err != nil {
		return "", nil, err
	}
	return f.Type, map[string]any{f.Key: ms}, nil
}

// Slicer slices data into pieces of AverageSize ± SizeVariation bytes,
// Delay apart.
type Slicer struct {
	Net
	AverageSize   int           // bytes, > 0
	SizeVariation int           // bytes, in [0, AverageSize)
	Delay         time.Duration // between pieces; whole microseconds
}

// toxic is f's Toxiproxy toxic type and attributes (its delay in microseconds, as
// Toxiproxy's slicer takes it).
func (f Slicer) toxic() (string, map[string]any, error) {
	if f.AverageSize <= 0 {
		return "", nil, fieldErr("average_size", "average_size %d must be > 0", f.AverageSize)
	}
	if f.SizeVariation < 0 || f.SizeVariation >= f.AverageSize {
		return "", nil, fieldErr("size_variation", "size_variation %d outside [0, average_size)", f.SizeVariation)
	}
	if f.Delay < 0 {
		return "", nil, fieldErr("delay", "negative duration %q", f.Delay)
	}
	if f.Delay%time.Microsecond != 0 {
		return "", nil, fieldErr("delay", "%s is not a whole number of microseconds", f.Delay)
	}
	return "slicer", map[string]any{
		"average_size":   f.AverageSize,
		"size_variation": f.SizeVariation,
		"delay":          f.Delay.Microseconds(),
	}, nil
}

// toxicSpec is what a toxic fault says: the Toxiproxy toxic it puts on
// its link. Every toxic fault is injected by [toxicFault].
type toxicSpec interface {
	// toxic is the toxic's Toxiproxy type and attributes, the fault's own
	// attributes checked (its [Net] is checked by [toxicFault.Toxics]).
	toxic() (typ string, attrs map[string]any, err error)
	net() Net
}

func (n Net) net() Net { return n }

// toxicFault is the one way a toxic fault is injected: its toxics added to
// the proxy of its link, undone when one fails, removed by its Heal.
type toxicFault struct {
	name string
	toxicSpec
}

// Name implements Fault.
func (f toxicFault) Name() string { return f.name }

// Toxics returns the Toxiproxy toxics of f: its toxic on each stream of its
// direction, once its link, direction, toxicity and own attributes are checked.
func (f toxicFault) Toxics() ([]Toxic, error) {
	n := f.net()
	if err := n.validate(); err != nil {
		return nil, err
	}
	typ, attrs, err := f.toxic()
	if err != nil {
		return nil, err
	}
	return n.toxics(typ, attrs), nil
}

// Inject implements Fault.
func (f toxicFault) Inject(ctx context.Context, env Env) (Heal, error) {
	ts, err := f.Toxics()
	if err != nil {
		return nil, err
	}
	return injectToxics(ctx, env, f.net().Link, ts)
}

// registerToxic registers d as a toxic fault: d.Attrs are its own attributes
// (direction and toxicity are added), def its default direction and read
// how it takes its own attributes (the common ones are read into n); its
// toxics are validated when it is built.
func registerToxic(d Def, def Direction, read func(r *attrReader, n Net) toxicSpec) {
	d.Family, d.Attrs, d.Needs = "toxic", withCommon(toxicAttrs, d.Attrs...), []Need{NeedLinkProxy}
	d.build = func(id, link string, a Attrs) (Fault, error) {
		r := newAttrReader(a)
		f := toxicFault{name: d.Name, toxicSpec: read(r, readNet(r, id, link, def))}
		if err := r.done(f.name); err != nil {
			return nil, err
		}
		if _, err := f.Toxics(); err != nil {
			return nil, err
		}
		return f, nil
	}
	register(d)
}

// required fails name when a did not give it.
func required(r *attrReader, name string) {
	if _, ok := r.a[name]; !ok {
		r.fail(name, "%s is required", name)
	}
}
