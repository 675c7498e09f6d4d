package cli

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"
)

// keyCommand mirrors 'az keyvault key'.
type keyCommand struct {
	op  string
	out io.Writer
}

func (c keyCommand) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("keyvault key "+c.op, flag.ContinueOnError)
	data := dataFlag(fs)
	vault := fs.String("vault-name", "", "vault name")
	hsmName := fs.String("hsm-name", "", "managed HSM name (instead of --vault-name)")
	name := fs.String("name", "", "key name")
	version := fs.String("version", "", "key version (default: the newest)")
	kty := fs.String("kty", "RSA", "key type: RSA, RSA-HSM, EC, EC-HSM, oct-HSM")
	size := fs.Int("size", 0, "RSA or oct key size in bits")
	curve := fs.String("curve", "", "EC curve: P-256, P-384, P-521, P-256K")
	ops := fs.String("ops", "", "permitted operations, comma separated (encrypt,decrypt,sign,verify,wrapKey,unwrapKey)")
	enabled := fs.String("enabled", "", "true or false")
	expires := fs.String("expires", "", "expiry time, RFC 3339")
	notBefore := fs.String("not-before", "", "activation time, RFC 3339")
	tags := tagsFlag{}
	fs.Var(tags, "tags", "space-separated k=v tags")
	file := fs.String("file", "", "backup file (backup, restore)")
	alg := fs.String("algorithm", "RSA-OAEP-256", "encryption algorithm")
	value := fs.String("value", "", "data to encrypt or decrypt; for rotation-policy update, the policy as JSON or a file holding it")
	dataType := fs.String("data-type", "plaintext", "encrypt input / decrypt output: plaintext or base64")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cn, err := connect(*data)
	if err != nil {
		return err
	}
	url := cn.env.VaultURL(*vault)
	switch {
	case *hsmName != "":
		url = cn.env.HSMURL(*hsmName)
	case *vault == "":
		return fmt.Errorf("keyvault key %s: one of --vault-name or --hsm-name is required", c.op)
	}
	keys, err := azkeys.NewClient(url, cn.cred, &azkeys.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: cn.http}})
	if err != nil {
		return err
	}
	attrs, err := keyAttributes(*enabled, *expires, *notBefore)
	if err != nil {
		return err
	}
	needName := func() error { return required(fs, "name") }

	switch c.op {
	case "create":
		if err := needName(); err != nil {
			return err
		}
		p := azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyType(*kty)), KeyAttributes: attrs, Tags: tags, KeyOps: keyOps(*ops)}
		if *size != 0 {
			p.KeySize = to.Ptr(int32(*size))
		}
		if *curve != "" {
			p.Curve = to.Ptr(azkeys.CurveName(*curve))
		}
		res, err := keys.CreateKey(ctx, *name, p, nil)
		if err != nil {
			return err
		}
		return printJSON(c.out, res.KeyBundle)
	case "show":
		if err := needName(); err != nil {
			return err
		}
		res, err := keys.GetKey(ctx, *name, *version, nil)
		if err != nil {
			return err
		}
		return printJSON(c.out, res.KeyBundle)
	case "set-attributes":
		if err := needName(); err != nil {
			return err
		}
		p := azkeys.UpdateKeyParameters{KeyAttributes: attrs, KeyOps: keyOps(*ops)}
		if len(tags) > 0 {
			p.Tags = tags
		}
		res, err := keys.UpdateKey(ctx, *name, *version, p, nil)
		if err != nil {
			return err
		}
		return printJSON(c.out, res.KeyBundle)
	case "rotate":
		if err := needName(); err != nil {
			return err
		}
		res, err := keys.RotateKey(ctx, *name, nil)
		if err != nil {
			return err
		}
		return printJSON(c.out, res.KeyBundle)
	case "rotation-policy show":
		if err := needName(); err != nil {
			return err
		}
		res, err := keys.GetKeyRotationPolicy(ctx, *name, nil)
		if err != nil {
			return err
		}
		return printJSON(c.out, res.KeyRotationPolicy)
	case "rotation-policy update":
		if err := required(fs, "name", "value"); err != nil {
			return err
		}
		policy, err := readPolicy(*value)
		if err != nil {
			return err
		}
		res, err := keys.UpdateKeyRotationPolicy(ctx, *name, policy, nil)
		if err != nil {
			return err
		}
		return printJSON(c.out, res.KeyRotationPolicy)
	case "list":
		all, err := collect(ctx, keys.NewListKeyPropertiesPager(nil), func(p azkeys.ListKeyPropertiesResponse) []*azkeys.KeyProperties { return p.Value })
		if err != nil {
			return err
		}
		return printJSON(c.out, all)
	case "list-versions":
		if err := needName(); err != nil {
			return err
		}
		all, err := collect(ctx, keys.NewListKeyPropertiesVersionsPager(*name, nil), func(p azkeys.ListKeyPropertiesVersionsResponse) []*azkeys.KeyProperties { return p.Value })
		if err != nil {
			return err
		}
		return printJSON(c.out, all)
	case "list-deleted":
		all, err := collect(ctx, keys.NewListDeletedKeyPropertiesPager(nil), func(p azkeys.ListDeletedKeyPropertiesResponse) []*azkeys.DeletedKeyProperties { return p.Value })
		if err != nil {
			return err
		}
		return printJSON(c.out, all)
	case "delete":
		if err := needName(); err != nil {
			return err
		}
		res, err := keys.DeleteKey(ctx, *name, nil)
		if err != nil {
			return err
		}
		return printJSON(c.out, res.DeletedKey)
	case "recover":
		if err := needName(); err != nil {
			return err
		}
		res, err := keys.RecoverDeletedKey(ctx, *name, nil)
		if err != nil {
			return err
		}
		return printJSON(c.out, res.KeyBundle)
	case "purge":
		if err := needName(); err != nil {
			return err
		}
		_, err := keys.PurgeDeletedKey(ctx, *name, nil)
		return err
	case "backup":
		if err := required(fs, "name", "file"); err != nil {
			return err
		}
		res, err := keys.BackupKey(ctx, *name, nil)
		if err != nil {
			return err
		}
		return os.WriteFile(*file, res.Value, 0o600)
	case "restore":
		if err := required(fs, "file"); err != nil {
			return err
		}
		blob, err := os.ReadFile(*file)
		if err != nil {
			return err
		}
		res, err := keys.RestoreKey(ctx, azkeys.RestoreKeyParameters{KeyBackup: blob}, nil)
		if err != nil {
			return err
		}
		return printJSON(c.out, res.KeyBundle)
	case "encrypt", "decrypt":
		if err := required(fs, "name", "value"); err != nil {
			return err
		}
		return c.crypt(ctx, keys, *name, *version, *alg, *value, *dataType)
	}
	return fmt.Errorf("keyvault key: unknown operation %q", c.op)
}

// cryptResult is az's output of 'key encrypt' and 'key decrypt'.
type cryptResult struct {
	Algorithm string `json:"algorithm"`
	Kid       string `json:"kid"`
	Result    string `json:"result"`
}

func (c keyCommand) crypt(ctx context.Context, keys *azkeys.Client, name, version, alg, value, dataType string) error {
	p := azkeys.KeyOperationParameters{Algorithm: to.Ptr(azkeys.EncryptionAlgorithm(alg))}
	if c.op == "encrypt" {
		p.Value = []byte(value)
		if dataType == "base64" {
			b, err := base64.StdEncoding.DecodeString(value)
			if err != nil {
				return fmt.Errorf("--value is not base64: %w", err)
			}
			p.Value = b
		}
		res, err := keys.Encrypt(ctx, name, version, p, nil)
		if err != nil {
			return err
		}
		return printJSON(c.out, cryptResult{alg, string(*res.KID), base64.StdEncoding.EncodeToString(res.Result)})
	}
	b, err := base64.StdEncoding.DecodeString(value)
	if err != nil {
		return fmt.Errorf("--value must be the base64 ciphertext: %w", err)
	}
	p.Value = b
	res, err := keys.Decrypt(ctx, name, version, p, nil)
	if err != nil {
		return err
	}
	out := base64.StdEncoding.EncodeToString(res.Result)
	if dataType == "plaintext" {
		out = string(res.Result)
	}
	return printJSON(c.out, cryptResult{alg, string(*res.KID), out})
}

func keyOps(s string) []*azkeys.KeyOperation {
	if s == "" {
		return nil
	}
	var ops []*azkeys.KeyOperation
	for _, op := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		ops = append(ops, to.Ptr(azkeys.KeyOperation(op)))
	}
	return ops
}

func keyAttributes(enabled, expires, notBefore string) (*azkeys.KeyAttributes, error) {
	a := &azkeys.KeyAttributes{}
	switch enabled {
	case "":
	case "true":
		a.Enabled = to.Ptr(true)
	case "false":
		a.Enabled = to.Ptr(false)
	default:
		return nil, fmt.Errorf("--enabled must be true or false")
	}
	for _, t := range []struct {
		s   string
		dst **time.Time
	}{{expires, &a.Expires}, {notBefore, &a.NotBefore}} {
		if t.s == "" {
			continue
		}
		v, err := time.Parse(time.RFC3339, t.s)
		if err != nil {
			return nil, fmt.Errorf("times are RFC 3339, such as 2027-01-31T00:00:00Z: %w", err)
		}
		*t.dst = &v
	}
	return a, nil
}

// readPolicy reads a rotation policy as az's --value takes it: JSON, or the
// path of a file holding it.
func readPolicy(value string) (azkeys.KeyRotationPolicy, error) {
	b := []byte(value)
	if !strings.HasPrefix(strings.TrimSpace(value), "{") {
		var err error
		if b, err = os.ReadFile(value); err != nil {
			return azkeys.KeyRotationPolicy{}, fmt.Errorf("--value: %w", err)
		}
	}
	var p azkeys.KeyRotationPolicy
	if err := json.Unmarshal(b, &p); err != nil {
		return azkeys.KeyRotationPolicy{}, fmt.Errorf("--value: not a rotation policy: %w", err)
	}
	return p, nil
}
