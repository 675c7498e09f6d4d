package blob

import (
	"context"
	"encoding/base64"
	"strings"

	"github.com/tresorkms/tresor"
)

// ListOptions select a page of a listing.
type ListOptions struct {
	Prefix     string
	Delimiter  string // List Blobs only: group names by their prefix up to it
	Marker     string // NextMarker of the previous page, "" for the first
	MaxResults int    // 1 to MaxListResults; 0 means MaxListResults
	Metadata   bool   // List Blobs only: decrypt and return metadata
}

// ContainerList is a page of containers.
type ContainerList struct {
	Containers []Container
	NextMarker string // "" on the last page
}

// BlobList is a page of blobs and, with a delimiter, of the prefixes that
// group them (BlobPrefix elements), in name order.
type BlobList struct {
	Items      []ListItem
	NextMarker string // "" on the last page
}

// A ListItem is either a blob or a prefix.
type ListItem struct {
	Blob   *Blob
	Prefix string // set if Blob is nil
}

// A marker is the name of the first item of a page, base64-encoded so that
// it is opaque and travels safely in XML and URLs.
func encodeMarker(name string) string { return base64.RawURLEncoding.EncodeToString([]byte(name)) }

func decodeMarker(m string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(m)
	if err != nil {
		return "", tresor.Errorf(tresor.Invalid, "The marker %q is not valid.", m).WithReason("InvalidQueryParameterValue")
	}
	return string(b), nil
}

func (o ListOptions) check() (from string, limit int, err error) {
	limit = o.MaxResults
	if limit == 0 {
		limit = MaxListResults
	}
	if limit < 1 || limit > MaxListResults {
		return "", 0, tresor.Errorf(tresor.Invalid, "maxresults must be between 1 and %d.", MaxListResults).WithReason(ReasonOutOfRangeInput)
	}
	from = o.Prefix
	if o.Marker != "" {
		m, err := decodeMarker(o.Marker)
		if err != nil {
			return "", 0, err
		}
		from = max(from, m)
	}
	return from, limit, nil
}

// ListContainers lists an account's containers. It never needs the
// account key.
func (s *Service) ListContainers(ctx context.Context, account string, o ListOptions) (ContainerList, error) {
	from, limit, err := o.check()
	if err != nil {
		return ContainerList{}, err
	}
	cs, err := s.Store.Containers(ctx, account, o.Prefix, from, limit+1)
	if err != nil {
		return ContainerList{}, err
	}
	var l ContainerList
	if len(cs) > limit {
		l.NextMarker = encodeMarker(cs[limit].Name)
		cs = cs[:limit]
	}
	l.Containers = cs
	return l, nil
}

// ListBlobs lists the committed blobs of a container, by name. With a
// Delimiter, the names that continue after Prefix with the delimiter are
// grouped into one prefix item. Only o.Metadata needs keys: each blob's
// metadata is decrypted with its scope's key, asked for once per scope
// in the page, so the page fails with the Keys error if one of its blobs
// is in a scope whose key is unavailable. NotFound (ContainerNotFound) if
// the container does not exist.
func (s *Service) ListBlobs(ctx context.Context, account, container string, o ListOptions) (BlobList, error) {
	l, err := s.listBlobs(ctx, account, container, o)
	if err != nil || !o.Metadata {
		return l, err
	}
	keys := map[string]*scopeKeys{}
	for _, it := range l.Items {
		b := it.Blob
		if b == nil {
			continue
		}
		k, ok := keys[b.EncryptionScope]
		if !ok {
			if k, err = s.keys(ctx, account, b.EncryptionScope); err != nil {
				return BlobList{}, err
			}
			keys[b.EncryptionScope] = k
		}
		if b.Metadata, err = k.openMetadata(b.Path, b.SealedMetadata); err != nil {
			return BlobList{}, err
		}
	}
	return l, nil
}

// listBlobs returns a page of ListBlobs without metadata.
func (s *Service) listBlobs(ctx context.Context, account, container string, o ListOptions) (BlobList, error) {
	from, limit, err := o.check()
	if err != nil {
		return BlobList{}, err
	}
	var l BlobList
	for {
		batch, err := s.Store.Blobs(ctx, account, container, o.Prefix, from, limit+1-len(l.Items))
		if err != nil {
			return BlobList{}, err
		}
		restart := false
		for i := range batch {
			b := &batch[i]
			if o.Delimiter != "" {
				rest := b.Blob[len(o.Prefix):]
				if j := strings.Index(rest, o.Delimiter); j >= 0 {
					prefix := o.Prefix + rest[:j+len(o.Delimiter)]
					if len(l.Items) == limit {
						l.NextMarker = encodeMarker(prefix)
						return l, nil
					}
					l.Items = append(l.Items, ListItem{Prefix: prefix})
					// Skip the rest of the names under prefix.
					next, ok := successor(prefix)
					if !ok {
						return l, nil
					}
					from, restart = next, true
					break
				}
			}
			if len(l.Items) == limit {
				l.NextMarker = encodeMarker(b.Blob)
				return l, nil
			}
			l.Items = append(l.Items, ListItem{Blob: b})
		}
		if !restart {
			return l, nil
		}
	}
}

// successor returns the least string greater than every string that starts
// with prefix, or false if there is none.
func successor(prefix string) (string, bool) {
	b := []byte(prefix)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1]), true
		}
	}
	return "", false
}
