// Package natsmon reads a nats-server's HTTP monitoring endpoints (/varz,
// /jsz, /connz, /routez, /healthz): the one way the sampler, the cluster's
// readiness wait and the tests read them.
package natsmon

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// MaxBody bounds the document read (a /jsz with every consumer of a busy
// server stays far below it).
const MaxBody = 16 << 20

// Get reads the JSON document at url into v through hc within ctx. Any
// status but 200 is an error that names it. The rest of the body is read,
// so that hc can reuse the connection.
func Get(ctx context.Context, hc *http.Client, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body := io.LimitReader(resp.Body, MaxBody)
	defer func() { _, _ = io.Copy(io.Discard, body) }()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	if err := json.NewDecoder(body).Decode(v); err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	return nil
}
