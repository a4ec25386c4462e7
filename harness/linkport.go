package harness

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"

	"github.com/natschaos/natschaos/faults"
)

// A `down` fault disables a link's proxy: Toxiproxy closes its listener,
// and enables it again on heal by listening on the same port. A port taken
// from the kernel's ephemeral range (127.0.0.1:0) can be handed, while the
// link is down, to any outgoing connection of the machine as its local
// port — the per-request connections through the other links make
// hundreds a second — and the heal then fails with "address already in
// use" (seen in `natschaos verify`). So the embedded proxies listen on a
// port drawn below the ephemeral range, which neither an outgoing
// connection nor another :0 listener is ever given.

// linkPortTries is how many ports createLink draws before it gives up.
const linkPortTries = 20

// lowestLinkPort is the lowest port a link's proxy is drawn from.
const lowestLinkPort = 10000

// createLink creates the proxy of link in front of upstream on a port
// below the ephemeral range, drawing again while the port is taken; with
// no room below that range it takes 127.0.0.1:0.
func createLink(ctx context.Context, proxies faults.Proxies, link, upstream string) (string, error) {
	high := ephemeralLow()
	if high-lowestLinkPort < 1000 {
		return proxies.Create(ctx, link, "127.0.0.1:0", upstream)
	}
	var err error
	for range linkPortTries {
		port := lowestLinkPort + rand.IntN(high-lowestLinkPort)
		var addr string
		if addr, err = proxies.Create(ctx, link, fmt.Sprintf("127.0.0.1:%d", port), upstream); err == nil {
			return addr, nil
		}
		if ctx.Err() != nil {
			return "", err
		}
	}
	return "", fmt.Errorf("%d ports below the ephemeral range were taken: %w", linkPortTries, err)
}

// ephemeralLow is the lowest port of the kernel's ephemeral range (Linux's
// ip_local_port_range; 32768, Linux's default, where it cannot be read).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 32768
	}
	n, err := strconv.Atoi(f[0])
	if err != nil || n <= 0 {
		return 32768
	}
	return n
}
