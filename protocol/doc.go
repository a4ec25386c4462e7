// Package protocol is the vocabulary natschaos shares with the platform it
// drives (docs/protocol.md), declared once: the NATS names of a job (its
// subject, stream and consumer), the HTTP header and bodies of the worker
// API, the variants of the reference API, the links faults act on and the
// phases of a run. The reference API, the workers, the observers and the
// checkers import it; it imports no other natschaos package.
package protocol
