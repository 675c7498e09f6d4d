// Package eghttp is the ARM face of package eventgrid: event
// subscriptions as extension resources of the resource whose events they
// want, {scope}/providers/Microsoft.EventGrid/eventSubscriptions/{name}, as
// @azure/arm-eventgrid and armeventgrid call them (api-version 2022-06-15
// and later).
//
// Only webhook destinations in Event Grid's schema are served; a request
// for anything tresor does not do (other destinations, CloudEvents,
// advanced filters, dead-lettering, expiration, delivery identities) is
// refused with 400 rather than accepted and ignored.
package eghttp

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/tresorkms/tresor"
	"github.com/tresorkms/tresor/arm"
	"github.com/tresorkms/tresor/arm/armhttp"
	"github.com/tresorkms/tresor/eventgrid"
)

// Provider serves event subscriptions.
type Provider struct {
	Events *eventgrid.Service
}

var _ armhttp.Provider = (*Provider)(nil)

// Routes returns the provider's routes: event subscriptions on any
// resource of a resource group; the Service decides which resources publish
// events.
func (p *Provider) Routes() []armhttp.Route {
	const (
		scope = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/{providerNamespace}/{resourceType}/{resourceName}"
		list  = scope + "/providers/Microsoft.EventGrid/eventSubscriptions"
		one   = list + "/{name}"
	)
	// A handshake with a slow webhook takes up to its timeout.
	const timeout = 2 * time.Minute
	return []armhttp.Route{
		{Pattern: "PUT " + one, Timeout: timeout, Handler: p.createOrUpdate},
		{Pattern: "PATCH " + one, Timeout: timeout, Handler: p.update},
		{Pattern: "GET " + one, Handler: p.get},
		{Pattern: "DELETE " + one, Handler: p.delete},
		{Pattern: "POST " + one + "/getFullUrl", Handler: p.getFullURL},
		{Pattern: "GET " + list, Handler: p.list},
	}
}

// Resources lists nothing: extension resources are not in the generic
// resources list.
func (p *Provider) Resources(context.Context, string) ([]arm.Resource, error) { return nil, nil }

// DeleteResourceGroup deletes the subscriptions on a group's resources.
func (p *Provider) DeleteResourceGroup(ctx context.Context, subscriptionID, group string) error {
	return p.Events.DeleteResourceGroup(ctx, subscriptionID, group)
}

// scope returns the ARM id of the resource the request's subscription is
// on, as the client spelled it.
func scope(r *http.Request) string {
	return "/subscriptions/" + armhttp.Subscription(r).ID + "/resourceGroups/" + r.PathValue("resourceGroupName") +
		"/providers/" + r.PathValue("providerNamespace") + "/" + r.PathValue("resourceType") + "/" + r.PathValue("resourceName")
}

// The wire types: armeventgrid's EventSubscription and friends.
type (
	subscriptionResource struct {
		ID         string                 `json:"id"`
		Name       string                 `json:"name"`
		Type       string                 `json:"type"`
		Properties subscriptionProperties `json:"properties"`
		SystemData *systemData            `json:"systemData,omitempty"`
	}
	subscriptionProperties struct {
		Topic                 string       `json:"topic,omitempty"`
		ProvisioningState     string       `json:"provisioningState,omitempty"`
		Destination           *destination `json:"destination,omitempty"`
		Filter                *filter      `json:"filter,omitempty"`
		Labels                []string     `json:"labels,omitempty"`
		EventDeliverySchema   string       `json:"eventDeliverySchema,omitempty"`
		RetryPolicy           *retryPolicy `json:"retryPolicy,omitempty"`
		ExpirationTimeUTC     *string      `json:"expirationTimeUtc,omitempty"`
		DeadLetterDestination any          `json:"deadLetterDestination,omitempty"`
		// Only in requests; refused if set.
		DeliveryWithResourceIdentity   any `json:"deliveryWithResourceIdentity,omitempty"`
		DeadLetterWithResourceIdentity any `json:"deadLetterWithResourceIdentity,omitempty"`
	}
	destination struct {
		EndpointType string                 `json:"endpointType"`
		Properties   *destinationWebhookCfg `json:"properties,omitempty"`
	}
	destinationWebhookCfg struct {
		EndpointURL                   string `json:"endpointUrl,omitempty"`
		EndpointBaseURL               string `json:"endpointBaseUrl,omitempty"`
		MaxEventsPerBatch             *int   `json:"maxEventsPerBatch,omitempty"`
		PreferredBatchSizeInKilobytes *int   `json:"preferredBatchSizeInKilobytes,omitempty"`
		// Only in requests; refused if set.
		AzureActiveDirectoryTenantID           string `json:"azureActiveDirectoryTenantId,omitempty"`
		AzureActiveDirectoryApplicationIDOrURI string `json:"azureActiveDirectoryApplicationIdOrUri,omitempty"`
		DeliveryAttributeMappings              []any  `json:"deliveryAttributeMappings,omitempty"`
	}
	filter struct {
		IncludedEventTypes              []string `json:"includedEventTypes"`
		SubjectBeginsWith               string   `json:"subjectBeginsWith"`
		SubjectEndsWith                 string   `json:"subjectEndsWith"`
		IsSubjectCaseSensitive          bool     `json:"isSubjectCaseSensitive"`
		EnableAdvancedFilteringOnArrays *bool    `json:"enableAdvancedFilteringOnArrays,omitempty"`
		AdvancedFilters                 []any    `json:"advancedFilters,omitempty"`
	}
	retryPolicy struct {
		MaxDeliveryAttempts      *int `json:"maxDeliveryAttempts,omitempty"`
		EventTimeToLiveInMinutes *int `json:"eventTimeToLiveInMinutes,omitempty"`
	}
	systemData struct {
		CreatedAt      string `json:"createdAt"`
		LastModifiedAt string `json:"lastModifiedAt"`
	}
	fullURL struct {
		EndpointURL string `json:"endpointUrl"`
	}
)

// createParameters is the body of a PUT: armeventgrid's EventSubscription.
type createParameters struct {
	Properties *subscriptionProperties `json:"properties"`
}

// updateParameters is the body of a PATCH: EventSubscriptionUpdateParameters.
type updateParameters subscriptionProperties

func wire(s eventgrid.Subscription) subscriptionResource {
	types := s.Filter.IncludedEventTypes
	if types == nil {
		types = []string{}
	}
	return subscriptionResource{
		ID: s.ID(), Name: s.Name, Type: eventgrid.Namespace + "/eventSubscriptions",
		Properties: subscriptionProperties{
			Topic:             s.Scope,
			ProvisioningState: "Succeeded",
			Destination: &destination{EndpointType: "WebHook", Properties: &destinationWebhookCfg{
				EndpointBaseURL: s.EndpointBase(), MaxEventsPerBatch: &s.MaxEventsPerBatch, PreferredBatchSizeInKilobytes: &s.PreferredBatchSizeKB,
			}},
			Filter: &filter{
				IncludedEventTypes: types, SubjectBeginsWith: s.Filter.SubjectBeginsWith,
				SubjectEndsWith: s.Filter.SubjectEndsWith, IsSubjectCaseSensitive: s.Filter.SubjectCaseSensitive,
			},
			Labels:              s.Labels,
			EventDeliverySchema: "EventGridSchema",
			RetryPolicy:         &retryPolicy{MaxDeliveryAttempts: &s.MaxDeliveryAttempts, EventTimeToLiveInMinutes: new(int(s.EventTTL / time.Minute))},
		},
		SystemData: &systemData{CreatedAt: s.Created.UTC().Format(time.RFC3339), LastModifiedAt: s.Updated.UTC().Format(time.RFC3339)},
	}
}

func unsupported(target, what string) error {
	return armhttp.WithTarget(tresor.Errorf(tresor.Invalid, "%s is not supported by tresor's Event Grid, which delivers to webhooks in the Event Grid schema.", what).WithReason(eventgrid.ReasonBadRequest), target)
}

// refuseUnsupported refuses the settings tresor does not implement.
func refuseUnsupported(in *subscriptionProperties) error {
	switch {
	case in.DeliveryWithResourceIdentity != nil:
		return unsupported("properties.deliveryWithResourceIdentity", "Delivery with a managed identity")
	case in.DeadLetterDestination != nil || in.DeadLetterWithResourceIdentity != nil:
		return unsupported("properties.deadLetterDestination", "Dead-lettering")
	case in.ExpirationTimeUTC != nil:
		return unsupported("properties.expirationTimeUtc", "An expiration time")
	case in.EventDeliverySchema != "" && !strings.EqualFold(in.EventDeliverySchema, "EventGridSchema"):
		return unsupported("properties.eventDeliverySchema", "The delivery schema '"+clip(in.EventDeliverySchema)+"'")
	}
	if f := in.Filter; f != nil && len(f.AdvancedFilters) > 0 {
		return unsupported("properties.filter.advancedFilters", "Advanced filtering")
	}
	if d := in.Destination; d != nil {
		if !strings.EqualFold(d.EndpointType, "WebHook") {
			return unsupported("properties.destination.endpointType", "The endpoint type '"+clip(d.EndpointType)+"'")
		}
		if c := d.Properties; c != nil && (c.AzureActiveDirectoryTenantID != "" || c.AzureActiveDirectoryApplicationIDOrURI != "") {
			return unsupported("properties.destination.properties.azureActiveDirectoryApplicationIdOrUri", "Webhook delivery with Entra authentication")
		}
		if c := d.Properties; c != nil && len(c.DeliveryAttributeMappings) > 0 {
			return unsupported("properties.destination.properties.deliveryAttributeMappings", "Delivery attribute mapping")
		}
	}
	return nil
}

func (p *Provider) createOrUpdate(w http.ResponseWriter, r *http.Request) error {
	var in createParameters
	if err := armhttp.Decode(r, &in); err != nil {
		return err
	}
	if in.Properties == nil || in.Properties.Destination == nil || in.Properties.Destination.Properties == nil ||
		in.Properties.Destination.Properties.EndpointURL == "" {
		return armhttp.WithTarget(tresor.Errorf(tresor.Invalid, "The destination's endpointUrl is required.").WithReason(eventgrid.ReasonBadRequest),
			"properties.destination.properties.endpointUrl")
	}
	if err := refuseUnsupported(in.Properties); err != nil {
		return err
	}
	s := eventgrid.Subscription{Scope: scope(r), Name: r.PathValue("name")}
	patchOf((*updateParameters)(in.Properties)).Apply(&s)
	s, created, err := p.Events.CreateOrUpdate(r.Context(), s)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	armhttp.WriteJSON(w, status, wire(s))
	return nil
}

// patchOf returns the settings in names: a missing property, or an empty
// endpointUrl, keeps what is there; a filter replaces the whole filter.
func patchOf(in *updateParameters) eventgrid.Patch {
	var p eventgrid.Patch
	if d := in.Destination; d != nil && d.Properties != nil {
		if d.Properties.EndpointURL != "" {
			p.Endpoint = &d.Properties.EndpointURL
		}
		p.MaxEventsPerBatch, p.PreferredBatchSizeKB = d.Properties.MaxEventsPerBatch, d.Properties.PreferredBatchSizeInKilobytes
	}
	if f := in.Filter; f != nil {
		p.Filter = &eventgrid.Filter{
			IncludedEventTypes: f.IncludedEventTypes, SubjectBeginsWith: f.SubjectBeginsWith,
			SubjectEndsWith: f.SubjectEndsWith, SubjectCaseSensitive: f.IsSubjectCaseSensitive,
		}
	}
	p.Labels = in.Labels
	if rp := in.RetryPolicy; rp != nil {
		p.MaxDeliveryAttempts = rp.MaxDeliveryAttempts
		if rp.EventTimeToLiveInMinutes != nil {
			p.EventTTL = new(time.Duration(*rp.EventTimeToLiveInMinutes) * time.Minute)
		}
	}
	return p
}

func (p *Provider) update(w http.ResponseWriter, r *http.Request) error {
	var in updateParameters
	if err := armhttp.Decode(r, &in); err != nil {
		return err
	}
	if err := refuseUnsupported((*subscriptionProperties)(&in)); err != nil {
		return err
	}
	s, err := p.Events.Update(r.Context(), eventgrid.SubscriptionID(scope(r), r.PathValue("name")), patchOf(&in))
	if err != nil {
		return err
	}
	armhttp.WriteJSON(w, http.StatusOK, wire(s))
	return nil
}

func (p *Provider) get(w http.ResponseWriter, r *http.Request) error {
	s, err := p.Events.Get(r.Context(), eventgrid.SubscriptionID(scope(r), r.PathValue("name")))
	if err != nil {
		return err
	}
	armhttp.WriteJSON(w, http.StatusOK, wire(s))
	return nil
}

func (p *Provider) getFullURL(w http.ResponseWriter, r *http.Request) error {
	s, err := p.Events.Get(r.Context(), eventgrid.SubscriptionID(scope(r), r.PathValue("name")))
	if err != nil {
		return err
	}
	armhttp.WriteJSON(w, http.StatusOK, fullURL{EndpointURL: s.Endpoint})
	return nil
}

func (p *Provider) delete(w http.ResponseWriter, r *http.Request) error {
	deleted, err := p.Events.Delete(r.Context(), eventgrid.SubscriptionID(scope(r), r.PathValue("name")))
	if err != nil {
		return err
	}
	armhttp.Deleted(w, deleted)
	return nil
}

func (p *Provider) list(w http.ResponseWriter, r *http.Request) error {
	subs, err := p.Events.List(r.Context(), scope(r))
	if err != nil {
		return err
	}
	page, next, err := armhttp.Page(r, subs, func(s eventgrid.Subscription) string { return strings.ToLower(s.ID()) })
	if err != nil {
		return err
	}
	out := armhttp.List[subscriptionResource]{Value: make([]subscriptionResource, 0, len(page)), NextLink: next}
	for _, s := range page {
		out.Value = append(out.Value, wire(s))
	}
	armhttp.WriteJSON(w, http.StatusOK, out)
	return nil
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
