package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/natschaos/natschaos/history"
	"github.com/stretchr/testify/require"
)

func TestConfigValidate(t *testing.T) {
	good := DefaultConfig("http://127.0.0.1:8000/api/v2", "w1")
	tests := []struct {
		name    string
		edit    func(c *Config)
		wantErr string // "" for valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"zero fields take defaults", func(c *Config) { *c = Config{BaseURL: c.BaseURL, ID: "w1"} }, ""},
		{"basic", func(c *Config) { c.Preset = PresetBasic }, ""},
		{"no base url", func(c *Config) { c.BaseURL = "" }, "base url is empty"},
		{"base url without scheme", func(c *Config) { c.BaseURL = "127.0.0.1:8000/api" }, "base url"},
		{"ftp", func(c *Config) { c.BaseURL = "ftp://h/api" }, "want http(s)"},
		{"no id", func(c *Config) { c.ID = "" }, "worker id is empty"},
		{"unknown preset", func(c *Config) { c.Preset = "gpu" }, `preset "gpu"`},
		{"negative batch", func(c *Config) { c.BatchSize = -1 }, "batch size -1"},
		{"negative fetchers", func(c *Config) { c.Fetchers = -2 }, "fetchers -2"},
		{"negative timeout", func(c *Config) { c.HTTPTimeout = -time.Second }, "http timeout -1s"},
		{"negative process time", func(c *Config) { c.ProcessTime = -time.Millisecond }, "process time -1ms"},
		{"slug with comma", func(c *Config) { c.PipelineSlugs = []string{"a,b"} }, "pipeline slug"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			tt.edit(&c)
			err := c.Validate()
			if tt.wantErr == "" {
				require.NoError(t, err)
				_, err = New(c, newSink())
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
			_, err = New(c, newSink())
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestDefaultsFilled(t *testing.T) {
	w := newWorker(t, Config{BaseURL: "http://127.0.0.1:1/api/v2/", ID: "w1", JobsRetries: -1}, newSink())
	c := w.Config()
	require.Equal(t, "http://127.0.0.1:1/api/v2", c.BaseURL)
	require.Equal(t, PresetADC, c.Preset)
	require.Equal(t, 24, c.BatchSize)
	require.Equal(t, 30*time.Second, c.HTTPTimeout)
	require.Equal(t, 30*time.Second, c.JobsTimeout)
	require.Equal(t, 60*time.Second, c.ResultTimeout)
	require.Equal(t, 5*time.Second, c.IdleSleep)
	require.Equal(t, 0, c.JobsRetries, "negative: never retry")
	require.Equal(t, 4, c.Fetchers)
	require.Equal(t, 4, c.Prefetch)
	require.Equal(t, 8, c.DownloadThreads)
	require.Equal(t, 2, c.Posters)
	require.Equal(t, 5, c.MaxPendingPosts)
	require.Equal(t, 30*time.Second, c.AbandonAfter)
}

func TestClassifyErr(t *testing.T) {
	// A port nobody listens on: a real "connection refused".
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	_, refused := net.Dial("tcp", addr)
	require.Error(t, refused)

	tests := []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, ""},
		{"refused", refused, "refused"},
		{"deadline", fmt.Errorf("post: %w", context.DeadlineExceeded), "timeout"},
		{"os deadline", &net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}, "timeout"},
		{"reset", &net.OpError{Op: "read", Err: os.NewSyscallError("read", syscall.ECONNRESET)}, "reset"},
		{"broken pipe", &net.OpError{Op: "write", Err: os.NewSyscallError("write", syscall.EPIPE)}, "reset"},
		{"unexpected eof", fmt.Errorf("read body: %w", io.ErrUnexpectedEOF), "eof"},
		{"eof", fmt.Errorf("post: %w", io.EOF), "eof"},
		{"text only", errors.New("net/http: HTTP/1.x transport connection broken: connection reset by peer"), "reset"},
		{"canceled", context.Canceled, "canceled"},
		{"other", errors.New("tls: bad certificate"), "error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, history.ErrWord(tt.err))
		})
	}
}

func TestClassifyContext(t *testing.T) {
	crashed, crash := context.WithCancelCause(context.Background())
	crash(ErrCrashed)
	stopped, stop := context.WithCancel(context.Background())
	stop()
	timedOut, cancel := context.WithTimeout(context.Background(), -time.Second)
	defer cancel()
	live := context.Background()
	require.Equal(t, "crashed", classify(crashed, crashed, context.Canceled))
	require.Equal(t, "canceled", classify(stopped, stopped, context.Canceled))
	require.Equal(t, "timeout", classify(live, timedOut, context.Canceled))
	require.Equal(t, "reset", classify(live, live, syscall.ECONNRESET))
}
