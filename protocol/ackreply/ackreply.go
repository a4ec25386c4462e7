// Package ackreply parses JetStream ack reply subjects ($JS.ACK...), the
// handle by which a delivery is acked and the only place where a delivery's
// stream sequence, consumer sequence and delivery count travel with it.
package ackreply

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Meta is what an ack reply subject says about a delivery.
type Meta struct {
	Domain    string // JetStream domain ("" when none)
	Stream    string
	Consumer  string
	Delivered int    // delivery count (dc), 1 for the first delivery
	SSeq      uint64 // stream sequence
	DSeq      uint64 // consumer sequence
	Stored    int64  // when the message was stored (unix ns), NOT when it was delivered
	Pending   uint64 // messages pending after this one
}

// ErrNotAck is wrapped by every error of Parse.
var ErrNotAck = errors.New("not a JetStream ack reply subject")

// Parse reads a reply subject of either form:
//
//	$JS.ACK.<stream>.<consumer>.<dc>.<sseq>.<dseq>.<ts>.<pending>                         (9 tokens)
//	$JS.ACK.<domain>.<account hash>.<stream>.<consumer>.<dc>.<sseq>.<dseq>.<ts>.<pending>[.<random>] (11+)
//
// The domain token "_" means no domain.
func Parse(subject string) (Meta, error) {
	tok := strings.Split(subject, ".")
	if len(tok) < 9 || tok[0] != "$JS" || tok[1] != "ACK" {
		return Meta{}, fmt.Errorf("%w: %q", ErrNotAck, subject)
	}
	var m Meta
	switch {
	case len(tok) == 9:
		tok = tok[2:]
	case len(tok) >= 11:
		if tok[2] != "_" {
			m.Domain = tok[2]
		}
		tok = tok[4:]
	default:
		return Meta{}, fmt.Errorf("%w: %d tokens in %q", ErrNotAck, len(tok), subject)
	}
	m.Stream, m.Consumer = tok[0], tok[1]
	if m.Stream == "" || m.Consumer == "" {
		return Meta{}, fmt.Errorf("%w: empty stream or consumer in %q", ErrNotAck, subject)
	}
	nums := make([]uint64, 5)
	for i := range nums {
		v, err := strconv.ParseUint(tok[2+i], 10, 64)
		if err != nil {
			return Meta{}, fmt.Errorf("%w: token %d of %q is not a number", ErrNotAck, i+2, subject)
		}
		nums[i] = v
	}
	if nums[0] == 0 || nums[0] > 1<<31 {
		return Meta{}, fmt.Errorf("%w: delivery count %d in %q", ErrNotAck, nums[0], subject)
	}
	m.Delivered = int(nums[0])
	m.SSeq, m.DSeq, m.Stored, m.Pending = nums[1], nums[2], int64(nums[3]), nums[4]
	return m, nil
}
