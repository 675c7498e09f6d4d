package blobhttp

import (
	"encoding/xml"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/tresorkms/tresor/blob"
)

func (h *Handler) createContainer(w http.ResponseWriter, r *request) error {
	md, err := metadata(r.Header)
	if err != nil {
		return err
	}
	if v := r.Header.Get("x-ms-blob-public-access"); v != "" {
		return unsupportedHeader("x-ms-blob-public-access", "anonymous access is not supported")
	}
	var pol blob.EncryptionPolicy
	pol.DefaultEncryptionScope = blob.RequestScope(r.Header.Get("x-ms-default-encryption-scope")).Scope
	switch v := r.Header.Get("x-ms-deny-encryption-scope-override"); strings.ToLower(v) {
	case "", "false":
	case "true":
		pol.DenyEncryptionScopeOverride = true
	default:
		return invalidHeader("x-ms-deny-encryption-scope-override")
	}
	c, err := h.Service.CreateContainer(r.Context(), r.account, r.container, md, pol)
	if err != nil {
		return err
	}
	setWritten(w.Header(), c.ETag, c.Modified)
	w.WriteHeader(http.StatusCreated)
	return nil
}

func (h *Handler) deleteContainer(w http.ResponseWriter, r *request) error {
	c, err := conditions(r.Header, "")
	if err != nil {
		return err
	}
	if err := h.Service.DeleteContainer(r.Context(), r.account, r.container, c); err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

func (h *Handler) getContainerProperties(w http.ResponseWriter, r *request) error {
	c, err := h.Service.GetContainerProperties(r.Context(), r.account, r.container)
	if err != nil {
		return err
	}
	hdr := w.Header()
	setWritten(hdr, c.ETag, c.Modified)
	setMetadata(hdr, c.Metadata)
	hdr.Set("x-ms-lease-state", "available")
	hdr.Set("x-ms-lease-status", "unlocked")
	hdr.Set("x-ms-has-immutability-policy", "false")
	hdr.Set("x-ms-has-legal-hold", "false")
	hdr.Set("x-ms-default-encryption-scope", blob.WireScope(c.DefaultEncryptionScope))
	hdr.Set("x-ms-deny-encryption-scope-override", strconv.FormatBool(c.DenyEncryptionScopeOverride))
	w.WriteHeader(http.StatusOK)
	return nil
}

func (h *Handler) setContainerMetadata(w http.ResponseWriter, r *request) error {
	md, err := metadata(r.Header)
	if err != nil {
		return err
	}
	c, err := conditions(r.Header, "")
	if err != nil {
		return err
	}
	ct, err := h.Service.SetContainerMetadata(r.Context(), r.account, r.container, md, c)
	if err != nil {
		return err
	}
	setWritten(w.Header(), ct.ETag, ct.Modified)
	w.WriteHeader(http.StatusOK)
	return nil
}

// getAccountInfo answers Get Account Information.
func (h *Handler) getAccountInfo(w http.ResponseWriter, r *request) error {
	hdr := w.Header()
	hdr.Set("x-ms-sku-name", "Standard_LRS")
	hdr.Set("x-ms-account-kind", "StorageV2")
	hdr.Set("x-ms-is-hns-enabled", "false")
	w.WriteHeader(http.StatusOK)
	return nil
}

// listOptions parses the query of a listing. include is checked by the
// caller.
func listOptions(q url.Values) (blob.ListOptions, error) {
	o := blob.ListOptions{Prefix: q.Get("prefix"), Marker: q.Get("marker")}
	if v := q.Get("maxresults"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return o, invalidQuery("maxresults")
		}
		o.MaxResults = min(n, blob.MaxListResults) // Azure caps larger values
	}
	return o, nil
}

type containerList struct {
	XMLName         xml.Name        `xml:"EnumerationResults"`
	ServiceEndpoint string          `xml:"ServiceEndpoint,attr"`
	Prefix          string          `xml:"Prefix,omitempty"`
	Marker          string          `xml:"Marker,omitempty"`
	MaxResults      int             `xml:"MaxResults,omitempty"`
	Containers      []containerItem `xml:"Containers>Container"`
	NextMarker      string          `xml:"NextMarker"`
}

type containerItem struct {
	Name       string              `xml:"Name"`
	Properties containerProperties `xml:"Properties"`
	Metadata   xmlMetadata         `xml:"Metadata,omitempty"`
}

type containerProperties struct {
	LastModified                string `xml:"Last-Modified"`
	ETag                        string `xml:"Etag"`
	LeaseStatus                 string `xml:"LeaseStatus"`
	LeaseState                  string `xml:"LeaseState"`
	DefaultEncryptionScope      string `xml:"DefaultEncryptionScope"`
	DenyEncryptionScopeOverride bool   `xml:"DenyEncryptionScopeOverride"`
	HasImmutabilityPolicy       bool   `xml:"HasImmutabilityPolicy"`
	HasLegalHold                bool   `xml:"HasLegalHold"`
}

func (h *Handler) listContainers(w http.ResponseWriter, r *request) error {
	q := r.URL.Query()
	o, err := listOptions(q)
	if err != nil {
		return err
	}
	withMetadata := false
	for _, v := range splitList(q.Get("include")) {
		switch v {
		case "metadata":
			withMetadata = true
		case "deleted", "system":
		default:
			return invalidQuery("include")
		}
	}
	l, err := h.Service.ListContainers(r.Context(), r.account, o)
	if err != nil {
		return err
	}
	out := containerList{ServiceEndpoint: r.endpoint, Prefix: o.Prefix, Marker: o.Marker, MaxResults: o.MaxResults, NextMarker: l.NextMarker}
	for _, c := range l.Containers {
		item := containerItem{Name: c.Name, Properties: containerProperties{
			LastModified: httpTime(c.Modified), ETag: `"` + c.ETag + `"`, LeaseStatus: "unlocked", LeaseState: "available",
			DefaultEncryptionScope:      blob.WireScope(c.DefaultEncryptionScope),
			DenyEncryptionScopeOverride: c.DenyEncryptionScopeOverride,
		}}
		if withMetadata {
			item.Metadata = xmlMetadata(c.Metadata)
		}
		out.Containers = append(out.Containers, item)
	}
	return writeXML(w, out)
}
