package protocol

// The links of docs/scenarios.md, "Links": each one a Toxiproxy proxy
// between two parts of the system. Cluster routes are named "route-1",
// "route-2", ... (see faults.RouteLink).
const (
	LinkAPINATS     = "api-nats"     // reference API → NATS
	LinkWorkerAPI   = "worker-api"   // workers → API
	LinkResultsNATS = "results-nats" // result processor → NATS
)

// Phases of a run, in the order it goes through them (the phase events of
// a history).
const (
	PhaseWarmup = "warmup"
	PhaseChaos  = "chaos"
	PhaseHeal   = "heal"
	PhaseDrain  = "drain"
	PhaseEnd    = "end"
)

// Phases of a connection on a link, in the order it goes through them (the
// conn events of a history).
const (
	ConnOpen  = "open"  // the link's proxy accepted the connection
	ConnReady = "ready" // the NATS handshake completed (the server answered the client's first PING)
	ConnClose = "close" // the connection closed, or the run ended with it still open
)
