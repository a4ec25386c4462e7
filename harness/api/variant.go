package api

import (
	"fmt"
	"sort"
	"strings"

	"github.com/natschaos/natschaos/protocol"
)

// behaviour is what a variant switches on. Every known-bad variant sets
// exactly one field (pooled-stale: pooled and poolStale); the good variant
// sets none, the pooled one only pooled.
type behaviour struct {
	oneByOne       bool // /tasks: N single pulls, each with its own metadata calls
	reconnect      bool // default client reconnect; connections leaked when a request is interrupted
	noTimeouts     bool // no connect timeout, no timeout on JetStream metadata calls
	swallowErrors  bool // NATS trouble in /tasks answers 200 {"tasks": []}
	noGuard        bool // /tasks serves jobs that are not STARTED/RETRY
	ackBeforeSave  bool // the processor acks before storing
	recreateStream bool // /tasks recreates a missing stream
	slowAck        bool // the processor acks after 1.5 x ack_wait
	leakConns      bool // a request's NATS connection is never closed

	pooled        bool // request handlers share a bounded pool of connections (good)
	poolStale     bool // ... that keeps (reconnecting) dead connections instead of replacing them
	retryRefused  bool // a refused connect is retried (60 x 2s) although reconnect is off
	emptyOnError  bool // a non-timeout NATS error in /tasks answers 200 {"tasks": []}
	lateFetch     bool // the fetch stops on a client timer, dropping deliveries still on the wire
	ackSetup      bool // every ack opens its own connection and ensures the advisories stream first
	consumerFirst bool // cleanup deletes the consumer, then the stream
	seenLate      bool // a worker is marked seen only after its call succeeded
	slowLeak      bool // a goroutine and a subscription leaked every 100 /tasks requests
	earlySuccess  bool // a job becomes SUCCESS one result before its total
	noCleanup     bool // a finished or cancelled job's stream is never deleted

	ignorePipeline bool // the job list ignores pipeline__slug__in
}

// behaviours are what each of protocol.Variants switches on.
var behaviours = map[string]behaviour{
	protocol.VariantGood:                  behaviour{},
	protocol.VariantReserveOneByOne:       behaviour{oneByOne: true},
	protocol.VariantReconnect:             behaviour{reconnect: true},
	protocol.VariantNoConnectTimeout:      behaviour{noTimeouts: true},
	protocol.VariantSwallowTimeout:        behaviour{swallowErrors: true},
	protocol.VariantNoTerminalGuard:       behaviour{noGuard: true},
	protocol.VariantAckBeforeSave:         behaviour{ackBeforeSave: true},
	protocol.VariantRecreateStream:        behaviour{recreateStream: true},
	protocol.VariantSlowAck:               behaviour{slowAck: true},
	protocol.VariantLeakConnections:       behaviour{leakConns: true},
	protocol.VariantPooled:                behaviour{pooled: true},
	protocol.VariantPooledStale:           behaviour{pooled: true, poolStale: true},
	protocol.VariantConnectRetryOnRefused: behaviour{retryRefused: true},
	protocol.VariantEmptyOnError:          behaviour{emptyOnError: true},
	protocol.VariantLateFetch:             behaviour{lateFetch: true},
	protocol.VariantAckConnectionSetup:    behaviour{ackSetup: true},
	protocol.VariantConsumerFirstCleanup:  behaviour{consumerFirst: true},
	protocol.VariantSeenOnlyOnSuccess:     behaviour{seenLate: true},
	protocol.VariantSlowLeak:              behaviour{slowLeak: true},
	protocol.VariantEarlySuccess:          behaviour{earlySuccess: true},
	protocol.VariantNoCleanup:             behaviour{noCleanup: true},
	protocol.VariantWrongPipeline:         behaviour{ignorePipeline: true},
}

func lookupVariant(name string) (behaviour, error) {
	if b, ok := behaviours[name]; ok {
		return b, nil
	}
	names := make([]string, 0, len(behaviours))
	for n := range behaviours {
		names = append(names, n)
	}
	sort.Strings(names)
	return behaviour{}, fmt.Errorf("unknown variant %q (valid: %s)", name, strings.Join(names, ", "))
}
