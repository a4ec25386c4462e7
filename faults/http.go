package faults

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/natschaos/natschaos/history"
)

func init() {
	registerFamily("http", HTTPLink, []Need{NeedHTTPProxy},
		Def{Name: "http_status", Doc: "answer code without calling the API",
			Attrs: withCommon(httpAttrs, "code"), Effects: history.EffectAnswerInjected, build: buildHTTPStatus},
		Def{Name: "http_delay", Doc: "hold the API's response for delay before sending it",
			Attrs: withCommon(httpAttrs, "delay"), Effects: history.EffectLinkSlow, build: buildHTTPDelay},
		Def{Name: "http_drop_response", Doc: "call the API (it commits), then close without a response",
			Attrs: withCommon(httpAttrs), Effects: history.EffectResponseLost, build: buildHTTPDrop},
		Def{Name: "http_abort", Doc: "send the headers and part of the body, then close",
			Attrs: withCommon(httpAttrs), Effects: history.EffectAnswerInjected | history.EffectResponseLost, build: buildHTTPAbort},
	)
}

// HTTP is an HTTP-level fault on the worker-api link: it installs one
// [HTTPRule] in the harness's reverse proxy; the reverse proxy carries the
// action out.
type HTTP struct {
	ID          string     // window id; stamped on the action as FaultID
	Kind        string     // http_status, http_delay, http_drop_response or http_abort
	Path        string     // the request path must contain this ("" = every request), e.g. "/tasks/"
	Method      string     // "" = every method
	Probability float64    // in (0, 1]
	Action      HTTPAction // what to do with a request the rule picks
}

// Name implements Fault.
func (f HTTP) Name() string { return f.Kind }

// Validate checks the probability, method and action.
func (f HTTP) Validate() error {
	if !(f.Probability > 0 && f.Probability <= 1) {
		return fieldErr("probability", "probability %v outside (0, 1]", f.Probability)
	}
	if f.Method != "" && f.Method != strings.ToUpper(f.Method) {
		return fieldErr("method", "method %q must be upper case", f.Method)
	}
	a := f.Action
	switch f.Kind {
	case "http_status":
		if a.Status < 100 || a.Status > 599 {
			return fieldErr("code", "bad HTTP status code %d (100–599)", a.Status)
		}
	case "http_delay":
		if a.Delay <= 0 {
			return fieldErr("delay", "delay must be > 0")
		}
	case "http_drop_response", "http_abort":
	default:
		return fieldErr("", "unknown HTTP fault %q", f.Kind)
	}
	return nil
}

// Inject implements Fault. The rule draws its probabilities from a source
// seeded from env.Rand().
func (f HTTP) Inject(ctx context.Context, env Env) (Heal, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	rules := env.HTTP()
	if rules == nil {
		return nil, fmt.Errorf("%s: no HTTP reverse proxy in this environment", f.Kind)
	}
	action := f.Action
	action.FaultID = f.ID
	remove := rules.Add(HTTPRule{
		PathContains: f.Path,
		Method:       f.Method,
		Probability:  f.Probability,
		Action:       action,
	}, env.Rand().Int63())
	return func(context.Context) error { remove(); return nil }, nil
}

func readHTTP(id, kind string, r *attrReader) HTTP {
	return HTTP{
		ID:          id,
		Kind:        kind,
		Path:        r.string("path", ""),
		Method:      r.string("method", ""),
		Probability: r.float("probability", 1),
	}
}

func finishHTTP(r *attrReader, f HTTP) (Fault, error) {
	if err := r.done(f.Kind); err != nil {
		return nil, err
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return f, nil
}

func buildHTTPStatus(id, _ string, a Attrs) (Fault, error) {
	r := newAttrReader(a)
	f := readHTTP(id, "http_status", r)
	f.Action.Status = int(r.int64("code", http.StatusServiceUnavailable))
	return finishHTTP(r, f)
}

func buildHTTPDelay(id, _ string, a Attrs) (Fault, error) {
	r := newAttrReader(a)
	f := readHTTP(id, "http_delay", r)
	f.Action.Delay = r.duration("delay", 0)
	if _, ok := a["delay"]; !ok && r.err == nil {
		r.fail("delay", "delay is required")
	}
	return finishHTTP(r, f)
}

func buildHTTPDrop(id, _ string, a Attrs) (Fault, error) {
	r := newAttrReader(a)
	f := readHTTP(id, "http_drop_response", r)
	f.Action.DropResponse = true
	return finishHTTP(r, f)
}

func buildHTTPAbort(id, _ string, a Attrs) (Fault, error) {
	r := newAttrReader(a)
	f := readHTTP(id, "http_abort", r)
	f.Action.Abort = true
	return finishHTTP(r, f)
}
