package ackreply

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// format writes m as an ack reply subject: the 9-token form without a
// domain, the 11-token form (plus a random token when extra) with one.
func format(m Meta, hash string, extra bool) string {
	nums := fmt.Sprintf("%d.%d.%d.%d.%d", m.Delivered, m.SSeq, m.DSeq, uint64(m.Stored), m.Pending)
	if m.Domain == "" && hash == "" {
		return fmt.Sprintf("$JS.ACK.%s.%s.%s", m.Stream, m.Consumer, nums)
	}
	domain := m.Domain
	if domain == "" {
		domain = "_"
	}
	s := fmt.Sprintf("$JS.ACK.%s.%s.%s.%s.%s", domain, hash, m.Stream, m.Consumer, nums)
	if extra {
		s += ".r4nd0m"
	}
	return s
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		subject string
		want    Meta
	}{
		{"$JS.ACK.job_1.job-1-consumer.1.5.7.1700000000000000000.3",
			Meta{Stream: "job_1", Consumer: "job-1-consumer", Delivered: 1, SSeq: 5, DSeq: 7, Stored: 1700000000000000000, Pending: 3}},
		{"$JS.ACK._.ACCHASH.job_1.c.2.5.7.1.0",
			Meta{Stream: "job_1", Consumer: "c", Delivered: 2, SSeq: 5, DSeq: 7, Stored: 1}},
		{"$JS.ACK.hub.ACCHASH.job_1.c.3.5.7.1.0.xyz",
			Meta{Domain: "hub", Stream: "job_1", Consumer: "c", Delivered: 3, SSeq: 5, DSeq: 7, Stored: 1}},
	} {
		got, err := Parse(tc.subject)
		require.NoError(t, err, tc.subject)
		require.Equal(t, tc.want, got, tc.subject)
	}
	for _, bad := range []string{
		"", "$JS.ACK", "_INBOX.abc", "$JS.ACK.s.c.1.2.3.4", // 8 tokens
		"$JS.ACK.d.h.s.c.1.2.3.4",        // 10 tokens
		"$JS.ACK..c.1.2.3.4.5",           // empty stream
		"$JS.ACK.s.c.0.2.3.4.5",          // dc 0
		"$JS.ACK.s.c.1.x.3.4.5",          // not a number
		"$JS.ACK.s.c.-1.2.3.4.5",         // negative
		"$JS.ACK.s.c.4294967296.2.3.4.5", // dc beyond 2^31
		"$JS.NAK.s.c.1.2.3.4.5",
	} {
		_, err := Parse(bad)
		require.ErrorIs(t, err, ErrNotAck, bad)
	}
}

// FuzzParse: Parse never panics; what it accepts is an ack subject whose
// fields it reads back exactly when written again.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"$JS.ACK.job_1.job-1-consumer.1.5.7.1700000000000000000.3",
		"$JS.ACK._.ACCHASH.job_1.c.2.5.7.1.0",
		"$JS.ACK.hub.ACCHASH.job_1.c.3.5.7.1.0.xyz",
		"$JS.ACK.s.c.18446744073709551615.2.3.4.5",
		"$JS.ACK.s.c.1.2.3.18446744073709551615.5",
		"$JS.ACK....",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrNotAck) {
				t.Fatalf("Parse(%q): error %v does not wrap ErrNotAck", s, err)
			}
			return
		}
		if m.Delivered < 1 || m.Stream == "" || m.Consumer == "" {
			t.Fatalf("Parse(%q) accepted %+v", s, m)
		}
		tok := strings.Split(s, ".")
		hash := ""
		if len(tok) >= 11 {
			hash = tok[3]
		}
		again, err := Parse(format(m, hash, len(tok) > 11))
		if err != nil || again != m {
			t.Fatalf("Parse(%q) = %+v; written again and parsed: %+v, %v", s, m, again, err)
		}
	})
}

// FuzzRoundTrip: every valid delivery written in either form parses back
// to itself.
func FuzzRoundTrip(f *testing.F) {
	f.Add("", "", "job_1", "job-1-consumer", uint32(1), uint64(5), uint64(7), uint64(1700000000000000000), uint64(3), false)
	f.Add("hub", "ACCHASH", "job_1", "c", uint32(3), uint64(1), uint64(1), uint64(0), uint64(0), true)
	f.Fuzz(func(t *testing.T, domain, hash, stream, consumer string, dc uint32, sseq, dseq, ts, pending uint64, extra bool) {
		valid := func(tok string) bool { return tok != "" && !strings.ContainsAny(tok, ". \t\r\n") }
		if !valid(stream) || !valid(consumer) || dc == 0 || dc > 1<<31 {
			t.Skip()
		}
		if domain != "" || hash != "" {
			if !valid(hash) || (domain != "" && !valid(domain)) || domain == "_" {
				t.Skip()
			}
		}
		want := Meta{Domain: domain, Stream: stream, Consumer: consumer, Delivered: int(dc), SSeq: sseq, DSeq: dseq, Stored: int64(ts), Pending: pending}
		s := format(want, hash, extra)
		got, err := Parse(s)
		require.NoError(t, err, s)
		require.Equal(t, want, got, s)
	})
}
