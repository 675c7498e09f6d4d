package blob

import (
	"strings"
	"time"

	"github.com/tresorkms/tresor"
)

// checkRead evaluates c for a read of b, as Azure does: a failed If-Match
// or If-Unmodified-Since is 412 ConditionNotMet; a failed If-None-Match or
// If-Modified-Since is 304 (ReasonNotModified).
func (c Conditions) checkRead(b Blob) error {
	if err := c.checkMatch(b); err != nil {
		return err
	}
	if (c.IfNoneMatch != "" && matchETag(c.IfNoneMatch, b.ETag)) ||
		(!c.IfModifiedSince.IsZero() && !seconds(b.Modified).After(c.IfModifiedSince)) {
		return tresor.Errorf(tresor.PreconditionFailed, "The condition specified using HTTP conditional header(s) is not met.").
			WithReason(ReasonNotModified)
	}
	return nil
}

// checkWrite evaluates c for a write to an object whose current ETag and
// modification time are etag and modified; exists is false if there is
// none yet. Every failed condition is 412 ConditionNotMet, except
// If-None-Match: * on an existing blob, which Azure answers with 409
// BlobAlreadyExists.
func (c Conditions) checkWrite(etag string, modified time.Time, exists bool) error {
	if !exists {
		if c.IfMatch != "" {
			return conditionNotMet()
		}
		return nil
	}
	if c.IfNoneMatch == "*" {
		return tresor.Errorf(tresor.Conflict, "The specified blob already exists.").WithReason(ReasonBlobAlreadyExists)
	}
	if err := c.checkMatch(Blob{ETag: etag, Modified: modified}); err != nil {
		return err
	}
	if (c.IfNoneMatch != "" && matchETag(c.IfNoneMatch, etag)) ||
		(!c.IfModifiedSince.IsZero() && !seconds(modified).After(c.IfModifiedSince)) {
		return conditionNotMet()
	}
	return nil
}

// checkMatch evaluates If-Match and If-Unmodified-Since.
func (c Conditions) checkMatch(b Blob) error {
	if (c.IfMatch != "" && !matchETag(c.IfMatch, b.ETag)) ||
		(!c.IfUnmodifiedSince.IsZero() && seconds(b.Modified).After(c.IfUnmodifiedSince)) {
		return conditionNotMet()
	}
	return nil
}

// empty reports whether c has no conditions.
func (c Conditions) empty() bool { return c == Conditions{} }

func conditionNotMet() error {
	return tresor.Errorf(tresor.PreconditionFailed, "The condition specified using HTTP conditional header(s) is not met.").
		WithReason(ReasonConditionNotMet)
}

// matchETag reports whether the header value list (an If-Match or
// If-None-Match: "*", or ETags separated by commas, quoted or not) matches
// etag.
func matchETag(list, etag string) bool {
	for v := range strings.SplitSeq(list, ",") {
		v = strings.TrimSpace(v)
		if v == "*" {
			return true
		}
		v = strings.TrimPrefix(v, "W/")
		if strings.Trim(v, `"`) == etag {
			return true
		}
	}
	return false
}

// seconds truncates t to whole seconds, the precision of HTTP dates.
func seconds(t time.Time) time.Time { return t.Truncate(time.Second) }
