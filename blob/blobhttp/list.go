package blobhttp

import (
	"encoding/base64"
	"encoding/xml"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/tresorkms/tresor/blob"
)

type blobList struct {
	XMLName         xml.Name `xml:"EnumerationResults"`
	ServiceEndpoint string   `xml:"ServiceEndpoint,attr"`
	ContainerName   string   `xml:"ContainerName,attr"`
	Prefix          string   `xml:"Prefix,omitempty"`
	Marker          string   `xml:"Marker,omitempty"`
	MaxResults      int      `xml:"MaxResults,omitempty"`
	Delimiter       string   `xml:"Delimiter,omitempty"`
	Blobs           blobs    `xml:"Blobs"`
	NextMarker      string   `xml:"NextMarker"`
}

// blobs holds blobItems and blobPrefixes, in name order; each is named by
// its XMLName.
type blobs struct {
	Items []any
}

type blobItem struct {
	XMLName    xml.Name       `xml:"Blob"`
	Name       blobName       `xml:"Name"`
	Properties blobProperties `xml:"Properties"`
	Metadata   *xmlMetadata   `xml:"Metadata"`
}

type blobPrefix struct {
	XMLName xml.Name `xml:"BlobPrefix"`
	Name    blobName `xml:"Name"`
}

// blobName is a name in a listing. A name that XML cannot carry is sent
// URL-encoded with Encoded="true", as Storage does.
type blobName struct {
	Encoded bool   `xml:"Encoded,attr,omitempty"`
	Name    string `xml:",chardata"`
}

func nameOf(s string) blobName {
	if xmlSafe(s) {
		return blobName{Name: s}
	}
	return blobName{Encoded: true, Name: url.QueryEscape(s)}
}

// xmlSafe reports whether every character of s may appear in XML 1.0.
func xmlSafe(s string) bool {
	for _, r := range s {
		if r == utf8.RuneError || r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0xFFFE || r == 0xFFFF {
			return false
		}
	}
	return true
}

type blobProperties struct {
	CreationTime       string `xml:"Creation-Time"`
	LastModified       string `xml:"Last-Modified"`
	ETag               string `xml:"Etag"`
	ContentLength      int64  `xml:"Content-Length"`
	ContentType        string `xml:"Content-Type"`
	ContentEncoding    string `xml:"Content-Encoding"`
	ContentLanguage    string `xml:"Content-Language"`
	ContentMD5         string `xml:"Content-MD5"`
	ContentDisposition string `xml:"Content-Disposition"`
	CacheControl       string `xml:"Cache-Control"`
	SequenceNumber     *int64 `xml:"x-ms-blob-sequence-number,omitempty"`
	BlobType           string `xml:"BlobType"`
	AccessTier         string `xml:"AccessTier,omitempty"`
	AccessTierInferred bool   `xml:"AccessTierInferred,omitempty"`
	LeaseStatus        string `xml:"LeaseStatus"`
	LeaseState         string `xml:"LeaseState"`
	CopyID             string `xml:"CopyId,omitempty"`
	CopySource         string `xml:"CopySource,omitempty"`
	CopyStatus         string `xml:"CopyStatus,omitempty"`
	CopyProgress       string `xml:"CopyProgress,omitempty"`
	CopyCompletionTime string `xml:"CopyCompletionTime,omitempty"`
	ServerEncrypted    bool   `xml:"ServerEncrypted"`
	EncryptionScope    string `xml:"EncryptionScope,omitempty"` // absent for the account encryption key, as from Azure
}

func propertiesOf(b *blob.Blob, withCopy bool) blobProperties {
	p := blobProperties{
		CreationTime:       httpTime(b.Created),
		LastModified:       httpTime(b.Modified),
		ETag:               b.ETag,
		ContentLength:      b.Size,
		ContentType:        b.Headers.ContentType,
		ContentEncoding:    b.Headers.ContentEncoding,
		ContentLanguage:    b.Headers.ContentLanguage,
		ContentDisposition: b.Headers.ContentDisposition,
		CacheControl:       b.Headers.CacheControl,
		BlobType:           string(b.Type),
		LeaseStatus:        "unlocked",
		LeaseState:         "available",
		ServerEncrypted:    true,
		EncryptionScope:    b.EncryptionScope,
	}
	if b.Headers.ContentMD5 != nil {
		p.ContentMD5 = base64.StdEncoding.EncodeToString(b.Headers.ContentMD5)
	}
	switch b.Type {
	case blob.PageBlob:
		p.SequenceNumber = &b.SequenceNumber
	case blob.BlockBlob:
		p.AccessTier, p.AccessTierInferred = "Hot", true
	}
	if withCopy && b.Copy.ID != "" {
		p.CopyID, p.CopySource, p.CopyStatus, p.CopyProgress = b.Copy.ID, b.Copy.Source, b.Copy.Status, b.Copy.Progress
		p.CopyCompletionTime = httpTime(b.Copy.Completed)
	}
	return p
}

// splitList splits a comma-separated query value.
func splitList(v string) []string {
	var out []string
	for s := range strings.SplitSeq(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func (h *Handler) listBlobs(w http.ResponseWriter, r *request) error {
	q := r.URL.Query()
	o, err := listOptions(q)
	if err != nil {
		return err
	}
	o.Delimiter = q.Get("delimiter")
	withCopy := false
	for _, v := range splitList(q.Get("include")) {
		switch strings.ToLower(v) {
		case "metadata":
			o.Metadata = true
		case "copy":
			withCopy = true
		// Features tresor does not have, so there is nothing to include.
		case "snapshots", "uncommittedblobs", "deleted", "tags", "versions", "immutabilitypolicy", "legalhold", "deletedwithversions", "permissions":
		default:
			return invalidQuery("include")
		}
	}
	l, err := h.Service.ListBlobs(r.Context(), r.account, r.container, o)
	if err != nil {
		return err
	}
	out := blobList{
		ServiceEndpoint: r.endpoint, ContainerName: r.container,
		Prefix: o.Prefix, Marker: o.Marker, MaxResults: o.MaxResults, Delimiter: o.Delimiter,
		NextMarker: l.NextMarker, Blobs: blobs{Items: make([]any, 0, len(l.Items))},
	}
	for _, it := range l.Items {
		if it.Blob == nil {
			out.Blobs.Items = append(out.Blobs.Items, blobPrefix{Name: nameOf(it.Prefix)})
			continue
		}
		item := blobItem{Name: nameOf(it.Blob.Blob), Properties: propertiesOf(it.Blob, withCopy)}
		if o.Metadata {
			md := xmlMetadata(it.Blob.Metadata)
			item.Metadata = &md
		}
		out.Blobs.Items = append(out.Blobs.Items, item)
	}
	return writeXML(w, out)
}
