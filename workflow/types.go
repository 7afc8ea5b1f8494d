// Package workflow holds the rules of a rights request: its types, its
// states, the transition table and the deadline arithmetic. It is pure:
// no database, no HTTP, no mail, and the current time is always passed in,
// so every rule can be tested as a table and fuzzed.
package workflow

import "strings"

// RequestType names the right a data subject exercises (SPEC §2).
type RequestType string

// The seven request types of SPEC §2.
const (
	TypeAccess            RequestType = "access"
	TypeRectification     RequestType = "rectification"
	TypeErasure           RequestType = "erasure"
	TypeRestriction       RequestType = "restriction"
	TypeObjection         RequestType = "objection"
	TypePortability       RequestType = "portability"
	TypeConsentWithdrawal RequestType = "consent_withdrawal"
)

// RequestTypes lists every type in the order the public pages show them.
func RequestTypes() []RequestType {
	return []RequestType{TypeAccess, TypeRectification, TypeErasure, TypeRestriction,
		TypeObjection, TypePortability, TypeConsentWithdrawal}
}

// Valid reports whether t is one of the seven types.
func (t RequestType) Valid() bool {
	for _, k := range RequestTypes() {
		if k == t {
			return true
		}
	}
	return false
}

// State is where a request stands in its life (SPEC §3).
type State string

// The states of SPEC §3.
const (
	StateUnverified      State = "unverified"
	StateVerified        State = "verified"
	StateInReview        State = "in_review"
	StateAwaitingSubject State = "awaiting_subject"
	StateApproved        State = "approved"
	StateCompleted       State = "completed"
	StateRejected        State = "rejected"
	StateAppealed        State = "appealed"
	StateWithdrawn       State = "withdrawn"
	StateExpired         State = "expired"
)

// States lists every state, in the order a request usually passes them.
func States() []State {
	return []State{StateUnverified, StateVerified, StateInReview, StateAwaitingSubject,
		StateApproved, StateCompleted, StateRejected, StateAppealed, StateWithdrawn, StateExpired}
}

// Valid reports whether s is a known state.
func (s State) Valid() bool {
	for _, k := range States() {
		if k == s {
			return true
		}
	}
	return false
}

// Closed reports whether nothing more is expected of staff: the request is
// finished, or rejected (where only the subject may still appeal).
func (s State) Closed() bool {
	switch s {
	case StateCompleted, StateWithdrawn, StateExpired, StateRejected:
		return true
	}
	return false
}

// Action is something an actor does to a request (SPEC §3).
type Action string

// The actions of SPEC §3.
const (
	ActionSubmit      Action = "submit"
	ActionVerify      Action = "verify"
	ActionExpire      Action = "expire"
	ActionStartReview Action = "start_review"
	ActionRequestInfo Action = "request_info"
	ActionProvideInfo Action = "provide_info"
	ActionApprove     Action = "approve"
	ActionReject      Action = "reject"
	ActionComplete    Action = "complete"
	ActionExtend      Action = "extend"
	ActionWithdraw    Action = "withdraw"
	ActionAppeal      Action = "appeal"
	ActionGrantAppeal Action = "grant_appeal"
	ActionDenyAppeal  Action = "deny_appeal"
)

// ActorKind says who acts: the data subject, a staff member or the portal.
type ActorKind string

// The three kinds of actor.
const (
	ActorSubject ActorKind = "subject"
	ActorStaff   ActorKind = "staff"
	ActorSystem  ActorKind = "system"
)

// Actor is the one who acts. ID is the staff member's id for staff and
// empty otherwise.
type Actor struct {
	Kind ActorKind
	ID   string
}

// RejectionCode is the reason code a rejection must carry (SPEC §3).
type RejectionCode string

// The rejection reason codes of SPEC §3.
const (
	RejectIdentityNotVerified RejectionCode = "identity_not_verified"
	RejectManifestlyUnfounded RejectionCode = "manifestly_unfounded"
	RejectExcessive           RejectionCode = "excessive"
	RejectLegalExemption      RejectionCode = "legal_exemption"
	RejectNotApplicable       RejectionCode = "not_applicable"
	// RejectDuplicate closes a request that repeats another open request
	// of the same subject and type; the other one is answered.
	RejectDuplicate RejectionCode = "duplicate"
	RejectOther     RejectionCode = "other"
)

// RejectionCodes lists the codes in the order staff pages offer them.
func RejectionCodes() []RejectionCode {
	return []RejectionCode{RejectIdentityNotVerified, RejectManifestlyUnfounded, RejectExcessive,
		RejectLegalExemption, RejectNotApplicable, RejectDuplicate, RejectOther}
}

// Valid reports whether c is a known rejection code.
func (c RejectionCode) Valid() bool {
	for _, k := range RejectionCodes() {
		if k == c {
			return true
		}
	}
	return false
}

// Title is the right's name in plain words, for pages and mails.
func (t RequestType) Title() string {
	switch t {
	case TypeAccess:
		return "Get a copy of your data"
	case TypeRectification:
		return "Correct your data"
	case TypeErasure:
		return "Delete your data"
	case TypeRestriction:
		return "Restrict the use of your data"
	case TypeObjection:
		return "Object to the use of your data"
	case TypePortability:
		return "Take your data elsewhere"
	case TypeConsentWithdrawal:
		return "Withdraw your consent"
	}
	return string(t)
}

// Noun names a request of this type inside a sentence ("your access
// request").
func (t RequestType) Noun() string {
	switch t {
	case TypeAccess:
		return "access request"
	case TypeRectification:
		return "correction request"
	case TypeErasure:
		return "deletion request"
	case TypeRestriction:
		return "restriction request"
	case TypeObjection:
		return "objection"
	case TypePortability:
		return "data portability request"
	case TypeConsentWithdrawal:
		return "consent withdrawal"
	}
	return string(t) + " request"
}

// Name is the state in plain words.
func (s State) Name() string {
	switch s {
	case StateUnverified:
		return "waiting for you to confirm your e-mail address"
	case StateVerified:
		return "received, waiting for review"
	case StateInReview:
		return "being reviewed"
	case StateAwaitingSubject:
		return "waiting for your answer"
	case StateApproved:
		return "approved, being carried out"
	case StateCompleted:
		return "completed"
	case StateRejected:
		return "refused"
	case StateAppealed:
		return "appeal under review"
	case StateWithdrawn:
		return "withdrawn"
	case StateExpired:
		return "expired (never confirmed)"
	}
	return string(s)
}

// Label is the state as staff read it ("awaiting subject").
func (s State) Label() string { return strings.ReplaceAll(string(s), "_", " ") }
