package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/storage/armstorage/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
)

// storageDataCommand mirrors 'az storage container create|list|delete'
// and 'az storage blob upload|download|list|show|delete': the Blob API of
// an account at its host-style endpoint, with the account's key (fetched
// through ARM, az's default) or, with --auth-mode login, an Entra token.
type storageDataCommand struct {
	kind string // "container" or "blob"
	op   string
	out  io.Writer
}

func (c storageDataCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("storage "+c.kind+" "+c.op, flag.ContinueOnError)
	data := dataFlag(fs)
	account := fs.String("account-name", "", "storage account name")
	key := fs.String("account-key", "", "account key (default: fetched through ARM with --auth-mode key)")
	authMode := fs.String("auth-mode", "key", "key (Shared Key) or login (Entra token; needs a Storage Blob Data role)")
	containerName := fs.String("container-name", "", "container name")
	fs.StringVar(containerName, "c", "", "short for --container-name")
	name := fs.String("name", "", "container name (storage container) or blob name (storage blob)")
	fs.StringVar(name, "n", "", "short for --name")
	file := fs.String("file", "", "blob upload: file to upload; blob download: file to write")
	fs.StringVar(file, "f", "", "short for --file")
	overwrite := fs.Bool("overwrite", false, "blob upload: replace an existing blob")
	prefix := fs.String("prefix", "", "list: only names that start with this")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := required(fs, "account-name"); err != nil {
		return err
	}
	cn, err := connect(*data)
	if err != nil {
		return err
	}
	bc, err := c.client(ctx, cn, *account, *key, *authMode)
	if err != nil {
		return err
	}
	if c.kind == "container" {
		return c.container(ctx, fs, bc, *name, *prefix)
	}
	if err := required(fs, "container-name"); err != nil {
		return err
	}
	cc := bc.ServiceClient().NewContainerClient(*containerName)
	switch c.op {
	case "upload":
		if err := required(fs, "name", "file"); err != nil {
			return err
		}
		f, err := os.Open(*file)
		if err != nil {
			return err
		}
		defer f.Close()
		opts := &azblob.UploadFileOptions{}
		if !*overwrite {
			opts.AccessConditions = &blob.AccessConditions{ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfNoneMatch: to.Ptr(azcore.ETagAny)}}
		}
		res, err := cc.NewBlockBlobClient(*name).UploadFile(ctx, f, opts)
		if err != nil {
			return blobError(err, *name)
		}
		return printJSON(c.out, map[string]any{
			"etag": res.ETag, "lastModified": res.LastModified, "request_server_encrypted": res.IsServerEncrypted,
			"encryption_scope": res.EncryptionScope, "version": res.Version,
		})
	case "download":
		if err := required(fs, "name", "file"); err != nil {
			return err
		}
		f, err := os.Create(*file)
		if err != nil {
			return err
		}
		_, err = cc.NewBlobClient(*name).DownloadFile(ctx, f, nil)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(*file) //nolint:errcheck // the download failed; a partial file is worse
			return blobError(err, *name)
		}
		return c.showBlob(ctx, cc, *name)
	case "show":
		if err := required(fs, "name"); err != nil {
			return err
		}
		return c.showBlob(ctx, cc, *name)
	case "delete":
		if err := required(fs, "name"); err != nil {
			return err
		}
		_, err := cc.NewBlobClient(*name).Delete(ctx, nil)
		return blobError(err, *name)
	case "list":
		var out []blobJSON
		pager := cc.NewListBlobsFlatPager(&container.ListBlobsFlatOptions{Prefix: prefix})
		for pager.More() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				return blobError(err, *containerName)
			}
			for _, b := range page.Segment.BlobItems {
				p := b.Properties
				out = append(out, blobJSON{Name: deref(b.Name), Properties: blobPropertiesJSON{
					BlobType: string(deref(p.BlobType)), ContentLength: deref(p.ContentLength), ContentType: deref(p.ContentType),
					ETag: string(deref(p.ETag)), LastModified: deref(p.LastModified), ServerEncrypted: deref(p.ServerEncrypted),
				}})
			}
		}
		return printJSON(c.out, out)
	}
	return fmt.Errorf("unknown command 'storage blob %s'; want upload, download, list, show or delete", c.op)
}

// container runs 'storage container create|list|delete'.
func (c storageDataCommand) container(ctx context.Context, fs *flag.FlagSet, bc *azblob.Client, name, prefix string) error {
	switch c.op {
	case "create":
		if err := required(fs, "name"); err != nil {
			return err
		}
		_, err := bc.CreateContainer(ctx, name, nil)
		if err := blobError(err, name); err != nil {
			return err
		}
		return printJSON(c.out, map[string]bool{"created": true})
	case "delete":
		if err := required(fs, "name"); err != nil {
			return err
		}
		_, err := bc.DeleteContainer(ctx, name, nil)
		if err := blobError(err, name); err != nil {
			return err
		}
		return printJSON(c.out, map[string]bool{"deleted": true})
	case "list":
		type containerJSON struct {
			Name       string `json:"name"`
			Properties struct {
				ETag         string    `json:"etag"`
				LastModified time.Time `json:"lastModified"`
			} `json:"properties"`
		}
		var out []containerJSON
		pager := bc.NewListContainersPager(&azblob.ListContainersOptions{Prefix: &prefix})
		for pager.More() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				return blobError(err, "")
			}
			for _, it := range page.ContainerItems {
				var cj containerJSON
				cj.Name = deref(it.Name)
				if it.Properties != nil {
					cj.Properties.ETag, cj.Properties.LastModified = string(deref(it.Properties.ETag)), deref(it.Properties.LastModified)
				}
				out = append(out, cj)
			}
		}
		return printJSON(c.out, out)
	}
	return fmt.Errorf("unknown command 'storage container %s'; want create, list or delete", c.op)
}

// blobJSON is a blob as 'az storage blob list' and 'show' print it.
type blobJSON struct {
	Name       string             `json:"name"`
	Properties blobPropertiesJSON `json:"properties"`
	Metadata   map[string]string  `json:"metadata,omitempty"`
}

type blobPropertiesJSON struct {
	BlobType        string    `json:"blobType"`
	ContentLength   int64     `json:"contentLength"`
	ContentType     string    `json:"contentType,omitempty"`
	ETag            string    `json:"etag"`
	LastModified    time.Time `json:"lastModified"`
	ServerEncrypted bool      `json:"serverEncrypted"`
	EncryptionScope string    `json:"encryptionScope,omitempty"`
}

func (c storageDataCommand) showBlob(ctx context.Context, cc *container.Client, name string) error {
	p, err := cc.NewBlobClient(name).GetProperties(ctx, nil)
	if err != nil {
		return blobError(err, name)
	}
	b := blobJSON{Name: name, Properties: blobPropertiesJSON{
		BlobType: string(deref(p.BlobType)), ContentLength: deref(p.ContentLength), ContentType: deref(p.ContentType),
		ETag: string(deref(p.ETag)), LastModified: deref(p.LastModified), ServerEncrypted: deref(p.IsServerEncrypted),
		EncryptionScope: deref(p.EncryptionScope),
	}}
	if len(p.Metadata) > 0 {
		b.Metadata = map[string]string{}
		for k, v := range p.Metadata {
			b.Metadata[strings.ToLower(k)] = deref(v)
		}
	}
	return printJSON(c.out, b)
}

// client connects to the account's Blob endpoint as --auth-mode says.
func (c storageDataCommand) client(ctx context.Context, cn conn, account, key, authMode string) (*azblob.Client, error) {
	endpoint := cn.env.BlobURL(account)
	opts := &azblob.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: cn.http}}
	switch authMode {
	case "login":
		return azblob.NewClient(endpoint, cn.cred, opts)
	case "key":
		if key == "" {
			var err error
			if key, err = accountKey(ctx, cn, account); err != nil {
				return nil, err
			}
		}
		cred, err := azblob.NewSharedKeyCredential(account, key)
		if err != nil {
			return nil, fmt.Errorf("--account-key: %w", err)
		}
		return azblob.NewClientWithSharedKeyCredential(endpoint, cred, opts)
	}
	return nil, fmt.Errorf("--auth-mode %q: want key or login", authMode)
}

// accountKey finds the account in the subscription and lists its first
// key, as az does when given neither a key nor --auth-mode login.
func accountKey(ctx context.Context, cn conn, account string) (string, error) {
	accounts, err := armstorage.NewAccountsClient(cn.env["AZURE_SUBSCRIPTION_ID"], cn.cred, cn.env.ARMOptions(cn.http))
	if err != nil {
		return "", err
	}
	all, err := collect(ctx, accounts.NewListPager(nil),
		func(p armstorage.AccountsClientListResponse) []*armstorage.Account { return p.Value })
	if err != nil {
		return "", err
	}
	for _, a := range all {
		if !strings.EqualFold(deref(a.Name), account) {
			continue
		}
		id, err := arm.ParseResourceID(deref(a.ID))
		if err != nil {
			return "", err
		}
		keys, err := accounts.ListKeys(ctx, id.ResourceGroupName, account, nil)
		if err != nil {
			return "", err
		}
		if len(keys.Keys) == 0 {
			return "", fmt.Errorf("storage account %s has no keys", account)
		}
		return deref(keys.Keys[0].Value), nil
	}
	return "", fmt.Errorf("storage account %s not found in subscription %s", account, cn.env["AZURE_SUBSCRIPTION_ID"])
}

// blobError adds the Storage error code to a failed call's message.
func blobError(err error, name string) error {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return fmt.Errorf("%s: %s (%d %s)", name, re.ErrorCode, re.StatusCode, strings.TrimSpace(strings.SplitN(re.Error(), "\n", 2)[0]))
	}
	return err
}
