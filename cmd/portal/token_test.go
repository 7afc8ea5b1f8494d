package main

import (
	"strings"
	"testing"
)

// TestTokenCreateRecordsOperator: `portal token create` still prints only
// the token (SPEC §6), and records the operator on the host as its
// creator, on the token row and in an audit event that keeps the chain
// intact.
func TestTokenCreateRecordsOperator(t *testing.T) {
	e := newTestEnv(t)
	if _, _, err := e.run(t, "correct horse battery staple\n", "staff", "add", "--email", "ada@example.org", "--name", "Ada", "--role", "admin"); err != nil {
		t.Fatal(err)
	}
	out, _, err := e.run(t, "", "token", "create", "--email", "ada@example.org")
	if err != nil || !strings.HasPrefix(out, "rp_") || strings.Count(out, "\n") != 1 {
		t.Fatalf("token create: %v %q", err, out)
	}
	db := e.db(t)
	var kind, by, owner string
	err = db.QueryRow(e.sql(`SELECT t.created_by_kind, t.created_by, s.email FROM api_tokens t JOIN staff s ON s.id = t.staff_id`)).Scan(&kind, &by, &owner)
	if err != nil || kind != "operator" || by != "" || owner != "ada@example.org" {
		t.Fatalf("token row: kind %q by %q owner %q: %v", kind, by, owner, err)
	}
	var action, actorKind, actorID, reason string
	err = db.QueryRow(e.sql(`SELECT action, actor_kind, actor_id, reason FROM audit_events WHERE action = ?`), "api_token_create").
		Scan(&action, &actorKind, &actorID, &reason)
	if err != nil || actorKind != "operator" || actorID != "" || !strings.Contains(reason, "ada@example.org") || !strings.Contains(reason, out[:7]) {
		t.Fatalf("audit event: %q by %q %q, reason %q: %v", action, actorKind, actorID, reason, err)
	}
	if out, _, err := e.run(t, "", "audit", "verify"); err != nil || !strings.Contains(out, "intact: 1 events") {
		t.Fatalf("audit verify: %v %q", err, out)
	}
}

// TestTokenCreateScoped: --scope and --expires limit the token; a bad
// scope is a clear error and no token.
func TestTokenCreateScoped(t *testing.T) {
	e := newTestEnv(t)
	if _, _, err := e.run(t, "correct horse battery staple\n", "staff", "add", "--email", "rev@example.org", "--name", "Rev", "--role", "reviewer"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.run(t, "", "token", "create", "--email", "rev@example.org", "--scope", "admin"); err == nil || !strings.Contains(err.Error(), "--scope") {
		t.Fatalf("admin scope for a reviewer: %v", err)
	}
	if _, _, err := e.run(t, "", "token", "create", "--email", "rev@example.org", "--expires", "2020-01-01"); err == nil || !strings.Contains(err.Error(), "--expires") {
		t.Fatalf("expiry in the past: %v", err)
	}
	out, _, err := e.run(t, "", "token", "create", "--email", "rev@example.org", "--scope", "requests:read,reports:read", "--scope", "requests:read", "--expires", "2099-01-01")
	if err == nil {
		t.Fatalf("an expiry past two years was accepted: %q", out)
	}
	out, _, err = e.run(t, "", "token", "create", "--email", "rev@example.org", "--scope", "requests:read,reports:read", "--scope", "requests:read")
	if err != nil || !strings.HasPrefix(out, "rp_") {
		t.Fatalf("scoped token: %v %q", err, out)
	}
	var scopes string
	if err := e.db(t).QueryRow(`SELECT scopes FROM api_tokens`).Scan(&scopes); err != nil || scopes != "requests:read reports:read" {
		t.Fatalf("stored scopes %q: %v", scopes, err)
	}
}
