package e2e

import (
	"bytes"
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"

	"github.com/tresorkms/tresor/cli"
)

// TestAuditLog checks that data-plane and control-plane operations, allowed
// and denied, reach the audit log with their caller, that no key material
// does, and that 'tresor audit verify' passes on the real log and catches a
// record edited in the database.
func TestAuditLog(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	kv := e.vault(t, "kv-audit", false, nil)
	k, err := kv.CreateKey(ctx, "audited", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeRSA)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cek := []byte("0123456789abcdef0123456789abcdef")
	w, err := kv.WrapKey(ctx, "audited", k.Key.KID.Version(), azkeys.KeyOperationParameters{Algorithm: to.Ptr(azkeys.EncryptionAlgorithmRSAOAEP256), Value: cek}, nil)
	if err != nil {
		t.Fatal(err)
	}
	stranger := e.newPrincipal(t, "stranger")
	if _, err := e.keysClient(t, e.env.VaultURL("kv-audit"), stranger.cred).GetKey(ctx, "audited", "", nil); statusOf(err) != 403 {
		t.Fatalf("GetKey by a stranger = %v, want 403", err)
	}

	run := func(wantCode int, args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		if code := cli.Run(ctx, append(args, "--data", e.dir), &out, &errb); code != wantCode {
			t.Fatalf("tresor %s = %d, want %d\n%s%s", strings.Join(args, " "), code, wantCode, out.String(), errb.String())
		}
		return out.String()
	}
	tail := run(0, "audit", "tail", "-n", "200")
	for _, want := range []string{
		"Allowed/200 " + e.env["TRESOR_ADMIN_OBJECT_ID"], // the admin's operations
		"CreateKey", "WrapKey",
		"/keys/audited " + k.Key.KID.Version(),
		"Denied/403", // the stranger's GetKey
		"Microsoft.KeyVault/vaults/write", "Microsoft.Resources/subscriptions/resourceGroups/write",
	} {
		if !strings.Contains(tail, want) {
			t.Errorf("audit tail lacks %q:\n%s", want, tail)
		}
	}
	for _, secret := range [][]byte{cek, []byte(e.env["AZURE_CLIENT_SECRET"]), w.Result} {
		if strings.Contains(tail, string(secret)) {
			t.Errorf("audit tail holds secret material %q", secret)
		}
	}
	if out := run(0, "audit", "verify"); !strings.Contains(out, "OK") {
		t.Errorf("audit verify on the real log:\n%s", out)
	}

	// Edit one record behind the server's back, as someone with write
	// access to the file could (the triggers only stop accidents).
	db, err := sql.Open("sqlite", "file:"+filepath.Join(e.dir, "tresor.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`DROP TRIGGER audit_log_no_update`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE audit_log SET result = 'Allowed', status = 200 WHERE result = 'Denied'`); err != nil {
		t.Fatal(err)
	}
	if out := run(1, "audit", "verify"); !strings.Contains(out, "TAMPERED") {
		t.Errorf("audit verify after an edit:\n%s", out)
	}
}
