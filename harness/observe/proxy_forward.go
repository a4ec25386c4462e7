package observe

import (
	"bytes"
	"io"
	"net/http"
	"strings"

	"github.com/natschaos/natschaos/protocol"
)

// outbound is r as the API gets it.
func (p *Proxy) outbound(r *http.Request) *http.Request {
	out := r.Clone(r.Context())
	out.RequestURI = ""
	out.Host = "" // the upstream's own host name
	out.URL.Scheme = p.upstream.Scheme
	out.URL.Host = p.upstream.Host
	out.URL.Path = strings.TrimSuffix(p.upstream.Path, "/") + r.URL.Path
	out.URL.RawPath = ""
	if p.upstream.RawQuery != "" {
		out.URL.RawQuery = p.upstream.RawQuery + "&" + r.URL.RawQuery
	}
	out.Header.Set("X-Forwarded-Host", r.Host)
	removeHopHeaders(out.Header)
	if u := p.upstream.User; u != nil && out.Header.Get(protocol.AuthHeader) == "" {
		pw, _ := u.Password() // the user information of the upstream URL: basic auth, as http.Client does
		out.SetBasicAuth(u.Username(), pw)
	}
	return out
}

// hopHeaders are meaningful only on one connection and are never forwarded.
var hopHeaders = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

func removeHopHeaders(h http.Header) {
	for _, v := range h.Values("Connection") {
		for _, name := range strings.Split(v, ",") {
			if name = strings.TrimSpace(name); name != "" {
				h.Del(name)
			}
		}
	}
	for _, name := range hopHeaders {
		h.Del(name)
	}
}

func copyHeader(dst, src http.Header) {
	for k, vv := range src {
		dst[k] = append([]string(nil), vv...)
	}
	removeHopHeaders(dst)
}

// closeWithoutResponse closes the worker's connection without another byte.
func closeWithoutResponse(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler) // net/http closes the connection, quietly
	}
	_ = conn.Close()
}

func workerOf(r *http.Request) string {
	if w := r.Header.Get(protocol.WorkerHeader); w != "" {
		return w
	}
	return r.RemoteAddr
}

// capture passes reads through and keeps a copy of the first max bytes.
type capture struct {
	r    io.Reader
	max  int64
	buf  bytes.Buffer
	over bool
}

func (c *capture) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	if n > 0 && !c.over {
		if int64(c.buf.Len()+n) > c.max {
			c.over = true
			c.buf = bytes.Buffer{}
		} else {
			c.buf.Write(b[:n])
		}
	}
	return n, err
}

type readCloser struct {
	io.Reader
	io.Closer
}
