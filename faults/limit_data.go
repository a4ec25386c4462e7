package faults

import "github.com/natschaos/natschaos/history"

// limit_data is the model of a fault in a file of its own: its Def
// (what a scenario writes, what it needs, what it does), its type and how it
// says its toxics; [toxicFault] injects and heals them. A new toxic fault
// copies this file and its test.

func init() {
	registerToxic(Def{Name: "limit_data", Doc: "close the connection after bytes bytes (default direction downstream)",
		Attrs: []string{"bytes"}, Effects: history.EffectLinkCut},
		Downstream, func(r *attrReader, n Net) toxicSpec { return LimitData{Net: n, Bytes: r.int64("bytes", 0)} })
}

// LimitData closes the connection after Bytes bytes.
type LimitData struct {
	Net
	Bytes int64 // ≥ 0
}

// toxic is f's Toxiproxy toxic type and attributes.
func (f LimitData) toxic() (string, map[string]any, error) {
	if f.Bytes < 0 {
		return "", nil, fieldErr("bytes", "bytes %d must be ≥ 0", f.Bytes)
	}
	return "limit_data", map[string]any{"bytes": f.Bytes}, nil
}
