package audit

import (
	"context"
	"crypto/hmac"
	"encoding/hex"
	"fmt"

	"github.com/tresorkms/tresor"
)

// DefaultPageSize is how many records Verify reads at a time unless
// VerifyOptions say otherwise.
const DefaultPageSize = 1000

// VerifyOptions tune Verify. The zero VerifyOptions are the defaults.
type VerifyOptions struct {
	// ExpectHead, if not nil, is a head printed by an earlier Verify and
	// kept outside the database. The log must reach it, and its record at
	// ExpectHead.Seq must carry ExpectHead.MAC; this detects records
	// deleted from the tail, which the chain alone cannot.
	ExpectHead *Head
	// PageSize is how many records are read per Store.Records call.
	// Default DefaultPageSize.
	PageSize int
}

// Report is the outcome of Verify.
type Report struct {
	Records  int64  // records that verified, from Seq 1 on
	Head     int64  // the Seq of the last record that verified; 0 if none
	HeadMAC  string // its MAC, hex-encoded; "" if none
	FirstBad int64  // the Seq of the first record missing or not verifying; 0 if the log verifies
	Problem  string // what is wrong at FirstBad; "" if the log verifies
}

// OK reports whether the log verified.
func (r Report) OK() bool { return r.FirstBad == 0 && r.Problem == "" }

// Verify walks the whole log in store and checks that its Seqs run from 1
// without gaps and that every record carries the MAC that the chain keyed
// by root gives it. It stops at the first record that fails and describes
// it in the Report: missing (deleted), out of order, or edited.
//
// If the log does not verify, Verify returns the Report together with a
// Conflict error; if the Store fails, it returns the Store's error and a
// Report of what was verified so far. It returns Invalid if root is not a
// root key.
func Verify(ctx context.Context, store Store, root []byte, opts VerifyOptions) (Report, error) {
	chain, err := NewMAC(root)
	if err != nil {
		return Report{}, err
	}
	pageSize := opts.PageSize
	if pageSize < 1 {
		pageSize = DefaultPageSize
	}
	var rep Report
	bad := func(seq int64, format string, args ...any) (Report, error) {
		rep.FirstBad, rep.Problem = seq, fmt.Sprintf(format, args...)
		return rep, tresor.Errorf(tresor.Conflict, "audit: log does not verify: record %d: %s", seq, rep.Problem)
	}
	expect := opts.ExpectHead
	var prev Head
	for {
		recs, err := store.Records(ctx, prev.Seq, pageSize)
		if err != nil {
			return rep, fmt.Errorf("audit: verify: %w", err)
		}
		if len(recs) == 0 {
			break
		}
		for i, r := range recs {
			want := prev.Seq + 1
			switch {
			case r.Seq == want+1:
				return bad(want, "missing: record %d follows record %d", r.Seq, prev.Seq)
			case r.Seq > want:
				return bad(want, "missing: records %d to %d are gone", want, r.Seq-1)
			case r.Seq < want:
				return bad(r.Seq, "out of order: the store returned it after record %d", prev.Seq)
			}
			if !hmac.Equal(chain.Next(prev.mac(), r), r.MAC) {
				var next *Record
				if i+1 < len(recs) {
					next = &recs[i+1]
				} else if more, err := store.Records(ctx, r.Seq, 1); err == nil && len(more) == 1 {
					next = &more[0]
				}
				return bad(r.Seq, "%s", diagnose(chain, prev, r, next))
			}
			if expect != nil && r.Seq == expect.Seq && !hmac.Equal(r.MAC, expect.MAC) {
				return bad(r.Seq, "its MAC differs from the expected head %s: the log was rewritten or is not the one anchored", expect)
			}
			prev = headOf(r)
			rep.Records, rep.Head, rep.HeadMAC = rep.Records+1, r.Seq, hex.EncodeToString(r.MAC)
		}
	}
	if expect != nil && prev.Seq < expect.Seq {
		return bad(prev.Seq+1, "missing: the log ends at record %d, before the expected head %s (records deleted from the tail)", prev.Seq, expect)
	}
	return rep, nil
}

// diagnose explains why r does not verify after prev, looking at the record
// after it (nil if none) to tell the likely causes apart.
func diagnose(chain *Chain, prev Head, r Record, next *Record) string {
	if len(r.MAC) != MACSize {
		return "edited: its MAC is missing or malformed"
	}
	if next != nil {
		moved := *next
		moved.Seq = r.Seq
		if hmac.Equal(chain.Next(prev.mac(), moved), next.MAC) {
			return fmt.Sprintf("reordered: the record stored as %d belongs at %d", next.Seq, r.Seq)
		}
		if hmac.Equal(chain.Next(r.MAC, *next), next.MAC) {
			return "edited: its contents do not match its MAC, which the next record chains from"
		}
		shifted := *next
		shifted.Seq++
		if hmac.Equal(chain.Next(r.MAC, shifted), next.MAC) {
			return "missing: a record before it was deleted and the records after renumbered"
		}
	}
	return "edited or forged: it does not match its MAC"
}
