package tresor

import (
	"errors"
	"fmt"
)

// Kind classifies a failure. Only transports map Kinds to status codes and
// wire shapes; domain code chooses the Kind that describes what went wrong.
type Kind uint8

// The Kinds. The zero Kind is Internal so that an unclassified error is never
// mistaken for the caller's fault.
const (
	Internal           Kind = iota // a bug or an unexpected failure; details are logged, not returned
	Invalid                        // the request is malformed or violates a rule
	Unauthenticated                // no credentials, or credentials that do not validate
	Forbidden                      // the caller is known but may not do this
	NotFound                       // the object does not exist
	Conflict                       // the object's state does not allow the operation
	PreconditionFailed             // an If-Match or similar precondition did not hold
	TooLarge                       // the request body exceeds the route's limit
	Unavailable                    // a transient condition; the caller may retry
)

var kindNames = [...]string{
	Internal:           "internal",
	Invalid:            "invalid",
	Unauthenticated:    "unauthenticated",
	Forbidden:          "forbidden",
	NotFound:           "not found",
	Conflict:           "conflict",
	PreconditionFailed: "precondition failed",
	TooLarge:           "too large",
	Unavailable:        "unavailable",
}

// String returns a lower-case name for k.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// Error is the one error type that crosses package boundaries. Message is safe
// to return to the caller; Err is the cause and is only logged.
type Error struct {
	Kind    Kind
	Reason  string // optional, Azure's spelling, set only where clients branch on it
	Message string // safe to return to the caller
	Err     error  // cause; logged only
}

// Errorf returns an *Error of the given kind whose Message is formatted from
// format and args.
func Errorf(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// WithReason returns a copy of e with Reason set.
func (e *Error) WithReason(reason string) *Error {
	c := *e
	c.Reason = reason
	return &c
}

// Wrap returns an Internal error whose cause is err. It is for failures that
// are not the caller's fault; the message returned to clients stays generic.
func Wrap(err error, op string) *Error {
	return &Error{Kind: Internal, Message: "internal error", Err: fmt.Errorf("%s: %w", op, err)}
}

func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = e.Kind.String()
	}
	if e.Err != nil {
		return msg + ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the Kind of the first *Error in err's chain, or Internal.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}

// ReasonOf returns the Reason of the first *Error in err's chain, or "".
func ReasonOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

// IsKind reports whether err's Kind is k.
func IsKind(err error, k Kind) bool { return err != nil && KindOf(err) == k }

// MessageOf returns the Message of the first *Error in err's chain, which
// is safe to show a caller, or a generic text for any other error.
func MessageOf(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Message != "" {
		return e.Message
	}
	return "internal error"
}
