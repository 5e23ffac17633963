package controller

import (
	"context"
	"net/http"
	"time"
)

// auditTarget is what one audit entry is about and how it ended.
type auditTarget struct {
	// Action is what was done: apply, delete, release add, token create,
	// or for a refused route "<method> <route>".
	Action string
	// Kind is the lowercase kind acted on ("policy", "release", "token");
	// "none" for requests about no particular kind.
	Kind     string
	Name     string
	Revision uint64
	Outcome  AuditOutcome
	Detail   string
}

// auditTimeout bounds one audit write: the answer waits for it.
const auditTimeout = 5 * time.Second

// audit appends an entry for the request's principal. The change it
// records has already happened (or been refused), so a failed append is
// logged, not returned: the client's answer must say what was done.
func (a *API) audit(r *http.Request, t auditTarget) {
	who := principalFrom(r.Context())
	kind := t.Kind
	if kind == "none" {
		kind = ""
	}
	// The client may have gone away; the entry is still owed.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), auditTimeout)
	defer cancel()
	_, err := a.store.AppendAudit(ctx, AuditEntry{
		Time:     a.now(),
		Actor:    who.Name,
		Role:     string(who.Role),
		Action:   t.Action,
		Kind:     kind,
		Name:     t.Name,
		Revision: t.Revision,
		Outcome:  t.Outcome,
		Detail:   t.Detail,
	})
	if err != nil {
		a.log.Error("audit entry not written", "actor", who.Name, "action", t.Action, "kind", kind, "name", t.Name,
			"outcome", string(t.Outcome), "error", err)
	}
}

// auditResult audits a change attempt: ok when err is nil, error
// otherwise (with the error as detail).
func (a *API) auditResult(r *http.Request, t auditTarget, err error) {
	t.Outcome = AuditOK
	if err != nil {
		t.Outcome, t.Detail = AuditError, userMessage(err)
	}
	a.audit(r, t)
}
