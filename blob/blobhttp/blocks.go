package blobhttp

import (
	"encoding/base64"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/blob"
)

func (h *Handler) putBlock(w http.ResponseWriter, r *request) error {
	req, err := encryptionScope(r.Header)
	if err != nil {
		return err
	}
	sum, err := contentMD5(r.Header)
	if err != nil {
		return err
	}
	got, scope, err := h.Service.PutBlock(r.Context(), r.path(), r.URL.Query().Get("blockid"), r.Body, r.ContentLength, sum, req)
	if err != nil {
		return err
	}
	hdr := w.Header()
	if got != nil {
		hdr.Set("Content-MD5", base64.StdEncoding.EncodeToString(got))
	}
	hdr.Set("x-ms-request-server-encrypted", "true")
	setScope(hdr, scope)
	w.WriteHeader(http.StatusCreated)
	return nil
}

// parseBlockList parses Put Block List's body: a BlockList element holding
// Committed, Uncommitted and Latest elements, each a block ID, in order.
// Anything else is InvalidXmlDocument; the IDs are checked by the domain.
func parseBlockList(body io.Reader) ([]blob.BlockRef, error) {
	d := xml.NewDecoder(body)
	var out []blob.BlockRef
	depth := 0
	seenRoot := false
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			if !seenRoot || depth != 0 {
				return nil, invalidXML("the document has no complete BlockList element")
			}
			return out, nil
		}
		if err != nil {
			return nil, readXMLError(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch {
			case depth == 0 && t.Name.Local == "BlockList" && !seenRoot:
				seenRoot = true
				depth++
			case depth == 1:
				var src blob.BlockSource
				switch t.Name.Local {
				case "Latest":
					src = blob.Latest
				case "Committed":
					src = blob.Committed
				case "Uncommitted":
					src = blob.Uncommitted
				default:
					return nil, invalidXML("unexpected element " + t.Name.Local)
				}
				id, err := elementText(d)
				if err != nil {
					return nil, err
				}
				if len(out) == blob.MaxBlocks {
					return nil, tresor.Errorf(tresor.Invalid, "The block list may not contain more than %d blocks.", blob.MaxBlocks).WithReason(blob.ReasonInvalidBlockList)
				}
				out = append(out, blob.BlockRef{Name: id, Source: src})
			default:
				return nil, invalidXML("unexpected element " + t.Name.Local)
			}
		case xml.EndElement:
			depth--
		case xml.CharData:
			if len(xmlSpace(t)) != 0 {
				return nil, invalidXML("unexpected text")
			}
		}
	}
}

// elementText returns the text of the element whose start d just read,
// up to its end; an element inside it is InvalidXmlDocument.
func elementText(d *xml.Decoder) (string, error) {
	var text []byte
	for {
		tok, err := d.Token()
		if err != nil {
			return "", readXMLError(err)
		}
		switch t := tok.(type) {
		case xml.CharData:
			text = append(text, t...)
		case xml.StartElement:
			return "", invalidXML("unexpected element " + t.Name.Local + " in a block ID")
		case xml.EndElement:
			return string(text), nil
		}
	}
}

// xmlSpace returns b without XML white space.
func xmlSpace(b []byte) []byte {
	out := b[:0:0]
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			out = append(out, c)
		}
	}
	return out
}

// readXMLError classifies an error from reading an XML body: too large,
// or not XML.
func readXMLError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return tresor.Errorf(tresor.TooLarge, "The request body is larger than %d bytes.", mbe.Limit).WithReason(codeRequestBodyTooLarge)
	}
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return invalidXML(err.Error())
}

func invalidXML(detail string) error {
	return tresor.Errorf(tresor.Invalid, "XML specified is not syntactically valid: %s.", detail).WithReason(codeInvalidXMLDocument)
}

func (h *Handler) putBlockList(w http.ResponseWriter, r *request) error {
	o, err := putOptions(r, false)
	if err != nil {
		return err
	}
	list, err := parseBlockList(r.Body)
	if err != nil {
		return err
	}
	b, err := h.Service.PutBlockList(r.Context(), r.path(), list, o)
	if err != nil {
		return err
	}
	setWriteResult(w.Header(), b)
	w.WriteHeader(http.StatusCreated)
	return nil
}

type blockListResult struct {
	XMLName     xml.Name  `xml:"BlockList"`
	Committed   *blockSet `xml:"CommittedBlocks"`
	Uncommitted *blockSet `xml:"UncommittedBlocks"`
}

type blockSet struct {
	Blocks []xmlBlock `xml:"Block"`
}

type xmlBlock struct {
	Name string `xml:"Name"`
	Size int64  `xml:"Size"`
}

func xmlBlocks(bs []blob.BlockInfo) *blockSet {
	out := &blockSet{Blocks: make([]xmlBlock, 0, len(bs))}
	for _, b := range bs {
		out.Blocks = append(out.Blocks, xmlBlock{Name: b.Name, Size: b.Size})
	}
	return out
}

func (h *Handler) getBlockList(w http.ResponseWriter, r *request) error {
	which := r.URL.Query().Get("blocklisttype")
	switch which {
	case "":
		which = "committed"
	case "committed", "uncommitted", "all":
	default:
		return invalidQuery("blocklisttype")
	}
	l, err := h.Service.GetBlockList(r.Context(), r.path())
	if err != nil {
		return err
	}
	var out blockListResult
	if which != "uncommitted" {
		out.Committed = xmlBlocks(l.Committed)
	}
	if which != "committed" {
		out.Uncommitted = xmlBlocks(l.Uncommitted)
	}
	if l.Blob != nil {
		setWritten(w.Header(), l.Blob.ETag, l.Blob.Modified)
		w.Header().Set("x-ms-blob-content-length", strconv.FormatInt(l.Blob.Size, 10))
	}
	return writeXML(w, out)
}
