package kvhttp

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/hsm"
	"github.com/tresorkms/tresor/keyvault"
)

func (h *Handler) createKey(w http.ResponseWriter, r *http.Request, v keyvault.Vault) error {
	var p keyCreateParameters
	if err := decode(r, &p); err != nil {
		return err
	}
	if p.Kty == "" {
		return tresor.Errorf(tresor.Invalid, "The property \"kty\" is required.")
	}
	cp := keyvault.CreateKeyParams{
		Type:          keyvault.KeyType(p.Kty),
		Curve:         hsm.Curve(p.Crv),
		Ops:           opsTo(p.KeyOps),
		Attributes:    attributesTo(p.Attributes),
		Tags:          p.Tags,
		ReleasePolicy: releasePolicyTo(p.ReleasePolicy),
	}
	if p.KeySize != nil {
		cp.Size = *p.KeySize
		if cp.Size <= 0 {
			return tresor.Errorf(tresor.Invalid, "Invalid key_size %d.", cp.Size)
		}
	}
	if p.PublicExponent != nil {
		cp.PublicExponent = *p.PublicExponent
		if cp.PublicExponent <= 0 {
			return tresor.Errorf(tresor.Invalid, "Invalid public_exponent %d.", cp.PublicExponent)
		}
	}
	kv, err := h.Service.CreateKey(r.Context(), v, r.PathValue("name"), cp)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, bundleFrom(r, v, kv))
	return nil
}

func (h *Handler) importKey(w http.ResponseWriter, r *http.Request, v keyvault.Vault) error {
	var p keyImportParameters
	if err := decode(r, &p); err != nil {
		return err
	}
	if p.Key == nil {
		return tresor.Errorf(tresor.Invalid, "The property \"key\" is required.")
	}
	kt := keyvault.KeyType(p.Key.Kty)
	if kt.Family() == "" {
		return tresor.Errorf(tresor.Invalid, "Invalid kty: %q. Valid values are RSA, RSA-HSM, EC, EC-HSM, oct, oct-HSM.", p.Key.Kty)
	}
	k := p.Key
	ip := keyvault.ImportKeyParams{
		Key: hsm.PrivateKey{
			Type: kt.Family(), N: k.N, E: k.E, D: k.D, P: k.P, Q: k.Q, DP: k.DP, DQ: k.DQ, QI: k.QI,
			Curve: hsm.Curve(k.Crv), X: k.X, Y: k.Y, K: k.K,
		},
		Type:          kt,
		HSM:           p.HSM != nil && *p.HSM,
		Ops:           opsTo(k.KeyOps),
		Attributes:    attributesTo(p.Attributes),
		Tags:          p.Tags,
		ReleasePolicy: releasePolicyTo(p.ReleasePolicy),
	}
	if kt.Family() == hsm.EC {
		ip.Key.ECD, ip.Key.D = k.D, nil
	}
	kv, err := h.Service.ImportKey(r.Context(), v, r.PathValue("name"), ip)
	clear(k.D)
	clear(k.P)
	clear(k.Q)
	clear(k.DP)
	clear(k.DQ)
	clear(k.QI)
	clear(k.K)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, bundleFrom(r, v, kv))
	return nil
}

func (h *Handler) getKey(w http.ResponseWriter, r *http.Request, v keyvault.Vault) error {
	kv, err := h.Service.GetKey(r.Context(), v, r.PathValue("name"), r.PathValue("version"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, bundleFrom(r, v, kv))
	return nil
}

func (h *Handler) updateKey(w http.ResponseWriter, r *http.Request, v keyvault.Vault) error {
	var p keyUpdateParameters
	if err := decode(r, &p); err != nil {
		return err
	}
	up := keyvault.UpdateKeyParams{
		Ops:           opsTo(p.KeyOps),
		Attributes:    attributesTo(p.Attributes),
		Tags:          p.Tags,
		ReleasePolicy: releasePolicyTo(p.ReleasePolicy),
	}
	kv, err := h.Service.UpdateKey(r.Context(), v, r.PathValue("name"), r.PathValue("version"), up)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, bundleFrom(r, v, kv))
	return nil
}

func (h *Handler) getKeys(w http.ResponseWriter, r *http.Request, v keyvault.Vault) error {
	p, err := page(r)
	if err != nil {
		return err
	}
	kvs, next, err := h.Service.GetKeys(r.Context(), v, p)
	if err != nil {
		return err
	}
	res := keyListResult[keyItem]{Value: make([]keyItem, 0, len(kvs)), NextLink: nextLink(r, p, next)}
	for _, kv := range kvs {
		res.Value = append(res.Value, itemFrom(r, v, kv, false))
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

func (h *Handler) getKeyVersions(w http.ResponseWriter, r *http.Request, v keyvault.Vault) error {
	p, err := page(r)
	if err != nil {
		return err
	}
	kvs, next, err := h.Service.GetKeyVersions(r.Context(), v, r.PathValue("name"), p)
	if err != nil {
		return err
	}
	res := keyListResult[keyItem]{Value: make([]keyItem, 0, len(kvs)), NextLink: nextLink(r, p, next)}
	for _, kv := range kvs {
		res.Value = append(res.Value, itemFrom(r, v, kv, true))
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

func (h *Handler) deleteKey(w http.ResponseWriter, r *http.Request, v keyvault.Vault) error {
	dk, err := h.Service.DeleteKey(r.Context(), v, r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, deletedBundleFrom(r, v, dk))
	return nil
}

func (h *Handler) backupKey(w http.ResponseWriter, r *http.Request, v keyvault.Vault) error {
	blob, err := h.Service.BackupKey(r.Context(), v, r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, backupKeyResult{Value: blob})
	return nil
}

func (h *Handler) restoreKey(w http.ResponseWriter, r *http.Request, v keyvault.Vault) error {
	var p keyRestoreParameters
	if err := decode(r, &p); err != nil {
		return err
	}
	if len(p.Value) == 0 {
		return tresor.Errorf(tresor.Invalid, "The property \"value\" (the backup blob) is required.")
	}
	kv, err := h.Service.RestoreKey(r.Context(), v, p.Value)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, bundleFrom(r, v, kv))
	return nil
}

// page reads maxresults and $skiptoken.
func page(r *http.Request) (keyvault.Page, error) {
	q := r.URL.Query()
	p := keyvault.Page{After: q.Get("$skiptoken")}
	if s := q.Get("maxresults"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 25 {
			return p, tresor.Errorf(tresor.Invalid, "maxresults must be an integer between 1 and 25, got %q.", s)
		}
		p.Max = n
	}
	return p, nil
}

// nextLink is the absolute URL of the next page, or nil at the end. It
// keeps the client's api-version so that it can be followed verbatim.
func nextLink(r *http.Request, p keyvault.Page, next string) *string {
	if next == "" {
		return nil
	}
	q := url.Values{}
	q.Set("api-version", r.URL.Query().Get("api-version"))
	q.Set("$skiptoken", next)
	if p.Max > 0 {
		q.Set("maxresults", strconv.Itoa(p.Max))
	}
	link := baseURL(r) + r.URL.Path + "?" + q.Encode()
	return &link
}
