package apicall

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/natschaos/natschaos/protocol"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// seen is what the server got of one request.
type seen struct {
	method, path, body          string
	worker, auth, ctype, accept string
	hasWorker, hasAuth          bool
}

func serve(t *testing.T, answer string) (string, <-chan seen) {
	got := make(chan seen, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		_, hasWorker := r.Header[http.CanonicalHeaderKey(protocol.WorkerHeader)]
		_, hasAuth := r.Header[protocol.AuthHeader]
		got <- seen{r.Method, r.URL.Path, string(b), r.Header.Get(protocol.WorkerHeader), r.Header.Get(protocol.AuthHeader),
			r.Header.Get("Content-Type"), r.Header.Get("Accept"), hasWorker, hasAuth}
		w.WriteHeader(http.StatusTeapot)
		_, _ = io.WriteString(w, answer)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, got
}

func TestDoSendsTheProtocolsHeaders(t *testing.T) {
	url, got := serve(t, `{"ok":true}`)
	status, body, err := Do(context.Background(), http.DefaultClient, Request{
		Method: http.MethodPost, URL: url + "/api/v2/jobs/1/tasks/", Body: []byte(`{"batch_size": 2}`),
		Worker: "w1", Auth: Auth("k"),
	}, 1<<20)
	require.NoError(t, err)
	require.Equal(t, http.StatusTeapot, status)
	require.JSONEq(t, `{"ok":true}`, string(body))
	require.Equal(t, seen{method: "POST", path: "/api/v2/jobs/1/tasks/", body: `{"batch_size": 2}`, worker: "w1", auth: "Token k",
		ctype: "application/json", accept: "application/json", hasWorker: true, hasAuth: true}, <-got)
}

func TestDoSendsNothingItWasNotGiven(t *testing.T) {
	url, got := serve(t, "")
	_, _, err := Do(context.Background(), http.DefaultClient, Request{Method: http.MethodGet, URL: url + "/x", Auth: Auth("")}, 10)
	require.NoError(t, err)
	s := <-got
	require.Equal(t, "", s.body)
	require.Equal(t, "", s.ctype, "no body, no Content-Type")
	require.False(t, s.hasWorker)
	require.False(t, s.hasAuth, "no token, no Authorization header")
}

func TestDoBoundsTheBody(t *testing.T) {
	url, got := serve(t, strings.Repeat("x", 100))
	status, body, err := Do(context.Background(), http.DefaultClient, Request{Method: http.MethodGet, URL: url}, 10)
	<-got
	require.NoError(t, err)
	require.Equal(t, http.StatusTeapot, status)
	require.Equal(t, strings.Repeat("x", 10), string(body))
}

func TestDoWithoutAResponse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	status, _, err := Do(context.Background(), http.DefaultClient, Request{Method: http.MethodGet, URL: "http://" + addr}, 10)
	require.Error(t, err)
	require.Zero(t, status)
	require.NotContains(t, err.Error(), "read body")

	_, _, err = Do(context.Background(), http.DefaultClient, Request{Method: "bad method", URL: "http://" + addr}, 10)
	require.ErrorContains(t, err, "invalid method")
}

// A response cut short after its header keeps its status, and the error
// says the body was not read.
func TestDoBodyCutShort(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "half")
		w.(http.Flusher).Flush()
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	t.Cleanup(srv.Close)
	status, body, err := Do(context.Background(), http.DefaultClient, Request{Method: http.MethodGet, URL: srv.URL}, 1<<10)
	require.Equal(t, http.StatusOK, status)
	require.ErrorContains(t, err, "read body")
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	require.Equal(t, "half", string(body))
}
