package protocol

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNames(t *testing.T) {
	require.Equal(t, "job_12", StreamName(12))
	require.Equal(t, "job-12-consumer", ConsumerName(12))
	require.Equal(t, "job.12.tasks", TaskSubject(12))
	n, ok := JobOfStream(StreamName(12))
	require.True(t, ok)
	require.Equal(t, int64(12), n)
	for _, s := range []string{"advisories", "job_", "job_x", "jobs_1"} {
		_, ok := JobOfStream(s)
		require.False(t, ok, s)
	}
}

func TestIDs(t *testing.T) {
	tests := []struct {
		raw  string
		want string
		ok   bool // IDString's answer; ID refuses what is neither a string, a number nor null
		bad  bool // ID.UnmarshalJSON fails
	}{
		{`"img-1"`, "img-1", true, false},
		{`7`, "7", true, false},
		{`1e3`, "1e3", true, false},
		{`""`, "", false, false},
		{`null`, "", false, false},
		{`{"nested": 1}`, "", false, true},
		{`[1]`, "", false, true},
		{`true`, "", false, true},
	}
	for _, tt := range tests {
		got, ok := IDString(json.RawMessage(tt.raw))
		require.Equal(t, tt.ok, ok, tt.raw)
		require.Equal(t, tt.want, got, tt.raw)
		var id ID
		err := json.Unmarshal([]byte(tt.raw), &id)
		if tt.bad {
			require.Error(t, err, tt.raw)
			continue
		}
		require.NoError(t, err, tt.raw)
		require.Equal(t, tt.want, string(id), tt.raw)
	}
}

func TestTaskRoundTrip(t *testing.T) {
	var task Task
	require.NoError(t, json.Unmarshal([]byte(`{"id": 3, "image_url": "u", "reply_subject": null}`), &task))
	require.Equal(t, "3", task.Image(), "a task without image_id is named by its id")
	require.Empty(t, task.Reply())
	r := "$JS.ACK.x"
	b, err := json.Marshal(Task{ID: "a", ImageID: "b", ImageURL: "u", ReplySubject: &r})
	require.NoError(t, err)
	require.JSONEq(t, `{"id": "a", "image_id": "b", "image_url": "u", "reply_subject": "$JS.ACK.x"}`, string(b))
}

func TestSuccessResult(t *testing.T) {
	b, err := SuccessResult("moths", "1-1", "http://x/1", 0.25)
	require.NoError(t, err)
	require.JSONEq(t, `{"pipeline": "moths", "source_images": [{"id": "1-1", "url": "http://x/1"}], "detections": [], "total_time": 0.25}`, string(b))
}

func TestVariants(t *testing.T) {
	require.Equal(t, VariantGood, VariantNames()[0])
	require.Equal(t, []string{VariantSlowLeak}, SoakVariantNames())
	require.Len(t, Variants(), len(VariantNames())+len(SoakVariantNames()))
	for _, v := range Variants() {
		require.True(t, KnownVariant(v.Name), v.Name)
	}
	require.False(t, KnownVariant("bogus"))
}

func TestSubjectPattern(t *testing.T) {
	for pattern, subjects := range map[string]struct{ match, not []string }{
		"$JS.API.STREAM.DELETE.>": {match: []string{"$JS.API.STREAM.DELETE.job_1"},
			not: []string{"$JS.API.STREAM.DELETE", "$JS.API.STREAM.INFO.job_1"}},
		"$JS.API.*.INFO.job_1": {match: []string{"$JS.API.STREAM.INFO.job_1"},
			not: []string{"$JS.API.STREAM.INFO.job_12", "$JS.API.CONSUMER.INFO.job_1.c"}},
		"a":   {match: []string{"a"}, not: []string{"a.b", "b"}},
		"a.b": {not: []string{"a"}},
		"*":   {match: []string{"a"}, not: []string{"a.b"}},
		">":   {match: []string{"a.b.c"}},
		"a.*": {not: []string{"a..", "a."}},
	} {
		p, err := ParseSubjectPattern(pattern)
		require.NoError(t, err)
		require.Equal(t, pattern, p.String())
		for _, s := range subjects.match {
			require.True(t, p.Match([]byte(s)), "%s ~ %s", pattern, s)
		}
		for _, s := range subjects.not {
			require.False(t, p.Match([]byte(s)), "%s !~ %s", pattern, s)
		}
	}
	require.False(t, SubjectPattern{}.Match([]byte("a")))
	for _, bad := range []string{"", "a..b", "a.>.b", "a.b*", "a b", ".a", "a."} {
		_, err := ParseSubjectPattern(bad)
		require.Error(t, err, bad)
	}
}

func TestPaths(t *testing.T) {
	require.Equal(t, "/jobs/", JobsPath)
	require.Equal(t, "/jobs/7/", JobPath(7))
	require.Equal(t, "/jobs/7/tasks/", TasksPath(7))
	require.Equal(t, "/jobs/7/result/", ResultPath(7))
	require.Equal(t, "/jobs/7/cancel/", CancelPath(7))
	for path, want := range map[string]int64{
		APIBase + TasksPath(7): 7, ResultPath(12): 12, "/other/mount/jobs/3/tasks": 3, JobPath(1): 1,
	} {
		got, ok := JobOfPath(path)
		require.True(t, ok, path)
		require.Equal(t, want, got, path)
	}
	for _, path := range []string{APIBase + JobsPath, "/jobs/x/tasks/", "/api/v2/", ""} {
		_, ok := JobOfPath(path)
		require.False(t, ok, path)
	}
	require.True(t, IsTasksPath(APIBase+TasksPath(7)))
	require.True(t, IsTasksPath("/mount/jobs/7/tasks"), "a platform's own spelling")
	require.False(t, IsTasksPath(APIBase+ResultPath(7)))
	require.True(t, IsResultPath(APIBase+ResultPath(7)))
	require.False(t, IsResultPath(APIBase+TasksPath(7)))
}
