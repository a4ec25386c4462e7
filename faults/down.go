package faults

import (
	"context"
	"fmt"

	"github.com/natschaos/natschaos/history"
)

func init() {
	register(Def{Name: "down", Family: "proxy", Doc: "disable the link's proxy: connections refused, open ones closed",
		Needs: []Need{NeedLinkProxy}, Effects: history.EffectLinkDown, build: buildDown})
}

// Down disables the proxy of Link: new connections are refused and open
// ones closed until it is healed.
type Down struct {
	ID   string // window id
	Link string
}

// Name implements Fault.
func (Down) Name() string { return "down" }

// Inject implements Fault.
func (f Down) Inject(ctx context.Context, env Env) (Heal, error) {
	if err := ValidLink(f.Link); err != nil {
		return nil, err
	}
	p := env.Proxies()
	if p == nil {
		return nil, fmt.Errorf("down %s: no proxies in this environment", f.Link)
	}
	if err := p.SetEnabled(ctx, f.Link, false); err != nil {
		return nil, fmt.Errorf("disable %s: %w", f.Link, err)
	}
	return func(ctx context.Context) error {
		if err := p.SetEnabled(ctx, f.Link, true); err != nil {
			return fmt.Errorf("enable %s: %w", f.Link, err)
		}
		return nil
	}, nil
}

func buildDown(id, link string, a Attrs) (Fault, error) {
	r := newAttrReader(a)
	if err := r.done("down"); err != nil {
		return nil, err
	}
	return Down{ID: id, Link: link}, nil
}
