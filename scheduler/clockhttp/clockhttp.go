// Package clockhttp is the admin API of a server on a virtual clock:
//
//	GET  /tresor/clock           {"now": RFC 3339, "mode": "virtual"}
//	POST /tresor/clock/advance   {"by": "P18M"} or {"to": "2028-01-01T00:00:00Z"}
//
// Advancing moves the clock through every due time in order and runs the
// work due at each (scheduler.Advance) before it answers. Only the
// installation's administrator may call it. A server on real time does not
// mount it.
package clockhttp

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/audit"
	"github.com/tresorkms/tresor/clock"
	"github.com/tresorkms/tresor/internal/adminhttp"
	"github.com/tresorkms/tresor/internal/httpstatus"
	"github.com/tresorkms/tresor/internal/period"
	"github.com/tresorkms/tresor/scheduler"
)

// Handler serves the clock API.
type Handler struct {
	Clock     *clock.Virtual
	Scheduler *scheduler.Scheduler
	// Authenticate validates a bearer token and returns its principal.
	Authenticate func(ctx context.Context, token string) (tresor.Principal, error)
	// Admin is the object id of the only principal allowed.
	Admin string
	// Persist records the clock's time after it moved.
	Persist func(ctx context.Context, t time.Time) error
	// Audit records each request; nil records nothing.
	Audit func(ctx context.Context, r audit.Record)
}

// Prefix is the path under which the API is served.
const Prefix = "/tresor/clock"

// maxAdvance bounds one advance: a century of daily work is enough.
const maxAdvance = 100 * 365 * 24 * time.Hour

type clockState struct {
	Now  string `json:"now"`
	Mode string `json:"mode"`
}

type advanceRequest struct {
	By string `json:"by"`
	To string `json:"to"`
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &httpstatus.Writer{ResponseWriter: w}
	p, err := h.serve(rec, r)
	if err != nil {
		adminhttp.WriteError(rec, err, "The clock advanced only partly; the work due next failed: ")
	}
	if h.Audit != nil {
		op := "GetClock"
		if r.Method == http.MethodPost {
			op = "AdvanceClock"
		}
		h.Audit(r.Context(), audit.Record{
			RequestID: r.Header.Get("x-ms-client-request-id"), Principal: p, Operation: op,
			ResourceID: Prefix, Result: audit.ResultOf(rec.Status), Status: rec.Status,
		})
	}
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request) (tresor.Principal, error) {
	p, err := adminhttp.Admin(r, h.Authenticate, h.Admin, "Only the administrator may read or move the clock.")
	if err != nil {
		return p, err
	}
	switch path := strings.TrimSuffix(r.URL.Path, "/"); {
	case path == Prefix && r.Method == http.MethodGet:
	case path == Prefix+"/advance" && r.Method == http.MethodPost:
		if err := h.advance(r); err != nil {
			return p, err
		}
	case path == Prefix || path == Prefix+"/advance":
		return p, tresor.Errorf(tresor.Invalid, "Method %s is not allowed on %s.", r.Method, path).WithReason(adminhttp.ReasonMethodNotAllowed)
	default:
		return p, tresor.Errorf(tresor.NotFound, "No such clock operation: %s.", path)
	}
	adminhttp.WriteJSON(w, http.StatusOK, clockState{Now: h.Clock.Now().Format(time.RFC3339Nano), Mode: "virtual"})
	return p, nil
}

func (h *Handler) advance(r *http.Request) error {
	var req advanceRequest
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 4096))
	if err := dec.Decode(&req); err != nil {
		return tresor.Errorf(tresor.Invalid, "The body must be {\"by\": \"P18M\"} or {\"to\": \"2028-01-01T00:00:00Z\"}: %v", err)
	}
	now := h.Clock.Now()
	var to time.Time
	switch {
	case (req.By == "") == (req.To == ""):
		return tresor.Errorf(tresor.Invalid, "Give exactly one of \"by\" (an ISO 8601 duration) and \"to\" (an RFC 3339 time).")
	case req.By != "":
		d, err := period.Parse(req.By)
		if err != nil {
			return tresor.Errorf(tresor.Invalid, "by: %v", err)
		}
		to = d.AddTo(now)
	default:
		t, err := time.Parse(time.RFC3339, req.To)
		if err != nil {
			return tresor.Errorf(tresor.Invalid, "to: %q is not an RFC 3339 time.", req.To)
		}
		if t.Before(now) {
			return tresor.Errorf(tresor.Invalid, "The clock does not go back: it shows %s.", now.Format(time.RFC3339))
		}
		to = t
	}
	if to.Sub(now) > maxAdvance {
		return tresor.Errorf(tresor.Invalid, "One advance moves the clock at most 100 years.")
	}
	err := h.Scheduler.Advance(r.Context(), h.Clock, to)
	if perr := h.Persist(r.Context(), h.Clock.Now()); perr != nil {
		err = errors.Join(err, perr)
	}
	return err
}
