package observe

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/natschaos/natschaos/history"
)

// WithSamplerNodes makes the sampler watch a cluster: urls are the monitoring
// URLs of the other nodes (the one given to [NewSampler] is the first).
// Each sample then reads /varz and /jsz of every node that answers, and
//
//   - the server event sums connections, total_connections, subscriptions,
//     slow_consumers and js_api_total over the nodes that answered (a client
//     of the system under test may connect to any node, and a JetStream API
//     request is counted by the node that serves it); a node that is down
//     adds nothing, and a restarted node starts its counters from zero;
//   - the consumer event is the consumer leader's view (the node whose
//     server_name is the consumer's cluster.leader; the first node that
//     knows the consumer when no leader is known): followers' num_pending
//     and num_ack_pending lag behind the leader's.
func WithSamplerNodes(urls ...string) SamplerOption {
	return func(c *samplerConfig) error {
		for _, u := range urls {
			p, err := url.Parse(u)
			if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
				return fmt.Errorf("observe: bad monitoring url %q", u)
			}
			c.nodes = append(c.nodes, strings.TrimSuffix(u, "/"))
		}
		return nil
	}
}

// nodeSample is what one node's monitoring port said.
type nodeSample struct {
	v    varz
	j    jsz
	verr error
	jerr error
}

// sampleNodes reads /varz and /jsz of every node (the sampler's base first).
func (s *Sampler) sampleNodes(ctx context.Context, consumers, config bool) []nodeSample {
	path := s.jszPath(consumers, config)
	bases := append([]string{s.base}, s.cfg.nodes...)
	out := make([]nodeSample, len(bases))
	done := make(chan struct{}, len(bases))
	for i, b := range bases {
		go func() {
			defer func() { done <- struct{}{} }()
			n := &out[i]
			n.verr = s.getFrom(ctx, b, "/varz", &n.v)
			n.jerr = s.getFrom(ctx, b, path, &n.j)
		}()
	}
	for range bases {
		<-done
	}
	return out
}

// leaderConsumer finds the consumer in the view of its leader; nil when no
// node that answered knows it.
func (s *Sampler) leaderConsumer(ctx context.Context, config bool) (*consumerInfo, []nodeSample, error) {
	nodes := s.sampleNodes(ctx, true, config)
	var first *consumerInfo
	var errs []error
	answered := false
	for i := range nodes {
		n := &nodes[i]
		if n.jerr != nil {
			errs = append(errs, n.jerr)
			continue
		}
		answered = true
		c := n.j.find(s.cfg.stream, s.cfg.consumer)
		if c == nil {
			continue
		}
		if c.Cluster != nil && c.Cluster.Leader != "" && n.verr == nil && c.Cluster.Leader == n.v.Name {
			return c, nodes, nil
		}
		if first == nil {
			first = c
		}
	}
	if !answered {
		return nil, nodes, errors.Join(errs...)
	}
	return first, nodes, nil
}

func (s *Sampler) sampleCluster(ctx context.Context) error {
	var c *consumerInfo
	var nodes []nodeSample
	var err error
	if s.cfg.consumer != "" {
		c, nodes, err = s.leaderConsumer(ctx, false)
	} else {
		nodes = s.sampleNodes(ctx, false, false)
	}
	if c != nil {
		s.sink.Emit(history.Event{
			Kind: history.KindConsumer, Stream: s.cfg.stream, ConsumerName: s.cfg.consumer,
			NumPending: c.NumPending, NumAckPending: c.NumAckPending,
			NumRedelivered: c.NumRedelivered, NumWaiting: c.NumWaiting,
			Delivered: c.Delivered.ConsumerSeq, AckFloor: c.AckFloor.ConsumerSeq,
		})
	}
	e := history.Event{Kind: history.KindServer}
	answered := 0
	var errs []error
	for _, n := range nodes {
		if n.verr != nil || n.jerr != nil {
			errs = append(errs, n.verr, n.jerr)
			continue
		}
		answered++
		e.Connections += n.v.Connections
		e.TotalConnections += n.v.TotalConnections
		e.Subscriptions += n.v.Subscriptions
		e.SlowConsumers += n.v.SlowConsumers
		e.Mem += n.v.Mem
		e.JSAPITotal += n.j.API.Total
		if e.Version == "" {
			e.Version = n.v.Version
		}
	}
	if answered > 0 {
		s.sink.Emit(e)
		return err // a node that is down is not a failed sample
	}
	return errors.Join(append(errs, err)...)
}

// getFrom is get against another node's monitoring port.
func (s *Sampler) getFrom(ctx context.Context, base, path string, into any) error {
	if base == s.base {
		return s.get(ctx, path, into)
	}
	o := &Sampler{base: base, cfg: s.cfg, client: s.client}
	return o.get(ctx, path, into)
}

// ConsumerSettings are a consumer's settings as its monitoring port shows them.
type ConsumerSettings struct {
	AckWait       time.Duration
	MaxDeliver    int
	MaxAckPending int
}

// ConsumerConfig reads the sampled consumer's settings from the monitoring
// port (/jsz?consumers=true&config=true; the leader's view in a cluster):
// found is false while the consumer does not exist. Like every sample it
// costs no NATS connection and no JetStream API call.
func (s *Sampler) ConsumerConfig(ctx context.Context) (cs ConsumerSettings, found bool, err error) {
	if s.cfg.consumer == "" {
		return cs, false, errors.New("observe: the sampler watches no consumer")
	}
	var c *consumerInfo
	if len(s.cfg.nodes) > 0 {
		c, _, err = s.leaderConsumer(ctx, true)
	} else {
		var j jsz
		if err = s.get(ctx, s.jszPath(true, true), &j); err == nil {
			c = j.find(s.cfg.stream, s.cfg.consumer)
		}
	}
	if err != nil || c == nil || c.Config == nil {
		return cs, false, err
	}
	return ConsumerSettings{
		AckWait:       time.Duration(c.Config.AckWait),
		MaxDeliver:    c.Config.MaxDeliver,
		MaxAckPending: c.Config.MaxAckPending,
	}, true, nil
}
