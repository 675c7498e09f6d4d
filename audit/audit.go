// Package audit keeps tresor's audit log: an append-only record of every
// data-plane and control-plane operation, allowed or denied, with who asked
// for it, what it touched and how it ended.
//
// # Tamper evidence
//
// Records are chained with an HMAC. Record n carries
//
//	MAC_n = HMAC-SHA256(k, MAC_{n-1} || canonical(record n without its MAC))
//
// where MAC_0 is 32 zero bytes and k is derived from the server's root key
// with HKDF-SHA256 (info "tresor/audit/v1"). Someone who can edit the
// database but cannot read the root key therefore cannot make an edited,
// inserted, deleted or reordered record verify: Verify reports the first
// record where the chain breaks.
//
// The chain alone cannot show that records were deleted at its tail: a
// shortened log is still a valid chain. Verify therefore prints the head of
// the log (its last Seq and MAC), and an operator who wants truncation to be
// detectable anchors that head somewhere the database's writers cannot
// reach (a ticket, a WORM bucket, a signed mail) and later passes it back as
// VerifyOptions.ExpectHead. Records up to the anchored head are then proven
// present and unchanged.
//
// # What goes in a Record
//
// No key material or secret may ever be put in a Record: no keys, plaintext,
// ciphertext, tokens, passwords or request bodies. Record has no field for
// them on purpose; its fields name the operation, never its data. Every
// field is bounded (see Record.Validate) so that a client cannot bloat the
// log with a huge request id or resource id.
//
// # Cost
//
// The log sits on the path of every request, so Log commits records in
// groups: concurrent calls to Log.Record share one Store.Append, and each
// returns only once its record is stored, so no operation is reported to a
// client before it is logged.
package audit

import (
	"context"
	"fmt"
	"time"

	"github.com/tresorkms/tresor"
)

// Results used in Record.Result. Other short outcomes are allowed.
const (
	Allowed = "Allowed" // authorised and completed
	Denied  = "Denied"  // refused by authentication or authorisation
	Failed  = "Failed"  // authorised but failed (invalid request, not found, internal error)
)

// ResultOf classifies an HTTP status as a Result: 401 and 403 are Denied,
// other errors Failed, everything else Allowed.
func ResultOf(status int) string {
	switch {
	case status == 401 || status == 403:
		return Denied
	case status < 400:
		return Allowed
	}
	return Failed
}

// Clip shortens s to MaxField bytes, for fields whose text a client
// chooses (resource ids, request ids), so that a record always validates.
func Clip(s string) string {
	if len(s) > MaxField {
		return s[:MaxField]
	}
	return s
}

// MaxField is the longest a string field of a Record may be, in bytes.
const MaxField = 1024

// Record is one entry of the audit log. Log.Record assigns Seq, Time and
// MAC; the caller fills in the rest.
//
// A Record must never hold key material or a secret; see the package
// documentation.
type Record struct {
	Seq        int64     // position in the log, from 1, without gaps
	Time       time.Time // when the record was logged, in UTC, to the nanosecond
	RequestID  string    // the request's x-ms-request-id or client-request-id
	Principal  tresor.Principal
	Operation  string // e.g. "UnwrapKey", "Microsoft.KeyVault/vaults/write"
	ResourceID string // e.g. "https://kv1.vault.localhost:8443/keys/k1" or an ARM resource id
	KeyVersion string // the key version acted on, if any
	Result     string // a short outcome: Allowed, Denied, Failed
	Status     int    // the HTTP status returned
	MAC        []byte // the chain's HMAC up to and including this record
}

// Validate reports whether r's caller-supplied fields are within bounds: each
// string field at most MaxField bytes and Status within 0..999. It returns
// an Invalid error naming the first field out of bounds.
func (r Record) Validate() error {
	fields := []struct{ name, value string }{
		{"request id", r.RequestID},
		{"tenant id", r.Principal.TenantID},
		{"object id", r.Principal.ObjectID},
		{"app id", r.Principal.AppID},
		{"principal name", r.Principal.Name},
		{"principal type", string(r.Principal.Type)},
		{"operation", r.Operation},
		{"resource id", r.ResourceID},
		{"key version", r.KeyVersion},
		{"result", r.Result},
	}
	for _, f := range fields {
		if len(f.value) > MaxField {
			return tresor.Errorf(tresor.Invalid, "audit: %s is %d bytes, at most %d allowed", f.name, len(f.value), MaxField)
		}
	}
	if r.Status < 0 || r.Status > 999 {
		return tresor.Errorf(tresor.Invalid, "audit: status %d out of range", r.Status)
	}
	return nil
}

// String returns a one-line summary of r for humans; it omits the MAC.
func (r Record) String() string {
	return fmt.Sprintf("%d %s %s/%d %s %s %s", r.Seq, r.Time.Format(time.RFC3339Nano), r.Result, r.Status,
		r.Principal.ObjectID, r.Operation, r.ResourceID)
}

// Store persists the audit log. Implementations keep records exactly as
// given and never change or remove one.
//
// Times come back in UTC with nanosecond precision, so that the MAC
// computed over a record before it was stored still matches after.
type Store interface {
	// Append stores records atomically: all of them or, on error, none.
	// Their Seqs must continue the log without gaps: the first is one
	// past the last stored Seq (1 for an empty log) and each next one is
	// one more. Otherwise Append returns Conflict and stores nothing.
	// Appending no records does nothing.
	Append(ctx context.Context, records []Record) error
	// Last returns the record with the highest Seq, or NotFound if the log
	// is empty.
	Last(ctx context.Context) (Record, error)
	// Records returns up to limit records with Seq greater than afterSeq,
	// in ascending order of Seq. A limit below 1 is Invalid.
	Records(ctx context.Context, afterSeq int64, limit int) ([]Record, error)
}
