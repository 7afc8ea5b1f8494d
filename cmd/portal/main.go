// Command portal is the rights request portal: `portal` or `portal serve`
// runs the web app, the API and the workers; `portal staff add`,
// `portal token create` and `portal audit verify` are the operator's
// tools. main only wires the process to run, which does everything.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // deadlines need the organisation's time zone on any machine
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.LookupEnv, os.Stdin, os.Stdout, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "portal:", err)
		os.Exit(1)
	}
}

// env is how run reads the environment (os.LookupEnv, or a test's map).
type env func(string) (string, bool)

// run is the whole program: tests call it with their own arguments,
// environment and streams.
func run(ctx context.Context, args []string, getenv env, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("portal", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "configuration file (default: $PORTAL_CONFIG or config.yaml)")
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	if err := fs.Parse(args); err != nil {
		return err
	}
	rest := fs.Args()
	cmd := "serve"
	if len(rest) > 0 {
		cmd, rest = rest[0], rest[1:]
	}
	path := *configPath
	if path == "" {
		path = "config.yaml"
		if v, ok := getenv("PORTAL_CONFIG"); ok && v != "" {
			path = v
		}
	}
	switch cmd {
	case "serve":
		return serve(ctx, path, rest, getenv, stderr)
	case "staff":
		return staffCommand(ctx, path, rest, getenv, stdin, stdout, stderr)
	case "token":
		return tokenCommand(ctx, path, rest, getenv, stdout, stderr)
	case "audit":
		return auditCommand(ctx, path, rest, getenv, stdout, stderr)
	case "purge":
		return purgeCommand(ctx, path, rest, getenv, stdout, stderr)
	case "seed":
		return seedCommand(ctx, path, rest, getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}

const usage = `usage: portal [-config FILE] [command]

commands:
  serve [-workers=false] [-pprof [-profile-waits]]
                        migrate the database and serve the portal (default);
                        -workers=false: web and API only, no background work;
                        -pprof: Go's profiler on the metrics listener;
                        -profile-waits: with it, block and mutex profiles
  staff add --email E --name N --role admin|reviewer
                        create a staff account; the password is read from
                        standard input, or generated and printed once
  token create --email E
                        print a new API token for that staff member
  audit verify          check the audit trail's hash chain
  purge [--dry-run]     purge personal data of requests closed longer than
                        the retention period (or list what would go)
  seed --requests N     add N realistic requests (benchmarks, demos)
`
