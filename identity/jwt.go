package identity

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"

	"github.com/tresorkms/tresor"
)

// jwtHeader is a JWS protected header.
type jwtHeader struct {
	Alg string `json:"alg"`
	Typ string `json:"typ,omitempty"`
	Kid string `json:"kid,omitempty"`
}

// claims are an access token's claims, named and chosen as in Entra's v1.0
// application tokens, plus azp from v2.0. PrincipalType is tresor's own and
// is present only for principals that are not plain service principals.
type claims struct {
	Aud            string `json:"aud"`
	Iss            string `json:"iss"`
	Iat            int64  `json:"iat"`
	Nbf            int64  `json:"nbf"`
	Exp            int64  `json:"exp"`
	AppDisplayName string `json:"app_displayname,omitempty"`
	AppID          string `json:"appid"`
	AppIDACR       string `json:"appidacr"`
	Azp            string `json:"azp"`
	IDP            string `json:"idp"`
	IDType         string `json:"idtyp"`
	OID            string `json:"oid"`
	Sub            string `json:"sub"`
	TID            string `json:"tid"`
	UTI            string `json:"uti"`
	Ver            string `json:"ver"`
	MIResourceID   string `json:"xms_mirid,omitempty"` // a managed identity's resource
	PrincipalType  string `json:"tresor_ptype,omitempty"`
}

const algRS256 = "RS256"

// signJWT returns the compact serialisation of c signed with k (RS256).
func signJWT(k *signingKey, c claims) (string, error) {
	h, err := json.Marshal(jwtHeader{Alg: algRS256, Typ: "JWT", Kid: k.id})
	if err != nil {
		return "", tresor.Wrap(err, "sign token")
	}
	p, err := json.Marshal(c)
	if err != nil {
		return "", tresor.Wrap(err, "sign token")
	}
	enc := base64.RawURLEncoding
	input := enc.EncodeToString(h) + "." + enc.EncodeToString(p)
	digest := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, k.private, crypto.SHA256, digest[:])
	if err != nil {
		return "", tresor.Wrap(err, "sign token")
	}
	return input + "." + enc.EncodeToString(sig), nil
}

// jws is a compact JWS split into its parts, not yet verified.
type jws struct {
	header    jwtHeader
	payload   []byte
	input     string // header.payload, the signed bytes
	signature []byte
}

var errMalformed = errors.New("malformed token")

// parseJWS splits and decodes a compact JWS. It checks the form only.
func parseJWS(raw string) (jws, error) {
	h, rest, ok1 := strings.Cut(raw, ".")
	p, sig, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.Contains(sig, ".") {
		return jws{}, errMalformed
	}
	enc := base64.RawURLEncoding
	hb, err1 := enc.DecodeString(h)
	pb, err2 := enc.DecodeString(p)
	sb, err3 := enc.DecodeString(sig)
	if err := errors.Join(err1, err2, err3); err != nil {
		return jws{}, errMalformed
	}
	var t jws
	if err := strictUnmarshal(hb, &t.header); err != nil {
		return jws{}, errMalformed
	}
	t.payload, t.input, t.signature = pb, h+"."+p, sb
	return t, nil
}

// verify checks t's RS256 signature with pub.
func (t jws) verify(pub *rsa.PublicKey) bool {
	digest := sha256.Sum256([]byte(t.input))
	return rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], t.signature) == nil
}

// strictUnmarshal decodes one JSON object and nothing after it.
func strictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errMalformed
	}
	return nil
}

// newUTI returns a unique token identifier, in the form of Entra's "uti".
func newUTI() string { return base64.RawURLEncoding.EncodeToString(random(16)) }
