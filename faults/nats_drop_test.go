package faults

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/history"
	"github.com/natschaos/natschaos/protocol"
)

// recTaps records the drops asked of it.
type recTaps struct {
	link    string
	pattern string
	stopped int
}

func (r *recTaps) Drop(link string, p protocol.SubjectPattern) (func() int64, error) {
	r.link, r.pattern = link, p.String()
	return func() int64 { r.stopped++; return 2 }, nil
}

// TestNATSDrop: the fault asks the link's tap to drop its subject and
// stops the drop when healed; the tap itself is proven in harness/observe
// (TestConnTapDrop), the fault's effect on an API by cancel-unanswered.
func TestNATSDrop(t *testing.T) {
	taps := &recTaps{}
	env := &testEnv{taps: taps}
	heal := inject(t, env, "f1", LinkResultsNATS, Spec{Name: "nats_drop", Attrs: Attrs{"subject": "$JS.API.STREAM.DELETE.>"}})
	require.Equal(t, LinkResultsNATS, taps.link)
	require.Equal(t, "$JS.API.STREAM.DELETE.>", taps.pattern)
	require.Zero(t, taps.stopped)
	require.NoError(t, heal(context.Background()))
	require.Equal(t, 1, taps.stopped)

	d, ok := Lookup("nats_drop")
	require.True(t, ok)
	require.Equal(t, history.EffectRequestsDropped, d.EffectsOn(LinkAPINATS), "not NATS unreachable: the connection stays up")

	f, err := Spec{Name: "nats_drop", Attrs: Attrs{"subject": ">"}}.Build("f1", LinkAPINATS)
	require.NoError(t, err)
	_, err = f.Inject(context.Background(), &testEnv{})
	require.ErrorContains(t, err, "no NATS taps")
}

func TestNATSDropAttributes(t *testing.T) {
	for _, tc := range []struct {
		link  string
		attrs Attrs
		want  string
	}{
		{LinkAPINATS, Attrs{}, "nats_drop.subject: empty subject"},
		{LinkAPINATS, Attrs{"subject": "$JS.API..INFO"}, "nats_drop.subject: subject \"$JS.API..INFO\" has an empty token"},
		{LinkAPINATS, Attrs{"subject": "a.>.b"}, "may only be the last token"},
		{LinkAPINATS, Attrs{"subject": "a", "bytes": "3"}, "bytes"},
		{LinkWorkerAPI, Attrs{"subject": "a"}, "link: nats_drop acts on a NATS link (api-nats or results-nats), not \"worker-api\""},
		{"route-1", Attrs{"subject": "a"}, "not \"route-1\""},
	} {
		_, err := Spec{Name: "nats_drop", Attrs: tc.attrs}.Build("f1", tc.link)
		require.ErrorContains(t, err, tc.want, "%s %v", tc.link, tc.attrs)
	}
}
