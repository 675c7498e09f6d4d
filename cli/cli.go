// Package cli implements the tresor command: the server (serve), its
// environment (env), and client commands that mirror the Azure CLI (group,
// keyvault, keyvault key). Client commands speak to the server's REST API
// through the Azure SDKs, exactly as any other client would.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

// command is one subcommand. Run parses its own flags from args.
type command interface {
	Run(ctx context.Context, args []string) error
}

// Main runs the tresor command with args (without the program name) and
// returns the process exit code.
func Main(ctx context.Context, args []string) int {
	return Run(ctx, args, os.Stdout, os.Stderr)
}

// Run is Main with explicit output streams, for tests.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd, rest, err := lookup(args, stdout)
	if err == nil {
		err = cmd.Run(ctx, rest)
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintln(stderr, usage)
		return 2
	default:
		fmt.Fprintln(stderr, "tresor:", err)
		return 1
	}
}

var errUsage = errors.New("usage")

const usage = `usage: tresor <command> [flags]

Server:
  serve [--data DIR] [--addr HOST:PORT] [--domain D] [--clock real|virtual]   run the server
  env [--data DIR]                                       print the environment for clients (eval "$(tresor env)")
  audit verify [--data DIR] [--head SEQ:MAC]             check the audit log's chain (a changed or removed record fails)
  audit tail [--data DIR] [-n N]                         print the newest audit records
  clock show | advance P18M | set 2028-01-01T00:00:00Z   a server started with --clock virtual: show or move
                                                         its clock, running all work that becomes due
  tenant create --display-name N [--out DIR] | list      more tenants, each with its administrator and a subscription;
                                                         --out writes DIR/tresor.env so that --data DIR acts as its admin

Resources (mirror az):
  group create|show|list|delete
  identity create|show|list|delete -n NAME -g GROUP            user-assigned managed identities
  ad sp create-for-rbac --name N [--role R --scopes ARM-ID...] [--years Y]   application, password, service principal, roles
  ad sp list|show|delete [--display-name P] [--id APPID_OR_OID]; ad app list|show|delete; ad app credential reset --id APPID [--append]
  ad sp create --id APPID                                 service principal of an application (another tenant's if multi-tenant)
  ad app create --display-name N [--sign-in-audience AzureADMyOrg|AzureADMultipleOrgs]; ad app update --id APP [--display-name N]
      [--sign-in-audience A];  ad app federated-credential create|list|show|delete --id APP [--parameters JSON_OR_@FILE]
      [--federated-credential-id ID_OR_NAME]
  keyvault create|show|list|delete|purge|recover|list-deleted   (--hsm-name for Managed HSM)
  keyvault role assignment create|list|delete --hsm-name H [--role R --assignee OID --scope /keys/K]
  role assignment create|list|delete [--role R --assignee OID --scope ARM-ID] [--name GUID]
  role definition create|update|list|delete [--role-definition FILE_OR_JSON] [--name N] [--custom-role-only] [--scope ARM-ID]
  keyvault key create|list|list-versions|show|set-attributes|delete|recover|purge|list-deleted|backup|restore|encrypt|decrypt|rotate
  keyvault key rotation-policy show|update --name K (--vault-name V | --hsm-name H) [--value FILE_OR_JSON]
  storage account create|update|show|list|delete -n NAME -g GROUP [--identity-type T --user-identity-id ID --assign-identity]
      [--encryption-key-source Microsoft.Keyvault --encryption-key-vault URI --encryption-key-name K
       --encryption-key-version V --key-vault-user-identity-id ID [--key-vault-federated-client-id APPID]];  storage account keys list|renew [--key primary]
  storage account encryption-scope create|update|show|list --account-name A -g GROUP -n NAME
      [--key-source Microsoft.Storage|Microsoft.KeyVault --key-uri URI] [--state Enabled|Disabled]
  disk-encryption-set create|update|show|list|delete|list-associated-resources -n NAME -g GROUP [--key-url VERSIONED-URL]
      [--source-vault VAULT-ARM-ID] [--encryption-type T] [--enable-auto-key-rotation true|false]
      [--mi-system-assigned] [--mi-user-assigned ID] [--federated-client-id APPID|None];  disk-encryption-set list-key-versions -n NAME -g GROUP
  disk create|update|show|list|delete|grant-access|revoke-access -n NAME -g GROUP [--size-gb N | --for-upload --upload-size-bytes N | --source ID]
      [--disk-encryption-set DES-ID] [--encryption-type T] [--security-type T --secure-vm-disk-encryption-set DES-ID]
      [--access-level Read|Write --duration-in-seconds N];  snapshot create|update|show|list|delete|grant-access|revoke-access (the same flags)
  vm create|start|stop|deallocate|restart|show|list|delete|get-instance-view -n NAME -g GROUP [--image IMAGE] [--size S]
      [--security-type ConfidentialVM --os-disk-security-encryption-type DiskWithVMGuestState
       --os-disk-secure-vm-disk-encryption-set DES] [--os-disk-encryption-set DES] [--data-disk-sizes-gb "N ..."]
      [--data-disk-encryption-sets "DES ..."] [--attach-data-disks "DISK ..."] [--attach-os-disk DISK] [--ephemeral-os-disk true]
      [--os-disk-delete-option Delete|Detach] [--admin-password P (never stored)] [-d]
  storage container create|list|delete --account-name A [-n NAME] [--auth-mode key|login]
  storage blob upload|download|show|list|delete --account-name A -c CONTAINER [-n NAME -f FILE --overwrite] [--prefix P]
      [--auth-mode key|login] [--account-key K]
  eventgrid event-subscription create|show|list|delete --source-resource-id VAULT-ARM-ID [-n NAME]
      [--endpoint URL] [--included-event-types T,...] [--subject-begins-with P] [--subject-ends-with S]

Client commands read DIR/tresor.env (--data, default ./tresor-data) or the AZURE_* and TRESOR_* environment.
Run 'tresor <command> -h' for the flags of a command.`

// lookup resolves the subcommand named by the leading words of args.
func lookup(args []string, stdout io.Writer) (command, []string, error) {
	if len(args) == 0 {
		return nil, nil, errUsage
	}
	word := func(i int) string {
		if i < len(args) {
			return args[i]
		}
		return ""
	}
	switch args[0] {
	case "serve":
		return &serveCommand{}, args[1:], nil
	case "env":
		return &envCommand{out: stdout}, args[1:], nil
	case "audit":
		return &auditCommand{out: stdout}, args[1:], nil
	case "group":
		return groupCommand{op: word(1), out: stdout}, rest(args, 2), nil
	case "clock":
		return clockCommand{op: word(1), out: stdout}, rest(args, 2), nil
	case "tenant":
		return tenantCommand{op: word(1), out: stdout}, rest(args, 2), nil
	case "identity":
		return identityCommand{op: word(1), out: stdout}, rest(args, 2), nil
	case "storage":
		switch word(1) {
		case "blob", "container":
			return storageDataCommand{kind: word(1), op: word(2), out: stdout}, rest(args, 3), nil
		case "account":
		default:
			return nil, nil, errUsage
		}
		if word(2) == "keys" {
			return storageAccountCommand{op: "keys " + word(3), out: stdout}, rest(args, 4), nil
		}
		if word(2) == "encryption-scope" {
			return storageScopeCommand{op: word(3), out: stdout}, rest(args, 4), nil
		}
		return storageAccountCommand{op: word(2), out: stdout}, rest(args, 3), nil
	case "disk-encryption-set":
		return desCommand{op: word(1), out: stdout}, rest(args, 2), nil
	case "disk", "snapshot":
		return diskCommand{op: word(1), snapshot: word(0) == "snapshot", out: stdout}, rest(args, 2), nil
	case "vm":
		return vmCommand{op: word(1), out: stdout}, rest(args, 2), nil
	case "eventgrid":
		if word(1) != "event-subscription" {
			return nil, nil, errUsage
		}
		return eventGridCommand{op: word(2), out: stdout}, rest(args, 3), nil
	case "ad":
		return lookupAD(args[1:], stdout)
	case "role":
		if word(1) == "definition" {
			return roleDefinitionCommand{op: word(2), out: stdout}, rest(args, 3), nil
		}
		if word(1) != "assignment" {
			return nil, nil, errUsage
		}
		return roleCommand{op: word(2), out: stdout}, rest(args, 3), nil
	case "keyvault":
		if word(1) == "role" && word(2) == "assignment" {
			return roleCommand{op: word(3), hsm: true, out: stdout}, rest(args, 4), nil
		}
		if word(1) == "key" && word(2) == "rotation-policy" {
			return keyCommand{op: "rotation-policy " + word(3), out: stdout}, rest(args, 4), nil
		}
		if word(1) == "key" {
			return keyCommand{op: word(2), out: stdout}, rest(args, 3), nil
		}
		return vaultCommand{op: word(1), out: stdout}, rest(args, 2), nil
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil, nil, flag.ErrHelp
	}
	return nil, nil, errUsage
}

func rest(args []string, n int) []string {
	if len(args) < n {
		return nil
	}
	return args[n:]
}
