package blobhttp

import (
	"encoding/base64"
	"encoding/xml"
	"net/http"
	"strconv"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/blob"
)

// putPage answers Put Page: x-ms-page-write update writes the body to the
// range (x-ms-range or Range), clear zeroes it.
func (h *Handler) putPage(w http.ResponseWriter, r *request) error {
	scope, err := encryptionScope(r.Header)
	if err != nil {
		return err
	}
	rng, ranged, err := requestRange(r.Header)
	if err != nil {
		return err
	}
	if !ranged || rng.Count < 0 {
		return tresor.Errorf(tresor.Invalid, "Put Page needs a range bytes=start-end.").WithReason(codeMissingRequiredHeader)
	}
	c, err := conditions(r.Header, "")
	if err != nil {
		return err
	}
	var b blob.Blob
	hdr := w.Header()
	switch r.Header.Get("x-ms-page-write") {
	case "update":
		if r.ContentLength != rng.Count {
			return tresor.Errorf(tresor.Invalid, "Content-Length %d differs from the range's %d bytes.", r.ContentLength, rng.Count).WithReason(codeInvalidHeaderValue)
		}
		sum, err := contentMD5(r.Header)
		if err != nil {
			return err
		}
		var got []byte
		if b, got, err = h.Service.PutPage(r.Context(), r.path(), rng.Offset, r.Body, rng.Count, sum, c, scope); err != nil {
			return err
		}
		if got != nil {
			hdr.Set("Content-MD5", base64.StdEncoding.EncodeToString(got))
		}
	case "clear":
		if r.ContentLength > 0 {
			return tresor.Errorf(tresor.Invalid, "Clearing pages takes no body.").WithReason(codeInvalidHeaderValue)
		}
		if b, err = h.Service.ClearPages(r.Context(), r.path(), rng.Offset, rng.Offset+rng.Count, c, scope); err != nil {
			return err
		}
	default:
		return invalidHeader("x-ms-page-write")
	}
	setWriteResult(hdr, b)
	hdr.Set("x-ms-blob-sequence-number", strconv.FormatInt(b.SequenceNumber, 10))
	w.WriteHeader(http.StatusCreated)
	return nil
}

type pageList struct {
	XMLName xml.Name    `xml:"PageList"`
	Ranges  []pageRange `xml:"PageRange"`
}

type pageRange struct {
	Start int64 `xml:"Start"`
	End   int64 `xml:"End"` // inclusive
}

func (h *Handler) getPageRanges(w http.ResponseWriter, r *request) error {
	if r.URL.Query().Has("prevsnapshot") || r.URL.Query().Has("snapshot") {
		return invalidQuery("snapshot")
	}
	rng, _, err := requestRange(r.Header)
	if err != nil {
		return err
	}
	c, err := conditions(r.Header, "")
	if err != nil {
		return err
	}
	b, ranges, err := h.Service.GetPageRanges(r.Context(), r.path(), rng, c)
	if err != nil {
		return err
	}
	out := pageList{Ranges: make([]pageRange, 0, len(ranges))}
	for _, pr := range ranges {
		out.Ranges = append(out.Ranges, pageRange{Start: pr.Start, End: pr.End - 1})
	}
	setWritten(w.Header(), b.ETag, b.Modified)
	w.Header().Set("x-ms-blob-content-length", strconv.FormatInt(b.Size, 10))
	return writeXML(w, out)
}
