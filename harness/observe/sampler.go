package observe

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/natschaos/natschaos/history"
	"github.com/natschaos/natschaos/internal/natsmon"
	"github.com/natschaos/natschaos/internal/redact"
)

// DefaultSampleInterval is how often a [Sampler] samples unless told otherwise.
const DefaultSampleInterval = 250 * time.Millisecond

// SamplerOption tweaks a [Sampler].
type SamplerOption func(*samplerConfig) error

type samplerConfig struct {
	interval time.Duration
	timeout  time.Duration
	stream   string
	consumer string
	account  string
	nodes    []string // monitoring URLs of the other nodes of a cluster
	log      *slog.Logger
}

// WithSamplerInterval sets the time between samples (default
// [DefaultSampleInterval]). A sample slower than d delays the next one; it
// never piles up.
func WithSamplerInterval(d time.Duration) SamplerOption {
	return func(c *samplerConfig) error { return setPositive("sampler interval", d, &c.interval) }
}

// WithSamplerTimeout bounds each HTTP request to the monitoring port (default 1 s).
func WithSamplerTimeout(d time.Duration) SamplerOption {
	return func(c *samplerConfig) error { return setPositive("sampler timeout", d, &c.timeout) }
}

// WithSamplerConsumer makes the sampler emit a consumer event per sample for
// the durable consumer of stream, read from /jsz?consumers=true. While the
// consumer does not exist no consumer event is emitted (not zeros).
func WithSamplerConsumer(stream, consumer string) SamplerOption {
	return func(c *samplerConfig) error {
		if stream == "" || consumer == "" {
			return errors.New("observe: sampler needs both a stream and a consumer name")
		}
		c.stream, c.consumer = stream, consumer
		return nil
	}
}

// WithSamplerAccount limits the consumer lookup to one account (nats-server's
// default account is "$G"). The default looks in every account.
func WithSamplerAccount(account string) SamplerOption {
	return func(c *samplerConfig) error { c.account = account; return nil }
}

// WithSamplerLogger sets where the sampler logs failed samples. The default discards.
func WithSamplerLogger(l *slog.Logger) SamplerOption {
	return func(c *samplerConfig) error { return setLogger(l, &c.log) }
}

// Sampler polls a nats-server's HTTP monitoring port and emits a server
// event per sample (from /varz: connections, total_connections,
// subscriptions, slow_consumers; from /jsz: js_api_total) and, with
// [WithSamplerConsumer], a consumer event (num_pending, num_ack_pending,
// num_redelivered, num_waiting, delivered and ack_floor consumer sequences).
// It makes no NATS connection and no JetStream API call, so it changes
// neither connections nor api.total, and works unchanged against an external
// server. Note that a restarted server starts its counters from zero.
// Whoever starts it must Close it.
type Sampler struct {
	base   string
	cfg    samplerConfig
	client *http.Client
	sink   history.Sink

	run *every
}

// NewSampler starts sampling the monitoring port at monitorURL (for example
// "http://127.0.0.1:8222") at once and then every interval, until ctx ends
// or Close is called.
func NewSampler(ctx context.Context, monitorURL string, sink history.Sink, opts ...SamplerOption) (*Sampler, error) {
	cfg := samplerConfig{interval: DefaultSampleInterval, timeout: time.Second, log: discardLogger}
	for _, opt := range opts {
		if err := opt(&cfg); err != nil {
			return nil, err
		}
	}
	if !isHTTPURL(monitorURL) {
		return nil, fmt.Errorf("observe: bad monitoring url %q", redact.URL(monitorURL))
	}
	s := &Sampler{base: strings.TrimSuffix(monitorURL, "/"), cfg: cfg, client: directClient(2), sink: sink}
	failing := false
	s.run = startEvery(ctx, cfg.interval, func(ctx context.Context) {
		err := s.Sample(ctx)
		switch {
		case err != nil && ctx.Err() == nil && !failing:
			s.cfg.log.Warn("sampling the monitoring port fails", "url", redact.URL(s.base), "err", err)
			failing = true
		case err == nil && failing:
			s.cfg.log.Info("sampling the monitoring port works again", "url", redact.URL(s.base))
			failing = false
		}
	}, s.client.CloseIdleConnections)
	return s, nil
}

// jszPath is /jsz, with the consumers (of the sampled account, when set)
// when consumers, and their configuration too when config.
func (s *Sampler) jszPath(consumers, config bool) string {
	q := url.Values{}
	if consumers {
		q.Set("consumers", "true")
		if config {
			q.Set("config", "true")
		}
		if s.cfg.account != "" {
			q.Set("acc", s.cfg.account)
		}
	}
	return "/jsz?" + q.Encode()
}

// Sample takes one sample now and emits its events: the server event when
// both /varz and /jsz answered, the consumer event when the consumer exists.
// The loop calls it; a caller may too, to take a sample at a phase change.
func (s *Sampler) Sample(ctx context.Context) error {
	if len(s.cfg.nodes) > 0 {
		return s.sampleCluster(ctx)
	}
	var v varz
	verr := s.get(ctx, "/varz", &v)
	var j jsz
	jerr := s.get(ctx, s.jszPath(s.cfg.consumer != "", false), &j)
	if jerr == nil && s.cfg.consumer != "" {
		if c := j.find(s.cfg.stream, s.cfg.consumer); c != nil {
			s.sink.Emit(history.Event{
				Kind: history.KindConsumer, Stream: s.cfg.stream, ConsumerName: s.cfg.consumer,
				NumPending: c.NumPending, NumAckPending: c.NumAckPending,
				NumRedelivered: c.NumRedelivered, NumWaiting: c.NumWaiting,
				Delivered: c.Delivered.ConsumerSeq, AckFloor: c.AckFloor.ConsumerSeq,
			})
		}
	}
	if verr == nil && jerr == nil {
		e := history.Event{
			Kind:        history.KindServer,
			Connections: v.Connections, TotalConnections: v.TotalConnections,
			Subscriptions: v.Subscriptions, SlowConsumers: v.SlowConsumers,
			JSAPITotal: j.API.Total, Version: v.Version, Mem: v.Mem,
		}
		if s.cfg.consumer != "" && j.hasStream(s.cfg.stream) {
			e.Stream = s.cfg.stream // the job's stream exists (resource-cleanup)
		}
		s.sink.Emit(e)
	}
	return errors.Join(verr, jerr)
}

func (s *Sampler) get(ctx context.Context, path string, into any) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.timeout)
	defer cancel()
	if err := natsmon.Get(ctx, s.client, s.base+path, into); err != nil {
		return fmt.Errorf("sample %s: %w", path, err)
	}
	return nil
}

// Close stops sampling and waits for the sampler's goroutine to end. Safe
// to call more than once.
func (s *Sampler) Close() { s.run.stop() }

// varz is the part of nats-server's /varz the sampler reads.
type varz struct {
	Name             string `json:"server_name"`
	Connections      int    `json:"connections"`
	TotalConnections uint64 `json:"total_connections"`
	Subscriptions    uint64 `json:"subscriptions"`
	SlowConsumers    uint64 `json:"slow_consumers"`
	Mem              uint64 `json:"mem"`
	Version          string `json:"version"`
}

// jsz is the part of nats-server's /jsz the sampler reads.
type jsz struct {
	API struct {
		Total uint64 `json:"total"`
	} `json:"api"`
	Accounts []struct {
		Streams []struct {
			Name      string         `json:"name"`
			Consumers []consumerInfo `json:"consumer_detail"`
		} `json:"stream_detail"`
	} `json:"account_details"`
}

type consumerInfo struct {
	Name   string `json:"name"`
	Config *struct {
		AckWait       int64 `json:"ack_wait"` // nanoseconds
		MaxDeliver    int   `json:"max_deliver"`
		MaxAckPending int   `json:"max_ack_pending"`
	} `json:"config"`
	Cluster *struct {
		Leader string `json:"leader"`
	} `json:"cluster"`
	Delivered struct {
		ConsumerSeq uint64 `json:"consumer_seq"`
	} `json:"delivered"`
	AckFloor struct {
		ConsumerSeq uint64 `json:"consumer_seq"`
	} `json:"ack_floor"`
	NumAckPending  int    `json:"num_ack_pending"`
	NumRedelivered int    `json:"num_redelivered"`
	NumWaiting     int    `json:"num_waiting"`
	NumPending     uint64 `json:"num_pending"`
}

// hasStream reports whether the sample lists the stream.
func (j *jsz) hasStream(stream string) bool {
	for _, a := range j.Accounts {
		for _, s := range a.Streams {
			if s.Name == stream {
				return true
			}
		}
	}
	return false
}

func (j *jsz) find(stream, consumer string) *consumerInfo {
	for _, a := range j.Accounts {
		for _, s := range a.Streams {
			if s.Name != stream {
				continue
			}
			for i := range s.Consumers {
				if s.Consumers[i].Name == consumer {
					return &s.Consumers[i]
				}
			}
		}
	}
	return nil
}
