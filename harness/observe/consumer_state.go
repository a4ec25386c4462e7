package observe

import (
	"context"
	"net/http"
	"strings"
	"time"
)

// ConsumerState reads the sampled consumer's state from the monitoring port
// now, without emitting it: found is false when the consumer does not exist
// (deleted with its job, or not created yet). Like every sample it costs no
// NATS connection and no JetStream API call, so the harness can poll it
// (drain) without touching what the checkers count.
func (s *Sampler) ConsumerState(ctx context.Context) (pending uint64, ackPending int, found bool, err error) {
	if len(s.cfg.nodes) > 0 {
		c, _, err := s.leaderConsumer(ctx, false)
		if err != nil || c == nil {
			return 0, 0, false, err
		}
		return c.NumPending, c.NumAckPending, true, nil
	}
	var j jsz
	if err := s.get(ctx, s.jszPath(true, false), &j); err != nil {
		return 0, 0, false, err
	}
	c := j.find(s.cfg.stream, s.cfg.consumer)
	if c == nil {
		return 0, 0, false, nil
	}
	return c.NumPending, c.NumAckPending, true, nil
}

// Connections reads the server's current client connection count from the
// monitoring port at monitorURL (/varz), with no NATS connection of its own.
func Connections(ctx context.Context, monitorURL string) (int, error) {
	s := &Sampler{base: strings.TrimSuffix(monitorURL, "/"), cfg: samplerConfig{timeout: time.Second}, client: http.DefaultClient}
	var v varz
	if err := s.get(ctx, "/varz", &v); err != nil {
		return 0, err
	}
	return v.Connections, nil
}

// JobResourcesExist reports whether the sampled job's stream or consumer
// still exists, as the monitoring port says (in a cluster: whether a
// consumer leader answers for it). Like every sample it costs no NATS
// connection and no JetStream API call.
func (s *Sampler) JobResourcesExist(ctx context.Context) (bool, error) {
	if len(s.cfg.nodes) > 0 {
		c, _, err := s.leaderConsumer(ctx, false)
		return c != nil, err
	}
	var j jsz
	if err := s.get(ctx, s.jszPath(true, false), &j); err != nil {
		return false, err
	}
	return j.hasStream(s.cfg.stream) || j.find(s.cfg.stream, s.cfg.consumer) != nil, nil
}
