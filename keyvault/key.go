package keyvault

import (
	"regexp"
	"slices"
	"time"

	"github.com/tresorkms/tresor/hsm"
)

// KeyType is Azure's kty: a key family, with the "-HSM" suffix for keys
// protected by hardware.
type KeyType string

// The key types.
const (
	RSA    KeyType = "RSA"
	RSAHSM KeyType = "RSA-HSM"
	EC     KeyType = "EC"
	ECHSM  KeyType = "EC-HSM"
	Oct    KeyType = "oct"
	OctHSM KeyType = "oct-HSM"
)

// Family returns the key family without the HSM suffix, or "" for an unknown
// type.
func (t KeyType) Family() hsm.KeyType {
	switch t {
	case RSA, RSAHSM:
		return hsm.RSA
	case EC, ECHSM:
		return hsm.EC
	case Oct, OctHSM:
		return hsm.Oct
	}
	return ""
}

// HSM reports whether t carries the "-HSM" suffix.
func (t KeyType) HSM() bool { return t == RSAHSM || t == ECHSM || t == OctHSM }

// withHSM returns the "-HSM" form of t's family.
func (t KeyType) withHSM() KeyType {
	switch t.Family() {
	case hsm.RSA:
		return RSAHSM
	case hsm.EC:
		return ECHSM
	case hsm.Oct:
		return OctHSM
	}
	return t
}

// KeyOp is an operation a key permits, as listed in its key_ops.
type KeyOp string

// The key operations.
const (
	OpEncrypt   KeyOp = "encrypt"
	OpDecrypt   KeyOp = "decrypt"
	OpSign      KeyOp = "sign"
	OpVerify    KeyOp = "verify"
	OpWrapKey   KeyOp = "wrapKey"
	OpUnwrapKey KeyOp = "unwrapKey"
	OpImport    KeyOp = "import"
	OpExport    KeyOp = "export"
)

var knownOps = []KeyOp{OpEncrypt, OpDecrypt, OpSign, OpVerify, OpWrapKey, OpUnwrapKey, OpImport, OpExport}

// ReleasePolicy is a key release policy. Data is the policy document, kept
// as the client sent it.
type ReleasePolicy struct {
	ContentType string
	Data        []byte
	Immutable   bool
}

// KeyVersion is one version of a key. The newest version is the key's
// current one. Everything but the material is kept in the clear; the
// material is behind Handle.
type KeyVersion struct {
	VaultID string
	Name    string
	Version string // 32 lower-case hex digits

	Type   KeyType
	Size   int       // RSA modulus or oct key length in bits; zero for EC
	Curve  hsm.Curve // EC only
	Public hsm.PublicKey
	Ops    []KeyOp

	Enabled   bool
	NotBefore time.Time // zero if unset
	Expires   time.Time // zero if unset
	Created   time.Time
	Updated   time.Time

	Exportable    bool
	ReleasePolicy *ReleasePolicy
	Tags          map[string]string

	// RotationDue is when the key's rotation policy rotates it while this
	// is its newest version; zero if it does not. Older versions have none.
	RotationDue time.Time
	// ExpiryEventDue is when the next expiry event of a Key Vault key
	// whose newest version this is falls due: KeyNearExpiry (the Notify
	// action's time before Expires), then KeyExpired (at Expires). Zero
	// once both are raised, without Expires, in a Managed HSM, and for
	// older versions.
	ExpiryEventDue time.Time

	Handle hsm.Handle
}

// Permits reports whether op is among v's key_ops.
func (v KeyVersion) Permits(op KeyOp) bool { return slices.Contains(v.Ops, op) }

// Deletion records when a key or vault was deleted and when it will be
// purged.
type Deletion struct {
	Deleted time.Time
	PurgeAt time.Time
}

// DeletedKey is a soft-deleted key: its latest version and when it goes.
type DeletedKey struct {
	Latest KeyVersion
	Deletion
}

// Page selects a page of a listing. After is the opaque continuation a
// previous page returned; Max is the page size (1 to 25).
type Page struct {
	Max   int
	After string
}

var namePattern = regexp.MustCompile(`^[0-9a-zA-Z-]{1,127}$`)

// ValidKeyName reports whether name is a valid key name.
func ValidKeyName(name string) bool { return namePattern.MatchString(name) }
