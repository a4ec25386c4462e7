package natsmon

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestGet(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/varz":
			_, _ = io.WriteString(w, `{"server_name": "n1", "connections": 3} trailing`)
		case "/bad":
			_, _ = io.WriteString(w, `{"server_name": `)
		default:
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, `{"status": "unavailable"}`)
		}
	}))
	defer srv.Close()
	hc := srv.Client()
	defer hc.CloseIdleConnections()

	var v struct {
		Name        string `json:"server_name"`
		Connections int    `json:"connections"`
	}
	require.NoError(t, Get(context.Background(), hc, srv.URL+"/varz", &v))
	require.Equal(t, "n1", v.Name)
	require.Equal(t, 3, v.Connections)
	require.EqualError(t, Get(context.Background(), hc, srv.URL+"/healthz", &v), "status 503")
	require.ErrorContains(t, Get(context.Background(), hc, srv.URL+"/bad", &v), "decode: ")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, Get(ctx, hc, srv.URL+"/varz", &v), context.Canceled)
}
