// Package apicall makes one call of the worker API of docs/protocol.md, the
// one way every client in natschaos makes it: the harness's own client and
// its contract probes, the built-in workers, and the tests of the reference
// API. It sets the protocol's headers (the worker's name, the token), sends
// the body as it is and reads the answer in full, up to a bound.
package apicall

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/natschaos/natschaos/protocol"
)

// Request is one call.
type Request struct {
	Method string
	URL    string
	// Body is sent as it is, with Content-Type application/json (the
	// contract probes send bad JSON on purpose); nil sends none.
	Body []byte
	// Worker is the X-Natschaos-Worker header; "" sends none.
	Worker string
	// Auth is the Authorization header as it is, e.g. [Auth] of a token; ""
	// sends none.
	Auth string
}

// Auth is the Authorization header that presents token: "Token <token>",
// or "" for no token.
func Auth(token string) string {
	if token == "" {
		return ""
	}
	return protocol.TokenPrefix + token
}

// Do makes r through hc within ctx and returns the status and at most max
// bytes of the body. A call that got no response returns status 0 and the
// transport's error, unwrapped, so that a caller can classify it; an error
// reading the body comes with the status.
func Do(ctx context.Context, hc *http.Client, r Request, max int64) (int, []byte, error) {
	var body io.Reader
	if r.Body != nil {
		body = bytes.NewReader(r.Body)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, r.URL, body)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Accept", "application/json")
	if r.Body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if r.Worker != "" {
		req.Header.Set(protocol.WorkerHeader, r.Worker)
	}
	if r.Auth != "" {
		req.Header.Set(protocol.AuthHeader, r.Auth)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, max))
	if err != nil {
		return resp.StatusCode, data, fmt.Errorf("read body: %w", err)
	}
	return resp.StatusCode, data, nil
}
