package blobauth

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// Permissions is a set of SAS permissions. The letters that grant them
// differ between service and account SAS only for 'p': ModifyPermissions in a
// service SAS, Process in an account SAS.
type Permissions uint32

// The permissions, with their letters in a service SAS (sr=b or c) and an
// account SAS.
const (
	Read                  Permissions = 1 << iota // r
	Add                                           // a
	Create                                        // c
	Write                                         // w
	Delete                                        // d
	DeleteVersion                                 // x
	PermanentDelete                               // y
	List                                          // l
	Tag                                           // t
	FilterByTags                                  // f
	Move                                          // m, service SAS only
	Execute                                       // e, service SAS only
	ModifyOwnership                               // o, service SAS only
	ModifyPermissions                             // p, service SAS only
	SetImmutabilityPolicy                         // i
	Update                                        // u, account SAS only
	Process                                       // p, account SAS only
)

// The letters each kind of SAS may use in sp. A service SAS for a blob and
// one for a container take the same letters: azblob signs 'l' for a blob and
// @azure/storage-blob does not, and a permission that does not apply to the
// resource grants nothing.
var (
	servicePermissions = map[byte]Permissions{
		'r': Read, 'a': Add, 'c': Create, 'w': Write, 'd': Delete, 'x': DeleteVersion,
		'y': PermanentDelete, 'l': List, 't': Tag, 'f': FilterByTags, 'm': Move,
		'e': Execute, 'o': ModifyOwnership, 'p': ModifyPermissions, 'i': SetImmutabilityPolicy,
	}
	accountPermissions = map[byte]Permissions{
		'r': Read, 'w': Write, 'd': Delete, 'x': DeleteVersion, 'y': PermanentDelete,
		'l': List, 'a': Add, 'c': Create, 'u': Update, 'p': Process, 't': Tag,
		'f': FilterByTags, 'i': SetImmutabilityPolicy,
	}
)

// A Target is what a request addresses, as the transport parsed it from the
// URL in either addressing style, and how the request arrived.
type Target struct {
	Container string     // "" for a request on the account, such as List Containers
	Blob      string     // "" for a request on a container; the name unescaped
	Secure    bool       // the request came over HTTPS
	ClientIP  netip.Addr // the caller's address, checked against sip; the zero Addr if unknown
}

// A SAS is a shared access signature that VerifySAS accepted for a Target.
type SAS struct {
	Account     bool   // an account SAS; otherwise a service SAS
	Resource    string // the signed resource of a service SAS (sr): "c", "b", "bs" or "bv"
	Permissions Permissions
	Start       time.Time // the zero Time if the SAS has no start time
	Expiry      time.Time

	// EncryptionScope (ses) is the encryption scope that writes with this
	// SAS must use, if not "".
	EncryptionScope string

	// Response headers that reads with a service SAS return instead of the
	// blob's own (rscc, rscd, rsce, rscl, rsct), where not "".
	CacheControl, ContentDisposition, ContentEncoding, ContentLanguage, ContentType string
}

// Allow returns nil if s grants at least one of perms, and
// AuthorizationPermissionMismatch (tresor.Forbidden) if not. An operation
// that any of several permissions allows, such as Put Blob (Create or
// Write), passes them together. An operation that needs two permissions calls
// Allow twice.
func (s *SAS) Allow(perms Permissions) error {
	if s.Permissions&perms == 0 {
		return notAuthorized(ReasonAuthorizationPermissionMismatch, "permission")
	}
	return nil
}

// The service versions (sv) at which the string to sign changed. A SAS with
// an sv newer than the last uses the last layout, as the SDKs do.
const (
	minSASVersion  = "2015-04-05" // the oldest layout this package knows
	sasVersion2018 = "2018-11-09" // adds sr and the snapshot time to a service SAS
	sasVersion2020 = "2020-12-06" // adds ses to both kinds
)

// Query parameters that only user delegation SAS and directory SAS use.
// Neither is supported: there are no user delegation keys and no
// hierarchical namespace.
var unsupportedSAS = []string{"skoid", "sktid", "skt", "ske", "sks", "skv", "skdutid", "sduoid", "saoid", "suoid", "scid", "sdd", "srh", "srq"}

// VerifySAS checks the shared access signature in the query q of a request
// for t against the keys of acct, at now. It accepts service SAS for a
// container (sr=c), blob (sr=b), blob snapshot (sr=bs, with the snapshot in
// the "snapshot" parameter) or blob version (sr=bv, "versionid"), and
// account SAS (ss, srt), signed with any sv from 2015-04-05 on (2020-12-06
// and later is what azblob and @azure/storage-blob sign). It does not accept
// stored access policies (si), user delegation SAS or directory SAS.
//
// A service SAS's signature covers the resource it names, which VerifySAS
// takes from t, so a SAS used on another container or blob fails to verify.
// VerifySAS returns the SAS. The caller then checks the operation's
// permission with SAS.Allow.
//
// Errors: AuthenticationFailed (tresor.Unauthenticated) for a malformed or
// unsupported SAS, a signature that no key of acct produces, and a request
// outside the SAS's time window (with MaxClockSkew allowed on the start).
// The rest are tresor.Forbidden: AuthorizationProtocolMismatch for an
// HTTPS-only SAS on HTTP, AuthorizationSourceIPMismatch for a client outside
// sip, AuthorizationServiceMismatch for an account SAS without the blob
// service, and AuthorizationResourceTypeMismatch for a target of a kind the
// SAS does not grant. Account SAS grant kinds with srt; a service SAS for a
// blob cannot be used on a container or the account.
func VerifySAS(q url.Values, acct Account, t Target, now time.Time) (*SAS, error) {
	for k, v := range q {
		if len(v) > 1 && isSASParam(k) {
			return nil, authFailed("the SAS parameter %s appears %d times", k, len(v))
		}
	}
	for _, k := range unsupportedSAS {
		if q.Has(k) {
			return nil, authFailed("the SAS parameter %s is not supported: user delegation and directory SAS are not supported", k)
		}
	}
	if q.Has("si") {
		return nil, authFailed("stored access policies (si) are not supported")
	}
	sv := q.Get("sv")
	if _, err := time.Parse(time.DateOnly, sv); err != nil {
		return nil, authFailed("sv %q is not a service version", sv)
	}
	if sv < minSASVersion {
		return nil, authFailed("sv %s is not supported; use %s or later", sv, minSASVersion)
	}
	mac, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(q.Get("sig"), " ", "+"))
	if err != nil || len(mac) != sha256.Size {
		return nil, authFailed("sig is not a base64-encoded HMAC-SHA256")
	}
	s := &SAS{EncryptionScope: q.Get("ses")}
	if s.EncryptionScope != "" && sv < sasVersion2020 {
		return nil, authFailed("ses requires sv %s or later", sasVersion2020)
	}
	if s.Start, s.Expiry, err = sasWindow(q.Get("st"), q.Get("se")); err != nil {
		return nil, err
	}
	spr := q.Get("spr")
	if spr != "" && spr != "https" && spr != "https,http" {
		return nil, authFailed("spr %q is neither https nor https,http", spr)
	}
	ipLo, ipHi, err := parseIPRange(q.Get("sip"))
	if err != nil {
		return nil, err
	}

	var toSign string
	switch {
	case q.Has("sr") && (q.Has("ss") || q.Has("srt")):
		return nil, authFailed("the query has both a service SAS (sr) and an account SAS (ss, srt)")
	case q.Has("sr"):
		if toSign, err = s.service(q, acct.Name, t, sv); err != nil {
			return nil, err
		}
	case q.Has("ss") || q.Has("srt"):
		if toSign, err = s.account(q, acct.Name, t, sv); err != nil {
			return nil, err
		}
	default:
		return nil, authFailed("the query has neither sr (service SAS) nor ss and srt (account SAS)")
	}
	if !matchMAC(acct, toSign, mac) {
		return nil, authFailed("Signature did not match. String to sign used was %q", toSign)
	}

	if (!s.Start.IsZero() && now.Add(MaxClockSkew).Before(s.Start)) || now.After(s.Expiry) {
		return nil, authFailed("Signature not valid in the specified time frame: Start [%s] - Expiry [%s] - Current [%s]",
			fmtTime(s.Start), fmtTime(s.Expiry), fmtTime(now))
	}
	if spr == "https" && !t.Secure {
		return nil, notAuthorized(ReasonAuthorizationProtocolMismatch, "protocol")
	}
	if ipLo.IsValid() {
		ip := t.ClientIP.Unmap().WithZone("")
		if !ip.IsValid() || ip.BitLen() != ipLo.BitLen() || ip.Less(ipLo) || ipHi.Less(ip) {
			return nil, notAuthorized(ReasonAuthorizationSourceIPMismatch, "source IP "+t.ClientIP.String())
		}
	}
	if s.Account {
		if !strings.Contains(q.Get("ss"), "b") {
			return nil, notAuthorized(ReasonAuthorizationServiceMismatch, "service")
		}
		if !strings.Contains(q.Get("srt"), resourceType(t)) {
			return nil, notAuthorized(ReasonAuthorizationResourceTypeMismatch, "resource type")
		}
	}
	return s, nil
}

// service fills in s from the service SAS in q and returns its string to
// sign.
func (s *SAS) service(q url.Values, account string, t Target, sv string) (string, error) {
	perms, err := parsePermissions(q.Get("sp"), servicePermissions)
	if err != nil {
		return "", err
	}
	s.Permissions = perms
	s.Resource = q.Get("sr")
	s.CacheControl = q.Get("rscc")
	s.ContentDisposition = q.Get("rscd")
	s.ContentEncoding = q.Get("rsce")
	s.ContentLanguage = q.Get("rscl")
	s.ContentType = q.Get("rsct")

	var timestamp string
	switch s.Resource {
	case "c":
		if t.Container == "" {
			return "", notAuthorized(ReasonAuthorizationResourceTypeMismatch, "resource type")
		}
	case "b", "bs", "bv":
		if t.Blob == "" {
			return "", notAuthorized(ReasonAuthorizationResourceTypeMismatch, "resource type")
		}
		switch s.Resource {
		case "bs":
			timestamp = q.Get("snapshot")
		case "bv":
			timestamp = q.Get("versionid")
		}
		if s.Resource != "b" && sv < sasVersion2018 {
			return "", authFailed("sr=%s requires sv %s or later", s.Resource, sasVersion2018)
		}
	case "d":
		return "", authFailed("directory SAS (sr=d) is not supported")
	default:
		return "", authFailed("sr %q is not one of c, b, bs, bv", s.Resource)
	}

	canonical := "/blob/" + account + "/" + t.Container
	if s.Resource != "c" {
		// azblob signs '\' in blob names as '/', as Azure treats them.
		canonical += "/" + strings.ReplaceAll(t.Blob, `\`, "/")
	}
	fields := []string{
		q.Get("sp"), q.Get("st"), q.Get("se"), canonical,
		q.Get("si"), q.Get("sip"), q.Get("spr"), sv,
	}
	if sv >= sasVersion2018 {
		fields = append(fields, s.Resource, timestamp)
	}
	if sv >= sasVersion2020 {
		fields = append(fields, s.EncryptionScope)
	}
	fields = append(fields, s.CacheControl, s.ContentDisposition, s.ContentEncoding, s.ContentLanguage, s.ContentType)
	return strings.Join(fields, "\n"), nil
}

// account fills in s from the account SAS in q and returns its string to
// sign.
func (s *SAS) account(q url.Values, account string, t Target, sv string) (string, error) {
	perms, err := parsePermissions(q.Get("sp"), accountPermissions)
	if err != nil {
		return "", err
	}
	s.Account = true
	s.Permissions = perms
	ss, srt := q.Get("ss"), q.Get("srt")
	if ss == "" || strings.Trim(ss, "bfqt") != "" {
		return "", authFailed("ss %q is not a set of services (b, f, q, t)", ss)
	}
	if srt == "" || strings.Trim(srt, "sco") != "" {
		return "", authFailed("srt %q is not a set of resource types (s, c, o)", srt)
	}
	fields := []string{
		account, q.Get("sp"), ss, srt, q.Get("st"), q.Get("se"),
		q.Get("sip"), q.Get("spr"), sv,
	}
	if sv >= sasVersion2020 {
		fields = append(fields, s.EncryptionScope)
	}
	// The account SAS string to sign ends with a newline.
	return strings.Join(fields, "\n") + "\n", nil
}

// resourceType returns the account SAS resource type (srt letter) that t
// needs: o for a blob, c for a container, s for the account.
func resourceType(t Target) string {
	switch {
	case t.Blob != "":
		return "o"
	case t.Container != "":
		return "c"
	}
	return "s"
}

func isSASParam(k string) bool {
	switch k {
	case "sv", "ss", "srt", "sr", "sp", "st", "se", "sip", "spr", "si", "sig", "ses",
		"rscc", "rscd", "rsce", "rscl", "rsct", "snapshot", "versionid":
		return true
	}
	return false
}

func parsePermissions(sp string, letters map[byte]Permissions) (Permissions, error) {
	if sp == "" {
		return 0, authFailed("sp is mandatory. Cannot be empty")
	}
	var p Permissions
	for i := range len(sp) {
		b, ok := letters[sp[i]]
		if !ok {
			return 0, authFailed("sp %q has an unknown permission %q", sp, sp[i])
		}
		p |= b
	}
	return p, nil
}

// sasWindow parses the start (optional) and expiry (mandatory) times of a
// SAS. Azure takes ISO 8601 times in UTC, to the day, minute, second or
// fraction of a second.
func sasWindow(st, se string) (start, expiry time.Time, err error) {
	if st != "" {
		if start, err = parseSASTime(st); err != nil {
			return start, expiry, authFailed("st %q is not an ISO 8601 UTC time", st)
		}
	}
	if se == "" {
		return start, expiry, authFailed("se is mandatory. Cannot be empty")
	}
	if expiry, err = parseSASTime(se); err != nil {
		return start, expiry, authFailed("se %q is not an ISO 8601 UTC time", se)
	}
	if !start.IsZero() && !expiry.After(start) {
		return start, expiry, authFailed("Signed expiry time [%s] must be after signed start time [%s]", fmtTime(expiry), fmtTime(start))
	}
	return start, expiry, nil
}

func parseSASTime(s string) (time.Time, error) {
	var err error
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04Z07:00", time.DateOnly} {
		var t time.Time
		if t, err = time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, err
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(http.TimeFormat)
}

// parseIPRange parses sip: one IP address, or two joined by "-". It returns
// zero Addrs if sip is "".
func parseIPRange(sip string) (lo, hi netip.Addr, err error) {
	if sip == "" {
		return lo, hi, nil
	}
	a, b, isRange := strings.Cut(sip, "-")
	lo, err = netip.ParseAddr(a)
	hi = lo
	if err == nil && isRange {
		hi, err = netip.ParseAddr(b)
	}
	lo, hi = lo.Unmap(), hi.Unmap()
	if err != nil || lo.Zone() != "" || hi.Zone() != "" || lo.BitLen() != hi.BitLen() || hi.Less(lo) {
		return netip.Addr{}, netip.Addr{}, authFailed("sip %q is not an IP address or range", sip)
	}
	return lo, hi, nil
}

// SignBlobSAS returns the query of a service SAS for one blob (sr=b),
// over HTTPS only, signed with key as an account key signs it: the SAS
// that VerifySAS accepts for that blob with the same key. perms are the
// letters of sp, such as "r" or "rw".
func SignBlobSAS(key []byte, account, container, blobName, perms string, expiry time.Time) (url.Values, error) {
	q := url.Values{
		"sv": {sasVersion2020}, "sr": {"b"}, "sp": {perms}, "spr": {"https"},
		"se": {expiry.UTC().Format(time.RFC3339)},
	}
	var s SAS
	toSign, err := s.service(q, account, Target{Container: container, Blob: blobName}, sasVersion2020)
	if err != nil {
		return nil, err
	}
	q.Set("sig", base64.StdEncoding.EncodeToString(hmacSHA256(key, toSign)))
	return q, nil
}
