package faults

import (
	"math/rand"
	"net/http"
	"strings"
	"sync"
)

// HTTPRule is one live HTTP fault in the worker-api reverse proxy.
type HTTPRule struct {
	PathContains string     // the request path must contain this ("" matches all)
	Method       string     // "" matches all
	Probability  float64    // in (0, 1]; 1 = every matching request
	Action       HTTPAction // what to do with a request it picks
}

type ruleSet struct {
	mu    sync.Mutex
	next  int
	rules map[int]HTTPRule
	order []int
	rng   *rand.Rand
}

// Add installs rule, drawing its probabilities from a source seeded with
// seed, and returns a function that removes it (safe to call twice).
func (h *HTTPRules) Add(rule HTTPRule, seed int64) (remove func()) {
	s := &h.rules
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rules == nil {
		s.rules = map[int]HTTPRule{}
	}
	if s.rng == nil {
		s.rng = rand.New(rand.NewSource(seed))
	}
	id := s.next
	s.next++
	s.rules[id] = rule
	s.order = append(s.order, id)
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.rules, id)
		for i, o := range s.order {
			if o == id {
				s.order = append(s.order[:i], s.order[i+1:]...)
				break
			}
		}
	}
}

// Clear removes every rule.
func (h *HTTPRules) Clear() {
	s := &h.rules
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rules, s.order = nil, nil
}

func (s *ruleSet) decide(r *http.Request) HTTPAction {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range s.order {
		rule := s.rules[id]
		if rule.Method != "" && rule.Method != r.Method {
			continue
		}
		if rule.PathContains != "" && !strings.Contains(r.URL.Path, rule.PathContains) {
			continue
		}
		if rule.Probability < 1 && s.rng.Float64() >= rule.Probability {
			continue
		}
		return rule.Action
	}
	return HTTPAction{}
}
