package chaos

import (
	"embed"
	"fmt"
	"path"
	"sort"
	"strings"
	"sync"
)

//go:embed catalog/*.yaml
var catalogFS embed.FS

// DefaultSuite names the built-in scenarios `natschaos run` runs with no
// --scenario: one for each way the three claims can break (loss, timing
// against ack_wait, connection safety), about 40 s on two cores.
var DefaultSuite = []string{
	"baseline",
	"http-timeout-batch",
	"response-lost",
	"nats-down",
	"nats-blackhole",
	"nats-reset",
	"worker-crash",
	"processor-crash",
	"terminal-job",
}

var loadCatalog = sync.OnceValues(func() ([]Scenario, error) {
	entries, err := catalogFS.ReadDir("catalog")
	if err != nil {
		return nil, err
	}
	var all []Scenario
	for _, e := range entries {
		name := path.Join("catalog", e.Name())
		data, err := catalogFS.ReadFile(name)
		if err != nil {
			return nil, err
		}
		s, err := ParseScenario(name, data)
		if err != nil {
			return nil, err
		}
		if want := strings.TrimSuffix(e.Name(), ".yaml"); s.Name != want {
			return nil, fmt.Errorf("%s: scenario is named %q, its file %q", name, s.Name, want)
		}
		all = append(all, s)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Name < all[j].Name })
	return all, nil
})

// Catalog returns the built-in scenarios (chaos/catalog/*.yaml), sorted by
// name, with their defaults filled in. A built-in file that does not parse
// is a bug of this package: Catalog panics on it (the tests parse them all).
func Catalog() []Scenario {
	all, err := loadCatalog()
	if err != nil {
		panic(fmt.Sprintf("chaos: built-in catalog: %v", err))
	}
	out := make([]Scenario, len(all))
	copy(out, all)
	return out
}

// Lookup returns the built-in scenario called name.
func Lookup(name string) (Scenario, bool) {
	for _, s := range Catalog() {
		if s.Name == name {
			return s, true
		}
	}
	return Scenario{}, false
}

// FindScenario returns the built-in scenario called arg, or the scenario
// file at arg when arg ends in .yaml or .yml or names no built-in one.
func FindScenario(arg string) (Scenario, error) {
	if !strings.HasSuffix(arg, ".yaml") && !strings.HasSuffix(arg, ".yml") {
		if s, ok := Lookup(arg); ok {
			return s, nil
		}
		if !strings.ContainsAny(arg, "/\\.") {
			names := make([]string, 0, len(Catalog()))
			for _, s := range Catalog() {
				names = append(names, s.Name)
			}
			return Scenario{}, &UsageError{fmt.Errorf("unknown scenario %q (built in: %s; or give a FILE.yaml)", arg, strings.Join(names, ", "))}
		}
	}
	return LoadScenario(arg)
}
