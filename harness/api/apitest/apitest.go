// Package apitest serves the reference API on its own for tests, as a
// platform the harness did not start serves it: on a 127.0.0.1 port of its
// own, until the test ends.
package apitest

import (
	"errors"
	"net"
	"net/http"
	"testing"

	"github.com/natschaos/natschaos/harness/api"
)

// Serve serves a on a free 127.0.0.1 port and returns its URL
// (http://host:port, without /api/v2). When the test ends it closes a and
// waits for it to stop serving; an error of Serve fails the test.
func Serve(t testing.TB, a *api.API) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		if err := a.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("api: %v", err)
		}
	}()
	t.Cleanup(func() { a.Close(); <-served })
	return "http://" + ln.Addr().String()
}
