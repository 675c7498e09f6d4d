package kvhttp

import (
	"context"
	"net/http"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/hsm"
	"github.com/tresorkms/tresor/keyvault"
)

// cryptoOp is one of the Service's encrypt, decrypt, wrap and unwrap
// methods.
type cryptoOp func(ctx context.Context, v keyvault.Vault, name, version string, p keyvault.CryptoParams) (keyvault.CryptoResult, error)

func (h *Handler) encrypt(w http.ResponseWriter, r *http.Request, v keyvault.Vault) error {
	return h.crypto(w, r, v, h.Service.Encrypt)
}

func (h *Handler) decrypt(w http.ResponseWriter, r *http.Request, v keyvault.Vault) error {
	return h.crypto(w, r, v, h.Service.Decrypt)
}

func (h *Handler) wrapKey(w http.ResponseWriter, r *http.Request, v keyvault.Vault) error {
	return h.crypto(w, r, v, h.Service.WrapKey)
}

func (h *Handler) unwrapKey(w http.ResponseWriter, r *http.Request, v keyvault.Vault) error {
	return h.crypto(w, r, v, h.Service.UnwrapKey)
}

func (h *Handler) crypto(w http.ResponseWriter, r *http.Request, v keyvault.Vault, op cryptoOp) error {
	var p keyOperationsParameters
	if err := decode(r, &p); err != nil {
		return err
	}
	if p.Alg == "" {
		return tresor.Errorf(tresor.Invalid, "The property \"alg\" is required.")
	}
	if p.Value == nil {
		return tresor.Errorf(tresor.Invalid, "The property \"value\" is required.")
	}
	res, err := op(r.Context(), v, r.PathValue("name"), r.PathValue("version"), keyvault.CryptoParams{
		Alg: hsm.Algorithm(p.Alg), Value: p.Value, IV: p.IV, AAD: p.AAD, Tag: p.Tag,
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, keyOperationResult{
		Kid: kid(r, res.Key.Name, res.Key.Version), Value: res.Value, IV: res.IV, Tag: res.Tag, AAD: res.AAD,
	})
	return nil
}

func (h *Handler) sign(w http.ResponseWriter, r *http.Request, v keyvault.Vault) error {
	var p keySignParameters
	if err := decode(r, &p); err != nil {
		return err
	}
	if p.Alg == "" || p.Value == nil {
		return tresor.Errorf(tresor.Invalid, "The properties \"alg\" and \"value\" are required.")
	}
	res, err := h.Service.Sign(r.Context(), v, r.PathValue("name"), r.PathValue("version"), hsm.Algorithm(p.Alg), p.Value)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, keyOperationResult{Kid: kid(r, res.Key.Name, res.Key.Version), Value: res.Value})
	return nil
}

func (h *Handler) verify(w http.ResponseWriter, r *http.Request, v keyvault.Vault) error {
	var p keyVerifyParameters
	if err := decode(r, &p); err != nil {
		return err
	}
	if p.Alg == "" || p.Digest == nil || p.Signature == nil {
		return tresor.Errorf(tresor.Invalid, "The properties \"alg\", \"digest\" and \"value\" are required.")
	}
	ok, err := h.Service.Verify(r.Context(), v, r.PathValue("name"), r.PathValue("version"), hsm.Algorithm(p.Alg), p.Digest, p.Signature)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, keyVerifyResult{Value: ok})
	return nil
}

func (h *Handler) getRandomBytes(w http.ResponseWriter, r *http.Request, v keyvault.Vault) error {
	var p getRandomBytesRequest
	if err := decode(r, &p); err != nil {
		return err
	}
	if p.Count == nil {
		return tresor.Errorf(tresor.Invalid, "The property \"count\" is required.")
	}
	b, err := h.Service.GetRandomBytes(r.Context(), v, *p.Count)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, randomBytes{Value: b})
	return nil
}
