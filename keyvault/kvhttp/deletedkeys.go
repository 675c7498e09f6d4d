package kvhttp

import (
	"net/http"

	"github.com/tresorkms/tresor/keyvault"
)

func (h *Handler) getDeletedKey(w http.ResponseWriter, r *http.Request, v keyvault.Vault) error {
	dk, err := h.Service.GetDeletedKey(r.Context(), v, r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, deletedBundleFrom(r, v, dk))
	return nil
}

func (h *Handler) getDeletedKeys(w http.ResponseWriter, r *http.Request, v keyvault.Vault) error {
	p, err := page(r)
	if err != nil {
		return err
	}
	dks, next, err := h.Service.GetDeletedKeys(r.Context(), v, p)
	if err != nil {
		return err
	}
	res := keyListResult[deletedKeyItem]{Value: make([]deletedKeyItem, 0, len(dks)), NextLink: nextLink(r, p, next)}
	for _, dk := range dks {
		res.Value = append(res.Value, deletedItemFrom(r, v, dk))
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

func (h *Handler) recoverDeletedKey(w http.ResponseWriter, r *http.Request, v keyvault.Vault) error {
	kv, err := h.Service.RecoverDeletedKey(r.Context(), v, r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, bundleFrom(r, v, kv))
	return nil
}

func (h *Handler) purgeDeletedKey(w http.ResponseWriter, r *http.Request, v keyvault.Vault) error {
	if err := h.Service.PurgeDeletedKey(r.Context(), v, r.PathValue("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
