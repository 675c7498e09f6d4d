package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"
)

// BenchmarkUnwrapHTTPS measures unwrapKey through the whole server: TLS,
// token validation, routing, JSON, the key lookup in SQLite and the
// cryptography. The client is a plain net/http client with keep-alive so
// that as little client work as possible shares the two cores; 32 requests
// are in flight. It reports the 99th percentile latency.
func BenchmarkUnwrapHTTPS(b *testing.B) {
	e := start(b)
	for _, t := range benchTargets(b, e) {
		b.Run(t.name, func(b *testing.B) {
			benchRequests(b, e.http, t.url, t.auth, t.body, 32)
		})
	}
}

// benchTarget is one request benchmarked: a wrapkey or unwrapkey POST with
// its bearer token.
type benchTarget struct {
	name, url, auth string
	body            []byte
}

// benchTargets creates a vault with an RSA-2048 key and a managed HSM with
// an AES-256 key, and returns wrap and unwrap requests for each.
func benchTargets(b *testing.B, e *env) []benchTarget {
	ctx := context.Background()
	kv := e.vault(b, "kv-bench", false, nil)
	hsmc := e.vault(b, "hsm-bench", true, nil)
	cases := []struct {
		name   string
		client *azkeys.Client
		url    string
		kty    azkeys.KeyType
		alg    azkeys.EncryptionAlgorithm
	}{
		{"RSA2048", kv, e.env.VaultURL("kv-bench"), azkeys.KeyTypeRSA, azkeys.EncryptionAlgorithmRSAOAEP256},
		{"AES256", hsmc, e.env.HSMURL("hsm-bench"), azkeys.KeyTypeOctHSM, azkeys.EncryptionAlgorithmA256KW},
	}
	var out []benchTarget
	for _, tc := range cases {
		k, err := tc.client.CreateKey(ctx, "bench", azkeys.CreateKeyParameters{Kty: to.Ptr(tc.kty), KeySize: sizeFor(tc.kty)}, nil)
		if err != nil {
			b.Fatal(err)
		}
		cek := make([]byte, 32)
		rand.Read(cek)
		w, err := tc.client.WrapKey(ctx, "bench", k.Key.KID.Version(), azkeys.KeyOperationParameters{Algorithm: to.Ptr(tc.alg), Value: cek}, nil)
		if err != nil {
			b.Fatal(err)
		}
		tok, err := e.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{resourceOf(tc.url) + "/.default"}})
		if err != nil {
			b.Fatal(err)
		}
		for _, op := range []struct {
			name, path string
			value      []byte
		}{{"wrap", "wrapkey", cek}, {"unwrap", "unwrapkey", w.Result}} {
			body, _ := json.Marshal(map[string]string{"alg": string(tc.alg), "value": base64.RawURLEncoding.EncodeToString(op.value)})
			out = append(out, benchTarget{
				name: tc.name + "/" + op.name,
				url:  fmt.Sprintf("%s/keys/bench/%s/%s?api-version=2025-07-01", tc.url, k.Key.KID.Version(), op.path),
				auth: "Bearer " + tok.Token,
				body: body,
			})
		}
	}
	return out
}

// resourceOf returns the token audience for a vault or HSM URL: the URL
// without its first host label ("https://kv.vault.localhost:8443" gives
// "https://vault.localhost:8443").
func resourceOf(vaultURL string) string {
	scheme, host, _ := strings.Cut(vaultURL, "://")
	_, parent, _ := strings.Cut(host, ".")
	return scheme + "://" + parent
}

func sizeFor(kty azkeys.KeyType) *int32 {
	if kty == azkeys.KeyTypeOctHSM {
		return to.Ptr[int32](256)
	}
	return to.Ptr[int32](2048)
}

// benchRequests posts body to url from inflight goroutines (rounded to a
// multiple of GOMAXPROCS) and reports p50 and p99 latency.
func benchRequests(b *testing.B, hc *http.Client, url, auth string, body []byte, inflight int) {
	var mu sync.Mutex
	var lat []time.Duration
	b.SetParallelism(max(1, inflight/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var local []time.Duration
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
			req.Header.Set("Authorization", auth)
			req.Header.Set("Content-Type", "application/json")
			t0 := time.Now()
			resp, err := hc.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			msg, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			local = append(local, time.Since(t0))
			if resp.StatusCode != 200 {
				b.Errorf("status %d: %s", resp.StatusCode, msg)
				return
			}
		}
		mu.Lock()
		lat = append(lat, local...)
		mu.Unlock()
	})
	b.StopTimer()
	if len(lat) > 0 {
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	}
}

// BenchmarkCeiling is the in-process crypto/rsa rate on the same cores, the
// ceiling the HTTPS numbers are compared with.
func BenchmarkCeiling(b *testing.B) {
	priv, _ := rsa.GenerateKey(rand.Reader, 2048)
	cek := make([]byte, 32)
	ct, _ := rsa.EncryptOAEP(sha256.New(), rand.Reader, &priv.PublicKey, cek, nil)
	b.Run("RSA2048/unwrap", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := rsa.DecryptOAEP(sha256.New(), nil, priv, ct, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}
