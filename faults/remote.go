package faults

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"

	"github.com/natschaos/natschaos/internal/redact"
)

// Remote drives a toxiproxy-server over its HTTP API. It implements
// [Proxies]. Its proxies are named natschaos-<run id>-<link> ([ProxyName])
// and it never touches a proxy without its run id: runs with other run ids
// (other targets, other users) share the server safely. The caller must
// Close it.
//
// Toxiproxy's Go client takes no context: every call runs in its own
// goroutine and Remote returns when ctx is done, while the call itself is
// bounded by the client's 30 s timeout; Close waits for calls in flight.
type Remote struct {
	client *toxiclient.Client
	url    string
	runID  string

	wg      sync.WaitGroup
	mu      sync.Mutex
	created map[string]bool // links whose proxy this value created
}

var _ Proxies = (*Remote)(nil)

// ValidRunID checks a run id: 1 to 40 ASCII letters, digits and '_' (no
// '-', so that natschaos-<run id>- never names another run's proxies).
func ValidRunID(id string) error {
	if id == "" || len(id) > 40 {
		return fmt.Errorf("run id %q: want 1 to 40 letters, digits or '_'", id)
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return fmt.Errorf("run id %q: want 1 to 40 letters, digits or '_'", id)
		}
	}
	return nil
}

// ProxyName is the name of the proxy of link on a remote toxiproxy-server
// for the run id runID: natschaos-<run id>-<link>.
func ProxyName(runID, link string) string { return ProxyPrefix + runID + "-" + link }

// NewRemote connects to the toxiproxy-server at url ("http://host:8474")
// for the run id runID (see [ValidRunID]) and cleans what a killed earlier
// run with the same run id left (see [Remote.CleanStale]).
func NewRemote(ctx context.Context, url, runID string) (*Remote, error) {
	if err := ValidRunID(runID); err != nil {
		return nil, err
	}
	r := &Remote{client: toxiclient.NewClient(url), url: redact.URL(url), runID: runID, created: map[string]bool{}}
	if err := r.do(ctx, func() error { _, err := r.client.Version(); return err }); err != nil {
		r.wg.Wait()
		return nil, fmt.Errorf("reach toxiproxy at %s: %w", r.url, err)
	}
	if err := r.CleanStale(ctx); err != nil {
		r.wg.Wait()
		return nil, err
	}
	return r, nil
}

// do runs f, returning early when ctx is done.
func (r *Remote) do(ctx context.Context, f func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	done := make(chan error, 1)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		done <- f()
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func isNotFound(err error) bool {
	var api *toxiclient.ApiError
	return errors.As(err, &api) && api.Status == 404
}

// RunID is the run id the proxies of r are named with.
func (r *Remote) RunID() string { return r.runID }

// ours returns the proxies of r's run id on the server.
func (r *Remote) ours(ctx context.Context) (map[string]*toxiclient.Proxy, error) {
	var all map[string]*toxiclient.Proxy
	err := r.do(ctx, func() (err error) { all, err = r.client.Proxies(); return err })
	if err != nil {
		return nil, fmt.Errorf("list proxies at %s: %w", r.url, err)
	}
	for name := range all {
		if !strings.HasPrefix(name, ProxyName(r.runID, "")) {
			delete(all, name)
		}
	}
	return all, nil
}

// heal removes every toxic of p and enables it.
func (r *Remote) heal(ctx context.Context, p *toxiclient.Proxy) error {
	var errs []error
	for _, t := range p.ActiveToxics {
		err := r.do(ctx, func() error { return p.RemoveToxic(t.Name) })
		if err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("remove toxic %s from %s: %w", t.Name, p.Name, err))
		}
	}
	if !p.Enabled {
		if err := r.do(ctx, p.Enable); err != nil {
			errs = append(errs, fmt.Errorf("enable %s: %w", p.Name, err))
		}
	}
	return errors.Join(errs...)
}

// CleanStale removes every toxic from every proxy of r's run id on the
// server and enables them: what a run with the same run id killed before it
// could heal left behind. Proxies are kept (their ports may be configured
// elsewhere); Create replaces them.
func (r *Remote) CleanStale(ctx context.Context) error {
	return r.Heal(ctx)
}

// Create implements [Proxies]. A proxy of the same name (same run id) is kept
// (healed) when it already forwards to upstream and listens where asked
// (any port for ":0"), else replaced.
func (r *Remote) Create(ctx context.Context, link, listen, upstream string) (string, error) {
	name := ProxyName(r.runID, link)
	var old *toxiclient.Proxy
	err := r.do(ctx, func() (err error) { old, err = r.client.Proxy(name); return err })
	switch {
	case err == nil:
		if old.Upstream == upstream && sameListen(old.Listen, listen) {
			if err := r.heal(ctx, old); err != nil {
				return "", err
			}
			r.mark(link)
			return old.Listen, nil
		}
		if err := r.do(ctx, old.Delete); err != nil && !isNotFound(err) {
			return "", fmt.Errorf("replace proxy %s: %w", name, err)
		}
	case !isNotFound(err):
		return "", fmt.Errorf("look up proxy %s: %w", name, err)
	}
	var p *toxiclient.Proxy
	err = r.do(ctx, func() (err error) { p, err = r.client.CreateProxy(name, listen, upstream); return err })
	if err != nil {
		return "", fmt.Errorf("create proxy %s on %s: %w", name, listen, err)
	}
	r.mark(link)
	return p.Listen, nil
}

func (r *Remote) mark(link string) {
	r.mu.Lock()
	r.created[link] = true
	r.mu.Unlock()
}

// sameListen says whether a proxy listening on have serves a request to
// listen on want.
func sameListen(have, want string) bool {
	if have == want {
		return true
	}
	hh, _, err1 := net.SplitHostPort(have)
	wh, wp, err2 := net.SplitHostPort(want)
	return err1 == nil && err2 == nil && wp == "0" && hh == wh
}

// get fetches the proxy of link.
func (r *Remote) get(ctx context.Context, link string) (*toxiclient.Proxy, error) {
	name := ProxyName(r.runID, link)
	var p *toxiclient.Proxy
	if err := r.do(ctx, func() (err error) { p, err = r.client.Proxy(name); return err }); err != nil {
		if isNotFound(err) {
			return nil, fmt.Errorf("%w %s", ErrNoProxy, link)
		}
		return nil, fmt.Errorf("look up proxy %s: %w", name, err)
	}
	return p, nil
}

// AddToxic implements [Proxies].
func (r *Remote) AddToxic(ctx context.Context, link string, t Toxic) error {
	if err := t.Validate(); err != nil {
		return err
	}
	p, err := r.get(ctx, link)
	if err != nil {
		return err
	}
	err = r.do(ctx, func() error {
		_, err := p.AddToxic(t.Name, t.Type, t.Stream, t.Toxicity, toxiclient.Attributes(t.Attributes))
		return err
	})
	if err != nil {
		return fmt.Errorf("add toxic %s to %s: %w", t.Name, link, err)
	}
	return nil
}

// RemoveToxic implements [Proxies]; removing a toxic that is not there is
// not an error.
func (r *Remote) RemoveToxic(ctx context.Context, link, name string) error {
	p, err := r.get(ctx, link)
	if err != nil {
		return err
	}
	err = r.do(ctx, func() error { return p.RemoveToxic(name) })
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("remove toxic %s from %s: %w", name, link, err)
	}
	return nil
}

// SetEnabled implements [Proxies].
func (r *Remote) SetEnabled(ctx context.Context, link string, enabled bool) error {
	p, err := r.get(ctx, link)
	if err != nil {
		return err
	}
	op := p.Disable
	if enabled {
		op = p.Enable
	}
	if err := r.do(ctx, op); err != nil {
		return fmt.Errorf("set %s enabled=%v: %w", p.Name, enabled, err)
	}
	return nil
}

// Heal implements [Proxies]: every proxy of r's run id on the server loses
// its toxics and is enabled; the proxies of other run ids are not touched.
func (r *Remote) Heal(ctx context.Context) error {
	ps, err := r.ours(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range ps {
		errs = append(errs, r.heal(ctx, p))
	}
	return errors.Join(errs...)
}

// Close implements [Proxies]: it heals, deletes the proxies this value
// created and waits for calls still in flight.
func (r *Remote) Close(ctx context.Context) error {
	err := r.Heal(ctx)
	r.mu.Lock()
	links := make([]string, 0, len(r.created))
	for l := range r.created {
		links = append(links, l)
	}
	r.created = map[string]bool{}
	r.mu.Unlock()
	var errs []error
	errs = append(errs, err)
	for _, l := range links {
		p, gerr := r.get(ctx, l)
		if errors.Is(gerr, ErrNoProxy) {
			continue
		}
		if gerr == nil {
			gerr = r.do(ctx, p.Delete)
		}
		if gerr != nil && !isNotFound(gerr) {
			errs = append(errs, fmt.Errorf("delete proxy %s: %w", ProxyName(r.runID, l), gerr))
		}
	}
	r.wg.Wait()
	return errors.Join(errs...)
}
