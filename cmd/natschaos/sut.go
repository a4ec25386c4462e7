package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/natschaos/natschaos/harness"
	"github.com/natschaos/natschaos/harness/api"
	"github.com/natschaos/natschaos/protocol"
)

// tokenEnv is where `natschaos sut` takes its API token from when --token is not given.
const tokenEnv = "NATSCHAOS_API_TOKEN"

func variantTable() string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, v := range protocol.Variants() {
		fmt.Fprintf(tw, "  %s\t%s\n", v.Name, v.Description)
	}
	_ = tw.Flush() // a strings.Builder does not fail
	return b.String()
}

func newSUTCmd() *cobra.Command {
	cfg := api.Config{}
	var listen string
	var verbose bool
	cmd := &cobra.Command{
		Use:   "sut --nats-url URL [--variant NAME] [--listen ADDR]",
		Short: "Serve the reference API (docs/protocol.md) as a process of its own",
		Long: `Sut serves the reference API of docs/protocol.md — the system natschaos tests — as its
own process, for external mode: point --nats-url at the api-nats proxy that
natschaos run prints. The token comes from --token or $` + tokenEnv + `; with
none, the API asks for no auth (and says so).

Variants (each one real bug from the platform's history, docs/protocol.md):
` + variantTable(),
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfg.NATSURL == "" {
				return usageError{errors.New("--nats-url is required")}
			}
			for flag, u := range map[string]string{"--nats-url": cfg.NATSURL, "--results-nats-url": cfg.ResultsNATSURL} {
				if u == "" {
					continue
				}
				if err := harness.CheckURL(flag, u, "nats", "tls", "ws", "wss"); err != nil {
					return usageError{err}
				}
			}
			if cfg.Token == "" {
				cfg.Token = os.Getenv(tokenEnv)
			}
			if cfg.Token == "" {
				fmt.Fprintf(cmd.ErrOrStderr(), "natschaos sut: warning: no --token and no $%s: the API asks for no auth\n", tokenEnv)
			}
			cfg.Logger = logger(verbose, cmd.ErrOrStderr())
			a, err := api.New(cfg)
			if err != nil {
				return usageError{err}
			}
			defer a.Close()
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("listen %s: %w", listen, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "natschaos sut: variant %s, NATS %s, serving http://%s/api/v2/\n", a.Config().Variant, harness.StripUser(cfg.NATSURL), ln.Addr())
			errc := make(chan error, 1)
			go func() { errc <- a.Serve(ln) }()
			select {
			case err := <-errc:
				if err != nil && !errors.Is(err, http.ErrServerClosed) {
					return fmt.Errorf("serve: %w", err)
				}
				return nil
			case <-cmd.Context().Done():
				a.Close()
				<-errc
				return nil
			}
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&cfg.NATSURL, "nats-url", "", "the API's NATS URL (point it at the api-nats proxy)")
	fl.StringVar(&cfg.ResultsNATSURL, "results-nats-url", "", "the result processor's NATS URL (default: --nats-url; point it at the results-nats proxy)")
	fl.StringVar(&listen, "listen", "127.0.0.1:8000", "address to serve HTTP on")
	fl.StringVar(&cfg.Token, "token", "", "API token (default $"+tokenEnv+"; never printed)")
	fl.StringVar(&cfg.Variant, "variant", protocol.VariantGood, "the variant to serve (see above)")
	fl.DurationVar(&cfg.AckWait, "ack-wait", 300*time.Second, "consumer ack_wait (TASK_TTR)")
	fl.IntVar(&cfg.MaxDeliver, "max-deliver", 2, "consumer max_deliver")
	fl.DurationVar(&cfg.ConnectTimeout, "connect-timeout", 5*time.Second, "NATS connect timeout")
	fl.DurationVar(&cfg.OpTimeout, "op-timeout", 10*time.Second, "timeout of every JetStream call and publish")
	fl.IntVar(&cfg.MaxConcurrent, "max-concurrent", 0, "requests served at once (0 = unbounded)")
	fl.IntVar(&cfg.Processes, "processes", 0, "serve as this many web-server processes (0 = unbounded; not with --max-concurrent)")
	fl.IntVar(&cfg.Threads, "threads", 0, "request threads per process with --processes (default 1: one request at a time)")
	fl.BoolVarP(&verbose, "verbose", "v", false, "log what the API does (reserve failures, processor errors)")
	fl.IntVar(&cfg.Replicas, "replicas", 1, "replicas of the job's stream and consumer (3 on a three-node cluster)")
	return cmd
}
