// Package natsd runs NATS with JetStream inside the harness's process: one
// server on 127.0.0.1 with random client and monitoring ports and a store in
// a directory of its own, that can be restarted on the same port and store.
package natsd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/nats-io/nats-server/v2/server"
)

// maxClosedClients is how many closed connections the server remembers
// (nats-server's MaxClosedClients; 0 would mean its default, 10,000).
const maxClosedClients = 100

// ReadyTimeout bounds how long Start and Restart wait for the server to accept clients.
const ReadyTimeout = 10 * time.Second

// Server is an embedded nats-server with JetStream and its HTTP monitoring
// port on. The caller must Close it.
type Server struct {
	mu      sync.Mutex
	opts    server.Options
	srv     *server.Server
	dir     string
	ownsDir bool
}

// Option tweaks a Server before it starts.
type Option func(*server.Options) error

// WithStoreDir keeps JetStream's store in dir (the caller owns it) instead of
// a temporary directory that Close removes.
func WithStoreDir(dir string) Option {
	return func(o *server.Options) error {
		if dir == "" {
			return errors.New("natsd: empty store dir")
		}
		o.StoreDir = dir
		return nil
	}
}

// WithName names the server (cluster nodes need distinct names).
func WithName(name string) Option {
	return func(o *server.Options) error { o.ServerName = name; return nil }
}

// WithOptions lets a caller set any nats-server option (clusters, auth).
func WithOptions(f func(*server.Options)) Option {
	return func(o *server.Options) error { f(o); return nil }
}

// Start runs a server on 127.0.0.1 with random ports and returns once it
// accepts clients.
func Start(opts ...Option) (*Server, error) {
	o := server.Options{
		Host:       "127.0.0.1",
		Port:       server.RANDOM_PORT,
		HTTPHost:   "127.0.0.1",
		HTTPPort:   server.RANDOM_PORT,
		JetStream:  true,
		NoLog:      true,
		NoSigs:     true,
		MaxPayload: 1 << 20,
		// The server keeps the last MaxClosedClients closed connections,
		// with their subscriptions, for /connz?state=closed (default
		// 10,000), which natschaos never reads: the API opens a connection
		// per request, so in a soak that ring alone grew the heap by
		// 5 MB a minute until full, and then churned.
		MaxClosedClients: maxClosedClients,
	}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	s := &Server{}
	if o.StoreDir == "" {
		dir, err := os.MkdirTemp("", "natschaos-js-")
		if err != nil {
			return nil, fmt.Errorf("natsd: store dir: %w", err)
		}
		o.StoreDir = dir
		s.ownsDir = true
	}
	s.dir = o.StoreDir
	s.opts = o
	if err := s.start(); err != nil {
		s.cleanup()
		return nil, err
	}
	// Pin the ports the OS chose, so that a restart comes back where
	// every proxy and client already points.
	s.opts.Port = s.srv.Addr().(*net.TCPAddr).Port
	if a := s.srv.MonitorAddr(); a != nil {
		s.opts.HTTPPort = a.Port
	}
	if s.opts.Cluster.Port == server.RANDOM_PORT && s.srv.ClusterAddr() != nil {
		s.opts.Cluster.Port = s.srv.ClusterAddr().Port
	}
	return s, nil
}

func (s *Server) start() error {
	o := s.opts // nats-server keeps and mutates the options it is given
	srv, err := server.NewServer(&o)
	if err != nil {
		return fmt.Errorf("natsd: new server: %w", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(ReadyTimeout) {
		srv.Shutdown()
		srv.WaitForShutdown()
		return fmt.Errorf("natsd: server not ready within %s", ReadyTimeout)
	}
	s.srv = srv
	return nil
}

// ClientURL is the nats:// URL clients connect to (directly: the harness
// puts a proxy in front of it for the system under test).
func (s *Server) ClientURL() string {
	return "nats://" + net.JoinHostPort(s.opts.Host, strconv.Itoa(s.opts.Port))
}

// Addr is the host:port of the client listener.
func (s *Server) Addr() string { return net.JoinHostPort(s.opts.Host, strconv.Itoa(s.opts.Port)) }

// MonitorURL is the http:// base URL of the monitoring port (/varz, /jsz, /connz).
func (s *Server) MonitorURL() string {
	return "http://" + net.JoinHostPort(s.opts.HTTPHost, strconv.Itoa(s.opts.HTTPPort))
}

// ClusterAddr is the host:port of the route listener, or "" without a cluster.
func (s *Server) ClusterAddr() string {
	if s.opts.Cluster.Port <= 0 {
		return ""
	}
	return net.JoinHostPort(s.opts.Cluster.Host, strconv.Itoa(s.opts.Cluster.Port))
}

// StoreDir is where JetStream keeps its state.
func (s *Server) StoreDir() string { return s.dir }

// Running reports whether the server is up (false between Stop and Start).
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.srv != nil && s.srv.Running()
}

// Stop shuts the server down, keeping its store and ports for Resume.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked()
}

func (s *Server) stopLocked() {
	if s.srv != nil {
		s.srv.Shutdown()
		s.srv.WaitForShutdown()
		s.srv = nil
	}
}

// Resume starts a stopped server again on the same ports and store. It is a
// no-op on a running server.
func (s *Server) Resume(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return nil
	}
	// The OS may hold the port for a moment after shutdown; retry until ctx ends.
	var err error
	for attempt := 0; attempt < 50; attempt++ {
		if err = s.start(); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("natsd: resume: %w (last error: %v)", ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("natsd: resume: %w", err)
}

// Restart stops the server and starts it again on the same ports and store:
// the nats_restart fault.
func (s *Server) Restart(ctx context.Context) error {
	s.Stop()
	return s.Resume(ctx)
}

// NATS returns the running nats-server (nil while stopped), for tests that
// need to look inside.
func (s *Server) NATS() *server.Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.srv
}

// ForgetStream drops what the server still keeps of stream, once it is
// deleted: nats-server (v2.15) registers every internal queue of a stream
// in a map of the server's, for /ipqueuesz, and unregisters them when the
// stream is deleted — all but its "direct gets" queue, which stays
// registered, with its name and pool, for the server's life: about 0.6 KB
// per deleted stream, the first thing a soak's live heap grew by (one
// stream per job). Only /ipqueuesz reads that map, so dropping an entry
// of a stream that still exists changes nothing but its listing. A server
// whose map is not there as expected is left alone.
func (s *Server) ForgetStream(stream string) {
	ns := s.NATS()
	if ns == nil {
		return
	}
	m := ipQueues(ns)
	if m == nil {
		return
	}
	infix := " stream '" + stream + "' "
	m.Range(func(k, _ any) bool {
		if name, ok := k.(string); ok && strings.HasPrefix(name, "[ACC:") && strings.Contains(name, infix) {
			m.Delete(k)
		}
		return true
	})
}

// ipQueues is the server's registry of internal queues (the unexported
// field ipQueues, a sync.Map), or nil when it has another name or type.
func ipQueues(ns *server.Server) *sync.Map {
	f := reflect.ValueOf(ns).Elem().FieldByName("ipQueues")
	if !f.IsValid() || f.Type() != reflect.TypeFor[sync.Map]() {
		return nil
	}
	return (*sync.Map)(unsafe.Pointer(f.UnsafeAddr()))
}

// Close shuts the server down and removes its store if Start created it.
func (s *Server) Close() {
	s.Stop()
	s.cleanup()
}

func (s *Server) cleanup() {
	if s.ownsDir && s.dir != "" {
		_ = os.RemoveAll(s.dir) // best effort: a temp dir
	}
}
