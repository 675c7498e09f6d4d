package blobhttp

import (
	"net/http"
	"time"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/blob/blobauth"
)

// A route is one Blob operation.
type route struct {
	name       string // the operationId
	h          func(h *Handler, w http.ResponseWriter, r *request) error
	perms      blobauth.Permissions // SAS permissions, any of which allows it
	serviceSAS bool                 // a service SAS may allow it; otherwise only an account SAS
	action     string               // the data action that OAuth needs
	maxBody    int64                // streamed: the handler reads Content-Length bytes and checks them
	timeout    time.Duration        // 0: none (streams of any size)
}

// Body limits: requests without content, Put Block List's XML (50,000
// block IDs of at most 64 bytes), and streamed content, whose limits the
// domain applies per operation.
const (
	noBody       = 0
	blockListMax = 8 << 20
	streamed     = -1
)

const metaTimeout = 30 * time.Second

// The routes, by level and operation.
var (
	listContainers   = route{"ListContainers", (*Handler).listContainers, blobauth.List, false, ActionRead, noBody, metaTimeout}
	getAccountInfo   = route{"GetAccountInfo", (*Handler).getAccountInfo, blobauth.Read | blobauth.List | blobauth.Write | blobauth.Create | blobauth.Delete, true, ActionRead, noBody, metaTimeout}
	createContainer  = route{"CreateContainer", (*Handler).createContainer, blobauth.Create | blobauth.Write, false, ActionWrite, noBody, metaTimeout}
	deleteContainer  = route{"DeleteContainer", (*Handler).deleteContainer, blobauth.Delete, false, ActionDelete, noBody, metaTimeout}
	getContainer     = route{"GetContainerProperties", (*Handler).getContainerProperties, blobauth.Read, false, ActionRead, noBody, metaTimeout}
	setContainerMeta = route{"SetContainerMetadata", (*Handler).setContainerMetadata, blobauth.Write, false, ActionWrite, noBody, metaTimeout}
	listBlobs        = route{"ListBlobs", (*Handler).listBlobs, blobauth.List, true, DataActionRead, noBody, metaTimeout}

	putBlob        = route{"PutBlob", (*Handler).putBlob, blobauth.Create | blobauth.Write, true, DataActionWrite, streamed, 0}
	createPageBlob = route{"CreatePageBlob", (*Handler).createPageBlob, blobauth.Create | blobauth.Write, true, DataActionWrite, noBody, metaTimeout}
	copyBlob       = route{"CopyBlob", (*Handler).copyBlob, blobauth.Create | blobauth.Write, true, DataActionWrite, noBody, 0}
	getBlob        = route{"GetBlob", (*Handler).getBlob, blobauth.Read, true, DataActionRead, noBody, 0}
	getBlobProps   = route{"GetBlobProperties", (*Handler).getBlobProperties, blobauth.Read, true, DataActionRead, noBody, metaTimeout}
	deleteBlob     = route{"DeleteBlob", (*Handler).deleteBlob, blobauth.Delete, true, DataActionDelete, noBody, metaTimeout}
	putBlock       = route{"PutBlock", (*Handler).putBlock, blobauth.Create | blobauth.Write, true, DataActionWrite, streamed, 0}
	putBlockList   = route{"PutBlockList", (*Handler).putBlockList, blobauth.Create | blobauth.Write, true, DataActionWrite, blockListMax, metaTimeout}
	getBlockList   = route{"GetBlockList", (*Handler).getBlockList, blobauth.Read, true, DataActionRead, noBody, metaTimeout}
	setBlobMeta    = route{"SetBlobMetadata", (*Handler).setBlobMetadata, blobauth.Write, true, DataActionWrite, noBody, metaTimeout}
	setBlobProps   = route{"SetBlobProperties", (*Handler).setBlobProperties, blobauth.Write, true, DataActionWrite, noBody, metaTimeout}
	putPage        = route{"PutPage", (*Handler).putPage, blobauth.Write, true, DataActionWrite, streamed, 0}
	getPageRanges  = route{"GetPageRanges", (*Handler).getPageRanges, blobauth.Read, true, DataActionRead, noBody, metaTimeout}
)

// routeFor chooses r's operation.
func routeFor(r *request) (route, error) {
	q := r.URL.Query()
	restype, comp := q.Get("restype"), q.Get("comp")
	get := r.Method == http.MethodGet || r.Method == http.MethodHead
	put := r.Method == http.MethodPut
	switch {
	case r.container == "":
		switch {
		case comp == "list" && r.Method == http.MethodGet:
			return listContainers, nil
		case restype == "account" && comp == "properties" && get:
			return getAccountInfo, nil
		}
	case r.blob == "":
		if restype != "container" {
			return route{}, tresor.Errorf(tresor.Invalid, "A container request needs restype=container.").WithReason(codeInvalidQueryParameterValue)
		}
		switch {
		case comp == "" && put:
			return createContainer, nil
		case comp == "" && r.Method == http.MethodDelete:
			return deleteContainer, nil
		case (comp == "" || comp == "metadata") && get:
			return getContainer, nil
		case comp == "metadata" && put:
			return setContainerMeta, nil
		case comp == "list" && r.Method == http.MethodGet:
			return listBlobs, nil
		}
	default:
		switch {
		case comp == "" && put:
			switch {
			case r.Header.Get("x-ms-copy-source") != "":
				return copyBlob, nil
			case r.Header.Get("x-ms-blob-type") == "BlockBlob":
				return putBlob, nil
			case r.Header.Get("x-ms-blob-type") == "PageBlob":
				return createPageBlob, nil
			case r.Header.Get("x-ms-blob-type") == "":
				return route{}, tresor.Errorf(tresor.Invalid, "An HTTP header that's mandatory for this request is not specified: x-ms-blob-type.").WithReason(codeMissingRequiredHeader)
			}
			return route{}, tresor.Errorf(tresor.Invalid, "The blob type %q is not supported; use BlockBlob or PageBlob.", r.Header.Get("x-ms-blob-type")).WithReason(codeInvalidHeaderValue)
		case comp == "" && r.Method == http.MethodGet:
			return getBlob, nil
		case (comp == "" || comp == "metadata") && r.Method == http.MethodHead, comp == "metadata" && r.Method == http.MethodGet:
			return getBlobProps, nil
		case comp == "" && r.Method == http.MethodDelete:
			return deleteBlob, nil
		case comp == "block" && put:
			return putBlock, nil
		case comp == "blocklist" && put:
			return putBlockList, nil
		case comp == "blocklist" && r.Method == http.MethodGet:
			return getBlockList, nil
		case comp == "metadata" && put:
			return setBlobMeta, nil
		case comp == "properties" && put:
			return setBlobProps, nil
		case comp == "page" && put:
			return putPage, nil
		case comp == "pagelist" && r.Method == http.MethodGet:
			return getPageRanges, nil
		}
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete:
		return route{}, tresor.Errorf(tresor.Invalid, "The operation (restype=%q, comp=%q) is not supported.", restype, comp).WithReason(codeInvalidQueryParameterValue)
	}
	return route{}, tresor.Errorf(tresor.Invalid, "The HTTP verb %s is not supported.", r.Method).WithReason(codeUnsupportedHTTPVerb)
}

// limitBody applies a route's body limit. A streamed body must announce
// its length (Content-Length), as Azure requires.
func limitBody(w http.ResponseWriter, r *request, limit int64) error {
	if limit == streamed {
		if r.ContentLength < 0 {
			return tresor.Errorf(tresor.Invalid, "Content-Length HTTP header is missing.").WithReason(codeMissingContentLength)
		}
		return nil
	}
	if r.ContentLength > limit {
		return tresor.Errorf(tresor.TooLarge, "The request body is too large and exceeds the maximum permissible limit.").WithReason(codeRequestBodyTooLarge)
	}
	r.Body = http.MaxBytesReader(w, r.Body, max(limit, 1))
	return nil
}
