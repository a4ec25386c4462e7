// Package apitest serves the reference API for tests, as net/http/httptest
// serves HTTP handlers.
package apitest

import (
	"errors"
	"net"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/harness/api"
)

// Token is the API token of the APIs and stacks that tests start, and the
// one the workers they test present.
const Token = "natschaos-test"

// Serve starts an API with cfg and serves it on 127.0.0.1 at a random port
// for one test, failing t if it does not start or stops serving; it
// returns the API and its URL (http://host:port). t.Cleanup closes it.
func Serve(t testing.TB, cfg api.Config) (*api.API, string) {
	t.Helper()
	a, err := api.New(cfg)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan struct{})
	go func() {
		defer close(served)
		if err := a.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("api: %v", err)
		}
	}()
	t.Cleanup(func() { a.Close(); <-served })
	return a, "http://" + ln.Addr().String()
}
