package history

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/bits"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// samples has one event of every kind, with the fields its observer writes.
var samples = []Event{
	{T: 0.001, Kind: KindConfig, AckWait: 2, MaxDeliver: 3, MaxAckPending: 1000, Stream: "job_1", ConsumerName: "job-1-consumer", WorkerHTTPTimeout: 1, ConnectTimeout: 0.5},
	{T: 0.01, Kind: KindPublish, Task: "img-1", SSeq: 1},
	{T: 0.1, Kind: KindReserve, Task: "img-1", Reply: "$JS.ACK.job_1.job-1-consumer.1.1.1.1700000000000000000.0", SSeq: 1, DSeq: 1, DC: 1},
	{T: 0.11, Kind: KindHandout, Task: "img-1", Reply: "$JS.ACK.job_1.job-1-consumer.1.1.1.1700000000000000000.0", SSeq: 1, DSeq: 1, DC: 1, Worker: "w1"},
	{T: 0.3, Kind: KindResult, Task: "img-1", Reply: "$JS.ACK.job_1.job-1-consumer.1.1.1.1700000000000000000.0", Worker: "w1", Status: 0},
	{T: 0.31, Kind: KindStored, Task: "img-1"},
	{T: 0.32, Kind: KindJob, Job: 7, JobStatus: "CANCELING"},
	{T: 0.325, Kind: KindJob, Job: 7, JobStatus: "STARTED", ProgressStored: 0, ProgressTotal: 3, Pipeline: "detect"},
	{T: 0.33, Kind: KindAck, Reply: "$JS.ACK._.ACCHASH.job_1.c.2.5.9.1700000000000000000.3.abc", SSeq: 5, DC: 2, Ack: "wpi"},
	{T: 0.34, Kind: KindAdvisory, Type: "max_deliveries", SSeq: 5, Deliveries: 3},
	{T: 0.35, Kind: KindConsumer, NumPending: 0, NumAckPending: 0, NumRedelivered: 0, NumWaiting: 0, Delivered: 0, AckFloor: 0},
	{T: 0.36, Kind: KindServer, Connections: 4, TotalConnections: 9, Subscriptions: 20, JSAPITotal: 1 << 40, SlowConsumers: 0, Version: "2.15.2"},
	{T: 0.37, Kind: KindHTTP, Worker: ProbeWorker, Path: "/api/v2/", Status: 200, MS: 1.25},
	{T: 0.38, Kind: KindHTTP, Worker: "w1", Path: "/api/v2/jobs/1/tasks/", Status: 0, MS: 1000, Err: "timeout", Batch: 24, Pipelines: "detect,classify"},
	{T: 0.39, Kind: KindFault, ID: "f1", Name: "blackhole", Link: "api-nats", Phase: "start"},
	{T: 0.391, Kind: KindFault, ID: "f2", Name: "down", Link: "api-nats", Phase: "start", Effects: EffectLinkDown | EffectNATSUnreachable},
	{T: 0.4, Kind: KindPhase, Name: PhaseDrain},
	{T: 0.41, Kind: KindContract, Name: "result-bad-item-no-pipeline", Path: "/api/v2/jobs/1/result/", Job: 1, Want: "400", Status: 0, MS: 0, Err: "timeout", Task: "natschaos-contract-9"},
	{T: 1e-9, Kind: "future-kind", Task: "quote \" backslash \\ newline \n tab \t ctl \x01 del \x7f é ✓ \u2028"},
	{T: -0.5, Kind: KindServer, Connections: -1, TotalConnections: math.MaxUint64, JSAPITotal: 1<<53 + 1},
}

func TestCodecRoundTrip(t *testing.T) {
	for _, e := range samples {
		b := e.AppendJSON(nil)
		require.True(t, json.Valid(b), "%s", b)
		var got Event
		require.NoError(t, got.UnmarshalJSON(b), "%s", b)
		require.Equal(t, e, got, "%s", b)
		// MarshalJSON is the same encoding (json.Marshal would add its
		// HTML and U+2028 escaping on top).
		m, err := e.MarshalJSON()
		require.NoError(t, err)
		require.Equal(t, b, m)
	}
}

func TestCodecZeroFacts(t *testing.T) {
	// A kind's zero facts are written; other zero fields are not.
	b := string((&Event{T: 1, Kind: KindConsumer}).AppendJSON(nil))
	require.Equal(t, `{"t":1,"kind":"consumer","num_pending":0,"num_ack_pending":0,"num_redelivered":0,"num_waiting":0,"delivered":0,"ack_floor":0}`, b)
	b = string((&Event{T: 2, Kind: KindResult, Task: "x"}).AppendJSON(nil))
	require.Equal(t, `{"t":2,"kind":"result","task":"x","status":0}`, b)
	b = string((&Event{T: 3, Kind: KindJob, JobStatus: "SUCCESS", Job: 1}).AppendJSON(nil))
	require.Equal(t, `{"t":3,"kind":"job","job":1,"status":"SUCCESS"}`, b)
	b = string((&Event{T: 3, Kind: KindJob, JobStatus: "STARTED", Job: 1, ProgressTotal: 2}).AppendJSON(nil))
	require.Equal(t, `{"t":3,"kind":"job","job":1,"status":"STARTED","stored":0,"total":2}`, b, "progress 0 is a fact once the total is known")
	b = string((&Event{T: 1e-7, Kind: KindPhase, Name: "end"}).AppendJSON(nil))
	require.Equal(t, `{"t":1e-07,"kind":"phase","name":"end"}`, b)
	b = string((&Event{T: math.NaN(), Kind: KindPhase}).AppendJSON(nil))
	require.Equal(t, `{"t":0,"kind":"phase"}`, b)
}

func TestCodecAgreesWithEncodingJSON(t *testing.T) {
	// Strings the codec writes read back the same through encoding/json.
	for _, s := range []string{"plain", "q\"b\\", "\x00\x1f\x7f", "é✓\u2028\u2029", "bad \xff utf8"} {
		b := (&Event{Kind: KindStored, Task: s}).AppendJSON(nil)
		var m map[string]any
		require.NoError(t, json.Unmarshal(b, &m), "%q → %s", s, b)
		want := strings.ToValidUTF8(s, "\uFFFD")
		require.Equal(t, want, m["task"])
		var e Event
		require.NoError(t, e.UnmarshalJSON(b))
		require.Equal(t, want, e.Task)
	}
}

func TestUnmarshalTolerates(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Event
	}{
		{`{"t":1,"kind":"publish","task":"a","sseq":2}`, Event{T: 1, Kind: KindPublish, Task: "a", SSeq: 2}},
		{` { "t" : 1 , "kind" : "publish" } `, Event{T: 1, Kind: KindPublish}},
		{`{}`, Event{}},
		// Unknown keys, whatever their value, nested ones included.
		{`{"t":1,"kind":"handout","x":{"a":[1,{"b":"}"}],"c":null},"y":[[],{}],"z":true,"w":false,"v":null,"u":-1.5e3,"dc":2}`, Event{T: 1, Kind: KindHandout, DC: 2}},
		{`{"t":1,"kind":"brand-new","what":{"deep":{"deeper":[1,2,3]}}}`, Event{T: 1, Kind: "brand-new"}},
		// null for a known key is its zero value.
		{`{"t":1,"kind":"stored","task":null,"sseq":null,"dc":null}`, Event{T: 1, Kind: KindStored}},
		// Whole numbers written as floats.
		{`{"t":1,"kind":"http","status":503.0,"n":1e1,"sseq":2.0}`, Event{T: 1, Kind: KindHTTP, Status: 503, N: 10, SSeq: 2}},
		// Escapes.
		{`{"kind":"stored","task":"a\u0041\n\"","\u0074":2}`, Event{T: 2, Kind: KindStored, Task: "aA\n\""}},
		// A fault's effects: a list; null and [] are none.
		// Names this reader does not know are ignored.
		{`{"kind":"fault","effects":"nats-cut, link-\u0064own,from-the-future"}`, Event{Kind: KindFault, Effects: EffectLinkDown | EffectNATSCut}},
		{`{"kind":"fault","effects":""}`, Event{Kind: KindFault}},
		{`{"kind":"fault","effects":null}`, Event{Kind: KindFault}},
		// Big integers keep their precision.
		{`{"kind":"job","job":9007199254740993}`, Event{Kind: KindJob, Job: 9007199254740993}},
	} {
		var e Event
		require.NoError(t, e.UnmarshalJSON([]byte(tc.in)), tc.in)
		require.Equal(t, tc.want, e, tc.in)
	}
}

func TestUnmarshalRejects(t *testing.T) {
	for _, in := range []string{
		``, `[]`, `{`, `{"t":1`, `{"t":1,}`, `{"t":}`, `{"t":"1"}`, `{"t":1}x`, `{"t":1 "kind":"x"}`,
		`{"kind":1}`, `{"dc":1.5}`, `{"sseq":-1}`, `{"job":9223372036854775808}`, `{"sseq":1e20}`,
		`{"task":"unterminated}`, `{"task":"ctl ` + "\x01" + `"}`, `{"task":"bad utf8 ` + "\xff" + `"}`,
		`{"effects":["link-down"]}`, `{"effects":1}`,
		`{"x":{"a":}}`, `{"x":[1,2}`, `{"x":tru}`, `{"t":1e999}`, `{"task":"\q"}`,
	} {
		var e Event
		err := e.UnmarshalJSON([]byte(in))
		require.Error(t, err, "%q", in)
		require.True(t, errors.Is(err, ErrSyntax), "%q: %v", in, err)
	}
}

// FuzzUnmarshal: decoding never panics, and what it decodes encodes to
// valid JSON that decodes to the same event (encode∘decode is stable).
func FuzzUnmarshal(f *testing.F) {
	for _, e := range samples {
		f.Add(e.AppendJSON(nil))
	}
	for _, s := range []string{`{"x":{"a":[1,{"b":"}"}]}}`, `{"status":"X","status":5}`, `{"t":-0}`, `{"job":-9223372036854775808}`, `{"task":"\ud800"}`,
		`{"sseq":2147483648,"dseq":18446744073709551615,"dc":2147483648,"delivered":9223372036854775808}`, `{"dseq":18446744073709551616}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var e Event
		if err := e.UnmarshalJSON(data); err != nil {
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("error not wrapping ErrSyntax: %v", err)
			}
			return
		}
		b1 := e.AppendJSON(nil)
		if !json.Valid(b1) {
			t.Fatalf("invalid JSON %q from %q", b1, data)
		}
		var e2 Event
		if err := e2.UnmarshalJSON(b1); err != nil {
			t.Fatalf("re-decode %q: %v", b1, err)
		}
		if b2 := e2.AppendJSON(nil); !bytes.Equal(b1, b2) {
			t.Fatalf("unstable: %q → %q → %q", data, b1, b2)
		}
	})
}

func TestEffectNames(t *testing.T) {
	require.Len(t, effectNames, bits.OnesCount32(uint32(AllEffects)), "one name per effect")
	for i, n := range effectNames {
		x, ok := EffectNamed(n)
		require.True(t, ok, n)
		require.Equal(t, Effects(1)<<i, x)
		require.Equal(t, []string{n}, x.Names())
	}
	b := string((&Event{T: 1, Kind: KindFault, ID: "f1", Name: "down", Link: "api-nats", Phase: "start", Effects: EffectNATSUnreachable | EffectLinkDown}).AppendJSON(nil))
	require.Equal(t, `{"t":1,"kind":"fault","id":"f1","name":"down","link":"api-nats","phase":"start","effects":"link-down,nats-unreachable"}`, b)
	require.True(t, (EffectLinkDown | EffectNATSCut).Has(EffectNATSCut))
	require.False(t, EffectLinkDown.Has(0), "the empty set is no effect")
}
