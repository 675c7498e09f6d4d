package blobhttp

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/blob"
	"github.com/tresorkms/tresor/blob/blobauth"
)

// putOptions parses the properties and conditions of a write that creates
// or replaces a blob; std says whether the standard headers (Content-Type
// and so on) count where the x-ms-blob-* ones are absent.
func putOptions(r *request, std bool) (blob.PutOptions, error) {
	var o blob.PutOptions
	var err error
	if o.Scope, err = encryptionScope(r.Header); err != nil {
		return o, err
	}
	if o.Metadata, err = metadata(r.Header); err != nil {
		return o, err
	}
	if o.Headers, err = blobHeaders(r.Header, std); err != nil {
		return o, err
	}
	if o.Conditions, err = conditions(r.Header, ""); err != nil {
		return o, err
	}
	o.CreateOnly = r.createOnly()
	return o, nil
}

// setWriteResult sets the headers of a write that stored encrypted data.
func setWriteResult(h http.Header, b blob.Blob) {
	setWritten(h, b.ETag, b.Modified)
	h.Set("x-ms-request-server-encrypted", "true")
	setScope(h, b.EncryptionScope)
}

func (h *Handler) putBlob(w http.ResponseWriter, r *request) error {
	o, err := putOptions(r, true)
	if err != nil {
		return err
	}
	if o.ContentMD5, err = contentMD5(r.Header); err != nil {
		return err
	}
	b, err := h.Service.PutBlob(r.Context(), r.path(), r.Body, r.ContentLength, o)
	if err != nil {
		return err
	}
	setWriteResult(w.Header(), b)
	w.Header().Set("Content-MD5", base64.StdEncoding.EncodeToString(b.Headers.ContentMD5))
	w.WriteHeader(http.StatusCreated)
	return nil
}

func (h *Handler) createPageBlob(w http.ResponseWriter, r *request) error {
	o, err := putOptions(r, true)
	if err != nil {
		return err
	}
	size, err := strconv.ParseInt(r.Header.Get("x-ms-blob-content-length"), 10, 64)
	if err != nil {
		return invalidHeader("x-ms-blob-content-length")
	}
	var seq int64
	if v := r.Header.Get("x-ms-blob-sequence-number"); v != "" {
		if seq, err = strconv.ParseInt(v, 10, 64); err != nil {
			return invalidHeader("x-ms-blob-sequence-number")
		}
	}
	b, err := h.Service.CreatePageBlob(r.Context(), r.path(), size, seq, o)
	if err != nil {
		return err
	}
	setWriteResult(w.Header(), b)
	w.WriteHeader(http.StatusCreated)
	return nil
}

// writerOnly hides a ResponseWriter's ReadFrom, so that io.CopyBuffer uses
// its buffer rather than the server's small one.
type writerOnly struct{ io.Writer }

func (h *Handler) getBlob(w http.ResponseWriter, r *request) error {
	rng, ranged, err := requestRange(r.Header)
	if err != nil {
		return err
	}
	c, err := conditions(r.Header, "")
	if err != nil {
		return err
	}
	rangeMD5 := r.Header.Get("x-ms-range-get-content-md5") == "true"
	if rangeMD5 && (!ranged || rng.Count < 0 || rng.Count > 4<<20) {
		return tresor.Errorf(tresor.Invalid, "x-ms-range-get-content-md5 needs a range of at most 4 MiB.").WithReason(blob.ReasonOutOfRangeInput)
	}
	content, err := h.Service.GetBlob(r.Context(), r.path(), rng, c)
	if err == nil && ranged && content.Length == 0 {
		// bytes=0- of an empty blob: there is no byte to return, and
		// Content-Range cannot say so; Storage answers 416.
		content.Body.Close()
		err = tresor.Errorf(tresor.Invalid, "The range specified is invalid for the current size of the resource.").WithReason(blob.ReasonInvalidRange)
	}
	if err != nil {
		if tresor.ReasonOf(err) == blob.ReasonInvalidRange {
			w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", content.Blob.Size))
		}
		return err
	}
	defer content.Body.Close()
	hdr := w.Header()
	b := content.Blob
	setBlobProperties(hdr, b)
	r.sasOverrides(hdr)
	var body io.Reader = content.Body
	status := http.StatusOK
	if ranged {
		status = http.StatusPartialContent
		hdr.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", content.Offset, content.Offset+content.Length-1, b.Size))
		hdr.Del("Content-MD5") // the whole blob's MD5 is x-ms-blob-content-md5 on a ranged read
		if b.Headers.ContentMD5 != nil {
			hdr.Set("x-ms-blob-content-md5", base64.StdEncoding.EncodeToString(b.Headers.ContentMD5))
		}
		if rangeMD5 {
			data, err := io.ReadAll(content.Body)
			if err != nil {
				return err
			}
			sum := md5.Sum(data)
			hdr.Set("Content-MD5", base64.StdEncoding.EncodeToString(sum[:]))
			body = bytes.NewReader(data)
		}
	}
	hdr.Set("Content-Length", strconv.FormatInt(content.Length, 10))
	w.WriteHeader(status)
	buf := make([]byte, 64<<10)
	if _, err := io.CopyBuffer(writerOnly{w}, body, buf); err != nil {
		// The status is sent: all that is left is to cut the response
		// short, so that the client sees fewer bytes than Content-Length.
		h.Logger.Warn("blob api: get blob", "blob", r.path().String(), "err", err)
		panic(http.ErrAbortHandler)
	}
	return nil
}

// sasOverrides applies the response headers that a service SAS sets
// (rscc, rscd, rsce, rscl, rsct).
func (r *request) sasOverrides(h http.Header) {
	s := r.auth.sas
	if s == nil {
		return
	}
	for name, v := range map[string]string{
		"Cache-Control": s.CacheControl, "Content-Disposition": s.ContentDisposition,
		"Content-Encoding": s.ContentEncoding, "Content-Language": s.ContentLanguage, "Content-Type": s.ContentType,
	} {
		if v != "" {
			h.Set(name, v)
		}
	}
}

// getBlobProperties answers Get Blob Properties (HEAD) and Get Blob
// Metadata (comp=metadata).
func (h *Handler) getBlobProperties(w http.ResponseWriter, r *request) error {
	c, err := conditions(r.Header, "")
	if err != nil {
		return err
	}
	b, err := h.Service.GetBlobProperties(r.Context(), r.path(), c)
	if err != nil {
		return err
	}
	hdr := w.Header()
	if r.URL.Query().Get("comp") == "metadata" {
		setWritten(hdr, b.ETag, b.Modified)
		setMetadata(hdr, b.Metadata)
		w.WriteHeader(http.StatusOK)
		return nil
	}
	setBlobProperties(hdr, b)
	r.sasOverrides(hdr)
	hdr.Set("Content-Length", strconv.FormatInt(b.Size, 10))
	w.WriteHeader(http.StatusOK)
	return nil
}

func (h *Handler) setBlobMetadata(w http.ResponseWriter, r *request) error {
	scope, err := encryptionScope(r.Header)
	if err != nil {
		return err
	}
	md, err := metadata(r.Header)
	if err != nil {
		return err
	}
	c, err := conditions(r.Header, "")
	if err != nil {
		return err
	}
	b, err := h.Service.SetBlobMetadata(r.Context(), r.path(), md, c, scope)
	if err != nil {
		return err
	}
	setWriteResult(w.Header(), b)
	w.WriteHeader(http.StatusOK)
	return nil
}

func (h *Handler) setBlobProperties(w http.ResponseWriter, r *request) error {
	for _, name := range []string{"x-ms-blob-content-length", "x-ms-sequence-number-action"} {
		if r.Header.Get(name) != "" {
			return unsupportedHeader(name, "page blobs cannot be resized and their sequence numbers are fixed")
		}
	}
	hd, err := blobHeaders(r.Header, false)
	if err != nil {
		return err
	}
	c, err := conditions(r.Header, "")
	if err != nil {
		return err
	}
	b, err := h.Service.SetBlobProperties(r.Context(), r.path(), hd, c)
	if err != nil {
		return err
	}
	setWritten(w.Header(), b.ETag, b.Modified)
	if b.Type == blob.PageBlob {
		w.Header().Set("x-ms-blob-sequence-number", strconv.FormatInt(b.SequenceNumber, 10))
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (h *Handler) deleteBlob(w http.ResponseWriter, r *request) error {
	if r.URL.Query().Has("snapshot") || r.URL.Query().Has("versionid") {
		return invalidQuery("snapshot")
	}
	c, err := conditions(r.Header, "")
	if err != nil {
		return err
	}
	if err := h.Service.DeleteBlob(r.Context(), r.path(), c); err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// copyBlob answers Copy Blob and Copy Blob From URL (x-ms-requires-sync)
// within the account. Both complete before the response.
func (h *Handler) copyBlob(w http.ResponseWriter, r *request) error {
	source := r.Header.Get("x-ms-copy-source")
	u, err := url.Parse(source)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return invalidHeader("x-ms-copy-source")
	}
	src, err := h.parse(&http.Request{Host: u.Host, URL: u, TLS: r.TLS})
	if err != nil || src.blob == "" {
		return invalidHeader("x-ms-copy-source")
	}
	if src.account != r.account {
		return tresor.Errorf(tresor.Forbidden, "Copies from other storage accounts are not supported.").WithReason(codeCannotVerifyCopySource)
	}
	if err := h.authorizeSource(r, u.Query(), src.container, src.blob); err != nil {
		return err
	}
	o, err := putOptions(r, false)
	if err != nil {
		return err
	}
	srcCond, err := conditions(r.Header, "x-ms-source-")
	if err != nil {
		return err
	}
	// The recorded source keeps no query: it may hold a signature.
	u.RawQuery = ""
	b, err := h.Service.CopyBlob(r.Context(), src.path(), r.path(), u.String(), srcCond, o)
	if err != nil {
		return err
	}
	hdr := w.Header()
	setWritten(hdr, b.ETag, b.Modified)
	hdr.Set("x-ms-copy-id", b.Copy.ID)
	hdr.Set("x-ms-copy-status", b.Copy.Status)
	hdr.Set("x-ms-request-server-encrypted", "true")
	setScope(hdr, b.EncryptionScope)
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// authorizeSource checks that the caller may read a copy's source: with
// the source URL's own SAS if it has one, else with the request's
// credentials (Shared Key reads anything in its account).
func (h *Handler) authorizeSource(r *request, q url.Values, container, name string) error {
	ctx := r.Context()
	refused := func(err error) error {
		return &tresor.Error{Kind: tresor.Forbidden, Reason: codeCannotVerifyCopySource,
			Message: "This request is not authorized to read the copy source.", Err: err}
	}
	sasQuery := q
	switch {
	case q.Has("sig"):
	case r.auth.sharedKey:
		return nil
	case r.auth.principal != nil:
		if err := h.Authorize(ctx, *r.auth.principal, r.account, container, DataActionRead); err != nil {
			return refused(err)
		}
		return nil
	default:
		sasQuery = r.URL.Query()
	}
	acct, err := h.Accounts.Account(ctx, r.account)
	if err != nil {
		return accountError(err)
	}
	sas, err := blobauth.VerifySAS(sasQuery, acct, h.target(r, container, name), h.Now())
	if err == nil {
		err = sas.Allow(blobauth.Read)
	}
	if err != nil {
		return refused(err)
	}
	return nil
}
