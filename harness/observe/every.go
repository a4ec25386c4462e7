package observe

import (
	"context"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// every calls tick at once and then every interval, on a goroutine of its
// own, until ctx ends or stop is called; then it calls after (when not
// nil). A tick slower than interval delays the next one. The [Prober] and
// the [Sampler] run on it.
type every struct {
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

func startEvery(ctx context.Context, interval time.Duration, tick func(context.Context), after func()) *every {
	ctx, cancel := context.WithCancel(ctx)
	e := &every{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(e.done)
		if after != nil {
			defer after()
		}
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			tick(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return e
}

// stop ends the ticks and waits for after to return. Safe to call more
// than once.
func (e *every) stop() {
	e.once.Do(func() {
		e.cancel()
		<-e.done
	})
}

// isHTTPURL says whether raw is an http or https URL with a host.
func isHTTPURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// directClient is an HTTP client that never goes through a proxy and keeps
// up to idle connections to its host.
func directClient(idle int) *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:               nil,
		MaxIdleConnsPerHost: idle,
		IdleConnTimeout:     30 * time.Second,
	}}
}
