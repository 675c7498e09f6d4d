package kvhttp

import (
	"net/http"
	"time"

	"github.com/tresorkms/tresor/hsm"
	"github.com/tresorkms/tresor/keyvault"
)

// jsonWebKey is the spec's JsonWebKey. Responses carry only public
// components; the private ones are read on import.
type jsonWebKey struct {
	Kid    string   `json:"kid,omitempty"`
	Kty    string   `json:"kty,omitempty"`
	KeyOps []string `json:"key_ops"`
	N      b64      `json:"n,omitempty"`
	E      b64      `json:"e,omitempty"`
	D      b64      `json:"d,omitempty"`
	DP     b64      `json:"dp,omitempty"`
	DQ     b64      `json:"dq,omitempty"`
	QI     b64      `json:"qi,omitempty"`
	P      b64      `json:"p,omitempty"`
	Q      b64      `json:"q,omitempty"`
	K      b64      `json:"k,omitempty"`
	Crv    string   `json:"crv,omitempty"`
	X      b64      `json:"x,omitempty"`
	Y      b64      `json:"y,omitempty"`
}

// keyAttributes is the spec's KeyAttributes, used in requests and
// responses. Times are integer Unix seconds.
type keyAttributes struct {
	Enabled         *bool  `json:"enabled,omitempty"`
	NotBefore       *int64 `json:"nbf,omitempty"`
	Expires         *int64 `json:"exp,omitempty"`
	Created         *int64 `json:"created,omitempty"`
	Updated         *int64 `json:"updated,omitempty"`
	RecoverableDays *int   `json:"recoverableDays,omitempty"`
	RecoveryLevel   string `json:"recoveryLevel,omitempty"`
	Exportable      *bool  `json:"exportable,omitempty"`
}

type keyReleasePolicy struct {
	ContentType string `json:"contentType,omitempty"`
	Data        b64    `json:"data,omitempty"`
	Immutable   *bool  `json:"immutable,omitempty"`
}

type keyBundle struct {
	Key           jsonWebKey        `json:"key"`
	Attributes    keyAttributes     `json:"attributes"`
	Tags          map[string]string `json:"tags,omitempty"`
	ReleasePolicy *keyReleasePolicy `json:"release_policy,omitempty"`
}

type deletedKeyBundle struct {
	keyBundle
	RecoveryID         string `json:"recoveryId,omitempty"`
	DeletedDate        *int64 `json:"deletedDate,omitempty"`
	ScheduledPurgeDate *int64 `json:"scheduledPurgeDate,omitempty"`
}

type keyItem struct {
	Kid        string            `json:"kid"`
	Attributes keyAttributes     `json:"attributes"`
	Tags       map[string]string `json:"tags,omitempty"`
}

type deletedKeyItem struct {
	keyItem
	RecoveryID         string `json:"recoveryId,omitempty"`
	DeletedDate        *int64 `json:"deletedDate,omitempty"`
	ScheduledPurgeDate *int64 `json:"scheduledPurgeDate,omitempty"`
}

type keyListResult[T any] struct {
	Value    []T     `json:"value"`
	NextLink *string `json:"nextLink"`
}

type keyCreateParameters struct {
	Kty            string            `json:"kty"`
	KeySize        *int              `json:"key_size"`
	PublicExponent *int              `json:"public_exponent"`
	KeyOps         []string          `json:"key_ops"`
	Attributes     *keyAttributes    `json:"attributes"`
	Tags           map[string]string `json:"tags"`
	Crv            string            `json:"crv"`
	ReleasePolicy  *keyReleasePolicy `json:"release_policy"`
}

type keyImportParameters struct {
	HSM           *bool             `json:"Hsm"`
	Key           *jsonWebKey       `json:"key"`
	Attributes    *keyAttributes    `json:"attributes"`
	Tags          map[string]string `json:"tags"`
	ReleasePolicy *keyReleasePolicy `json:"release_policy"`
}

type keyUpdateParameters struct {
	KeyOps        []string          `json:"key_ops"`
	Attributes    *keyAttributes    `json:"attributes"`
	Tags          map[string]string `json:"tags"`
	ReleasePolicy *keyReleasePolicy `json:"release_policy"`
}

type keyOperationsParameters struct {
	Alg   string `json:"alg"`
	Value b64    `json:"value"`
	IV    b64    `json:"iv"`
	AAD   b64    `json:"aad"`
	Tag   b64    `json:"tag"`
}

type keyOperationResult struct {
	Kid   string `json:"kid"`
	Value b64    `json:"value"`
	IV    b64    `json:"iv,omitempty"`
	Tag   b64    `json:"tag,omitempty"`
	AAD   b64    `json:"aad,omitempty"`
}

type keySignParameters struct {
	Alg   string `json:"alg"`
	Value b64    `json:"value"`
}

type keyVerifyParameters struct {
	Alg       string `json:"alg"`
	Digest    b64    `json:"digest"`
	Signature b64    `json:"value"`
}

type keyVerifyResult struct {
	Value bool `json:"value"`
}

type backupKeyResult struct {
	Value b64 `json:"value"`
}

type keyRestoreParameters struct {
	Value b64 `json:"value"`
}

type getRandomBytesRequest struct {
	Count *int `json:"count"`
}

type randomBytes struct {
	Value b64 `json:"value"`
}

func kid(r *http.Request, name, version string) string {
	return baseURL(r) + "/keys/" + name + "/" + version
}

func unix(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	u := t.Unix()
	return &u
}

func attributesFrom(v keyvault.Vault, kv keyvault.KeyVersion) keyAttributes {
	enabled := kv.Enabled
	a := keyAttributes{
		Enabled:       &enabled,
		NotBefore:     unix(kv.NotBefore),
		Expires:       unix(kv.Expires),
		Created:       unix(kv.Created),
		Updated:       unix(kv.Updated),
		RecoveryLevel: v.RecoveryLevel(),
	}
	if d := v.RecoverableDays(); d > 0 {
		a.RecoverableDays = &d
	}
	exportable := kv.Exportable
	a.Exportable = &exportable
	return a
}

func jwkFrom(r *http.Request, kv keyvault.KeyVersion) jsonWebKey {
	ops := make([]string, len(kv.Ops))
	for i, op := range kv.Ops {
		ops[i] = string(op)
	}
	k := jsonWebKey{Kid: kid(r, kv.Name, kv.Version), Kty: string(kv.Type), KeyOps: ops}
	switch kv.Type.Family() {
	case hsm.RSA:
		k.N, k.E = kv.Public.N, kv.Public.E
	case hsm.EC:
		k.Crv, k.X, k.Y = string(kv.Public.Curve), kv.Public.X, kv.Public.Y
	}
	return k
}

func releasePolicyFrom(rp *keyvault.ReleasePolicy) *keyReleasePolicy {
	if rp == nil {
		return nil
	}
	imm := rp.Immutable
	return &keyReleasePolicy{ContentType: rp.ContentType, Data: rp.Data, Immutable: &imm}
}

func bundleFrom(r *http.Request, v keyvault.Vault, kv keyvault.KeyVersion) keyBundle {
	return keyBundle{
		Key:           jwkFrom(r, kv),
		Attributes:    attributesFrom(v, kv),
		Tags:          kv.Tags,
		ReleasePolicy: releasePolicyFrom(kv.ReleasePolicy),
	}
}

func deletedBundleFrom(r *http.Request, v keyvault.Vault, dk keyvault.DeletedKey) deletedKeyBundle {
	b := deletedKeyBundle{keyBundle: bundleFrom(r, v, dk.Latest)}
	if !dk.Deleted.IsZero() {
		b.RecoveryID = baseURL(r) + "/deletedkeys/" + dk.Latest.Name
		b.DeletedDate, b.ScheduledPurgeDate = unix(dk.Deleted), unix(dk.PurgeAt)
	}
	return b
}

// itemFrom lists a key; versioned says whether the kid names the version
// (versions listing) or not (keys listing).
func itemFrom(r *http.Request, v keyvault.Vault, kv keyvault.KeyVersion, versioned bool) keyItem {
	id := baseURL(r) + "/keys/" + kv.Name
	if versioned {
		id += "/" + kv.Version
	}
	return keyItem{Kid: id, Attributes: attributesFrom(v, kv), Tags: kv.Tags}
}

func deletedItemFrom(r *http.Request, v keyvault.Vault, dk keyvault.DeletedKey) deletedKeyItem {
	return deletedKeyItem{
		keyItem:            itemFrom(r, v, dk.Latest, false),
		RecoveryID:         baseURL(r) + "/deletedkeys/" + dk.Latest.Name,
		DeletedDate:        unix(dk.Deleted),
		ScheduledPurgeDate: unix(dk.PurgeAt),
	}
}

// attributesTo converts request attributes to the domain's merge form.
func attributesTo(a *keyAttributes) keyvault.Attributes {
	if a == nil {
		return keyvault.Attributes{}
	}
	out := keyvault.Attributes{Enabled: a.Enabled, Exportable: a.Exportable}
	if a.NotBefore != nil {
		t := time.Unix(*a.NotBefore, 0).UTC()
		out.NotBefore = &t
	}
	if a.Expires != nil {
		t := time.Unix(*a.Expires, 0).UTC()
		out.Expires = &t
	}
	return out
}

func releasePolicyTo(rp *keyReleasePolicy) *keyvault.ReleasePolicy {
	if rp == nil {
		return nil
	}
	out := &keyvault.ReleasePolicy{ContentType: rp.ContentType, Data: rp.Data}
	if out.ContentType == "" {
		out.ContentType = "application/json; charset=utf-8"
	}
	if rp.Immutable != nil {
		out.Immutable = *rp.Immutable
	}
	return out
}

func opsTo(ops []string) []keyvault.KeyOp {
	if ops == nil {
		return nil
	}
	out := make([]keyvault.KeyOp, len(ops))
	for i, op := range ops {
		out[i] = keyvault.KeyOp(op)
	}
	return out
}
