package cli

import (
	"context"
	"path/filepath"
	"strings"
	"time"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/blob"
	"github.com/tresorkms/tresor/blob/blobauth"
	"github.com/tresorkms/tresor/blob/blobfs"
	"github.com/tresorkms/tresor/blob/blobhttp"
	"github.com/tresorkms/tresor/compute"
	"github.com/tresorkms/tresor/compute/diskblob"
	"github.com/tresorkms/tresor/scheduler"
)

// storageAudience is the token audience of Azure Storage's data planes,
// which azblob and @azure/storage-blob ask for unless told otherwise.
const storageAudience = "https://storage.azure.com"

// openBlobs prepares the Blob data plane of every storage account: blob
// content in DIR/blobs, encrypted under the keys of each account's
// encryption scopes (its account encryption key and the scopes it adds),
// which the storage service unwraps with their customer-managed keys.
func (s *Server) openBlobs(u urls) (*blobhttp.Handler, error) {
	data, err := blobfs.Open(filepath.Join(s.DataDir, "blobs"))
	if err != nil {
		return nil, err
	}
	s.Blobs = blob.New(s.DB, data, blobKeys{s})
	s.Blobs.Now = s.Clock.Now
	s.Blobs.Logger = s.Logger
	s.DiskEncryptionSets.Content = &diskblob.Content{Blobs: s.Blobs, AccountURL: func(account string) string {
		return "https://" + account + ".blob." + s.Domain + u.suffix + "/"
	}}
	return blobhttp.New(blobhttp.Handler{
		Service:      s.Blobs,
		Accounts:     blobAccounts{s},
		Suffix:       ".blob." + s.Domain,
		Authenticate: s.sys.authenticator(storageAudience, u.storageAudience),
		Authorize:    s.authorizeBlob,
		Allow:        allowBlobOperation,
		Authority:    strings.TrimSuffix(u.authority, "/") + "/" + s.Env["AZURE_TENANT_ID"],
		// Request dates and SAS windows are on real time, whatever the
		// server's clock, as tokens are: clients sign with their own clock.
		Now:    time.Now,
		Logger: s.Logger,
	}), nil
}

// isDisk reports whether a Blob account holds a managed disk or snapshot
// rather than being a storage account, whose names have no hyphen.
func isDisk(account string) bool { return strings.HasPrefix(account, compute.BlobAccountPrefix) }

// blobAccounts gives the Blob API an account's access keys: a storage
// account's, or the key of a disk's current access grant.
type blobAccounts struct{ s *Server }

func (a blobAccounts) Account(ctx context.Context, name string) (blobauth.Account, error) {
	keys, err := a.s.Storage.AccessKeys(ctx, name)
	if isDisk(name) {
		keys, err = a.s.DiskEncryptionSets.BlobAccountKeys(ctx, name)
	}
	if err != nil {
		return blobauth.Account{}, err
	}
	return blobauth.Account{Name: name, Keys: keys}, nil
}

// allowBlobOperation lets a disk's access URL read and write the pages of
// its one page blob and nothing more: no Put Blob or Create Page Blob that
// would replace it with another size or kind, no blocks, no metadata.
func allowBlobOperation(account, operation string) bool {
	if !isDisk(account) {
		return true
	}
	switch operation {
	case "PutPage", "GetBlob", "GetBlobProperties", "GetPageRanges":
		return true
	}
	return false
}

// blobKeys gives the Blob data plane the keys of its content: a storage
// account's encryption scopes, or a disk's data key.
type blobKeys struct{ s *Server }

func (k blobKeys) Key(ctx context.Context, account, scope string) ([]byte, error) {
	if !isDisk(account) {
		return k.s.Storage.Key(ctx, account, scope)
	}
	if scope != "" {
		return nil, tresor.Errorf(tresor.Invalid, "A disk has no encryption scopes.").WithReason(blob.ReasonInvalidHeaderValue)
	}
	return k.s.DiskEncryptionSets.ContentKey(ctx, account)
}

func (k blobKeys) CheckScope(ctx context.Context, account, scope string) error {
	if !isDisk(account) {
		return k.s.Storage.CheckScope(ctx, account, scope)
	}
	if scope != "" {
		return tresor.Errorf(tresor.Invalid, "A disk has no encryption scopes.").WithReason(blob.ReasonInvalidHeaderValue)
	}
	return nil
}

// authorizeBlob decides a bearer request with Azure RBAC: the container
// actions (create, delete, properties) are actions, the blob ones data
// actions, at the container's scope below the account.
func (s *Server) authorizeBlob(ctx context.Context, p tresor.Principal, account, container, action string) error {
	if isDisk(account) {
		return tresor.Errorf(tresor.Forbidden, "A disk's content is reached through its access URL (beginGetAccess) only.")
	}
	a, err := s.Storage.Account(ctx, account)
	if err != nil {
		return err
	}
	scope := a.ID() + "/blobServices/default"
	if container != "" {
		scope += "/containers/" + container
	}
	ok, err := s.RBAC.Decide(ctx, "", p.ObjectID, scope, action, blobhttp.IsDataAction(action))
	if err != nil {
		return err
	}
	if !ok {
		return tresor.Errorf(tresor.Forbidden, "%s may not perform %s at %s.", p.ObjectID, action, scope)
	}
	return nil
}

// blobSweepInterval is how often the content of blocks that no blob holds
// (left by a crash, or by a removal that failed) is looked for.
const blobSweepInterval = time.Hour

// blobTasks are the Blob data plane's periodic work: uncommitted blocks
// expire on the server's clock, as in Azure after a week; orphaned content
// is swept on real time, since its age is the file's.
func (s *Server) blobTasks() []scheduler.Task {
	var lastSweep time.Time // the scheduler runs one pass at a time
	return []scheduler.Task{
		{
			Name: "expiry of uncommitted blocks",
			Next: func(context.Context) (time.Time, error) { return time.Time{}, nil },
			Run: func(ctx context.Context, now time.Time) error {
				_, err := s.Blobs.ExpireStagedBlocks(ctx, now)
				return err
			},
		},
		{
			Name: "sweep of orphaned blob content",
			Next: func(context.Context) (time.Time, error) { return time.Time{}, nil },
			Run: func(ctx context.Context, _ time.Time) error {
				now := time.Now()
				if now.Sub(lastSweep) < blobSweepInterval {
					return nil
				}
				lastSweep = now
				n, err := s.Blobs.Sweep(ctx, now.Add(-time.Minute))
				if n > 0 {
					s.Logger.InfoContext(ctx, "swept orphaned blob content", "blocks", n)
				}
				return err
			},
		},
	}
}
