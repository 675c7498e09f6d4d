package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/tresorkms/tresor/audit"
	"github.com/tresorkms/tresor/blob"
	"github.com/tresorkms/tresor/client"
	"github.com/tresorkms/tresor/clock"
	"github.com/tresorkms/tresor/compute"
	"github.com/tresorkms/tresor/eventgrid"
	"github.com/tresorkms/tresor/hsm/software"
	"github.com/tresorkms/tresor/identity"
	"github.com/tresorkms/tresor/keyvault"
	"github.com/tresorkms/tresor/keyvault/kvhttp"
	"github.com/tresorkms/tresor/rbac"
	"github.com/tresorkms/tresor/scheduler"
	"github.com/tresorkms/tresor/seal"
	"github.com/tresorkms/tresor/sqlite"
	"github.com/tresorkms/tresor/storage"
)

// Config is what Open needs to run a server.
type Config struct {
	DataDir string
	Addr    string // listen address; port 0 picks a free port
	// BlobAddr is the listen address of the Blob API in path style,
	// https://{BlobAddr}/{account}/..., as Azurite serves it; "" serves
	// host style only, https://{account}.blob.{Domain}:{port} on Addr.
	BlobAddr string
	Domain   string
	// Clock is "real" (the default) or "virtual": a clock that stands
	// still until the administrator advances it (tresor clock advance).
	Clock string
	// EventBackoff is the wait before each retry of an event delivery;
	// nil means Event Grid's schedule (eventgrid.AzureBackoff).
	EventBackoff []time.Duration
	// StorageKeyCacheTTL bounds how long a storage account's unwrapped
	// key, or a disk encryption set's intermediate key, stays in memory
	// for the data plane after its customer-managed key is revoked; 0
	// means storage.DefaultKeyCacheTTL, a negative value no caching.
	StorageKeyCacheTTL time.Duration
	// RotationBatch is how many artifact keys a disk encryption set's key
	// rotation moves per transaction; 0 means compute's default.
	RotationBatch int
	// DESKeyCheckInterval is how often a disk encryption set with
	// rotationToLatestKeyVersionEnabled looks for a newer key version, on
	// the server's clock; 0 means compute.DefaultKeyCheckInterval (an
	// hour, as in Azure).
	DESKeyCheckInterval time.Duration
	Logger              *slog.Logger
}

// The clock modes.
const (
	ClockReal    = "real"
	ClockVirtual = "virtual"
)

// Server is the whole system: it opens the data directory, wires every
// service and serves them on one HTTPS listener. The e2e tests run it
// in-process.
type Server struct {
	Config
	Logger *slog.Logger
	DB     *sqlite.DB
	Keys   *keyvault.Service
	RBAC   *rbac.Service
	// Env is the environment for clients, as written to DIR/tresor.env.
	Env client.Env

	// Clock is the time of keys, rotation and every periodic task (not of
	// tokens, which stay on real time).
	Clock clock.Clock
	// Virtual is the clock if it is virtual, else nil.
	Virtual   *clock.Virtual
	Scheduler *scheduler.Scheduler
	// Events manages event subscriptions; its dispatcher runs in Serve.
	Events     *eventgrid.Service
	dispatcher *eventgrid.Dispatcher
	// Storage manages storage accounts.
	Storage *storage.Service
	// Blobs runs the Blob API of every storage account.
	Blobs *blob.Service
	// DiskEncryptionSets manages disk encryption sets.
	DiskEncryptionSets *compute.Service

	ln       net.Listener
	http     *http.Server
	blobLn   net.Listener // nil without BlobAddr
	blobHTTP *http.Server
	audit    *audit.Log
	sys      system // the identity and ARM parts; see wire.go
}

// Open initialises the data directory on first use and prepares every
// service. It listens at once, so that Addr is known (port 0 works), but
// serves only when Serve is called.
func Open(ctx context.Context, cfg Config) (_ *Server, err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	// Absolute, so that the paths written to tresor.env work from anywhere.
	dir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	cfg.DataDir = dir
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	s := &Server{Config: cfg, Logger: cfg.Logger}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	root, err := seal.LoadOrCreateRoot(filepath.Join(cfg.DataDir, "root.key"))
	if err != nil {
		return nil, err
	}
	keySealer, err := seal.New(root, "keys")
	if err != nil {
		return nil, err
	}
	backupSealer, err := seal.New(root, "backup")
	if err != nil {
		return nil, err
	}
	if s.DB, err = sqlite.Open(ctx, filepath.Join(cfg.DataDir, "tresor.db")); err != nil {
		return nil, err
	}
	if s.ln, err = net.Listen("tcp", cfg.Addr); err != nil {
		return nil, err
	}
	if err := s.openClock(ctx); err != nil {
		return nil, err
	}
	// The server is the only writer of its database, so the lookups behind
	// every cryptographic operation can be served from memory.
	s.Keys = keyvault.NewService(keyvault.Cached(s.DB), software.New(keySealer), backupSealer)
	s.Keys.Now = s.Clock.Now
	s.Keys.VaultURL = s.vaultURL
	s.openEvents()
	s.RBAC = &rbac.Service{Store: s.DB}
	s.Keys.Access = s.RBAC
	if s.audit, err = audit.Open(ctx, s.DB, root, audit.Options{}); err != nil {
		return nil, err
	}

	u := s.urls()
	if err := s.sys.open(ctx, s, root, u); err != nil {
		return nil, err
	}
	authority := strings.TrimSuffix(u.authority, "/") + "/" + s.Env["AZURE_TENANT_ID"]
	vaults := kvhttp.New(kvhttp.Handler{
		Service: s.Keys, Kind: keyvault.KeyVault, Suffix: ".vault." + cfg.Domain,
		Resource: u.vaultResource, Authority: authority, Issuer: u.authority, Logger: s.Logger, Audit: s.record,
		Authenticate: s.sys.authenticator(u.vaultResource, "https://vault."+cfg.Domain),
	})
	hsms := kvhttp.New(kvhttp.Handler{
		Service: s.Keys, Kind: keyvault.ManagedHSM, Suffix: ".managedhsm." + cfg.Domain,
		Resource: u.hsmResource, Authority: authority, Issuer: u.authority, Logger: s.Logger, RBAC: s.RBAC, Audit: s.record,
		Authenticate: s.sys.authenticator(u.hsmResource, "https://managedhsm."+cfg.Domain),
	})
	blobs, err := s.openBlobs(u)
	if err != nil {
		return nil, err
	}
	s.Scheduler = &scheduler.Scheduler{Clock: s.Clock, Tasks: s.tasks(), Logger: s.Logger}
	control := s.withClockAPI(s.sys.control(), u)
	s.http = s.httpServer(s.dispatch(vaults, hsms, blobs, control))
	if cfg.BlobAddr != "" {
		if s.blobLn, err = net.Listen("tcp", cfg.BlobAddr); err != nil {
			return nil, err
		}
		s.blobHTTP = s.httpServer(blobs)
		s.Env["TRESOR_BLOB_ENDPOINT"] = "https://" + s.blobLn.Addr().String()
		if err := s.writeEnv(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *Server) httpServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		TLSConfig:         s.sys.tlsConfig(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.Logger.Handler(), slog.LevelDebug),
	}
}

// urls are the public URLs of the server's parts.
type urls struct {
	suffix        string // ":port", or "" for 443
	authority     string // https://{D}:{port}/
	arm           string // https://{D}:{port}
	armAudience   string
	graphAudience string // https://graph.{D}; Graph itself is served at arm + /v1.0
	// storageAudience is https://storage.{D}: the Blob API accepts it and
	// Azure's own, storageAudience.
	storageAudience string
	vaultResource   string // https://vault.{D}:{port}
	hsmResource     string
}

func (s *Server) urls() urls {
	_, port, _ := net.SplitHostPort(s.ln.Addr().String())
	suffix := ":" + port
	if port == "443" {
		suffix = ""
	}
	d := s.Domain
	return urls{
		suffix:          suffix,
		authority:       "https://" + d + suffix + "/",
		arm:             "https://" + d + suffix,
		armAudience:     "https://management." + d,
		graphAudience:   "https://graph." + d,
		storageAudience: "https://storage." + d,
		vaultResource:   "https://vault." + d + suffix,
		hsmResource:     "https://managedhsm." + d + suffix,
	}
}

// dispatch routes by Host: vaults, HSMs and storage accounts' Blob APIs by
// their subdomains, the rest (the domain itself, or an IP literal) to the
// control plane.
func (s *Server) dispatch(vaults, hsms, blobs, control http.Handler) http.Handler {
	d := strings.ToLower(s.Domain)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := strings.ToLower(r.Host)
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		host = strings.Trim(host, "[]")
		switch {
		case strings.HasSuffix(host, ".vault."+d):
			vaults.ServeHTTP(w, r)
		case strings.HasSuffix(host, ".managedhsm."+d):
			hsms.ServeHTTP(w, r)
		case strings.HasSuffix(host, ".blob."+d):
			blobs.ServeHTTP(w, r)
		case host == d || host == "localhost" || net.ParseIP(host) != nil:
			control.ServeHTTP(w, r)
		default:
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprintf(w, `{"error":{"code":"NotFound","message":"No service is served at host %s."}}`, strconv.Quote(r.Host))
		}
	})
}

// Addr returns the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Serve serves HTTPS until ctx ends, then shuts down gracefully.
func (s *Server) Serve(ctx context.Context) error {
	servers := []*http.Server{s.http}
	errc := make(chan error, 2)
	go func() { errc <- s.http.ServeTLS(s.ln, "", "") }()
	if s.blobLn != nil {
		servers = append(servers, s.blobHTTP)
		go func() { errc <- s.blobHTTP.ServeTLS(s.blobLn, "", "") }()
	}
	work := make(chan struct{})
	wctx, stopWork := context.WithCancel(ctx)
	go func() { s.Scheduler.Start(wctx); work <- struct{}{} }()
	go func() { s.dispatcher.Run(wctx); work <- struct{}{} }()
	go func() { s.resumeRotations(wctx); work <- struct{}{} }()
	defer func() { stopWork(); <-work; <-work; <-work }()
	select {
	case err := <-errc:
		// One listener failed: stop the other before returning.
		for _, srv := range servers {
			srv.Close()
		}
		for range len(servers) - 1 {
			<-errc
		}
		return err
	case <-ctx.Done():
		shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var errs []error
		for _, srv := range servers {
			errs = append(errs, srv.Shutdown(shutdown))
		}
		for range servers {
			if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
}

// Close releases the listener and the database. It is safe to call on a
// partly opened Server.
func (s *Server) Close() error {
	var errs []error
	for _, ln := range []net.Listener{s.ln, s.blobLn} {
		if ln != nil {
			ln.Close() // already closed after Serve returns; the error is uninteresting
		}
	}
	if s.audit != nil {
		errs = append(errs, s.audit.Close())
	}
	if s.DB != nil {
		errs = append(errs, s.DB.Close())
	}
	return errors.Join(errs...)
}

// writeEnv writes DIR/tresor.env (mode 0600: it holds the admin secret).
func (s *Server) writeEnv() error {
	return s.Env.Write(filepath.Join(s.DataDir, "tresor.env"))
}

// Resource returns the token audience for a vault or HSM URL: the
// challenge resource of its data plane.
func (s *Server) Resource(vaultURL string) string {
	u := s.urls()
	if strings.Contains(vaultURL, ".managedhsm.") {
		return u.hsmResource
	}
	return u.vaultResource
}

// Identity returns the server's identity service (tenants, service
// principals, tokens).
func (s *Server) Identity() *identity.Service { return s.sys.identity }

// record appends to the audit log. The request's cancellation does not
// stop it: an operation that happened is logged.
func (s *Server) record(ctx context.Context, r audit.Record) {
	if err := s.audit.Record(context.WithoutCancel(ctx), r); err != nil {
		s.Logger.Error("audit log", "operation", r.Operation, "err", err)
	}
}
