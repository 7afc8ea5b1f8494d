package service

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"rightsportal/models"
	"rightsportal/workflow"
)

// API token scopes. A token with scopes may do only what they name, and
// never more than its owner may; a token without any (made before scopes
// existed, or with `portal token create` and no --scope) keeps the full
// reach of its owner, as before.
const (
	ScopeRequestsRead  = "requests:read"
	ScopeRequestsWrite = "requests:write"
	ScopeReportsRead   = "reports:read"
	ScopeAdmin         = "admin"
)

// AllScopes lists the scopes in the order forms offer them.
func AllScopes() []string {
	return []string{ScopeRequestsRead, ScopeRequestsWrite, ScopeReportsRead, ScopeAdmin}
}

// MaxTokenLifetime bounds an expiry: a token meant to expire should not
// outlive the people who remember making it.
const MaxTokenLifetime = 2 * 366 * 24 * time.Hour

// TokenOptions is what a new token may do and until when. Zero: the
// owner's full reach, no expiry.
type TokenOptions struct {
	Scopes    []string
	ExpiresAt *time.Time
}

// Grant is what an authenticated API token may do.
type Grant struct {
	Staff *models.Staff
	// scopes is nil for a full-reach token.
	scopes []string
}

// Has answers whether the token may act under scope. Admin needs an
// admin owner besides; the routes check the role too.
func (g Grant) Has(scope string) bool {
	if scope == ScopeAdmin && (g.Staff == nil || g.Staff.Role != models.RoleAdmin) {
		return false
	}
	return g.scopes == nil || slices.Contains(g.scopes, scope)
}

// grantOf reads a stored token's scopes.
func grantOf(st *models.Staff, t *models.APIToken) Grant {
	g := Grant{Staff: st}
	if s := strings.TrimSpace(t.Scopes); s != "" {
		g.scopes = strings.Fields(s)
	}
	return g
}

// checkTokenOptions cleans and checks the options of a new token for
// owner: known scopes, each once; admin only for an admin; an expiry in
// the future and within MaxTokenLifetime.
func checkTokenOptions(owner *models.Staff, o TokenOptions, now time.Time) (scopes string, err error) {
	var clean []string
	for _, s := range o.Scopes {
		for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
			if !slices.Contains(AllScopes(), part) {
				return "", &ValidationError{Fields: map[string]string{"scope": fmt.Sprintf("%q is not a scope: use %s", part, strings.Join(AllScopes(), ", "))}}
			}
			if part == ScopeAdmin && owner.Role != models.RoleAdmin {
				return "", &ValidationError{Fields: map[string]string{"scope": "only an admin's token may have the admin scope"}}
			}
			if !slices.Contains(clean, part) {
				clean = append(clean, part)
			}
		}
	}
	if e := o.ExpiresAt; e != nil {
		switch {
		case !e.After(now):
			return "", &ValidationError{Fields: map[string]string{"expires": "must be in the future"}}
		case e.Sub(now) > MaxTokenLifetime:
			return "", &ValidationError{Fields: map[string]string{"expires": "must be within two years"}}
		}
	}
	slices.SortFunc(clean, func(a, b string) int { return slices.Index(AllScopes(), a) - slices.Index(AllScopes(), b) })
	return strings.Join(clean, " "), nil
}

// describeToken says a token's reach for its audit event.
func describeToken(t *models.APIToken) string {
	s := "full reach of its owner"
	if t.Scopes != "" {
		s = "scopes " + strings.ReplaceAll(t.Scopes, " ", ", ")
	}
	if t.ExpiresAt != nil {
		s += ", expires " + t.ExpiresAt.UTC().Format(time.RFC3339)
	}
	return s
}

// ParseTokenExpiry reads an expiry date (YYYY-MM-DD, "" for none) as the
// end of that day in the organisation's time zone.
func (s *Service) ParseTokenExpiry(v string) (*time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil, nil
	}
	d, err := workflow.ParseDate(v)
	if err != nil {
		return nil, &ValidationError{Fields: map[string]string{"expires": fmt.Sprintf("%q is not a date like 2027-06-30", v)}}
	}
	t := s.cal.EndOf(d)
	return &t, nil
}
