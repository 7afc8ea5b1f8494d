package workflow

import (
	"testing"
	"time"
)

// TestCompleteWaitsForTasks: complete is refused while fulfilment tasks
// are open, and allowed once none are.
func TestCompleteWaitsForTasks(t *testing.T) {
	in := Input{Action: ActionComplete, Actor: Actor{Kind: ActorStaff, ID: "s1"}, Message: "done", Now: time.Now()}
	_, err := Decide(Snapshot{State: StateApproved, OpenTasks: 2}, in)
	if e, ok := err.(*Error); !ok || e.Kind != ErrNotAllowed {
		t.Fatalf("complete with open tasks: %v", err)
	}
	if _, err := Decide(Snapshot{State: StateApproved}, in); err != nil {
		t.Fatalf("complete without open tasks: %v", err)
	}
}
