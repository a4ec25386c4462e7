package check

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/natschaos/natschaos/history"
)

// Contract is the contract check: the harness sends the API bad and
// edge-case requests (contract events: the root, which answers a JSON
// object with no token; a bad JSON body, batch_size 0,
// negative, missing, a fraction or above the documented maximum, an
// unknown job, a missing or wrong token, each precedence of 400 over 404
// over 401, /result with one bad item among good ones, an empty results
// list, ...) and records the statuses the contract allows (want) and the
// one it got. It fails when a probe got another status or no answer, and
// when a result of a probe's well-formed items was stored (a stored event
// for its task): a /result that is refused queues nothing. It also reads
// the workers' own result posts (result events): a post the API cannot
// take (its result queue full, NATS unavailable, shutting down) answers
// 503, which a worker may retry; another 5xx (a 500) fails. Unknown when
// the history has no contract event (the API was not probed) and no post
// answered a wrong 5xx.
type Contract struct {
	base
	probes    int
	bad       int
	probes503 int                 // probes answered 503 (a cancel or create during an outage)
	bad5xx    int                 // workers' result posts (one per item) answered a 5xx other than 503
	got503    int                 // and those answered 503
	noStore   map[string]probeRef // task of a probe's well-formed items → the probe
	stored    map[string]bool     // those of them stored
	o         offenses
}

type probeRef struct {
	name string
	t    float64
}

// NewContract returns the contract checker.
func NewContract(p Params) *Contract {
	return bind(&Contract{base: newBase("contract", p), noStore: map[string]probeRef{}, stored: map[string]bool{}})
}

// observe judges one event; [base.Observe] has taken the config.
func (c *Contract) observe(e *history.Event) {
	switch e.Kind {
	case history.KindContract:
		c.probes++
		if e.Status == 503 {
			c.probes503++
		}
		if e.Task != "" {
			if _, ok := c.noStore[e.Task]; !ok {
				c.noStore[e.Task] = probeRef{name: e.Name, t: e.T}
			}
		}
		want, err := parseWant(e.Want)
		switch {
		case err != nil:
			c.bad++
			c.o.add(e.Task, "", e.T, "probe %s (%s): %v", e.Name, e.Path, err)
		case e.Status == 0:
			c.bad++
			c.o.add(e.Task, "", e.T, "probe %s (%s): no answer (%s), want %s", e.Name, e.Path, orWord(e.Err), e.Want)
		case !slices.Contains(want, e.Status):
			c.bad++
			c.o.add(e.Task, "", e.T, "probe %s (%s): got %d, want %s", e.Name, e.Path, e.Status, e.Want)
		case e.Err == history.ErrBadBody:
			c.bad++
			c.o.add(e.Task, "", e.T, "probe %s (%s): got %d with a body that is not a JSON object", e.Name, e.Path, e.Status)
		}
	case history.KindResult:
		if e.Status == 503 {
			c.got503++
		}
		if e.Status >= 500 && e.Status != 503 {
			c.bad5xx++
			c.o.add(e.Task, e.Reply, e.T, "worker %s's result post answered %d: a result the API cannot take answers 503 (retryable)", e.Worker, e.Status)
		}
	case history.KindStored:
		if p, ok := c.noStore[e.Task]; ok && !c.stored[e.Task] {
			c.stored[e.Task] = true
			c.o.add(e.Task, "", e.T, "a result of probe %s (at %.3fs) was stored: a refused /result must queue nothing", p.name, p.t)
		}
	}
}

func orWord(s string) string {
	if s == "" {
		return "error"
	}
	return s
}

// parseWant reads a contract event's want: comma-separated HTTP statuses.
func parseWant(s string) ([]int, error) {
	if s == "" {
		return nil, fmt.Errorf("no want: the statuses the contract allows are not recorded")
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 100 || n > 599 {
			return nil, fmt.Errorf("want %q is not a list of HTTP statuses", s)
		}
		out = append(out, n)
	}
	return out, nil
}

// Result implements [Checker].
func (c *Contract) Result() Result {
	figs := map[string]float64{"probes": float64(c.probes), "wrong_status": float64(c.bad), "probe_results_stored": float64(len(c.stored)),
		"result_posts_5xx": float64(c.bad5xx), "result_posts_503": float64(c.got503), "probes_503": float64(c.probes503)}
	if c.probes == 0 && c.bad5xx == 0 {
		return c.unknown("no contract event: the API's contract was not probed", figs)
	}
	sortOffenses(c.o.list)
	return c.result(&c.o, figs, fmt.Sprintf("%d probes, %d answered outside the contract, %d results of refused posts stored, %d result items posted answered a 5xx other than 503", c.probes, c.bad, len(c.stored), c.bad5xx))
}
