package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"golang.org/x/term"

	"rightsportal/models"
	"rightsportal/service"
)

// staffCommand is `portal staff add --email E --name N --role R`.
func staffCommand(ctx context.Context, path string, args []string, getenv env, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "add" {
		return errors.New("usage: portal staff add --email E --name N --role admin|reviewer")
	}
	fs := flag.NewFlagSet("staff add", flag.ContinueOnError)
	fs.SetOutput(stderr)
	email := fs.String("email", "", "the staff member's e-mail address")
	name := fs.String("name", "", "the staff member's name")
	role := fs.String("role", "reviewer", "admin or reviewer")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	password, generated, err := readPassword(stdin)
	if err != nil {
		return err
	}
	a, err := openApp(ctx, path, getenv, stderr)
	if err != nil {
		return err
	}
	defer a.close()
	st, err := a.svc.AddStaff(ctx, *email, *name, *role, password)
	var ve *service.ValidationError
	if errors.As(err, &ve) {
		var parts []string
		for k, v := range ve.Fields {
			parts = append(parts, "--"+k+": "+v)
		}
		return errors.New(strings.Join(parts, "; "))
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "added %s <%s> as %s\n", st.Name, st.Email, st.Role)
	if generated {
		fmt.Fprintf(stdout, "password: %s\n(shown once: store it in your password manager now)\n", password)
	}
	return nil
}

// readPassword reads the first line of standard input. When standard
// input is a terminal (nobody piped a password in) or empty, a password
// is generated instead.
func readPassword(stdin io.Reader) (string, bool, error) {
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return service.GeneratePassword(), true, nil
	}
	line, err := bufio.NewReader(io.LimitReader(stdin, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", false, fmt.Errorf("read password: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return service.GeneratePassword(), true, nil
	}
	return line, false, nil
}

// tokenCommand is `portal token create --email E`: the token, and nothing
// else, on standard output.
func tokenCommand(ctx context.Context, path string, args []string, getenv env, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		return errors.New("usage: portal token create --email E [--scope S]... [--expires YYYY-MM-DD]")
	}
	fs := flag.NewFlagSet("token create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	email := fs.String("email", "", "the staff member's e-mail address")
	var scopes multiFlag
	fs.Var(&scopes, "scope", "what the token may do, repeatable or comma-separated: "+
		strings.Join(service.AllScopes(), ", ")+" (none: everything its owner may)")
	expires := fs.String("expires", "", "last day the token works, YYYY-MM-DD (none: until revoked)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	a, err := openExisting(ctx, path, getenv, stderr)
	if err != nil {
		return err
	}
	defer a.close()
	until, err := a.svc.ParseTokenExpiry(*expires)
	if err != nil {
		return cliError(err)
	}
	tok, err := a.svc.CreateAPIToken(ctx, *email, service.TokenOptions{Scopes: scopes, ExpiresAt: until})
	if errors.Is(err, models.ErrNotFound) {
		return fmt.Errorf("no staff member with the address %q", *email)
	}
	if err != nil {
		return cliError(err)
	}
	fmt.Fprintln(stdout, tok)
	return nil
}

// multiFlag is a flag that may be given more than once.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// cliError says a service's field errors as one line for the terminal.
func cliError(err error) error {
	var ve *service.ValidationError
	if errors.As(err, &ve) {
		var parts []string
		for k, v := range ve.Fields {
			parts = append(parts, "--"+k+": "+v)
		}
		sort.Strings(parts)
		return errors.New(strings.Join(parts, "; "))
	}
	return err
}

// auditCommand is `portal audit verify`.
func auditCommand(ctx context.Context, path string, args []string, getenv env, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "verify" {
		return errors.New("usage: portal audit verify")
	}
	a, err := openExisting(ctx, path, getenv, stderr)
	if err != nil {
		return err
	}
	defer a.close()
	rep, err := a.store.VerifyChain(ctx)
	if err != nil {
		return err
	}
	if rep.BrokenAt != 0 {
		fmt.Fprintf(stdout, "audit chain BROKEN at event %d: %s (%d events checked)\n", rep.BrokenAt, rep.Problem, rep.Events)
		return fmt.Errorf("audit chain broken at event %d", rep.BrokenAt)
	}
	fmt.Fprintf(stdout, "audit chain intact: %d events\n", rep.Events)
	return nil
}

// purgeCommand is `portal purge [--dry-run]`: the retention purge now, or
// the list of what it would remove.
func purgeCommand(ctx context.Context, path string, args []string, getenv env, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("purge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dry := fs.Bool("dry-run", false, "list what would be purged, change nothing")
	if err := fs.Parse(args); err != nil {
		return err
	}
	a, err := openExisting(ctx, path, getenv, stderr)
	if err != nil {
		return err
	}
	defer a.close()
	items, err := a.svc.PurgeClosed(ctx, *dry)
	for _, it := range items {
		fmt.Fprintf(stdout, "%s\t%s\tclosed %s\n", it.Reference, it.Status, it.ClosedAt.Format("2006-01-02"))
	}
	verb := "purged"
	if *dry {
		verb = "would purge"
	}
	fmt.Fprintf(stdout, "%s the personal data of %d closed requests (retention: %s)\n", verb, len(items), a.cfg.Retention.ClosedRequests)
	return err
}
