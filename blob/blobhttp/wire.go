package blobhttp

import (
	"encoding/base64"
	"encoding/xml"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/blob"
)

const metaPrefix = "X-Ms-Meta-"

// metadata returns the x-ms-meta-* headers of h. Go's server canonicalizes
// header names, so the names' case is lost: blob.Service stores them in
// lower case. A name sent twice is InvalidMetadata.
func metadata(h http.Header) (blob.Metadata, error) {
	var md blob.Metadata
	for k, v := range h {
		name, ok := strings.CutPrefix(k, metaPrefix)
		if !ok {
			continue
		}
		if len(v) != 1 {
			return nil, invalidMetadata(name)
		}
		if md == nil {
			md = make(blob.Metadata)
		}
		md[name] = v[0]
	}
	return md, nil
}

func invalidMetadata(name string) error {
	return tresor.Errorf(tresor.Invalid, "The metadata specified is invalid: %s is given more than once.", name).WithReason(blob.ReasonInvalidMetadata)
}

// setMetadata sets md as x-ms-meta-* headers.
func setMetadata(h http.Header, md blob.Metadata) {
	for k, v := range md {
		h["x-ms-meta-"+k] = []string{v}
	}
}

// blobHeaders returns the blob HTTP headers of a write: x-ms-blob-content-*,
// and for Put Blob (std) the standard headers where those are absent. The
// content type defaults to application/octet-stream.
func blobHeaders(h http.Header, std bool) (blob.Headers, error) {
	get := func(name string) string {
		if v := h.Get("x-ms-blob-" + name); v != "" || !std {
			return v
		}
		return h.Get(name)
	}
	out := blob.Headers{
		ContentType:        get("Content-Type"),
		ContentEncoding:    get("Content-Encoding"),
		ContentLanguage:    get("Content-Language"),
		ContentDisposition: get("Content-Disposition"),
		CacheControl:       get("Cache-Control"),
	}
	if out.ContentType == "" {
		out.ContentType = "application/octet-stream"
	}
	if v := h.Get("x-ms-blob-content-md5"); v != "" {
		md5, err := decodeMD5(v)
		if err != nil {
			return out, invalidHeader("x-ms-blob-content-md5")
		}
		out.ContentMD5 = md5
	}
	return out, nil
}

// contentMD5 returns the Content-MD5 of a request, nil if absent.
func contentMD5(h http.Header) ([]byte, error) {
	v := h.Get("Content-MD5")
	if v == "" {
		return nil, nil
	}
	md5, err := decodeMD5(v)
	if err != nil {
		return nil, invalidHeader("Content-MD5")
	}
	return md5, nil
}

func decodeMD5(v string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(v)
	if err != nil || len(b) != 16 {
		return nil, invalidHeader("Content-MD5")
	}
	return b, nil
}

// conditions returns the conditional headers of h, or with prefix
// "x-ms-source-" those that apply to a copy's source.
func conditions(h http.Header, prefix string) (blob.Conditions, error) {
	c := blob.Conditions{IfMatch: h.Get(prefix + "If-Match"), IfNoneMatch: h.Get(prefix + "If-None-Match")}
	for _, d := range []struct {
		name string
		t    *time.Time
	}{{"If-Modified-Since", &c.IfModifiedSince}, {"If-Unmodified-Since", &c.IfUnmodifiedSince}} {
		v := h.Get(prefix + d.name)
		if v == "" {
			continue
		}
		t, err := http.ParseTime(v)
		if err != nil {
			return c, invalidHeader(prefix + d.name)
		}
		*d.t = t
	}
	return c, nil
}

// encryptionScope returns the encryption scope that a write names
// (x-ms-encryption-scope), and refuses customer-provided keys, which
// tresor does not have.
func encryptionScope(h http.Header) (blob.ScopeRequest, error) {
	if h.Get("x-ms-encryption-key") != "" {
		return blob.ScopeRequest{}, unsupportedHeader("x-ms-encryption-key", "customer-provided keys are not supported")
	}
	return blob.RequestScope(h.Get("x-ms-encryption-scope")), nil
}

// setScope sets x-ms-encryption-scope for a blob in scope. Azure's
// responses omit it for the account encryption key: "the absence of this
// header implies use of the default account encryption scope".
func setScope(h http.Header, scope string) {
	if scope != "" {
		h.Set("x-ms-encryption-scope", scope)
	}
}

func httpTime(t time.Time) string { return t.UTC().Format(http.TimeFormat) }

// setWritten sets the headers of a write that changed a blob or container.
func setWritten(h http.Header, etag string, modified time.Time) {
	h.Set("ETag", `"`+etag+`"`)
	h.Set("Last-Modified", httpTime(modified))
}

// setBlobProperties sets the headers that Get Blob and Get Blob Properties
// return.
func setBlobProperties(h http.Header, b blob.Blob) {
	setWritten(h, b.ETag, b.Modified)
	h.Set("x-ms-creation-time", httpTime(b.Created))
	h.Set("x-ms-blob-type", string(b.Type))
	h.Set("Content-Type", b.Headers.ContentType)
	for name, v := range map[string]string{
		"Content-Encoding":    b.Headers.ContentEncoding,
		"Content-Language":    b.Headers.ContentLanguage,
		"Content-Disposition": b.Headers.ContentDisposition,
		"Cache-Control":       b.Headers.CacheControl,
	} {
		if v != "" {
			h.Set(name, v)
		}
	}
	if b.Headers.ContentMD5 != nil {
		h.Set("Content-MD5", base64.StdEncoding.EncodeToString(b.Headers.ContentMD5))
	}
	h.Set("Accept-Ranges", "bytes")
	h.Set("x-ms-lease-state", "available")
	h.Set("x-ms-lease-status", "unlocked")
	h.Set("x-ms-server-encrypted", "true")
	setScope(h, b.EncryptionScope)
	switch b.Type {
	case blob.PageBlob:
		h.Set("x-ms-blob-sequence-number", strconv.FormatInt(b.SequenceNumber, 10))
	case blob.BlockBlob:
		h.Set("x-ms-access-tier", "Hot")
		h.Set("x-ms-access-tier-inferred", "true")
	}
	if b.Copy.ID != "" {
		h.Set("x-ms-copy-id", b.Copy.ID)
		h.Set("x-ms-copy-source", b.Copy.Source)
		h.Set("x-ms-copy-status", b.Copy.Status)
		h.Set("x-ms-copy-progress", b.Copy.Progress)
		h.Set("x-ms-copy-completion-time", httpTime(b.Copy.Completed))
	}
	setMetadata(h, b.Metadata)
}

// xmlMetadata marshals as <Metadata><name>value</name>...</Metadata>, in
// name order.
type xmlMetadata blob.Metadata

func (m xmlMetadata) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	if err := e.EncodeToken(start); err != nil {
		return err
	}
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if err := e.EncodeElement(m[k], xml.StartElement{Name: xml.Name{Local: k}}); err != nil {
			return err
		}
	}
	return e.EncodeToken(start.End())
}

// writeXML writes v as an XML document with status 200.
func writeXML(w http.ResponseWriter, v any) error {
	b, err := xml.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(xml.Header)+len(b)))
	w.WriteHeader(http.StatusOK)
	w.Write([]byte(xml.Header))
	w.Write(b)
	return nil
}
